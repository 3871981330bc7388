//! Decisions landing on main whose approvals are missing, forged, replayed or ineligible. Each
//! record file is valid and its trailers match it; only the approvals (and, once, the author)
//! are wrong.

use crate::harness::*;
use base64::Engine as _;

/// Pushes `commit` to main and expects exactly `code` on it and `path`, plus
/// `approval-missing`: the bad approval is not counted.
fn assert_approval_rejected(w: &World, commit: &str, path: &str, code: &str) {
    let findings = w.push_rejected(
        &[&onto_main(commit)],
        finding(code).commit(commit).path(path),
    );
    assert_eq!(
        codes(&findings),
        [code, "approval-missing"],
        "{findings:#?}"
    );
}

/// A commit on main carrying `d`'s file and trailers plus one `Approved-by: <value>`.
fn with_approval(w: &World, d: &Decision, value: &str) -> String {
    let main = w.server_ref(MAIN).expect("main");
    let message = format!("{}Approved-by: {value}\n", d.message);
    w.commit(&main, &[Edit::File(&d.path, d.text.as_bytes())], &message)
}

/// The proposal commit itself, pushed to main: it has every trailer but no approval.
#[test]
fn rejects_missing_approval() {
    let w = World::new();
    let p = w.record(BOB);
    let findings = w.push_rejected(
        &[&onto_main(&p.commit)],
        finding("approval-missing").commit(&p.commit).path(&p.path),
    );
    assert_eq!(codes(&findings), ["approval-missing"]);
}

/// carol's real approval with one byte of the signature changed.
#[test]
fn rejects_forged_signature() {
    let w = World::new();
    let landing = w.approve_unpushed(&w.record(BOB), CAROL);
    let value = trailer(&landing.message, "Approved-by");
    let forged = replace_trailer(&landing.message, "Approved-by", &flip_last_sig_byte(value));
    let c = w.with_message(&landing.commit, &forged);
    assert_approval_rejected(&w, &c, &landing.path, "signature-invalid");
}

/// A genuine signature by mallory, whose key is in no principal of the policy.
#[test]
fn rejects_key_not_in_policy() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[MALLORY]);
    assert_approval_rejected(&w, &c, &p.path, "key-unknown");
}

/// carol's valid approval of one decision, copied onto another.
#[test]
fn rejects_signature_copied_from_another_decision() {
    let w = World::new();
    let approved = w.land(BOB, CAROL);
    let p = w.record(BOB);
    let c = with_approval(&w, &p, trailer(&approved.message, "Approved-by"));
    assert_approval_rejected(&w, &c, &p.path, "signature-invalid");
}

/// bob initiates and signs his own decision.
#[test]
fn rejects_self_approval() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[BOB]);
    assert_approval_rejected(&w, &c, &p.path, "self-approval");
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
    assert_approval_rejected(&w, &c, &p.path, "self-approval");
}

/// The service principal svc (a valid key of the policy) approves.
#[test]
fn rejects_approval_by_service_principal() {
    let w = World::new();
    let p = w.record(BOB);
    let c = w.decision_commit(&p, &p.text, &[SVC]);
    assert_approval_rejected(&w, &c, &p.path, "approver-not-human");
}

/// A genuine signature by dave, presented as carol's approval.
#[test]
fn rejects_approval_trailer_naming_another_principal() {
    let w = World::new();
    let p = w.record(BOB);
    let carol = w.key(CAROL);
    let value = format!(
        "carol <{}> key={} sig={}",
        carol.email,
        w.key(DAVE).fpr,
        w.sign(DAVE, p.text.as_bytes())
    );
    let c = with_approval(&w, &p, &value);
    assert_approval_rejected(&w, &c, &p.path, "approver-mismatch");
}

/// carol lands bob's approved decision with herself as the git author: the author of a
/// decision commit is its initiator.
#[test]
fn rejects_author_other_than_initiator() {
    let w = World::new();
    let p = w.record(BOB);
    let main = w.server_ref(MAIN).expect("main");
    let tree = w.tree(&main, &[Edit::File(&p.path, p.text.as_bytes())]);
    let message = format!("{}{}", p.message, w.approved_by(CAROL, p.text.as_bytes()));
    let c = w.commit_tree_by(CAROL, &tree, &main, &message);
    let findings = w.push_rejected(
        &[&onto_main(&c)],
        finding("author-mismatch").commit(&c).path(&p.path),
    );
    assert_eq!(codes(&findings), ["author-mismatch"]);
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
