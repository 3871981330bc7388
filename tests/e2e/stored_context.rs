//! `record --store-context`: context content kept in the audit repository, content-addressed
//! at `context/<xx>/<sha256>`, carried from the proposal onto main by `approve`, shown by
//! `show`; and the hook's rules for stored content (named by its digest, referenced by the
//! decision its commit adds, UTF-8, no credentials), each through a real push.

use crate::harness::*;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn context_path(data: &[u8]) -> String {
    let h = sha(data);
    format!("context/{}/{h}", &h[..2])
}

/// A scratch file beside the server repository.
fn scratch(w: &World, name: &str, data: &[u8]) -> PathBuf {
    let p = w.server.with_file_name(name);
    std::fs::write(&p, data).unwrap();
    p
}

const PROMPT: &[u8] = b"Should svc-analytics get read access to billing-db?\n";
const RUNBOOK: &[u8] = b"# Runbook: database access\n1. read-only roles only\n2. 24 hours at most\n3. ticket required\n4. owner signs off\n5. log the grant\n6. revoke after use\n7. review weekly\n8. escalate breaches\n";
const ARGS: &[u8] = b"{\"table\": \"grants\", \"where\": \"role = 'db-read'\"}\n";
const RESULT: &[u8] = b"2 rows: svc-etl, svc-reports\n";
const OUTPUT: &[u8] = b"Grant db-read to svc-analytics for 24 hours.\n";
/// Holds something that looks like a credential: recorded by digest only, never stored.
const SECRETS: &[u8] = b"aws_access_key_id = AKIAZ3MHK6EXAMPLE7QQ\n";
/// Binary: its digest is recorded, its content cannot be stored.
const BINARY: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, 1, 2, 3];

