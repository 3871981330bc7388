//! Issue 14: approval-gated execution. `aiaudit exec ID -- CMD` runs CMD only when the decision
//! is on main, verified, still meets its policy now, and CMD is exactly the approved command;
//! then it lands a signed outcome with the execution's evidence. `--wait` and `aiaudit await`
//! block until an approver lands the decision.

use crate::harness::*;
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// The approved command: writes `marker`, prints to stdout and stderr, exits with `code`.
fn command(marker: &Path, code: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "echo ran > '{}'; echo out; echo err >&2; exit {code}",
            marker.display()
        ),
    ]
}

/// bob records (and pushes as a proposal) a production change that names `cmd`.
fn record_command(w: &World, cmd: &[String]) -> String {
    let mut args = w.config_change_args(BOB);
    args.push("--push".into());
    args.extend(w.signer_args(BOB));
    args.push("--".into());
    args.extend(cmd.iter().cloned());
    w.aiaudit(&argv(&args)).ok()
}

fn approve(w: &World, id: &str) {
    let mut args = vec!["approve", id, "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    w.aiaudit(&args).ok();
}

/// `aiaudit exec ID [extra] -- cmd`, signing as svc (the executing service account).
fn exec(w: &World, id: &str, extra: &[&str], cmd: &[String]) -> Out {
    let mut args: Vec<String> = vec!["exec".into(), id.into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(w.signer_args(SVC));
    args.push("--".into());
    args.extend(cmd.iter().cloned());
    w.aiaudit(&argv(&args))
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn only_the_approved_command_runs_and_its_signed_outcome_lands() {
    let w = World::new();
    let marker = w.files.join("marker");
    let cmd = command(&marker, 3);
    // A command holding a credential is refused before anything is written: the record would
    // keep it forever.
    let mut args = w.config_change_args(BOB);
    args.push("--".into());
    args.extend([
        "curl".into(),
        "https://admin:Tr0ub4dor-and-3@db.example.com/".into(),
    ]);
    let out = w.aiaudit(&argv(&args));
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("action.command"), "{out}");
    let id = record_command(&w, &cmd);
    let shown = w.aiaudit(&["show", &id]).ok();
    assert!(shown.contains("command    sh -c 'echo ran >"), "{shown}");

    // Not approved: nothing runs, and the refusal says what is missing.
    let out = exec(&w, &id, &[], &cmd);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("is not approved"), "{out}");
    assert!(
        out.stderr.contains("needs 1 from any human principal"),
        "{out}"
    );
    assert!(!marker.exists(), "the command ran without approval");

    approve(&w, &id);
    // Approved, but another command: nothing runs.
    let mut other = cmd.clone();
    other[2].push_str("; touch /dev/null");
    let out = exec(&w, &id, &[], &other);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("is not the command decision"), "{out}");
    assert!(!marker.exists());

    // A ledger that is not the pinned one: nothing runs.
    let not_root = w.server_ref(MAIN).expect("main");
    let out = exec(&w, &id, &["--trust-root", &not_root], &cmd);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("trust-root-mismatch"), "{out}");
    assert!(!marker.exists());

    // The approved command runs; exec exits with its exit code; the outcome lands signed.
    let root = w.git(&["rev-list", "--max-parents=0", MAIN]).ok();
    let out = exec(&w, &id, &["--trust-root", root.trim()], &cmd);
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(marker.exists());
    assert_eq!(out.stdout, "out\n", "stdout passes through");
    assert!(out.stderr.contains("err\n"), "{out}");
    let main = w.server_ref(MAIN).expect("main");
    let path = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &main])
        .ok();
    assert!(path.starts_with("events/"), "{path}");
    let event = w.file_at(&main, &path);
    for want in [
        "status: \"failed\"",
        "exit_code: 3",
        &format!("sha256: \"{}\"\n    size: 4", sha256(b"out\n")),
        &format!("sha256: \"{}\"\n    size: 4", sha256(b"err\n")),
        "started: \"",
        "finished: \"",
        "id: \"svc\"",
    ] {
        assert!(event.contains(want), "{want} in:\n{event}");
    }
    assert!(
        trailer(&w.message(&main), "Executed-by").starts_with("svc <svc@example.com> key="),
        "{}",
        w.message(&main)
    );
}

#[test]
fn a_key_revoked_after_the_approval_blocks_exec() {
    let w = World::new();
    let marker = w.files.join("marker");
    let cmd = command(&marker, 0);
    let id = record_command(&w, &cmd);
    approve(&w, &id);
    // `status` says so before and after: approved, then refused with the finding.
    let out = w.aiaudit(&["status", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.ok()).unwrap();
    assert_eq!(v["state"], "approved", "{v}");
    assert_eq!(v["approvals"], serde_json::json!([CAROL]), "{v}");
    w.revoke(CAROL, "compromised");
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(60))
        .unwrap()
        .to_string();
    let mut args: Vec<String> = vec!["exec".into(), id.clone()];
    args.extend(w.signer_args(SVC));
    args.push("--".into());
    args.extend(cmd.iter().cloned());
    let out = w.aiaudit_in_env(&w.work, &argv(&args), &[("AIAUDIT_NOW", &at)]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("key-revoked"), "{out}");
    assert!(!marker.exists(), "a revoked approval opened the action");
    let out = w.aiaudit_in_env(&w.work, &["status", &id], &[("AIAUDIT_NOW", &at)]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stdout.contains(&format!("decision {id}: refused")),
        "{out}"
    );
    assert!(out.stdout.contains("key-revoked"), "{out}");
}

#[test]
fn exec_wait_returns_once_an_approver_lands_the_decision() {
    let w = World::new();
    let marker = w.files.join("marker");
    let cmd = command(&marker, 0);
    let id = record_command(&w, &cmd);

    // exec --wait in its own process, started before anyone approves.
    let mut args: Vec<String> = vec!["exec".into(), id.clone(), "--wait".into(), "2m".into()];
    args.extend(w.signer_args(SVC));
    args.push("--".into());
    args.extend(cmd.iter().cloned());
    let mut c = w.command(env!("CARGO_BIN_EXE_aiaudit"), &w.work);
    c.args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().expect("start exec --wait");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!marker.exists(), "ran before the approval");

    // carol approves from another clone.
    let other: PathBuf = w.fresh_clone();
    let mut a = vec!["approve", id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    a.extend(signer.iter().map(String::as_str));
    w.aiaudit_in(&other, &a).ok();

    let out = child.wait_with_output().expect("exec --wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("waiting for decision"), "{stderr}");
    assert!(marker.exists());
    // `await` returns at once now.
    let out = w.aiaudit(&["await", &id, "--timeout", "5s"]);
    out.ok();
    let out = w.aiaudit(&["await", "01M8P9GB103V9X7C5B1N8M4D2F", "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
}
