//! Decisions landing on main whose approvals are missing, forged, replayed or ineligible. Each
//! record file is valid; only the `Approved-by` trailers differ.

use crate::harness::*;
use base64::Engine as _;

/// The proposal commit itself, pushed to main: it has every trailer but no approval.
#[test]
fn rejects_missing_approval() {
    let w = World::new();
    let p = w.record(BOB);
    w.push_rejected(
        &[&onto_main(&p.commit)],
        finding("approval-missing").commit(&p.commit).path(&p.path),
    );
}

/// carol's real approval with one byte of the signature changed.
#[test]
fn rejects_forged_signature() {
    let w = World::new();
    let landing = w.approve_unpushed(&w.record(BOB), CAROL);
    let value = trailer(&landing.message, "Approved-by");
    let forged = replace_trailer(&landing.message, "Approved-by", &flip_last_sig_byte(value));
    let c = w.with_message(&landing.commit, &forged);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("signature-invalid").commit(&c).path(&landing.path),
    );
}

/// A genuine signature by mallory, whose key is in no principal of the policy.
#[test]
fn rejects_key_not_in_policy() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[MALLORY]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("key-unknown").commit(&c).path(&p.path),
    );
}

/// carol's valid approval of one decision, copied onto another.
#[test]
fn rejects_signature_copied_from_another_decision() {
    let w = World::new();
    let approved = w.land(BOB, CAROL);
    let p = w.record(BOB);
    let message = format!(
        "{}Approved-by: {}\n",
        p.message,
        trailer(&approved.message, "Approved-by")
    );
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("signature-invalid").commit(&c).path(&p.path),
    );
}

/// bob initiates and signs his own decision.
#[test]
fn rejects_self_approval() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[BOB]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("self-approval").commit(&c).path(&p.path),
    );
}

/// The service principal svc (a valid key of the policy) approves.
#[test]
fn rejects_approval_by_service_principal() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[SVC]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("approver-not-human").commit(&c).path(&p.path),
    );
}

/// alice owns the service account svc that initiated the decision: she may not approve it.
#[test]
fn rejects_approval_by_owner_of_initiating_service() {
    let w = World::new();
    let p = w.record(SVC);
    assert_eq!(
        trailer(&p.message, "Initiator"),
        "svc (service, owner alice)"
    );
    let c = w.decision_commit(&p, &p.text, &[ALICE]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("self-approval").commit(&c).path(&p.path),
    );
}

/// A genuine signature by carol's colleague dave, presented as carol's approval.
#[test]
fn rejects_approval_trailer_naming_another_principal() {
    let w = World::new();
    let p = w.record(BOB);
    let dave = w.key(DAVE);
    let value = format!(
        "carol <{}> key={} sig={}",
        w.key(CAROL).email,
        dave.fpr,
        w.sign(DAVE, p.text.as_bytes())
    );
    let main = w.server_ref(MAIN).expect("main");
    let message = format!("{}Approved-by: {value}\n", p.message);
    let c = w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("approver-mismatch").commit(&c).path(&p.path),
    );
}

/// An `Approved-by` value with the last byte of its signature packet inverted: the packet still
/// parses, the cryptography fails.
fn flip_last_sig_byte(value: &str) -> String {
    let (head, sig) = value.split_once(" sig=").expect("sig= in the trailer");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(sig).expect("base64 signature");
    *raw.last_mut().expect("non-empty signature") ^= 0xff;
    format!("{head} sig={}", b64.encode(raw))
}
