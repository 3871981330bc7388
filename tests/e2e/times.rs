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

/// A signature trailer's value for erin, signed in-process at `at` over `data`.
fn erin_signature(key: &std::path::Path, fpr: &str, data: &[u8], at: SystemTime) -> String {
    let signer = aiaudit::pgp::Signer::KeyFile {
        path: key.to_owned(),
        passphrase: None,
    };
    let sig = aiaudit::pgp::sign_detached(&signer, data, at).expect("sign");
    let sig = base64::engine::general_purpose::STANDARD.encode(sig);
    format!("erin <erin@example.com> key={fpr} sig={sig}")
}

/// `Approved-by` for erin, signed in-process at `at` over `data`.
fn erin_approval(key: &std::path::Path, fpr: &str, data: &[u8], at: SystemTime) -> String {
    format!("Approved-by: {}\n", erin_signature(key, fpr, data, at))
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
    // The executor signs its outcome: erin, whose key exists at the clock set back.
    let (key, _) = erin_since_yesterday(&w);
    let before = w.git(&["rev-parse", MAIN]).ok();
    let yesterday = rfc3339(SystemTime::now() - Duration::from_secs(86_400));
    let out = w.aiaudit_in_env(
        &w.work,
        &["outcome", &d.id, "--action", "merged", "--key", s(&key)],
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

/// An outcome written after the decision was created but before it was approved cannot be the
/// outcome of the approved action: `outcome` refuses it, the hook rejects it, and `verify`
/// flags it in history.
#[test]
fn an_outcome_signed_before_the_approval_is_rejected() {
    let w = World::new();
    let (key, fpr) = erin_since_yesterday(&w);
    let hours_ago = |h: u64| rfc3339(SystemTime::now() - Duration::from_secs(h * 3600));
    // erin records (and signs) two hours ago; carol approves now.
    let mut args = w.config_change_args("erin");
    args.extend(["--key".into(), s(&key).into(), "--push".into()]);
    let id = w
        .aiaudit_in_env(&w.work, &argv(&args), &[("AIAUDIT_NOW", &hours_ago(2))])
        .ok();
    let mut approve = vec!["approve", id.as_str(), "--yes", "--push"];
    let carol = w.signer_args(CAROL);
    approve.extend(carol.iter().map(String::as_str));
    w.aiaudit(&approve).ok();
    // Decisions landed since: the hook and the CLI look for where this one landed further back.
    for _ in 0..2 {
        w.land(BOB, CAROL);
    }

    // The CLI, its clock an hour back, refuses before writing.
    let outcome = [
        "outcome",
        id.as_str(),
        "--action",
        "raised",
        "--key",
        s(&key),
    ];
    let out = w.aiaudit_in_env(&w.work, &outcome, &[("AIAUDIT_NOW", &hours_ago(1))]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("time-implausible"), "{out}");
    assert!(out.stderr.contains("was approved"), "{out}");

    // The hook: an outcome recorded now whose Executed-by was signed an hour ago.
    w.aiaudit(&outcome).ok();
    let commit = w.rev_parse(MAIN);
    let path = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &commit])
        .ok();
    let text = w.file_at(&commit, &path);
    let early = erin_signature(
        &key,
        &fpr,
        text.as_bytes(),
        SystemTime::now() - Duration::from_secs(3600),
    );
    let message = replace_trailer(&w.message(&commit), "Executed-by", &early);
    let tree = w.rev_parse(&format!("{commit}^{{tree}}"));
    let main = w.server_ref(MAIN).expect("main");
    let env = [
        ("GIT_AUTHOR_NAME", "erin"),
        ("GIT_AUTHOR_EMAIL", "erin@example.com"),
    ];
    let bad = w.commit_tree_env(&tree, &main, &message, &env);
    w.push_rejected(
        &[&onto_main(&bad)],
        finding("time-implausible")
            .commit(&bad)
            .path(&path)
            .mentions("was approved")
            .alone(),
    );
    // `verify` judges history the same way (a server without the hook would serve it), also
    // when it resumes from a clean run that saw the decision land.
    w.git(&["update-ref", MAIN, &main]).ok();
    w.aiaudit(&["verify"]).ok();
    w.git(&["update-ref", MAIN, &bad]).ok();
    let out = w.aiaudit(&["verify"]);
    assert!(
        out.stdout.contains("added since the last clean verify"),
        "{out}"
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("was approved"), "{out}");
    let out = w.aiaudit(&["verify", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("time-implausible"), "{out}");
    assert!(out.stderr.contains("was approved"), "{out}");
}
