//! `aiaudit log` and `aiaudit show` on a real audit repository built by the real binary: the
//! human output and the JSON are pinned by snapshots (tests/e2e/snapshots/), with what differs
//! between runs (keys, commit ids, the random part of ids, signing times) replaced by names.
//! Every `log` filter is checked against the decisions it must keep.

use crate::harness::*;
use std::path::{Path, PathBuf};

/// The repository every test here reads.
struct Ledger {
    w: World,
    clone: PathBuf,
    /// access-change by bob on postgres:billing-db, 2026-11-02, approved by carol; outcome
    /// executed; context stored.
    grant: String,
    /// config-change by bob on github.com/acme/payments, 2026-11-05, approved by dave (GnuPG).
    config: String,
    /// production-change by the service account svc (owned by alice) on aws:prod, 2026-11-09,
    /// approved by bob; outcome failed.
    deploy: String,
    /// code-merge by carol, 2026-11-12, still a proposal (not on main).
    pending: String,
}

fn scratch(w: &World, name: &str, data: &str) -> String {
    let p = w.server.with_file_name(name);
    std::fs::write(&p, data).unwrap();
    p.display().to_string()
}

#[allow(clippy::too_many_arguments)]
fn record(
    w: &World,
    initiator: &str,
    created: &str,
    action: &str,
    system: &str,
    summary: &str,
    model: &str,
    extra: &[&str],
) -> String {
    let prompt = scratch(
        w,
        &format!("prompt-{created}.txt"),
        &format!("Please: {summary}\n"),
    );
    let output = scratch(
        w,
        &format!("output-{created}.txt"),
        &format!("Plan for: {summary}\nStep 1: check.\nStep 2: do it.\n"),
    );
    let mut args = RecordFlags {
        initiator,
        action,
        system,
        summary,
        model,
        prompt: Path::new(&prompt),
        output: Path::new(&output),
        recommendation: "go ahead, carefully",
    }
    .args();
    args.extend(["--created", created, "--push"].map(String::from));
    args.extend(extra.iter().map(|a| a.to_string()));
    w.aiaudit(&argv(&args)).ok()
}

fn approve(w: &World, id: &str, who: &str) {
    w.aiaudit_signed(who, &["approve", id, "--yes", "--push"])
        .ok();
}

fn ledger() -> Ledger {
    let w = World::new();
    let runbook = scratch(
        &w,
        "runbook.md",
        "# Access runbook\nread-only roles only\n24 hours at most\n",
    );
    let doc = format!("retrieved-document={runbook}");
    let grant = record(
        &w,
        BOB,
        "2026-11-02T09:00:00Z",
        "access-change",
        "postgres:billing-db",
        "Grant db-read to svc-analytics",
        MODEL,
        &[
            "--context",
            &doc,
            "--resource",
            "role:db-read",
            "--store-context",
        ],
    );
    approve(&w, &grant, CAROL);
    w.aiaudit(&[
        "outcome",
        &grant,
        "--actor",
        BOB,
        "--action",
        "attached role db-read",
        "--reference",
        "grant-8812",
        "--at",
        "2026-11-02T10:00:00Z",
        "--push",
    ])
    .ok();
    let config = record(
        &w,
        BOB,
        "2026-11-05T14:30:00Z",
        "config-change",
        "github.com/acme/payments",
        "Raise the rate limit to 200/s",
        "openai/gpt-4.1@2025-04-14",
        &[],
    );
    approve(&w, &config, DAVE);
    let deploy = record(
        &w,
        SVC,
        "2026-11-09T08:15:00Z",
        "production-change",
        "aws:prod",
        "Roll payments-api back to revision 218",
        MODEL,
        &["--framework", "langgraph 0.2.74"],
    );
    approve(&w, &deploy, BOB);
    w.aiaudit(&[
        "outcome",
        &deploy,
        "--actor",
        SVC,
        "--status",
        "failed",
        "--action",
        "rollback to 218",
        "--at",
        "2026-11-09T08:20:00Z",
        "--note",
        "health checks failed",
        "--push",
    ])
    .ok();
    let pending = record(
        &w,
        CAROL,
        "2026-11-12T16:00:00Z",
        "code-merge",
        "github.com/acme/payments",
        "Merge PR #42 (retry budget)",
        MODEL,
        &[
            "--target-repo",
            "github.com/acme/payments",
            "--change",
            "PR #42",
        ],
    );
    let clone = w.fresh_clone();
    Ledger {
        w,
        clone,
        grant,
        config,
        deploy,
        pending,
    }
}

impl Ledger {
    fn run(&self, args: &[&str]) -> String {
        self.w.aiaudit_in(&self.clone, args).ok()
    }

