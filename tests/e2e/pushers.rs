//! Pusher binding: under `pushers.bind`, the forge login that pushes a decision onto main must
//! belong to one of its approvers (or be a landing account); a proposal is pushed by its
//! initiator and deleted only by its initiator, an approver of it or an admin.

use crate::harness::*;

/// Binds pushers; alice, bob and carol push as `<id>-gh`, merge-bot is a landing account.
fn bind_pushers(w: &World) {
    let mut policy = w.aiaudit(&["policy", "show"]).ok();
    for who in [ALICE, BOB, CAROL] {
        let email = format!("    email: \"{}\"\n", w.key(who).email);
        policy = replace_once(
            &policy,
            &email,
            &format!("{email}    forge_logins:\n      - \"{who}-gh\"\n"),
        );
    }
    let policy = policy + "\npushers:\n  bind: true\n  landing_accounts:\n    - \"merge-bot\"\n";
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

#[test]
fn a_proposal_is_pushed_by_its_initiator_and_deleted_by_those_accountable() {
    let w = World::new();
    bind_pushers(&w);
    let p = w.record(BOB);
    let refspec = format!("{}:{}", p.commit, proposal_ref(&p.id));
    let delete = format!(":{}", proposal_ref(&p.id));
    // Someone else cannot put a proposal in bob's name on the server.
    for login in ["carol-gh", "mallory-gh"] {
        let out = w.push_as(login, &[&refspec]);
        assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
        assert!(out.stderr.contains("creates proposal"), "{out}");
    }
    assert!(w.push_as("bob-gh", &[&refspec]).status.success());
    // carol has not approved it: she cannot withdraw it; alice (an admin) can.
    let out = w.push_as("carol-gh", &[&delete]);
    assert!(out.stderr.contains("deletes proposal"), "{out}");
    assert!(w.server_ref(&proposal_ref(&p.id)).is_some());
    assert!(w.push_as("alice-gh", &[&delete]).status.success());
    assert!(w.server_ref(&proposal_ref(&p.id)).is_none());

    // Once carol's approval lands it, she may clean the proposal up.
    assert!(w.push_as("bob-gh", &[&refspec]).status.success());
    let d = w.approve_unpushed(&p, CAROL);
    assert!(w
        .push_as("carol-gh", &[&onto_main(&d.commit)])
        .status
        .success());
    let out = w.push_as("mallory-gh", &[&delete]);
    assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
    assert!(w.push_as("carol-gh", &[&delete]).status.success());
}
