//! What the policy requires of approvals: an AND of groups (each N of M), a principal counted
//! once whatever number of keys it signs with, and no approval by an agent in the chain.

use crate::harness::*;

/// Puts `groups` on principal `who` (inserted before its keys) in the policy text.
fn with_groups(w: &World, policy: &str, who: &str, groups: &[&str]) -> String {
    let email = format!("    email: \"{}\"\n    keys:\n", w.key(who).email);
    let list: String = groups
        .iter()
        .map(|g| format!("      - \"{g}\"\n"))
        .collect();
    replace_once(
        policy,
        &email,
        &format!(
            "    email: \"{}\"\n    groups:\n{list}    keys:\n",
            w.key(who).email
        ),
    )
}

/// Config changes need `require` (YAML list items at rule indentation).
fn set_rule(w: &World, policy: String, require: &str) {
    let rule = format!(
        "rules:\n  - name: \"guarded-config\"\n    match:\n      actions: [\"config-change\"]\n    risk: \"medium\"\n    approval: \"pre\"\n    require:\n{require}"
    );
    let policy = replace_once(&policy, "rules:\n", &rule);
    let file = w.server.with_file_name("requirements.yaml");
    std::fs::write(&file, policy + "\n").unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
}

/// The proposal commit `approve` left for `id` (partial approvals are kept there).
fn proposal_commit(w: &World, id: &str) -> String {
    w.rev_parse(&proposal_ref(id))
}

#[test]
fn and_of_groups_short_by_one_group_is_rejected() {
    let w = World::new();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let policy = with_groups(&w, &policy, CAROL, &["security"]);
    let policy = with_groups(&w, &policy, DAVE, &["dev"]);
    set_rule(
        &w,
        policy,
        "      - group: \"security\"\n        count: 1\n      - group: \"dev\"\n        count: 1\n",
    );
    let d = w.land_proposal(BOB);
    // carol (security) approves: not enough, the approval waits on the proposal ref.
    let partial = w.aiaudit_signed(CAROL, &["approve", &d.id, "--yes"]);
    partial.ok();
    assert!(
        partial.stderr.contains("needs 1 from group `dev`"),
        "{partial}"
    );
    let waiting = proposal_commit(&w, &d.id);
    // Pushing it onto main anyway: refused, naming the missing group.
    let main = w.server_ref(MAIN).unwrap();
    assert_eq!(w.rev_parse(&format!("{waiting}~1")), main);
    w.push_rejected(
        &[&onto_main(&waiting)],
        finding("approval-missing")
            .commit(&waiting)
            .path(&d.path)
            .mentions("group `dev`")
            .alone(),
    );
    // dave (dev, GnuPG) adds his: both groups are satisfied and it lands.
    let landed = w
        .aiaudit_signed(DAVE, &["approve", &d.id, "--yes", "--push"])
        .ok();
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(landed.as_str()));
}

#[test]
fn one_principal_with_two_keys_counts_once() {
    let w = World::new();
    let second = w.server.with_file_name("carol-2");
    w.aiaudit(&[
        "key",
        "generate",
        "--name",
        "Carol",
        "--email",
        &w.key(CAROL).email,
        "--out",
        s(&second),
    ])
    .ok();
    w.aiaudit_signed(
        ALICE,
        &[
            "principal",
            "add-key",
            CAROL,
            "--cert",
            s(&second.with_extension("asc")),
            "--push",
        ],
    )
    .ok();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    set_rule(&w, policy, "      - count: 2\n");

    let d = w.land_proposal(BOB);
    w.aiaudit_signed(CAROL, &["approve", &d.id, "--yes"]).ok();
    let first = w.message(&proposal_commit(&w, &d.id));
    let key2 = second.with_extension("key");
    w.aiaudit(&["approve", &d.id, "--yes", "--key", s(&key2)])
        .ok();
    let second_msg = w.message(&proposal_commit(&w, &d.id));
    let line = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("Approved-by:"))
            .unwrap()
            .to_owned()
    };
    let (a1, a2) = (line(&first), line(&second_msg));
    assert_ne!(a1, a2, "two different keys signed");
    // Both of carol's signatures on one landing commit: still one approver of the two needed.
    let message = format!("{}{a1}\n{a2}\n", d.message);
    let c = w.commit_tree_by(
        BOB,
        &w.tree(
            &w.server_ref(MAIN).unwrap(),
            &[Edit::File(&d.path, d.text.as_bytes())],
        ),
        &w.server_ref(MAIN).unwrap(),
        &message,
    );
    w.push_rejected(
        &[&onto_main(&c)],
        finding("approval-missing")
            .commit(&c)
            .mentions("has 1 valid approval(s)")
            .alone(),
    );
}

#[test]
fn rejects_approval_by_an_agent_in_the_chain() {
    let w = World::new();
    let p = w.record(BOB);
    // carol also acts as the validating agent of this decision.
    let text = replace_once(
        &p.text,
        "context:\n",
        "  agents:\n    - id: \"carol\"\n      role: \"validator\"\ncontext:\n",
    );
    let c = w.decision_commit(&p, &text, &[CAROL]);
    let found = w.push_rejected(
        &[&onto_main(&c)],
        finding("self-approval").commit(&c).path(&p.path),
    );
    assert!(
        found.iter().any(|f| f.text().contains("agent `carol`")),
        "{found:?}"
    );
}

#[test]
fn accepts_an_approval_by_a_gnupg_rsa_key() {
    let w = World::new();
    let fpr = w.generate_gpg_rsa_key("erin", "Erin");
    let cert = w.server.with_file_name("erin.asc");
    std::fs::write(&cert, w.gpg_export(&fpr)).unwrap();
    w.add_human("erin", &cert);
    let d = w.land_proposal(BOB);
    let landed = w
        .aiaudit(&["approve", &d.id, "--yes", "--gpg-key", &fpr, "--push"])
        .ok();
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(landed.as_str()));
    let out = w.aiaudit_in(&w.fresh_clone(), &["verify"]);
    assert!(out.status.success(), "{out}");
}
