//! Pushes the hook lets through: the product's own flows.

use crate::harness::*;

/// record → approve (key file) → `--push`: the decision lands, the proposal ref is gone, a
/// fresh clone verifies clean and git itself reads the approval trailer.
#[test]
fn accepts_a_valid_decision() {
    let w = World::new();
    let d = w.land(BOB, CAROL);

    assert_eq!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
    assert_eq!(w.server_ref(&proposal_ref(&d.id)), None);
    assert_verifies_clean(&w, 1);

    let trailers = w
        .git_stdin(&["interpret-trailers", "--parse"], d.message.as_bytes())
        .ok();
    let carol = w.key(CAROL);
    let want = format!(
        "Approved-by: carol <{}> key={} sig=",
        carol.email, carol.fpr
    );
    assert!(
        trailers.lines().any(|l| l.starts_with(&want)),
        "git interpret-trailers --parse does not return the approval:\n{trailers}"
    );
    assert!(
        trailers.contains(&format!("Decision-Id: {}", d.id)),
        "{trailers}"
    );
}

/// Approval through GnuPG (`approve --gpg-key`), landed by a plain `git push` of main and the
/// deletion of the proposal ref.
#[test]
fn accepts_a_gnupg_approval() {
    let w = World::new();
    let p = w.record(BOB);
    w.push_accepted(&[&format!("{}:{}", p.commit, proposal_ref(&p.id))]);

    let dave = w.key(DAVE).clone();
    let landing = w
        .aiaudit(&["approve", &p.id, "--gpg-key", &dave.fpr, "--yes"])
        .ok();
    w.push_accepted(&[&onto_main(&landing), &format!(":{}", proposal_ref(&p.id))]);

    assert_eq!(w.server_ref(MAIN).as_deref(), Some(landing.as_str()));
    let msg = w.message(&landing);
    assert!(
        msg.contains(&format!(
            "Approved-by: dave <{}> key={} sig=",
            dave.email, dave.fpr
        )),
        "{msg}"
    );
    assert_verifies_clean(&w, 1);
}

/// `aiaudit verify --json` on a fresh clone of the server: no findings, `decisions` landed.
fn assert_verifies_clean(w: &World, decisions: u64) {
    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify", "--json"]);
    let json = out.ok();
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("verify --json: {e}\n{out}"));
    let errors: Vec<_> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] != "warning")
        .collect();
    assert!(errors.is_empty(), "{out}");
    assert_eq!(v["decisions"], decisions, "{out}");
}