    /// `log` with these filters, as the ids it lists (newest first).
    fn ids(&self, filters: &[&str]) -> Vec<String> {
        let mut args = vec!["log", "--json"];
        args.extend_from_slice(filters);
        let v: serde_json::Value = serde_json::from_str(&self.run(&args)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Run-specific values replaced by names.
    fn normalize(&self, text: &str) -> String {
        let mut t = text.to_owned();
        for (id, name) in [
            (&self.grant, "<grant>"),
            (&self.config, "<config>"),
            (&self.deploy, "<deploy>"),
            (&self.pending, "<pending>"),
        ] {
            t = t.replace(id.as_str(), name);
        }
        for who in [ALICE, BOB, CAROL, SVC, DAVE] {
            let fpr = &self.w.key(who).fpr;
            t = t.replace(fpr.as_str(), &format!("<{who}-key>"));
        }
        let subs = [
            // Event ids: time-ordered, random.
            (r"\b01[0-9A-HJKMNP-TV-Z]{24}\b", "<event-id>"),
            // Commit ids.
            (r"\b[0-9a-f]{40}\b", "<commit>"),
            (r"commit [0-9a-f]{12}\b", "commit <commit>"),
            // Signing and event times: the real clock.
            (
                r"\b20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
                "<time>",
            ),
        ];
        for (re, to) in subs {
            t = regex::Regex::new(re)
                .unwrap()
                .replace_all(&t, to)
                .into_owned();
        }
        t
    }
}

/// Pinned times (`--created`, `--at`) survive normalization only where they are not the
/// clock's: the snapshots keep them by putting them back for known decisions.
fn keep_pinned(text: &str, pinned: &[&str]) -> String {
    let mut t = text.to_owned();
    for p in pinned {
        t = t.replace(p, &p.replace('T', "@"));
    }
    t
}

const PINNED: &[&str] = &[
    "2026-11-02T09:00:00Z",
    "2026-11-02T10:00:00Z",
    "2026-11-05T14:30:00Z",
    "2026-11-09T08:15:00Z",
    "2026-11-09T08:20:00Z",
    "2026-11-12T16:00:00Z",
];

fn snap(l: &Ledger, text: &str) -> String {
    l.normalize(&keep_pinned(text, PINNED))
}

#[test]
fn log_and_show_human_and_json() {
    let l = ledger();

    // log: newest first, one line each; the proposal is not on main.
    insta::assert_snapshot!("log_human", snap(&l, &l.run(&["log"])));
    insta::assert_snapshot!("log_json", snap(&l, &l.run(&["log", "--json"])));

    // Every filter keeps exactly the decisions it names.
    let (g, c, d) = (l.grant.clone(), l.config.clone(), l.deploy.clone());
    let cases: Vec<(Vec<&str>, Vec<&String>)> = vec![
        (vec![], vec![&d, &c, &g]),
        (vec!["--initiator", BOB], vec![&c, &g]),
        (vec!["--initiator", SVC], vec![&d]),
        (vec!["--approver", CAROL], vec![&g]),
        (vec!["--approver", DAVE], vec![&c]),
        (vec!["--action", "production-change"], vec![&d]),
        (vec!["--risk", "high"], vec![&d, &g]),
        (vec!["--risk", "medium"], vec![&c]),
        (vec!["--risk", "low"], vec![]),
        (vec!["--model", "gpt-4.1"], vec![&c]),
        (vec!["--since", "2026-11-05"], vec![&d, &c]),
        (vec!["--until", "2026-11-05"], vec![&g]),
        (
            vec!["--since", "2026-11-03", "--until", "2026-11-09T08:15:00Z"],
            vec![&c],
        ),
        (vec!["--status", "executed"], vec![&g]),
        (vec!["--status", "failed"], vec![&d]),
        (vec!["--status", "awaiting-outcome"], vec![&c]),
        (vec!["--initiator", BOB, "--risk", "high"], vec![&g]),
        (vec!["--limit", "2"], vec![&d, &c]),
        // A principal with no decisions matches none (an unknown one is refused: everyday.rs).
        (vec!["--initiator", DAVE], vec![]),
    ];
    for (filters, want) in cases {
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(l.ids(&filters), want, "log {filters:?}");
    }

    // show: the whole chain of a landed decision with stored context, an approval and an
    // outcome; of a service account's failed change; and of a pending proposal.
    insta::assert_snapshot!("show_grant", snap(&l, &l.run(&["show", &l.grant])));
    insta::assert_snapshot!("show_deploy", snap(&l, &l.run(&["show", &l.deploy])));
    insta::assert_snapshot!("show_pending", snap(&l, &l.run(&["show", &l.pending])));
    insta::assert_snapshot!(
        "show_grant_json",
        snap(&l, &l.run(&["show", &l.grant, "--json"]))
    );
    // A unique prefix of a pending id works; a bad one names what is wrong.
    let prefix = &l.pending[..20];
    assert!(l.run(&["show", prefix]).contains("pending approval"));
    let out = l.w.aiaudit_in(&l.clone, &["show", "01ZZZZZZZZ"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("no proposal for decision `01ZZZZZZZZ`"),
        "{out}"
    );
}

#[test]
fn log_rejects_bad_filters() {
    let w = World::new();
    for (args, says) in [
        (&["log", "--risk", "extreme"][..], "extreme"),
        (&["log", "--since", "yesterday"][..], "--since"),
        (&["log", "--status", "done"][..], "done"),
        (&["log", "--action", "teleport"][..], "teleport"),
    ] {
        let out = w.aiaudit(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(says), "{args:?}: {out}");
    }
}

/// `show` through the index of main that `verify` leaves in the clone: the same output as
/// reading history, for a decision with events landed before the verify and after it, and the
/// same again when the index is missing or does not fit main.
#[test]
fn show_reads_the_index_verify_left_and_what_main_gained_since() {
    let l = ledger();
    let index = l.clone.join(".git/aiaudit/index-v1-chain");
    let show = |id: &str| (l.run(&["show", id]), l.run(&["show", id, "--json"]));
    let before = [show(&l.grant), show(&l.deploy), show(&l.config)];
    assert!(!index.exists());

    let out = l.w.aiaudit_in(&l.clone, &["verify"]);
    assert!(out.stdout.starts_with("ok: "), "{out}");
    // Every commit of main, 20 bytes each.
    let commits = l.w.git_in(&l.clone, &["rev-list", "--count", "main"]).ok();
    let len = std::fs::metadata(&index).unwrap().len();
    assert_eq!(len, 20 * commits.trim().parse::<u64>().unwrap());
    let events = std::fs::metadata(l.clone.join(".git/aiaudit/index-v1-events")).unwrap();
    assert_eq!(events.len(), 2 * 20, "the two outcomes");
    assert_eq!(
        [show(&l.grant), show(&l.deploy), show(&l.config)],
        before,
        "show through the index"
    );
    // It is read: with the events' file emptied, the outcome landed before the verify is not
    // looked for.
    let events_file = l.clone.join(".git/aiaudit/index-v1-events");
    let kept = std::fs::read(&events_file).unwrap();
    std::fs::write(&events_file, b"").unwrap();
    assert!(!show(&l.grant).0.contains("attached role db-read"));
    std::fs::write(&events_file, &kept).unwrap();

    // An event about the oldest decision lands after the verify: found among the new commits.
    l.w.aiaudit_signed(
        CAROL,
        &[
            "review",
            &l.grant,
            "--verdict",
            "accepted",
            "--summary",
            "checked the grant",
            "--push",
        ],
    )
    .ok();
    l.w.git_in(&l.clone, &["pull", "-q", "--ff-only"]).ok();
    let indexed = show(&l.grant);
    assert!(indexed.0.contains("checked the grant"), "{}", indexed.0);
    std::fs::rename(&index, index.with_extension("away")).unwrap();
    let walked = show(&l.grant);
    assert_eq!(indexed, walked, "through the index and without it");
    std::fs::rename(index.with_extension("away"), &index).unwrap();

    // A resumed verify appends the new commit and its event.
    let out = l.w.aiaudit_in(&l.clone, &["verify"]);
    assert!(
        out.stdout.contains("added since the last clean verify"),
        "{out}"
    );
    assert_eq!(std::fs::metadata(&index).unwrap().len(), len + 20);
    assert_eq!(std::fs::metadata(&events_file).unwrap().len(), 3 * 20);
    std::fs::write(&events_file, b"").unwrap();
    assert!(!show(&l.grant).0.contains("checked the grant"), "indexed");
    std::fs::write(&events_file, &kept).unwrap();
    let out = l.w.aiaudit_in(&l.clone, &["verify", "--full"]);
    assert!(out.stdout.starts_with("ok: "), "{out}");
    assert_eq!(show(&l.grant), walked);

    // An index that does not fit main (another history's commits) is not used, and the next
    // resumed verify drops it rather than append to it.
    std::fs::write(&index, [7u8; 60]).unwrap();
    assert_eq!(show(&l.grant), walked);
    l.w.aiaudit_signed(
        CAROL,
        &[
            "review",
            &l.deploy,
            "--verdict",
            "concerns",
            "--summary",
            "late",
            "--push",
        ],
    )
    .ok();
    l.w.git_in(&l.clone, &["pull", "-q", "--ff-only"]).ok();
    let out = l.w.aiaudit_in(&l.clone, &["verify"]);
    assert!(
        out.stdout.contains("added since the last clean verify"),
        "{out}"
    );
    assert!(!index.exists() && !events_file.exists());
    assert_eq!(show(&l.grant), walked);
}
