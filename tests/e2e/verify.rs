//! `aiaudit verify` over a history the hook never saw: a forge without server hooks, where
//! verify is the only line of defence.

use crate::harness::*;

/// An unapproved decision reaches main on a server without the hook: verify names it (exit 1,
/// human and JSON), and a wrong pinned root of trust fails too.
#[test]
fn verify_reports_what_a_hookless_server_let_through() {
    let w = World::new();
    let good = w.land(BOB, CAROL);
    std::fs::remove_file(w.server.join("hooks/pre-receive")).unwrap();
    let bad = w.record(ALICE);
    let pushed = w.push(&[&onto_main(&bad.commit)]);
    assert!(pushed.status.success(), "{pushed}");

    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    let short = &bad.commit[..12];
    assert!(
        out.stderr.contains(&format!(
            "error[approval-missing]: commit {short}, {}",
            bad.path
        )),
        "{out}"
    );
    assert!(
        out.stdout.starts_with("FAILED: 7 commits (2 decisions"),
        "{out}"
    );

    let json = w.aiaudit_in(&clone, &["verify", "--json"]);
    assert_eq!(json.status.code(), Some(1), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let codes: Vec<(&str, &str)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["severity"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [("error", "approval-missing")], "{json}");
    assert_eq!(v["diagnostics"][0]["commit"], bad.commit.as_str());

    // Pinning the true root passes the root check; pinning another commit fails it.
    let root = w
        .git_in(&clone, &["rev-list", "--max-parents=0", "main"])
        .ok();
    let pinned = w.aiaudit_in(&clone, &["verify", "--json", "--trust-root", &root]);
    assert!(!pinned.stdout.contains("trust-root-mismatch"), "{pinned}");
    let wrong = w.aiaudit_in(&clone, &["verify", "--trust-root", &good.commit]);
    assert_eq!(wrong.status.code(), Some(1), "{wrong}");
    assert!(
        wrong.stderr.contains("error[trust-root-mismatch]"),
        "{wrong}"
    );
}

/// The root of trust pinned by the admins' key fingerprints instead of a commit id.
#[test]
fn verify_pins_the_root_by_admin_keys() {
    let w = World::new();
    w.land(BOB, CAROL);
    let clone = w.fresh_clone();
    let alice = w.key(ALICE).fpr.clone();
    let ok = w.aiaudit_in(&clone, &["verify", "--trust-admins", &alice]);
    assert!(ok.status.success(), "{ok}");
    let other = w.key(MALLORY).fpr.clone();
    let wrong = w.aiaudit_in(&clone, &["verify", "--trust-admins", &other]);
    assert_eq!(wrong.status.code(), Some(1), "{wrong}");
    assert!(
        wrong.stderr.contains("error[trust-root-mismatch]"),
        "{wrong}"
    );
}

/// Long runs draw progress on a terminal (`verify`, `report`, `export`), and never when standard
/// error is a pipe, so CI logs and `--json` readers see only the result.
#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let w = World::new();
    w.land(BOB, CAROL);
    let clone = w.fresh_clone();

    let tty = w.aiaudit_on_tty(&clone, &["verify"]);
    let text = tty.ok();
    assert!(
        text.contains("verify [") && text.contains("commits"),
        "no progress bar on a terminal:\n{text:?}"
    );
    assert!(
        text.contains("\x1b[2K"),
        "the bar is not cleared:\n{text:?}"
    );
    assert!(text.contains("ok: 6 commits"), "{text:?}");

    for (args, what) in [
        (&["verify"][..], "verify ["),
        (&["report"][..], "report: "),
        (&["export", "--format", "jsonl"][..], "export: "),
    ] {
        let on_tty = w.aiaudit_on_tty(&clone, args).ok();
        assert!(on_tty.contains(what), "{args:?} on a tty:\n{on_tty:?}");
        let piped = w.aiaudit_in(&clone, args);
        piped.ok();
        assert!(
            !piped.stderr.contains(what) && !piped.stderr.contains('\x1b'),
            "{args:?} drew progress into a pipe:\n{piped}"
        );
    }
}

