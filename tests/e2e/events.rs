//! Events after a decision — outcomes and signed post-action reviews — through real pushes.

use crate::harness::*;

/// The event commit `aiaudit outcome` / `review` left on the local main, with its file.
fn local_event(w: &World) -> (String, String, String) {
    let commit = w.rev_parse("main");
    let path = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &commit])
        .ok();
    let text = w.file_at(&commit, &path);
    (commit, path, text)
}

#[test]
fn accepts_outcome_and_review_and_verify_counts_them() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    w.aiaudit(&[
        "outcome",
        &d.id,
        "--actor",
        BOB,
        "--action",
        "granted read access",
        "--reference",
        "grant-42",
        "--push",
    ])
    .ok();
    w.aiaudit_signed(
        CAROL,
        &[
            "review",
            &d.id,
            "--verdict",
            "accepted",
            "--summary",
            "fine",
            "--push",
        ],
    )
    .ok();

    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert!(out.stdout.starts_with("ok: "), "{out}");
    assert!(out.stdout.contains("(1 decisions, 2 events,"), "{out}");
}

#[test]
fn rejects_event_for_unknown_decision() {
    let w = World::new();
    // Land a decision and its outcome locally only, then push the outcome without the decision.
    let p = w.record(BOB);
    let d = w.approve_unpushed(&p, CAROL);
    w.git(&["update-ref", MAIN, &d.commit]).ok();
    w.aiaudit(&["outcome", &d.id, "--actor", BOB, "--action", "done"])
        .ok();
    let (event_commit, path, text) = local_event(&w);
    let main = w.server_ref(MAIN).unwrap();
    let orphan = w.commit_tree_by(
        BOB,
        &w.tree(&main, &[Edit::File(&path, text.as_bytes())]),
        &main,
        &w.message(&event_commit),
    );
    w.push_rejected(
        &[&onto_main(&orphan)],
        finding("event-unknown-decision")
            .commit(&orphan)
            .path(&path)
            .alone(),
    );
}

#[test]
fn rejects_review_by_the_initiator() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    // aiaudit refuses locally; craft the review commit as a hostile client would.
    w.aiaudit_signed(
        CAROL,
        &[
            "review",
            &d.id,
            "--verdict",
            "accepted",
            "--summary",
            "mine",
        ],
    )
    .ok();
    let (commit, path, text) = local_event(&w);
    let text = text.replace("id: \"carol\"", "id: \"bob\"");
    let message = w
        .message(&commit)
        .lines()
        .filter(|l| !l.starts_with("Reviewed-by:"))
        .map(|l| l.replace("Actor: carol (human)", "Actor: bob (human)") + "\n")
        .collect::<String>()
        + &w.approved_by(BOB, text.as_bytes())
            .replace("Approved-by:", "Reviewed-by:");
    let main = w.server_ref(MAIN).unwrap();
    let c = w.commit_tree_by(
        BOB,
        &w.tree(&main, &[Edit::File(&path, text.as_bytes())]),
        &main,
        &message,
    );
    let found = w.push_rejected(
        &[&onto_main(&c)],
        finding("self-approval").commit(&c).path(&path),
    );
    assert!(
        codes(&found).contains(&"approval-missing"),
        "{:?}",
        codes(&found)
    );
}

/// A rule for post-action review: the decision lands at once (`record --land`), and verify
/// reports it once its deadline passes without a review by then; a timely review closes it.
#[test]
fn post_review_deadline_is_enforced_by_verify() {
    let w = World::new();
    w.add_post_rule("post-config", "config-change", None);

    let id = w.land_post(BOB, "config-change", "app:prod", "log level to debug");

    let in_two_days = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap()
        .to_string();
    let verify_later = |w: &World| {
        let clone = w.fresh_clone();
        w.aiaudit_in_env(&clone, &["verify"], &[("AIAUDIT_NOW", &in_two_days)])
    };
    let late = verify_later(&w);
    assert_eq!(late.status.code(), Some(1), "{late}");
    assert!(late.stderr.contains("error[review-overdue]"), "{late}");
    assert!(late.stderr.contains(&id), "{late}");

    w.aiaudit_signed(
        CAROL,
        &[
            "review",
            &id,
            "--verdict",
            "accepted",
            "--summary",
            "fine",
            "--push",
        ],
    )
    .ok();
    let reviewed = verify_later(&w);
    assert_eq!(reviewed.status.code(), Some(0), "{reviewed}");
}

/// The server's index of main (`ledger::index`): its size in commits, and main's length.
fn server_index(w: &World) -> (u64, u64) {
    let chain = w.server.join("aiaudit").join("index-v1-chain");
    let size = std::fs::metadata(&chain).map(|m| m.len()).unwrap_or(0);
    let commits = w
        .git_in(&w.server, &["rev-list", "--first-parent", "--count", MAIN])
        .ok()
        .trim()
        .parse::<u64>()
        .expect("a count");
    (size / 20, commits)
}

/// An event about a decision that landed many commits ago: the hook finds where it landed
/// through the server's index of main, which `hook install` builds and the hook brings up to
/// main as accepted before it reads it, once a lookup has read `AIAUDIT_INDEX_AFTER` commits
/// without it; an index that does not fit the objects is not believed, and is written anew.
#[test]
fn an_event_about_an_old_decision_is_judged_through_the_servers_index() {
    let w = World::new();
    let (indexed, commits) = server_index(&w);
    assert!(
        indexed >= 1,
        "hook install indexed main: {indexed} of {commits}"
    );
    let old = w.land(BOB, CAROL);
    for _ in 0..3 {
        w.land(BOB, CAROL);
    }
    // A decision found within the last 1,024 commits: nothing waits for the index.
    let (at_install, _) = server_index(&w);
    w.aiaudit(&[
        "outcome", &old.id, "--actor", BOB, "--action", "seen", "--push",
    ])
    .ok();
    assert_eq!(server_index(&w).0, at_install);
    // Beyond `AIAUDIT_INDEX_AFTER` commits (here 0): the hook brings its index up to main as
    // it was before the push (the push's own commit is not indexed), and reads it.
    let (_, before) = server_index(&w);
    let after0 = [("AIAUDIT_INDEX_AFTER", "0")];
    let outcome = [
        "outcome", &old.id, "--actor", BOB, "--action", "done", "--push",
    ];
    w.aiaudit_in_env(&w.work, &outcome, &after0).ok();
    let (indexed, commits) = server_index(&w);
    assert_eq!((indexed, commits), (before, before + 1));

    // Another history's ids: not believed; the next outcome is judged as without an index,
    // and the index written anew.
    let chain = w.server.join("aiaudit").join("index-v1-chain");
    std::fs::write(&chain, [7u8; 20 * 5]).expect("write");
    let outcome = [
        "outcome", &old.id, "--actor", BOB, "--action", "undone", "--push",
    ];
    w.aiaudit_in_env(&w.work, &outcome, &after0).ok();
    let (indexed, commits) = server_index(&w);
    assert_eq!((indexed, commits), (before + 1, before + 2));
    // `hook index` builds it for servers whose hook is installed by other means.
    std::fs::remove_dir_all(w.server.join("aiaudit")).expect("remove the index");
    let root = w
        .server
        .parent()
        .expect("the server's directory")
        .to_owned();
    let out = w.aiaudit_in(&root, &["hook", "index", s(&w.server)]).ok();
    assert_eq!(out.trim(), format!("indexed main: {commits} new commit(s)"));
    assert_eq!(server_index(&w), (commits, commits));
    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert!(out.stdout.contains("(4 decisions, 3 events,"), "{out}");
}
