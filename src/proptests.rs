//! Property tests of every parser that sees pushed data: decision and event YAML, commit
//! trailers and approval values, the policy, and the hook's standard input. Seeds come from
//! `examples/`; inputs are random bytes, random edits of the seeds, and generated values that
//! must round-trip. No input may panic; what must parse, parses back to the same thing.
//!
//! A short run is part of the test suite (`PROPTEST_CASES` defaults to 256 per property); a long
//! one is `PROPTEST_CASES=100000 cargo test --release --lib proptests`.

use crate::diag::Code;
use crate::ledger::trailers::{self, Approval};
use crate::policy::Policy;
use crate::record::{
    self, canonical::to_canonical_yaml, event::Actor, Event, EventKind, PrincipalKind,
};
use proptest::prelude::*;

const DECISION_SEEDS: &[(&str, &str)] = &[
    (
        "decisions/2026/03/01/00/01JQ3F6W8G4ZK9N2M7V5T1XBCD.yaml",
        include_str!("../examples/decisions/access-change-suggested.yaml"),
    ),
    (
        "",
        include_str!("../examples/decisions/code-merge-changed-with-tool-calls.yaml"),
    ),
    (
        "",
        include_str!("../examples/decisions/production-change-service-agent.yaml"),
    ),
    (
        "",
        include_str!("../examples/decisions/secret-retrieval-vault-reference.yaml"),
    ),
];

const POLICY_SEED: &str = include_str!("../examples/policy.yaml");

/// A canonical event (outcome) to mutate.
fn event_seed() -> (String, String) {
    let created = "2025-03-23T10:00:00Z";
    let ms = record::parse_created(created)
        .expect("time")
        .as_millisecond();
    let e = Event {
        schema: record::event::EVENT_SCHEMA.into(),
        id: ulid::Ulid::from_parts(ms as u64, 42).to_string(),
        created: created.into(),
        decision: "01JQ3F6W8G4ZK9N2M7V5T1XBCD".into(),
        kind: EventKind::Outcome,
        actor: Actor {
            id: "deploy-agent".into(),
            kind: PrincipalKind::Service,
        },
        outcome: Some(record::event::Outcome {
            reference: Some("iam-grant-8812".into()),
            started: Some(created.into()),
            finished: Some(created.into()),
            exit_code: Some(0),
            result: Some("HTTP 201".into()),
            output: Some(record::ContentDigest {
                sha256: "ab".repeat(32),
                size: 1234,
            }),
            ..record::event::Outcome::new(
                record::event::OutcomeStatus::Executed,
                "attached role db-read",
            )
        }),
        review: None,
        note: Some("granted for 24 hours".into()),
    };
    let text = to_canonical_yaml(&e).expect("canonical event");
    let path = record::event::event_path(&e).unwrap_or_default();
    (path, text)
}