/// The record flags of the decision every test here starts from; `extra` adds flags.
fn record_args(w: &World, extra: &[&str]) -> Vec<String> {
    let f = |n: &str, d: &[u8]| scratch(w, n, d).display().to_string();
    let (prompt, output) = (
        scratch(w, "prompt.txt", PROMPT),
        scratch(w, "output.txt", OUTPUT),
    );
    let mut args = RecordFlags {
        initiator: BOB,
        action: "access-change",
        system: "postgres:billing-db",
        summary: "Grant db-read to svc-analytics",
        model: MODEL,
        prompt: &prompt,
        output: &output,
        recommendation: "grant it for 24 hours",
    }
    .args();
    args.extend([
        "--json".into(),
        "--context".into(),
        format!("retrieved-document={}", f("runbook.md", RUNBOOK)),
        "--context".into(),
        format!("file={}", f("diagram.png", BINARY)),
        "--context".into(),
        format!("file={}", f("env.txt", SECRETS)),
        "--digest-only".into(),
        "env.txt".into(),
        "--tool-call".into(),
        format!(
            "db.query={},{}",
            f("args.json", ARGS),
            f("result.txt", RESULT)
        ),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn record(w: &World, extra: &[&str]) -> (serde_json::Value, Out) {
    let args = record_args(w, extra);
    let out = w.aiaudit(&argv(&args));
    let v = serde_json::from_str(&out.ok()).expect("record --json");
    (v, out)
}

#[test]
fn stored_context_lands_with_its_decision_and_show_reads_it() {
    let w = World::new();
    let (v, out) = record(&w, &["--store-context", "--push"]);
    let id = v["id"].as_str().unwrap().to_owned();
    // The binary file is left out with a note naming it; the digest-only file silently so.
    assert!(
        out.stderr
            .contains("diagram.png is not stored (not UTF-8 text)"),
        "{out}"
    );
    let mut want: Vec<String> = [PROMPT, RUNBOOK, ARGS, RESULT, OUTPUT]
        .iter()
        .map(|d| context_path(d))
        .collect();
    want.sort();
    let mut got: Vec<String> = v["stored_context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want, "record --json: {v}");

    // The proposal carries them; approve lands them on main with the decision.
    let mut args = vec!["approve", id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    w.aiaudit(&args).ok();
    let main = w.server_ref(MAIN).expect("main");
    let files = w
        .git_in(
            &w.server,
            &["ls-tree", "-r", "--name-only", &main, "context"],
        )
        .ok();
    let mut on_main: Vec<&str> = files.lines().collect();
    on_main.sort();
    assert_eq!(on_main, want.iter().map(String::as_str).collect::<Vec<_>>());
    for (data, path) in [PROMPT, RUNBOOK, ARGS, RESULT, OUTPUT]
        .iter()
        .map(|d| (d, context_path(d)))
    {
        let blob = w
            .git_in(&w.server, &["cat-file", "blob", &format!("{main}:{path}")])
            .ok();
        assert_eq!(blob.trim_end().as_bytes(), data.trim_ascii_end());
    }
    for never in [SECRETS, BINARY] {
        assert!(!files.contains(&sha(never)), "stored {never:?}:\n{files}");
    }

    let clone = w.fresh_clone();
    // verify exits 0 (a warning for the missing outcome is all it finds).
    let verify = w.aiaudit_in(&clone, &["verify", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&verify).unwrap();
    assert!(
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["severity"] == "warning"),
        "{verify}"
    );
    assert_eq!(report["decisions"], 1, "{verify}");

    // show: the stored content under each input, the first lines only unless --full.
    let shown = w.aiaudit_in(&clone, &["show", &id]).ok();
    for needle in [
        format!("content, stored at {}", context_path(PROMPT)),
        "│ Should svc-analytics get read access to billing-db?".to_owned(),
        "│ # Runbook: database access".to_owned(),
        "│ … 3 more line(s): --full, or git show main:".to_owned(),
        format!("arguments, stored at {}", context_path(ARGS)),
        format!("result, stored at {}", context_path(RESULT)),
        "│ Grant db-read to svc-analytics for 24 hours.".to_owned(),
    ] {
        assert!(shown.contains(&needle), "show lacks {needle:?}:\n{shown}");
    }
    assert!(!shown.contains("aws_access_key_id"), "{shown}");
    let full = w.aiaudit_in(&clone, &["show", &id, "--full"]).ok();
    assert!(full.contains("│ 8. escalate breaches"), "{full}");
    assert!(!full.contains("more line(s)"), "{full}");

    let j: serde_json::Value =
        serde_json::from_str(&w.aiaudit_in(&clone, &["show", &id, "--json"]).ok()).unwrap();
    let entries = j["stored_context"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5, "{j}");
    assert_eq!(
        entries[1]["content"]["content"].as_str().map(str::as_bytes),
        Some(RUNBOOK)
    );
    assert!(entries[2]["content"].is_null(), "binary: {j}");
    assert!(entries[3]["content"].is_null(), "digest-only: {j}");
    assert_eq!(
        entries[4]["arguments"]["path"].as_str(),
        Some(context_path(ARGS).as_str())
    );
    assert_eq!(
        j["stored_context"]["output"]["content"]
            .as_str()
            .map(str::as_bytes),
        Some(OUTPUT)
    );
}

/// Without --store-context nothing but the record is written.
#[test]
fn context_is_not_stored_unless_asked() {
    let w = World::new();
    let (v, _) = record(&w, &[]);
    assert_eq!(v["stored_context"], serde_json::json!([]));
    let commit = v["commit"].as_str().unwrap();
    let files = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", commit])
        .ok();
    assert_eq!(files.lines().count(), 1, "{files}");
}

/// A proposal (recorded without --store-context) rebuilt with `extra` files beside its
/// decision, pushed as the same proposal ref.
fn proposal_with(w: &World, extra: &[(&str, &[u8])]) -> (String, String) {
    let (v, _) = record(w, &[]);
    let id = v["id"].as_str().unwrap().to_owned();
    let commit = v["commit"].as_str().unwrap().to_owned();
    let parent = w.rev_parse(&format!("{commit}^"));
    let edits: Vec<Edit> = extra.iter().map(|(p, d)| Edit::File(p, d)).collect();
    let tree = w.tree(&commit, &edits);
    let crafted = w.commit_tree(&tree, &parent, &w.message(&commit));
    (id, crafted)
}

#[test]
fn rejects_stored_context_that_does_not_match_its_name() {
    let w = World::new();
    let path = context_path(PROMPT);
    let (id, c) = proposal_with(&w, &[(&path, b"something else entirely\n")]);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&id))],
        finding("stored-context-mismatch")
            .commit(&c)
            .path(&path)
            .alone(),
    );
}

#[test]
fn rejects_stored_context_the_decision_does_not_name() {
    let w = World::new();
    let stray: &[u8] = b"an unrelated document smuggled into the ledger\n";
    let path = context_path(stray);
    let (id, c) = proposal_with(&w, &[(&path, stray)]);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&id))],
        finding("stored-context-unreferenced")
            .commit(&c)
            .path(&path)
            .alone(),
    );
}

