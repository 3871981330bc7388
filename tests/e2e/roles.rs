//! Roles and identities: agents keep their own roles apart where the policy says so, and a
//! service account that both initiates and executes is flagged as a shared identity.

use crate::harness::*;

/// Appends `extra` to the policy on main, signed by alice and pushed.
fn extend_policy(w: &World, extra: &str) {
    let policy = w.aiaudit(&["policy", "show"]).ok() + "\n" + extra;
    let file = w.server.with_file_name("extended-policy.yaml");
    std::fs::write(&file, policy).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
}

#[test]
fn rejects_one_agent_identity_holding_two_separated_roles() {
    let w = World::new();
    extend_policy(&w, "separate_roles:\n  - [\"proposer\", \"validator\"]\n");
    let p = w.record(BOB);
    let agents = "  agents:\n    - id: \"agent-7\"\n      role: \"proposer\"\n    - id: \"agent-7\"\n      role: \"validator\"\ncontext:\n";
    let text = replace_once(&p.text, "context:\n", agents);
    let c = w.decision_commit(&p, &text, &[CAROL]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("roles-not-separated")
            .commit(&c)
            .path(&p.path)
            .alone(),
    );
}

/// svc (a service account owned by alice) initiates a decision and then records its outcome:
/// a warning by default, a rejection under `shared_accounts: reject`.
#[test]
fn flags_a_service_account_that_initiates_and_executes() {
    let w = World::new();
    let d = w.land(SVC, CAROL);
    let outcome = [
        "outcome",
        d.id.as_str(),
        "--actor",
        SVC,
        "--action",
        "applied",
    ];
    let warned = w.aiaudit(&outcome);
    assert!(
        warned.stderr.contains("warning[shared-account]"),
        "{warned}"
    );
    let pushed = w.push(&["main:main"]);
    assert!(pushed.status.success(), "{pushed}");
    assert!(
        pushed.stderr.contains("warning[shared-account]"),
        "{pushed}"
    );

    extend_policy(&w, "shared_accounts: \"reject\"\n");
    let refused = w.aiaudit(&outcome);
    assert_eq!(refused.status.code(), Some(1), "{refused}");
    assert!(
        refused.stderr.contains("error[shared-account]"),
        "{refused}"
    );
}
