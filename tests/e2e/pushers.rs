//! Pusher binding: under `pushers.bind`, the forge login that pushes a decision onto main must
//! belong to one of its approvers (or be a landing account).

use crate::harness::*;

fn bind_pushers(w: &World) {
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let carol_email = format!("    email: \"{}\"\n", w.key(CAROL).email);
    let policy = replace_once(
        &policy,
        &carol_email,
        &format!("{carol_email}    forge_logins:\n      - \"carol-gh\"\n"),
    ) + "\npushers:\n  bind: true\n  landing_accounts:\n    - \"merge-bot\"\n";
    let file = w.server.with_file_name("bound-policy.yaml");
    std::fs::write(&file, policy).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
}

#[test]
fn rejects_push_by_someone_other_than_an_approver() {
    let w = World::new();
    bind_pushers(&w);
    let p = w.record(BOB);
    let d = w.approve_unpushed(&p, CAROL);

    let out = w.push_as("bob-gh", &[&onto_main(&d.commit)]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
    assert!(out.stderr.contains("`bob-gh`"), "{out}");
    let anonymous = w.push(&[&onto_main(&d.commit)]);
    assert!(
        anonymous.stderr.contains("error[pusher-mismatch]"),
        "{anonymous}"
    );
    assert_ne!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));

    let ok = w.push_as("carol-gh", &[&onto_main(&d.commit)]);
    assert!(ok.status.success(), "{ok}");
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
}

#[test]
fn a_landing_account_may_push() {
    let w = World::new();
    bind_pushers(&w);
    let p = w.record(BOB);
    let d = w.approve_unpushed(&p, CAROL);
    let ok = w.push_as("merge-bot", &[&onto_main(&d.commit)]);
    assert!(ok.status.success(), "{ok}");
}
