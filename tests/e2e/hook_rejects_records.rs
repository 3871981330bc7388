//! Decisions landing on main whose record file is wrong. Every bad file is approved by carol
//! with a genuine signature over its exact bytes, so only the rule under test can fail.

use crate::harness::*;

/// Lands `text` at `d`'s path with `d`'s trailers (or `message`), approved by carol, and
/// expects the hook to reject it with `code` on that commit and file, and nothing else.
fn assert_record_rejected(w: &World, d: &Decision, text: &str, message: Option<&str>, code: &str) {
    let d = Decision {
        message: message.unwrap_or(&d.message).to_owned(),
        ..d.clone()
    };
    let c = w.decision_commit(&d, text, &[CAROL]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding(code).commit(&c).path(&d.path).alone(),
    );
}

#[test]
fn rejects_missing_initiator() {
    let w = World::new();
    let p = w.record(BOB);
    // The whole `initiator:` block goes (its lines up to the next top-level field).
    let mut skipping = false;
    let text: String = p
        .text
        .split_inclusive('\n')
        .filter(|l| {
            if l.starts_with("initiator:") {
                skipping = true;
            } else if !l.starts_with(' ') {
                skipping = false;
            }
            !skipping
        })
        .collect();
    assert!(!text.contains("initiator") && text.len() < p.text.len());
    assert_record_rejected(&w, &p, &text, None, "field-missing");
}

#[test]
fn rejects_missing_context_digest() {
    let w = World::new();
    let p = w.record(BOB);
    let text = drop_line(&p.text, "  digest: \"sha256:");
    assert_record_rejected(&w, &p, &text, None, "field-missing");
}

#[test]
fn rejects_missing_model_version() {
    let w = World::new();
    let p = w.record(BOB);
    let text = drop_line(&p.text, "    version: ");
    assert_record_rejected(&w, &p, &text, None, "field-missing");
}

/// A canonical file, correct digest, trailers to match, but the model version `latest`.
#[test]
fn rejects_floating_model_version() {
    let w = World::new();
    let p = w.record(BOB);
    let text = with_floating_model(&p.text);
    let message = replace_trailer(&p.message, "Model", "anthropic/claude@latest");
    assert_record_rejected(&w, &p, &text, Some(&message), "model-version-floating");
}

/// The prompt entry renamed: the stored context digest no longer recomputes.
#[test]
fn rejects_context_digest_mismatch() {
    let w = World::new();
    let p = w.record(BOB);
    let text = replace_once(&p.text, "name: \"prompt.txt\"", "name: \"prompt-v2.txt\"");
    assert_record_rejected(&w, &p, &text, None, "context-digest-mismatch");
}

/// The file says risk high; the commit's trailer says low.
#[test]
fn rejects_trailer_disagreeing_with_file() {
    let w = World::new();
    let p = w.record(BOB);
    assert_eq!(trailer(&p.message, "Risk"), "high");
    let message = replace_trailer(&p.message, "Risk", "low");
    assert_record_rejected(&w, &p, &p.text, Some(&message), "trailer-mismatch");
}

#[test]
fn rejects_duplicate_key() {
    let w = World::new();
    let p = w.record(BOB);
    let text = format!("{}risk: \"high\"\n", p.text);
    assert_record_rejected(&w, &p, &text, None, "record-malformed");
}

/// An anchor and an alias that parse to the very same value are still not canonical.
#[test]
fn rejects_anchor_and_alias() {
    let w = World::new();
    let p = w.record_with(BOB, "Rotate the deploy key", "Rotate the deploy key");
    let line = "  summary: \"Rotate the deploy key\"\n";
    assert_eq!(p.text.matches(line).count(), 2, "{}", p.text);
    let text = p
        .text
        .replacen(line, "  summary: &s \"Rotate the deploy key\"\n", 1)
        .replacen(line, "  summary: *s\n", 1);
    assert_record_rejected(&w, &p, &text, None, "record-not-canonical");
}

#[test]
fn rejects_reordered_keys() {
    let w = World::new();
    let p = w.record(BOB);
    let mut lines: Vec<&str> = p.text.lines().collect();
    assert!(lines[0].starts_with("schema: ") && lines[1].starts_with("id: "));
    lines.swap(0, 1);
    let text = lines.join("\n") + "\n";
    assert_record_rejected(&w, &p, &text, None, "record-not-canonical");
}

/// A proposal ref is held to the record rules too (approvals need not be complete there).
#[test]
fn rejects_invalid_record_on_proposal_ref() {
    let w = World::new();
    let p = w.record(BOB);
    let text = with_floating_model(&p.text);
    let message = replace_trailer(&p.message, "Model", "anthropic/claude@latest");
    let message = w.initiated_over(&message, &text);
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File(&p.path, text.as_bytes())], &message);
    w.push_rejected(
        &[&format!("{c}:{}", proposal_ref(&p.id))],
        finding("model-version-floating")
            .commit(&c)
            .path(&p.path)
            .alone(),
    );
}

fn with_floating_model(text: &str) -> String {
    replace_once(text, "version: \"2025-01-01\"", "version: \"latest\"")
}
