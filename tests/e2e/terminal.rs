//! Issue 10 §5: terminals and documents never execute ledger text. Records refuse control,
//! bidi and invisible characters in their text fields (in `record` and in the hook, one rule);
//! what aiaudit prints from repository content shows such characters as escapes.

use crate::harness::*;

const RLO: &str = "\u{202e}";

fn record_args(w: &World, summary: &str) -> Vec<String> {
    let prompt = w.work.join("prompt-terminal.txt");
    let output = w.work.join("output-terminal.txt");
    std::fs::write(&prompt, "prompt\n").expect("write prompt");
    std::fs::write(&output, "output\n").expect("write output");
    let mut args = RecordFlags {
        initiator: BOB,
        action: "access-change",
        system: "postgres:billing-db",
        summary,
        model: MODEL,
        prompt: &prompt,
        output: &output,
        recommendation: "read-only, 24h",
    }
    .args();
    args.push("--json".into());
    args
}

/// `record` refuses a summary with a right-to-left override: the text would display as
/// something other than what it holds. Nothing is written.
#[test]
fn record_refuses_a_bidi_override_in_free_text() {
    let w = World::new();
    let refs_before = w.git(&["for-each-ref"]).ok();
    let args = record_args(&w, &format!("Grant read access to {RLO}bd-gnillib"));
    let out = w.aiaudit(&argv(&args));
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("field-invalid"), "{out}");
    assert!(out.stderr.contains("U+202E"), "{out}");
    assert!(
        !out.stderr.contains(RLO),
        "the refusal shows the character escaped: {out}"
    );
    assert_eq!(
        w.git(&["for-each-ref"]).ok(),
        refs_before,
        "nothing was recorded"
    );
}

/// The hook applies the same rule to a pushed record (written canonically, the character
/// escaped in the YAML), and its finding shows no raw control character.
#[test]
fn hook_refuses_a_zero_width_character_in_a_pushed_record() {
    let w = World::new();
    let p = w.record(BOB);
    let text = replace_once(
        &p.text,
        "  summary: \"Grant read access to billing-db\"\n",
        "  summary: \"Grant read access to billing\\u200B-db\"\n",
    );
    let c = w.decision_commit(&p, &text, &[CAROL]);
    let found = w.push_rejected(
        &[&onto_main(&c)],
        finding("field-invalid")
            .commit(&c)
            .path(&p.path)
            .mentions("U+200B"),
    );
    assert!(found[0].text().contains("action.summary"), "{found:?}");
}

/// A path holding an escape sequence: the hook names it, escaped, and never sends the raw
/// sequence to the pusher's terminal.
#[test]
fn findings_show_escape_sequences_escaped() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let path = "decisions/\u{1b}[2J\u{1b}[31mrepainted.yaml";
    let c = w.commit(&main, &[Edit::File(path, b"x: 1\n")], "add\n");
    let out = w.push(&[&onto_main(&c)]);
    assert!(!out.status.success(), "{out}");
    assert!(
        !out.stderr.contains('\u{1b}'),
        "raw ESC reached the terminal: {out:?}"
    );
    assert!(out.stderr.contains("\\u{1b}[2J"), "{out}");
    assert!(out.stderr.contains("path-not-allowed"), "{out}");
}
