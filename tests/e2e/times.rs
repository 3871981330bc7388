//! Issue 10 §2: times must be plausible. A signature made before the decision existed, one
//! dated in the future beyond the tolerated clock skew, and an event recorded before its
//! decision are refused with `time-implausible`, by the hook and by every command that writes
//! (one engine).

use crate::harness::*;
use base64::Engine as _;
use std::time::{Duration, SystemTime};

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    aiaudit::record::format_unix(secs as i64)
}

/// A principal `erin` whose key was made yesterday; returns (secret key file, fingerprint).
fn erin_since_yesterday(w: &World) -> (std::path::PathBuf, String) {
    let yesterday = rfc3339(SystemTime::now() - Duration::from_secs(86_400));
    let prefix = w.work.join("erin");
    let fpr = w
        .aiaudit_in_env(
            &w.work,
            &[
                "key",
                "generate",
                "--name",
                "Erin",
                "--email",
                "erin@example.com",
                "--out",
                s(&prefix),
            ],
            &[("AIAUDIT_NOW", &yesterday)],
        )
        .ok();
    w.add_human("erin", &prefix.with_extension("asc"));
    (prefix.with_extension("key"), fpr)
}

/// `Approved-by` for erin, signed in-process at `at` over `data`.
fn erin_approval(key: &std::path::Path, fpr: &str, data: &[u8], at: SystemTime) -> String {
    let signer = aiaudit::pgp::Signer::KeyFile {
        path: key.to_owned(),
        passphrase: None,
    };
    let sig = aiaudit::pgp::sign_detached(&signer, data, at).expect("sign");
    let sig = base64::engine::general_purpose::STANDARD.encode(sig);
    format!("Approved-by: erin <erin@example.com> key={fpr} sig={sig}\n")
}

/// A decision recorded by bob, landed by a commit carrying erin's approval signed at `at`.
fn landing_approved_at(w: &World, at: SystemTime) -> (String, Decision) {
    let (key, fpr) = erin_since_yesterday(w);
    let p = w.record(BOB);
    let message = format!(
        "{}{}",
        p.message,
        erin_approval(&key, &fpr, p.text.as_bytes(), at)
    );
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message);
    (c, p)
}

#[test]
fn an_approval_signed_before_the_decision_existed_is_rejected() {
    let w = World::new();
    let (c, p) = landing_approved_at(&w, SystemTime::now() - Duration::from_secs(3600));
    w.push_rejected(
        &[&onto_main(&c)],
        finding("time-implausible")
            .commit(&c)
            .path(&p.path)
            .mentions("before the decision was created"),
    );
    // A commit whose approval is signed now lands.
    let w = World::new();
    let (c, _) = landing_approved_at(&w, SystemTime::now());
    w.push_accepted(&[&onto_main(&c)]);
}

#[test]
fn an_approval_dated_in_the_future_is_rejected() {
    let w = World::new();
    let (c, _) = landing_approved_at(&w, SystemTime::now() + Duration::from_secs(3600));
    w.push_rejected(
        &[&onto_main(&c)],
        finding("time-implausible")
            .commit(&c)
            .mentions("in the future"),
    );
}

/// An outcome recorded (by the CLI, with its clock set back) before its decision was created
/// is refused before anything is written.
#[test]
fn an_event_recorded_before_its_decision_is_refused() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let before = w.git(&["rev-parse", MAIN]).ok();
    let yesterday = rfc3339(SystemTime::now() - Duration::from_secs(86_400));
    let out = w.aiaudit_in_env(
        &w.work,
        &["outcome", &d.id, "--actor", BOB, "--action", "merged"],
        &[("AIAUDIT_NOW", &yesterday)],
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("time-implausible"), "{out}");
    assert!(out.stderr.contains("before decision"), "{out}");
    assert_eq!(
        w.git(&["rev-parse", MAIN]).ok(),
        before,
        "nothing was recorded"
    );
}