/// Bytes that matter to YAML, to UTF-8 and to line-based parsers.
const INTERESTING: &[u8] = b":-&*!|>\"'\\#{}[],?%@`\n\r\t \0\xff\xc3\xa9";

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    DuplicateLine(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        3 => proptest::sample::select(INTERESTING),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, x) => {
                if !b.is_empty() {
                    b[i % n] = x;
                }
            }
            Edit::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Edit::Delete(i, k) => {
                let s = i % n;
                let end = (s + k).min(b.len());
                if s < end {
                    b.drain(s..end);
                }
            }
            Edit::DuplicateLine(i) => {
                let text = b.clone();
                let lines: Vec<&[u8]> = text.split_inclusive(|c| *c == b'\n').collect();
                if !lines.is_empty() {
                    let k = i % lines.len();
                    let mut out = Vec::with_capacity(b.len() + lines[k].len());
                    for (j, l) in lines.iter().enumerate() {
                        out.extend_from_slice(l);
                        if j == k {
                            out.extend_from_slice(l);
                        }
                    }
                    b = out;
                }
            }
            Edit::Truncate(i) => b.truncate(i % n),
        }
    }
    b
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn seeds_are_valid() {
    for (path, text) in DECISION_SEEDS {
        let (d, diags) = record::check_decision(path, text.as_bytes());
        assert!(d.is_some(), "{path}: {diags:?}");
        assert!(
            diags.iter().all(|x| x.code == Code::PathMismatch),
            "{diags:?}"
        );
    }
    let (path, text) = event_seed();
    let (e, diags) = record::check_event(&path, text.as_bytes());
    assert!(e.is_some() && diags.is_empty(), "{diags:?}");
    Policy::parse(POLICY_SEED.as_bytes()).expect("examples/policy.yaml");
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes at all: a verdict (a record or findings), never a panic.
    #[test]
    fn decision_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (d, diags) = record::check_decision("decisions/2026/01/x.yaml", &bytes);
        prop_assert!(d.is_some() || !diags.is_empty());
    }

    /// Seeds from examples/ with random edits: a record that still parses is re-checked in
    /// full; one that does not is named by a finding.
    #[test]
    fn decision_parser_takes_edited_records(
        seed in 0..DECISION_SEEDS.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let (path, text) = DECISION_SEEDS[seed];
        let bytes = apply(text, &edits);
        let (d, diags) = record::check_decision(path, &bytes);
        if d.is_none() {
            prop_assert!(!diags.is_empty());
        }
        if diags.is_empty() {
            // Accepted bytes are canonical: they re-serialize to themselves.
            let d = d.expect("a record without findings");
            let again = to_canonical_yaml(&d).unwrap();
            prop_assert_eq!(again.as_bytes(), &bytes[..]);
        }
    }

    /// The canonical writer and the parser agree on every string: any text in a free-text
    /// field is written, read back unchanged, and found canonical (or refused as invalid by
    /// the field rules, never as malformed or not canonical).
    #[test]
    fn canonical_form_round_trips_any_text(
        seed in 0..DECISION_SEEDS.len(),
        summary in "\\PC{0,80}|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{2029}\\u{feff}\"\\\\ :#-]{0,40}",
    ) {
        let (path, text) = DECISION_SEEDS[seed];
        let (d, _) = record::check_decision(path, text.as_bytes());
        let mut d = d.expect("seed parses");
        d.action.summary = summary.clone();
        d.recommendation.summary = summary.clone();
        let out = to_canonical_yaml(&d).unwrap();
        let (back, diags) = record::check_decision(path, out.as_bytes());
        for x in &diags {
            prop_assert!(
                matches!(x.code, Code::FieldInvalid | Code::FieldMissing | Code::PathMismatch),
                "{:?} for {:?}: {}", x.code, summary, x
            );
        }
        let back = back.expect("written record parses");
        prop_assert_eq!(&back.action.summary, &summary);
        prop_assert_eq!(&back.recommendation.summary, &summary);
    }

    /// The canonical form's own reader (the shortcut `check_decision` takes) and the YAML
    /// library agree: whenever the reader reads a text that writes back to itself, the library
    /// reads the same value from it.
    #[test]
    fn canonical_reader_agrees_with_the_yaml_library(
        seed in 0..DECISION_SEEDS.len(),
        edits in proptest::collection::vec(edit(), 0..6),
    ) {
        let (_, text) = DECISION_SEEDS[seed];
        let bytes = apply(text, &edits);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Some(fast) = record::canonical::parse(text) {
                if to_canonical_yaml(&fast).is_ok_and(|c| c == text) {
                    let slow: Result<serde_json::Value, _> = serde_yaml::from_str(text);
                    prop_assert_eq!(Some(fast), slow.ok(), "{:?}", text);
                }
            }
        }
    }

    #[test]
    fn event_parser_takes_edited_events(edits in proptest::collection::vec(edit(), 0..6)) {
        let (path, text) = event_seed();
        let bytes = apply(&text, &edits);
        let (e, diags) = record::check_event(&path, &bytes);
        if e.is_none() {
            prop_assert!(!diags.is_empty());
        }
        if diags.is_empty() {
            let again = to_canonical_yaml(&e.unwrap()).unwrap();
            prop_assert_eq!(again.as_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn event_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (e, diags) = record::check_event("events/2026/01/x.yaml", &bytes);
        prop_assert!(e.is_some() || !diags.is_empty());
    }

    /// The policy parser: examples/policy.yaml with random edits, and random bytes.
    #[test]
    fn policy_parser_takes_edited_policies(edits in proptest::collection::vec(edit(), 1..6)) {
        let bytes = apply(POLICY_SEED, &edits);
        if let Err(e) = Policy::parse(&bytes) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn policy_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Policy::parse(&bytes);
    }

    /// Commit messages: any text gives trailers; every Approved-by value either parses or is
    /// refused with a message.
    #[test]
    fn trailers_take_any_message(
        body in "\\PC{0,200}",
        values in proptest::collection::vec("[ -~]{0,120}", 0..4),
    ) {
        let mut msg = format!("subject\n\n{body}\n\n");
        for v in &values {
            msg.push_str(&format!("Approved-by: {v}\n"));
        }
        let t = trailers::parse(&msg);
        for v in t.all(trailers::APPROVED_BY) {
            if let Err(e) = Approval::parse(v) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// An approval written as a trailer value reads back the same, whatever signature bytes.
    #[test]
    fn approval_values_round_trip(
        principal in "[a-z][a-z0-9-]{0,30}",
        email in proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.example"),
        key in "[0-9A-F]{40}",
        signature in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let a = Approval { principal, email, key, signature };
        let back = Approval::parse(&a.to_value()).expect("own value parses");
        prop_assert_eq!(back, a);
    }

    /// The hook's standard input: any text is parsed or refused, never a panic; well-formed
    /// lines come back as the updates they name.
    #[test]
    fn hook_input_takes_any_text(text in "\\PC{0,300}") {
        let _ = crate::cli::hook::parse_updates(&text);
    }

    #[test]
    fn hook_input_reads_what_git_writes(
        lines in proptest::collection::vec(
            ("[0-9a-f]{40}", "[0-9a-f]{40}", "refs/heads/(main|proposals/[0-9A-Z]{26})"),
            1..20,
        ),
    ) {
        let text: String = lines
            .iter()
            .map(|(o, n, r)| format!("{o} {n} {r}\n"))
            .collect();
        let updates = crate::cli::hook::parse_updates(&text).expect("git's own format");
        prop_assert_eq!(updates.len(), lines.len());
        for (u, (o, n, r)) in updates.iter().zip(&lines) {
            prop_assert_eq!(&u.name, r);
            let zero = "0".repeat(40);
            prop_assert_eq!(u.old.map(|x| x.to_string()), (*o != zero).then(|| o.clone()));
            prop_assert_eq!(u.new.map(|x| x.to_string()), (*n != zero).then(|| n.clone()));
        }
    }
}
