//! Issue 15, item 1: commands that move the checked-out `main` of a normal clone (`principal
//! add`, `approve --push`, `outcome`) bring its index and work tree along, so `git status` is
//! clean and `git commit -a` cannot revert what they wrote; a file the user changed locally is
//! left as it is, with a note naming it.

use crate::harness::*;

fn status(w: &World) -> String {
    w.git(&["status", "--porcelain", "--untracked-files=all"])
        .ok()
}

#[test]
fn moving_the_checked_out_main_keeps_the_checkout_in_step() {
    let w = World::new();
    // World::new added four principals in the work clone, moving its checked-out main.
    assert_eq!(w.git(&["symbolic-ref", "HEAD"]).ok().trim(), MAIN);
    assert_eq!(status(&w), "", "principal add left the checkout behind");
    let policy = std::fs::read_to_string(w.work.join(".aiaudit/policy.yaml")).unwrap();
    assert_eq!(
        policy.trim_end(),
        w.git(&["show", "HEAD:.aiaudit/policy.yaml"])
            .ok()
            .trim_end(),
        "the work tree holds main's policy"
    );

    // approve --push lands a decision on main; outcome adds an event.
    let d = w.land(BOB, CAROL);
    assert_eq!(status(&w), "", "approve left the checkout behind");
    assert!(w.work.join(&d.path).is_file(), "{}", d.path);
    w.aiaudit(&[
        "outcome", &d.id, "--actor", SVC, "--action", "applied", "--push",
    ])
    .ok();
    assert_eq!(status(&w), "", "outcome left the checkout behind");
    // A held index lock (another git, or one killed mid-write): the command still succeeds —
    // the ref has moved — and says how to bring the checkout along.
    let lock = w.work.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let out = w.aiaudit(&[
        "outcome",
        &d.id,
        "--actor",
        SVC,
        "--action",
        "re-applied",
        "--push",
    ]);
    out.ok();
    assert!(
        out.stderr
            .contains("note: the branch moved, but your checkout could not follow"),
        "{out}"
    );
    let hint = out
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("bring it along with `"))
        .and_then(|l| l.split('`').next())
        .expect("the hint names the command")
        .to_owned();
    std::fs::remove_file(&lock).unwrap();
    let words: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(words[..3], ["git", "checkout", "HEAD"], "{hint}");
    w.git(&words[1..]).ok();
    assert_eq!(status(&w), "", "the hint's command restores the checkout");

    // `git commit -a` has nothing to commit: nothing can be reverted by accident.
    let out = w.git(&["commit", "-a", "-m", "x"]);
    assert!(!out.status.success(), "{out}");

    // A local change to a file the next command rewrites is kept, and named.
    let path = w.work.join(".aiaudit/policy.yaml");
    let mine = format!(
        "{}# my local note\n",
        std::fs::read_to_string(&path).unwrap()
    );
    std::fs::write(&path, &mine).unwrap();
    let k = w.key(MALLORY).clone();
    let out = w.aiaudit_signed(
        ALICE,
        &[
            "principal",
            "add",
            MALLORY,
            "--kind",
            "human",
            "--email",
            &k.email,
            "--cert",
            s(&k.cert),
            "--push",
        ],
    );
    out.ok();
    assert!(
        out.stderr
            .contains("note: .aiaudit/policy.yaml has local changes in your checkout"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), mine);
    // Unstaged against the new main, as any local change: nothing staged reverts the policy.
    assert_eq!(status(&w), "M .aiaudit/policy.yaml");
    let staged = w.git(&["diff", "--cached", "--name-only"]).ok();
    assert_eq!(staged, "", "the index reverts main");
    // Restoring it gives main's policy, which has the new principal.
    w.git(&["checkout", "--", ".aiaudit/policy.yaml"]).ok();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains(&format!("id: \"{MALLORY}\"")));
    assert_eq!(status(&w), "");
}

/// Issue 12, item 4, and issue 11's landing under contention. When another clone moved the
/// server's main meanwhile, `outcome --push` rebuilds its commit onto the server's main and
/// lands by itself (the signature covers the event file, not the commit); `principal add` (a
/// governance change, signed over the governance state it was made on) is refused and the
/// clone put back — ref and checkout — saying to fetch. When the server refuses for another
/// reason, the outcome is put back too; after a fetch the same commands succeed.
#[test]
fn a_refused_push_puts_the_clone_back() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    // Another clone lands an outcome: the server's main moves on.
    let other = w.fresh_clone();
    let mut a = vec!["outcome", d.id.as_str(), "--action", "first", "--push"];
    let svc = w.signer_args(SVC);
    a.extend(svc.iter().map(String::as_str));
    w.aiaudit_in(&other, &a).ok();
    let first = w.server_ref(MAIN).expect("main");

    let add_erin = [
        "principal",
        "add",
        "erin",
        "--kind",
        "human",
        "--email",
        "erin@example.org",
        "--push",
    ];
    let before = w.rev_parse(MAIN);
    let out = w.aiaudit_signed(ALICE, &add_erin);
    assert!(!out.status.success(), "{out}");
    assert!(
        out.stderr
            .contains("nothing was recorded: refs/heads/main put back as before"),
        "{out}"
    );
    assert!(
        out.stderr.contains("hint: the server moved on: git fetch"),
        "{out}"
    );
    assert_eq!(w.rev_parse(MAIN), before, "local main left ahead");
    assert_eq!(status(&w), "", "the checkout did not follow back");

    // The outcome lands by itself, on top of the other clone's.
    let out = w.aiaudit(&[
        "outcome", &d.id, "--actor", SVC, "--action", "second", "--push",
    ]);
    assert!(out.status.success(), "{out}");
    assert!(out.stderr.contains("the server's main moved on"), "{out}");
    let landed = w.server_ref(MAIN).expect("main");
    assert_eq!(w.rev_parse(MAIN), landed, "the local main is what landed");
    assert_eq!(w.rev_parse(&format!("{landed}^")), first);
    assert_eq!(status(&w), "", "the checkout followed");

    // A server that refuses for another reason: the outcome is put back.
    let hook = w.server.join("hooks/pre-receive");
    let real = std::fs::read_to_string(&hook).unwrap();
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'closed for maintenance' >&2\nexit 1\n",
    )
    .unwrap();
    let before = w.rev_parse(MAIN);
    let out = w.aiaudit(&[
        "outcome", &d.id, "--actor", SVC, "--action", "third", "--push",
    ]);
    std::fs::write(&hook, real).unwrap();
    assert!(!out.status.success(), "{out}");
    assert!(
        out.stderr
            .contains("nothing was recorded: refs/heads/main put back as before"),
        "{out}"
    );
    assert!(!out.stderr.contains("git fetch"), "{out}");
    assert_eq!(w.rev_parse(MAIN), before);
    assert_eq!(status(&w), "");

    // After a fetch, principal add lands.
    w.git(&[
        "fetch",
        "-q",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
    ])
    .ok();
    w.aiaudit_signed(ALICE, &add_erin).ok();
    assert_eq!(w.server_ref(MAIN), Some(w.rev_parse(MAIN)));
}
