use super::*;
use crate::diag::Code;

fn sample() -> Decision {
    let created = "2026-11-26T10:00:00Z";
    let ts = parse_created(created).unwrap();
    let id = ulid::Ulid::from_parts(ts.as_millisecond() as u64, 42).to_string();
    let entries = vec![ContextEntry {
        kind: ContextKind::Prompt,
        name: "prompt.txt".into(),
        uri: None,
        size: 5,
        sha256: digest::sha256_hex(b"hello"),
        arguments_sha256: None,
    }];
    Decision {
        schema: DECISION_SCHEMA.into(),
        id,
        created: created.into(),
        initiator: Initiator {
            id: "alice".into(),
            kind: PrincipalKind::Human,
            name: Some("Alice".into()),
            owner: None,
            forge_login: None,
        },
        action: Action {
            kind: ActionKind::AccessChange,
            target: Target {
                system: "aws:prod".into(),
                repo: None,
                change: None,
                resource: Some("role/db-read".into()),
            },
            summary: "Grant read access".into(),
            identities: vec!["bob".into()],
            secrets: vec![],
            datasets: vec![],
            command: vec![],
            changes: vec![],
            payload: None,
        },
        ai: Ai {
            role: AiRole::Suggested,
            model: Model {
                provider: "anthropic".into(),
                name: "claude-sonnet-4".into(),
                version: "claude-sonnet-4-20250514".into(),
            },
            framework: None,
            agents: vec![],
        },
        context: Context {
            digest: digest::context_digest(&entries),
            entries,
        },
        recommendation: Recommendation {
            summary: "Grant it".into(),
            sha256: digest::sha256_hex(b"out"),
            size: 3,
        },
        risk: Risk::High,
    }
}

fn codes(path: &str, bytes: &[u8]) -> Vec<Code> {
    check_decision(path, bytes)
        .1
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn a_canonical_sample_is_clean() {
    let d = sample();
    let text = canonical::to_canonical_yaml(&d).unwrap();
    let path = decision_path(&d).unwrap();
    assert_eq!(path, format!("decisions/2026/11/26/10/{}.yaml", d.id));
    let (parsed, diags) = check_decision(&path, text.as_bytes());
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(parsed.unwrap(), d);
}

#[test]
fn reordered_keys_comments_and_aliases_are_not_canonical() {
    let d = sample();
    let path = decision_path(&d).unwrap();
    let text = canonical::to_canonical_yaml(&d).unwrap();
    let reordered = text.replacen("schema:", "zz:", 1);
    let (first, rest) = reordered.split_once('\n').unwrap();
    let moved = format!("{rest}{}\n", first.replacen("zz:", "schema:", 1));
    assert_eq!(
        codes(&path, moved.as_bytes()),
        vec![Code::RecordNotCanonical]
    );
    let commented = format!("# hi\n{text}");
    assert_eq!(
        codes(&path, commented.as_bytes()),
        vec![Code::RecordNotCanonical]
    );
    let plain = text.replace("summary: \"Grant it\"", "summary: Grant it");
    assert_eq!(
        codes(&path, plain.as_bytes()),
        vec![Code::RecordNotCanonical]
    );
    let anchored = text.replace("  system: \"aws:prod\"", "  system: &s \"aws:prod\"");
    assert_eq!(
        codes(&path, anchored.as_bytes()),
        vec![Code::RecordNotCanonical]
    );
}

#[test]
fn duplicate_keys_are_malformed() {
    let d = sample();
    let path = decision_path(&d).unwrap();
    let text = canonical::to_canonical_yaml(&d).unwrap();
    let dup = text.replacen("risk: \"high\"", "risk: \"high\"\nrisk: \"low\"", 1);
    let c = codes(&path, dup.as_bytes());
    assert!(c == vec![Code::RecordMalformed], "{c:?}");
}

#[test]
fn floating_versions_missing_fields_and_digests_are_named() {
    let mut d = sample();
    d.ai.model.version = "latest".into();
    let path = decision_path(&d).unwrap();
    let t = canonical::to_canonical_yaml(&d).unwrap();
    assert_eq!(codes(&path, t.as_bytes()), vec![Code::ModelVersionFloating]);

    let mut d = sample();
    d.context.entries[0].size = 6;
    let t = canonical::to_canonical_yaml(&d).unwrap();
    assert_eq!(
        codes(&path, t.as_bytes()),
        vec![Code::ContextDigestMismatch]
    );

    let d = sample();
    let t = canonical::to_canonical_yaml(&d).unwrap();
    let no_version = t
        .lines()
        .filter(|l| !l.trim_start().starts_with("version:"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let (_, diags) = check_decision(&path, no_version.as_bytes());
    assert_eq!(diags[0].code, Code::FieldMissing);
    assert!(diags[0].message.contains("version"), "{}", diags[0].message);
}

#[test]
fn wrong_path_and_hostile_bytes() {
    let d = sample();
    let t = canonical::to_canonical_yaml(&d).unwrap();
    assert_eq!(
        codes("decisions/2025/01/x.yaml", t.as_bytes()),
        vec![Code::PathMismatch]
    );
    assert_eq!(codes("p", b"\xff\xfe"), vec![Code::NotUtf8]);
    assert_eq!(codes("p", b"a: \0"), vec![Code::NotUtf8]);
    let big = vec![b'a'; MAX_RECORD_BYTES + 1];
    assert_eq!(codes("p", &big), vec![Code::FileTooLarge]);
    let bomb =
        "a: &a [\"x\",\"x\"]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c]\n";
    assert!(!codes("p", bomb.as_bytes()).is_empty());
}

#[test]
fn floating_version_forms() {
    for v in [
        "latest",
        "LATEST",
        "gpt-4o-latest",
        "model:latest",
        "*",
        "stable",
    ] {
        assert!(is_floating_version(v), "{v}");
    }
    for v in ["2024-08-06", "claude-sonnet-4-20250514", "latest-2024"] {
        assert!(!is_floating_version(v), "{v}");
    }
}
