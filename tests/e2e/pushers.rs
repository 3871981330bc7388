//! Pusher binding: under `pushers.bind`, the forge login that pushes a decision onto main must
//! belong to one of its approvers (or be a landing account); a proposal is pushed by its
//! initiator and deleted only by its initiator, an approver of it or an admin.

use crate::harness::*;

/// Binds pushers; alice, bob and carol push as `<id>-gh`, merge-bot is a landing account.
fn bind_pushers(w: &World) {
    w.set_forge_logins(
        &[(ALICE, "alice-gh"), (BOB, "bob-gh"), (CAROL, "carol-gh")],
        "\npushers:\n  bind: true\n  landing_accounts:\n    - \"merge-bot\"\n",
    );
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

/// gitolite's `GL_USER` and a web server's `REMOTE_USER` name the pusher like a forge's
/// variable does: the right login lands, the wrong one is refused naming the variable.
#[test]
fn the_pusher_is_read_from_gitolite_and_the_web_server() {
    let w = World::new();
    bind_pushers(&w);
    for var in ["GL_USER", "REMOTE_USER"] {
        let p = w.record(BOB);
        let d = w.approve_unpushed(&p, CAROL);
        let push = |login: &str| {
            w.git_with(
                &["push", "origin", &onto_main(&d.commit)],
                b"",
                &[(var, login)],
            )
        };
        let out = push("bob-gh");
        assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
        assert!(
            out.stderr.contains(&format!("login `bob-gh` ({var})")),
            "{out}"
        );
        assert_ne!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
        let ok = push("carol-gh");
        assert!(ok.status.success(), "{var}: {ok}");
        assert_eq!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
    }
}

/// `bind: true` on a server that does not say who pushes refuses every decision, and the
/// admins' signed change that turns it off still lands: a policy cannot lock itself.
#[test]
fn a_policy_that_binds_pushers_can_always_be_relaxed() {
    let w = World::new();
    bind_pushers(&w);
    let p = w.record(BOB);
    let d = w.approve_unpushed(&p, CAROL);
    let out = w.push(&[&onto_main(&d.commit)]);
    assert!(out.stderr.contains("did not say who pushed"), "{out}");
    assert!(out.stderr.contains("GL_USER, REMOTE_USER"), "{out}");

    // alice relaxes the binding, pushing as nobody in particular.
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let relaxed = replace_once(&policy, "  bind: true\n", "  bind: false\n");
    let file = w.server.with_file_name("relaxed-policy.yaml");
    std::fs::write(&file, relaxed).unwrap();
    let out = w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"]);
    assert!(out.status.success(), "{out}");
    w.git(&["fetch", "-q", "origin"]).ok();
    let d = w.approve_unpushed(&w.record(BOB), CAROL);
    w.push_accepted(&[&onto_main(&d.commit)]);
}

/// Signed pushes (`git push --signed`): the principal whose key signs the push certificate is
/// the pusher. Under `signed: true` an unsigned push is refused; a certificate by the approver
/// lands it; one by another principal, or by a key the policy does not know, is refused; a
/// certificate replayed from an earlier push (git's nonce status other than `OK`, or updates
/// it does not sign) is refused; and the policy change that drops the requirement lands
/// unsigned.
#[test]
fn signed_pushes_prove_the_pusher() {
    let w = World::new();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let file = w.server.with_file_name("signed-policy.yaml");
    std::fs::write(&file, policy + "\npushers:\n  bind: true\n  signed: true\n").unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
    assert!(
        w.git_in(&w.server, &["config", "receive.certNonceSeed"])
            .status
            .success(),
        "hook install sets the nonce seed"
    );
    w.git(&["config", "user.signingKey", &w.key(DAVE).fpr]).ok();

    let d = w.approve_unpushed(&w.record(BOB), DAVE);
    let onto = onto_main(&d.commit);
    let out = w.push(&[&onto]);
    assert!(out.stderr.contains("error[push-unsigned]"), "{out}");
    assert_ne!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
    let before = w.server_ref(MAIN).expect("main");
    let ok = w.git(&["push", "--signed", "origin", &onto]);
    assert!(ok.status.success(), "{ok}");
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));

    // dave's certificate does not land what carol approved.
    let c = w.approve_unpushed(&w.record(BOB), CAROL);
    let out = w.git(&["push", "--signed", "origin", &onto_main(&c.commit)]);
    assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
    assert!(
        out.stderr.contains("principal `dave` (signed push"),
        "{out}"
    );

    // A GnuPG key the policy does not list.
    w.gpg_cmd(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Eve <eve@example.net>",
        "ed25519",
        "sign",
        "never",
    ]);
    w.git(&["config", "user.signingKey", "eve@example.net"])
        .ok();
    let out = w.git(&["push", "--signed", "origin", &onto_main(&c.commit)]);
    assert!(out.stderr.contains("error[push-cert-invalid]"), "{out}");
    assert!(out.stderr.contains("a key of no principal"), "{out}");

    // The certificate of dave's accepted push, replayed by hand into the hook. (git keeps
    // certificates in the repository's objects, refused pushes' too.)
    let signed_line = format!("{before} {} {MAIN}\n", d.commit);
    let cert = w
        .git_in(
            &w.server,
            &["cat-file", "--batch-all-objects", "--batch-check"],
        )
        .ok()
        .lines()
        .filter(|l| l.contains(" blob "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .find(|id| {
            let text = w.git_in(&w.server, &["cat-file", "-p", id]).stdout;
            text.starts_with("certificate version 0.1\n") && text.contains(&signed_line)
        })
        .expect("the accepted push's certificate in the server's objects");
    for (status, input, says) in [
        (
            "SLOP",
            signed_line.clone(),
            "nonce git issued to another session",
        ),
        ("BAD", signed_line.clone(), "nonce git did not issue"),
        (
            "OK",
            format!("{before} {} {}\n", d.commit, proposal_ref(&d.id)),
            "does not sign the update of refs/heads/proposals/",
        ),
    ] {
        let out = w.hook_with_env(
            input.as_bytes(),
            &[
                ("GIT_PUSH_CERT", &cert),
                ("GIT_PUSH_CERT_NONCE_STATUS", status),
                ("GIT_PUSH_CERT_STATUS", "G"),
            ],
        );
        assert!(!out.status.success(), "{status}: {out}");
        assert!(out.stderr.contains("error[push-cert-invalid]"), "{out}");
        assert!(out.stderr.contains(says), "{status}: {out}");
    }

    // The change that drops the requirement lands unsigned.
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let relaxed = replace_once(&policy, "\n  signed: true", "");
    std::fs::write(&file, relaxed).unwrap();
    let out = w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"]);
    assert!(out.status.success(), "{out}");
}
