//! Pushes that try to change who may approve.

use crate::harness::*;

const POLICY: &str = ".aiaudit/policy.yaml";

/// bob adds himself to the admins group and signs the change with his own (valid) key.
#[test]
fn rejects_policy_change_not_signed_by_admin() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let policy = w.file_at(&main, POLICY);
    let bob_email = format!("    email: \"{}\"\n", w.key(BOB).email);
    let policy = replace_once(
        &policy,
        &bob_email,
        &format!("{bob_email}    groups:\n      - \"admins\"\n"),
    );
    let tree = w.tree(&main, &[Edit::File(POLICY, policy.as_bytes())]);
    let message = format!(
        "policy: make bob an admin\n\n{}",
        w.policy_signed_by(BOB, &main, &tree)
    );
    let c = w.commit_tree(&tree, &main, &message);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("policy-change-unsigned")
            .commit(&c)
            .mentions(POLICY),
    );
}

/// One push: mallory's key added to the policy (signed by that very key), then a decision
/// approved by mallory on top of it. The policy change is judged by the policy before it.
#[test]
fn rejects_key_added_and_used_in_same_push() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let mallory = w.key(MALLORY).clone();
    let alice_key = w.signer_args(ALICE);
    // aiaudit builds the new policy and certificate file (locally, signed by alice); only
    // its tree is kept, re-signed by mallory.
    let mut args = vec![
        "principal",
        "add",
        MALLORY,
        "--kind",
        "human",
        "--email",
        &mallory.email,
        "--cert",
        s(&mallory.cert),
    ];
    args.extend(alice_key.iter().map(String::as_str));
    w.aiaudit(&args).ok();
    let tree = w.rev_parse(&format!("{MAIN}^{{tree}}"));
    w.git(&["update-ref", MAIN, &main]).ok();
    let message = format!(
        "policy: add human principal `mallory`\n\n{}",
        w.policy_signed_by(MALLORY, &main, &tree)
    );
    let grant = w.commit_tree(&tree, &main, &message);

    let p = w.record(BOB);
    let use_it = w.commit(
        &grant,
        &[Edit::File(&p.path, p.text.as_bytes())],
        &format!("{}{}", p.message, w.approved_by(MALLORY, p.text.as_bytes())),
    );
    let key_file = format!(".aiaudit/keys/{}.asc", mallory.fpr);
    let findings = w.push_rejected(
        &[&onto_main(&use_it)],
        finding("policy-change-unsigned")
            .commit(&grant)
            .mentions(&key_file),
    );
    assert!(
        findings
            .iter()
            .any(|f| f.code == "key-unknown" && f.header().contains(&grant[..12])),
        "mallory's signature on her own addition must be an unknown key: {findings:#?}"
    );
}
