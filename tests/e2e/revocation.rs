//! Keys over time: a revocation published in the policy. A compromised key's approvals all
//! fail `verify` (each affected decision named); a superseded key's past approvals stay valid;
//! neither key approves anything new.

use crate::harness::*;

fn later(secs: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .to_string()
}

/// carol approves a decision, then her key is revoked for `reason` and the revocation lands.
fn approved_then_revoked(reason: &str) -> (World, Decision) {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    w.revoke(CAROL, reason);
    (w, d)
}

fn carol_cannot_approve_anything_new(w: &World) {
    let p = w.record(BOB);
    let mut args = vec!["approve", p.id.as_str(), "--yes"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    let out = w.aiaudit_in_env(&w.work, &args, &[("AIAUDIT_NOW", &later(20))]);
    assert_ne!(out.status.code(), Some(0), "{out}");
    assert!(out.stderr.contains("revoked"), "{out}");
}

#[test]
fn a_compromised_key_fails_every_decision_it_approved() {
    let (w, d) = approved_then_revoked("compromised");
    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    let short = &d.commit[..12];
    assert!(
        out.stderr
            .contains(&format!("error[key-revoked]: commit {short}, {}", d.path)),
        "{out}"
    );
    carol_cannot_approve_anything_new(&w);
    // A hostile client's approval by the compromised key is refused by the server too.
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[CAROL]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("key-revoked").commit(&c).path(&p.path),
    );
}

#[test]
fn a_superseded_key_keeps_its_past_approvals() {
    let (w, _) = approved_then_revoked("superseded");
    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    carol_cannot_approve_anything_new(&w);
}
