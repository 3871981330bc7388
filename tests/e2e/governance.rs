//! Governance with an admin threshold above one: a change waits on a governance proposal ref
//! until enough admins of the *previous* policy have signed it.

use crate::harness::*;

/// alice (sole admin) makes carol an admin and raises the threshold to 2.
fn two_admins(w: &World) {
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let carol_keys = format!("    email: \"{}\"\n    keys:\n", w.key(CAROL).email);
    let policy = replace_once(&policy, "  threshold: 1\n", "  threshold: 2\n");
    let policy = replace_once(
        &policy,
        &carol_keys,
        &format!(
            "    email: \"{}\"\n    groups:\n      - \"admins\"\n    keys:\n",
            w.key(CAROL).email
        ),
    );
    let file = w.server.with_file_name("two-admins.yaml");
    std::fs::write(&file, policy + "\n").unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
}

#[test]
fn a_policy_change_needs_the_admin_threshold() {
    let w = World::new();
    two_admins(&w);
    let erin = w.server.with_file_name("erin");
    let fpr = w
        .aiaudit(&[
            "key",
            "generate",
            "--name",
            "Erin",
            "--email",
            "erin@example.com",
            "--out",
            s(&erin),
        ])
        .ok();
    let cert = erin.with_extension("asc");

    // alice's signature alone: the change waits on a governance ref (pushed, accepted there).
    let proposed = w.aiaudit_signed(
        ALICE,
        &[
            "principal",
            "add",
            "erin",
            "--kind",
            "human",
            "--cert",
            s(&cert),
            "--push",
        ],
    );
    let refname = proposed.ok();
    assert!(refname.starts_with("refs/heads/governance/"), "{proposed}");
    assert!(
        proposed.stderr.contains("1 of 2 admin signature(s)"),
        "{proposed}"
    );
    let waiting = w
        .server_ref(&refname)
        .expect("the governance proposal is on the server");

    // Pushing it onto main with one signature is refused.
    w.push_rejected(
        &[&onto_main(&waiting)],
        finding("policy-change-unsigned")
            .commit(&waiting)
            .mentions("needs 2 admin signature(s)"),
    );

    // carol adds hers; the change lands and erin's key is in force.
    let name = refname.trim_start_matches("refs/heads/governance/");
    w.git(&[
        "fetch",
        "-q",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
    ])
    .ok();
    w.aiaudit_signed(CAROL, &["policy", "sign", name, "--push"])
        .ok();
    assert_eq!(
        w.server_ref(&refname),
        None,
        "the governance ref is cleaned up"
    );
    let policy = w.fresh_clone();
    let shown = w.aiaudit_in(&policy, &["policy", "show"]).ok();
    assert!(shown.contains(&fpr), "{shown}");
    let verified = w.aiaudit_in(&policy, &["verify"]);
    assert!(verified.status.success(), "{verified}");
}

#[test]
fn a_signature_for_one_governance_state_cannot_be_replayed_onto_another() {
    let w = World::new();
    // alice signs a change against the genesis-era policy...
    let main_before = w.server_ref(MAIN).unwrap();
    let policy = w.aiaudit(&["policy", "show"]).ok() + "\n# edited\n";
    let file = w.server.with_file_name("edited.yaml");
    std::fs::write(&file, &policy).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file)]).ok();
    let signed = w.rev_parse("main");
    // ...then another policy change lands first.
    w.git(&["update-ref", MAIN, &main_before]).ok();
    let other = w.server.with_file_name("other.yaml");
    std::fs::write(&other, w.aiaudit(&["policy", "show"]).ok() + "\n# other\n").unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&other), "--push"])
        .ok();
    // Re-parenting alice's first change onto the new main keeps its base: refused.
    let main_now = w.server_ref(MAIN).unwrap();
    let tree = w.git(&["rev-parse", &format!("{signed}^{{tree}}")]).ok();
    let replay = w.commit_tree_by(ALICE, &tree, &main_now, &w.message(&signed));
    w.push_rejected(
        &[&onto_main(&replay)],
        finding("policy-change-unsigned")
            .commit(&replay)
            .mentions("governance files changed after it"),
    );
}

/// A key belongs to one principal: adding it to a second one, with a new principal or as a
/// second key, is refused before anything is written.
#[test]
fn a_key_cannot_belong_to_two_principals() {
    let w = World::new();
    let main = w.rev_parse(MAIN);
    let bob = w.key(BOB).clone();
    let alice_key = w.key(ALICE).secret.clone().expect("alice has a key file");
    let out = w.aiaudit(&[
        "principal",
        "add",
        "bob2",
        "--kind",
        "human",
        "--cert",
        s(&bob.cert),
        "--key",
        s(&alice_key),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains(&format!("key {} already belongs to `bob`", bob.fpr)),
        "{out}"
    );
    let out = w.aiaudit(&[
        "principal",
        "add-key",
        CAROL,
        "--cert",
        s(&bob.cert),
        "--key",
        s(&alice_key),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("already belongs to `bob`"), "{out}");
    assert_eq!(w.rev_parse(MAIN), main, "a refused change moved main");
}