/// `verify` resumes from the last clean run of the same clone: only commits added since are
/// checked, the counts and warnings carry over, history-wide rules still see everything (a
/// post-action review that falls overdue later is reported without new commits), and a new
/// policy change, `--full`, or a history that no longer contains the remembered head mean a
/// full check.
#[test]
fn verify_resumes_from_the_last_clean_head() {
    let w = World::new();
    // Config changes on app:* are reviewed after the fact, within a day.
    w.add_post_rule("post-app-config", "config-change", Some("app:*"));
    // A service account that executes its own decision: a per-commit warning to carry over.
    let svc = w.land(SVC, BOB);
    w.aiaudit(&[
        "outcome",
        &svc.id,
        "--actor",
        SVC,
        "--action",
        "raised it",
        "--push",
    ])
    .ok();
    let clone = w.fresh_clone();
    let verify = |args: &[&str], env: &[(&str, &str)]| -> serde_json::Value {
        let mut all = vec!["verify", "--json"];
        all.extend_from_slice(args);
        let out = w.aiaudit_in_env(&clone, &all, env);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let codes = |v: &serde_json::Value| -> Vec<String> {
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_owned())
            .collect()
    };

    let first = verify(&[], &[]);
    assert_eq!(first["coverage"], "full", "{first}");
    assert_eq!(codes(&first), ["shared-account"], "{first}");
    let total = first["commits"].as_u64().unwrap();
    assert_eq!(first["checked"], total);

    // Two more commits: a post-rule decision landed without approval, and its neighbour.
    let post = w.land_post(BOB, "config-change", "app:cache", "Tune the cache TTL");
    w.land(BOB, CAROL);
    w.git_in(&clone, &["pull", "-q", "--ff-only"]).ok();

    let resumed = verify(&[], &[]);
    assert_eq!(resumed["coverage"], "resumed", "{resumed}");
    assert_eq!(resumed["checked"], 2, "{resumed}");
    assert_eq!(resumed["commits"].as_u64(), Some(total + 2));
    assert_eq!(resumed["decisions"], 3, "{resumed}");
    assert_eq!(resumed["events"], 1, "{resumed}");
    assert_eq!(codes(&resumed), ["shared-account"], "{resumed}");
    assert_eq!(resumed["diagnostics"], first["diagnostics"]);

    // Nothing new, but two days later the post-action review is overdue: reported from the
    // remembered state, exit 1, and nothing is remembered from a failed run.
    let later = jiff::Timestamp::now().as_second() + 2 * 86400;
    let later = jiff::Timestamp::from_second(later).unwrap().to_string();
    let overdue = verify(&[], &[("AIAUDIT_NOW", &later)]);
    assert_eq!(overdue["coverage"], "resumed", "{overdue}");
    assert_eq!(overdue["checked"], 0, "{overdue}");
    assert!(
        codes(&overdue).contains(&"review-overdue".to_owned()),
        "{overdue}"
    );
    assert!(overdue.to_string().contains(&post), "{overdue}");
    // The same judgement as a full run.
    let full = verify(&["--full"], &[("AIAUDIT_NOW", &later)]);
    assert_eq!(full["coverage"], "full");
    let (mut a, mut b) = (codes(&overdue), codes(&full));
    a.sort();
    b.sort();
    assert_eq!(a, b, "resumed and full runs disagree:\n{overdue}\n{full}");

    // A policy change since the remembered head: everything is checked again.
    let policy = w.aiaudit(&["policy", "show"]).ok() + "\n# reviewed\n";
    let file = w.server.with_file_name("policy.yaml");
    std::fs::write(&file, policy).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
    w.git_in(&clone, &["pull", "-q", "--ff-only"]).ok();
    let after_policy = verify(&[], &[]);
    assert_eq!(after_policy["coverage"], "full", "{after_policy}");

    // A garbled state file is ignored: a full check, then a fresh state.
    std::fs::write(clone.join(".git/aiaudit/verify-state.json"), "{not json").unwrap();
    assert_eq!(verify(&[], &[])["coverage"], "full");
    assert_eq!(verify(&[], &[])["coverage"], "resumed");

    // A new checkpoint tag: checked against the whole first-parent line (a resumed run then
    // still walks it), and remembered; one that tags a commit off main is named.
    w.aiaudit_signed(ALICE, &["checkpoint", "q4", "--push"])
        .ok();
    w.git_in(&clone, &["fetch", "-q", "--tags"]).ok();
    let tagged = verify(&[], &[]);
    assert_eq!(codes(&tagged), ["shared-account"], "{tagged}");
    assert_eq!(tagged["coverage"], "resumed", "{tagged}");
    let off_main = w
        .git_in(&clone, &["commit-tree", "-m", "not on main", "main^{tree}"])
        .ok();
    w.git_in(&clone, &["tag", "checkpoint/rogue", &off_main])
        .ok();
    let rogue = verify(&[], &[]);
    assert!(
        codes(&rogue).contains(&"history-rewritten".to_owned()),
        "{rogue}"
    );
    w.git_in(&clone, &["tag", "-d", "checkpoint/rogue"]).ok();
    // A different pinned root of trust is checked against the real root, resumed or not.
    let wrong = w.rev_parse(MAIN);
    let pinned = verify(&["--trust-root", &wrong], &[]);
    assert!(
        codes(&pinned).contains(&"trust-root-mismatch".to_owned()),
        "{pinned}"
    );
}
