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