#[test]
fn rejects_stored_context_holding_a_credential() {
    let w = World::new();
    // The decision names the digest-only file's digest; storing its content is refused.
    let path = context_path(SECRETS);
    let (id, c) = proposal_with(&w, &[(&path, SECRETS)]);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&id))],
        finding("stored-context-secret")
            .commit(&c)
            .path(&path)
            .mentions("aws-access-key-id")
            .alone(),
    );
}

#[test]
fn rejects_binary_stored_context() {
    let w = World::new();
    let path = context_path(BINARY);
    let (id, c) = proposal_with(&w, &[(&path, BINARY)]);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&id))],
        finding("not-utf8").commit(&c).path(&path).alone(),
    );
}

#[test]
fn rejects_stored_context_without_a_decision_on_main() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let path = context_path(PROMPT);
    let c = w.commit(&main, &[Edit::File(&path, PROMPT)], "add some context\n");
    w.push_rejected(
        &[&onto_main(&c)],
        finding("stored-context-unreferenced")
            .commit(&c)
            .path(&path)
            .alone(),
    );
}

#[test]
fn rejects_a_malformed_context_path() {
    let w = World::new();
    let h = sha(PROMPT);
    // The fan-out directory must be the digest's first two digits.
    let path = format!("context/00/{h}");
    let (id, c) = proposal_with(&w, &[(&path, PROMPT)]);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&id))],
        finding("proposal-invalid").commit(&c).path(&path).alone(),
    );
}

/// `--store-context` with an intake document: inline content (prompt, tool-call arguments and
/// result, model output) is stored; an input given by digest, and one marked `digest_only`,
/// are not; the proposal passes the hook.
#[test]
fn intake_documents_store_their_inline_content() {
    let w = World::new();
    let prompt = "Grant svc-etl read access to the orders database.\n";
    let (args, result) = ("{\"database\":\"orders\"}", "[\"orders_read\"]");
    let env = "DB_PASSWORD=hunter2-Xk9vQ7mZ2pL4\n";
    let output = "Attach orders_read to svc-etl for 24 hours.\n";
    let doc = serde_json::json!({
        "schema": "aiaudit/intake/v1",
        "initiator": { "id": BOB },
        "action": {
            "kind": "access-change",
            "target": { "system": "postgres:orders" },
            "summary": "Grant svc-etl read access to orders"
        },
        "ai": {
            "role": "suggested",
            "model": { "provider": "anthropic", "name": "claude", "version": "2025-01-01" }
        },
        "context": [
            { "kind": "prompt", "name": "prompt", "content": prompt },
            { "kind": "tool-call", "name": "db.list_roles", "arguments": args, "content": result },
            { "kind": "file", "name": ".env", "content": env, "digest_only": true },
            { "kind": "ticket", "name": "SEC-42", "size": 1834,
              "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
        ],
        "recommendation": { "summary": "attach orders_read", "output": output }
    });
    let file = scratch(&w, "intake.json", doc.to_string().as_bytes());
    let out = w.aiaudit(&[
        "record",
        "--json",
        "--from",
        s(&file),
        "--store-context",
        "--push",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.ok()).unwrap();
    let mut got: Vec<&str> = v["stored_context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    got.sort();
    let mut want: Vec<String> = [prompt, args, result, output]
        .iter()
        .map(|c| context_path(c.as_bytes()))
        .collect();
    want.sort();
    assert_eq!(got, want, "{out}");
    let commit = v["commit"].as_str().unwrap();
    let files = w
        .git(&["ls-tree", "-r", "--name-only", commit, "context"])
        .ok();
    assert!(!files.contains(&sha(env.as_bytes())), "{files}");
    assert_eq!(files.lines().count(), 4, "{files}");
    assert!(
        w.server_ref(&proposal_ref(v["id"].as_str().unwrap()))
            .is_some(),
        "the hook did not take the proposal"
    );
}
