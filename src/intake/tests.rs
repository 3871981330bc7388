//! Intake documents: the JSON Schema `schemas/intake.v1.schema.json` and [`parse_intake`] agree
//! on valid and invalid samples; errors name the field; inline content is hashed, dropped and
//! scanned for credentials.

use super::*;
use serde_json::json;

const SCHEMA: &str = include_str!("../../schemas/intake.v1.schema.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the intake schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the intake schema compiles as draft 2020-12")
}

const PROMPT: &str = "Grant bob read access to the orders database.\n";
const OUTPUT: &str = "Attach orders_read to bob for 24 hours.\n";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A complete document: inline content, a tool call with inline arguments, agents.
fn full() -> Value {
    json!({
        "schema": "aiaudit/intake/v1",
        "initiator": { "id": "svc-agent", "forge_login": "acme-bot[bot]" },
        "created": "2026-01-15T10:00:00Z",
        "action": {
            "kind": "access-change",
            "target": { "system": "postgres:orders", "resource": "role/orders_read" },
            "summary": "Grant bob read access to orders",
            "identities": ["bob"],
            "secrets": ["vault:secret/data/prod/orders#dsn"],
            "datasets": ["orders"],
            "command": ["psql", "-c", "GRANT orders_read TO bob"],
            "changes": [EMPTY_SHA],
            "payload": { "sha256": EMPTY_SHA, "size": 0 }
        },
        "ai": {
            "role": "suggested",
            "model": { "provider": "anthropic", "name": "claude-sonnet-4", "version": "20250514" },
            "framework": "langgraph 0.4.8",
            "agents": [
                { "id": "svc-agent.planner", "role": "proposer",
                  "model": { "provider": "anthropic", "name": "claude-sonnet-4", "version": "20250514" } },
                { "id": "svc-agent.checker", "role": "validator" }
            ]
        },
        "context": [
            { "kind": "prompt", "name": "prompt", "content": PROMPT },
            { "kind": "tool-call", "name": "db.list_roles", "uri": "postgres://db-prod-1/orders",
              "arguments": "{\"database\":\"orders\"}", "content": "[\"orders_read\",\"orders_write\"]" },
            { "kind": "ticket", "name": "SEC-42", "sha256": EMPTY_SHA, "size": 0 }
        ],
        "recommendation": { "summary": "Attach orders_read for 24h", "output": OUTPUT }
    })
}

/// The smallest document: everything by digest.
fn minimal() -> Value {
    json!({
        "schema": "aiaudit/intake/v1",
        "initiator": { "id": "bob" },
        "action": { "kind": "other", "target": { "system": "x" }, "summary": "s" },
        "ai": { "role": "changed", "model": { "provider": "p", "name": "n", "version": "1" } },
        "context": [
            { "kind": "tool-call", "name": "t", "sha256": EMPTY_SHA, "size": 0,
              "arguments_sha256": EMPTY_SHA }
        ],
        "recommendation": { "summary": "r", "sha256": EMPTY_SHA, "size": 0 }
    })
}

fn parse(doc: &Value) -> Result<(Intake, Scan), IntakeError> {
    let mut scan = Scan::default();
    parse_intake("intake.json", doc, &mut scan).map(|i| (i, scan))
}

/// Sets `value` at the JSON pointer `at` (creating the last key), or removes it when `None`.
fn edit(mut doc: Value, at: &str, value: Option<Value>) -> Value {
    let (parent, key) = at.rsplit_once('/').expect("a pointer");
    let p = doc.pointer_mut(parent).expect("the parent exists");
    match (p, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(key.to_owned(), v);
        }
        (Value::Object(m), None) => {
            m.remove(key);
        }
        (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v,
        (Value::Array(a), None) => {
            a.remove(key.parse::<usize>().unwrap());
        }
        _ => panic!("cannot edit {at}"),
    }
    doc
}

#[test]
fn valid_samples_pass_the_schema_and_the_reader() {
    let v = validator();
    let yaml = serde_yaml::from_str::<Value>(
        "schema: aiaudit/intake/v1\n\
         initiator: {id: bob}\n\
         action: {kind: code-merge, target: {system: github.com, repo: github.com/acme/pay, change: PR-7}, summary: Merge the fix}\n\
         ai: {role: changed, model: {provider: openai, name: gpt-4o, version: gpt-4o-2024-08-06}}\n\
         context:\n\
         \x20 - {kind: prompt, name: prompt.txt, content: \"Fix the bug\\n\"}\n\
         recommendation: {summary: the patch, output: \"diff --git ...\"}\n",
    )
    .expect("YAML sample");
    for (name, doc) in [("full", full()), ("minimal", minimal()), ("yaml", yaml)] {
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{name}: the schema refuses it: {errors:?}"
        );
        let (_, scan) = parse(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(scan.refused.is_empty(), "{name}: {:?}", scan.refused);
    }
}

#[test]
fn inline_content_is_hashed_and_dropped() {
    let (i, _) = parse(&full()).unwrap();
    assert_eq!(i.initiator, "svc-agent");
    assert_eq!(i.forge_login.as_deref(), Some("acme-bot[bot]"));
    assert_eq!(i.inputs.len(), 3);
    let p = &i.inputs[0].entry;
    assert_eq!(
        (p.size, p.sha256.as_str()),
        (
            46,
            "29564b0f41f82c0d50854f949a5401f7dcc002df01b98323badda7d382ae432c"
        )
    );
    // The worked example of docs/context-digest.md.
    let t = &i.inputs[1].entry;
    assert_eq!(t.size, 30);
    assert_eq!(
        t.sha256,
        "78ffd585b6acc0533db9bd15c39f25332c7a069534ad6218fc84307dbbbadcb0"
    );
    assert_eq!(
        t.arguments_sha256.as_deref(),
        Some("4b34a1d69b56354a9d1b535d405faaaaa3e95d7da96e53e8d7322b432f77bd1d")
    );
    assert_eq!(i.inputs[1].origin, "intake.json: context[1]");
    assert_eq!(i.recommendation.size, OUTPUT.len() as u64);
    assert_eq!(
        i.recommendation.sha256,
        digest::sha256_hex(OUTPUT.as_bytes())
    );
    // Nothing of the content survives in what becomes the record.
    let dump = format!("{i:?}");
    assert!(!dump.contains("Grant bob read access to the orders database"));
    assert!(!dump.contains("orders_write"));
}

/// Invalid samples: each is refused by the schema and by the reader, whose error names the
/// field (the path before the first `: `).
#[test]
fn invalid_samples_are_refused_by_both_naming_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "wrong schema",
            edit(full(), "/schema", Some(json!("aiaudit/intake/v2"))),
            "schema",
        ),
        (
            "no initiator",
            edit(full(), "/initiator", None),
            "initiator",
        ),
        (
            "initiator not an id",
            edit(full(), "/initiator/id", Some(json!("Bob Smith"))),
            "initiator.id",
        ),
        (
            "initiator kind",
            edit(full(), "/initiator/kind", Some(json!("human"))),
            "initiator.kind",
        ),
        (
            "bad created",
            edit(full(), "/created", Some(json!("2026-01-15 10:00"))),
            "created",
        ),
        (
            "unknown top field",
            edit(full(), "/risk", Some(json!("low"))),
            "risk",
        ),
        (
            "bad action kind",
            edit(full(), "/action/kind", Some(json!("deploy"))),
            "action.kind",
        ),
        (
            "no system",
            edit(full(), "/action/target/system", None),
            "action.target.system",
        ),
        (
            "command word not a string",
            edit(full(), "/action/command/1", Some(json!(7))),
            "action.command[1]",
        ),
        (
            "change not a digest",
            edit(full(), "/action/changes/0", Some(json!("HEAD~1"))),
            "action.changes[0]",
        ),
        (
            "payload without size",
            edit(full(), "/action/payload/size", None),
            "action.payload.size",
        ),
        (
            "payload with an unknown field",
            edit(full(), "/action/payload/path", Some(json!("plan.json"))),
            "action.payload.path",
        ),
        (
            "blank summary",
            edit(full(), "/action/summary", Some(json!("  "))),
            "action.summary",
        ),
        (
            "tab in a line",
            edit(full(), "/action/target/system", Some(json!("a\tb"))),
            "action.target.system",
        ),
        (
            "identity not a string",
            edit(full(), "/action/identities/0", Some(json!(7))),
            "action.identities[0]",
        ),
        (
            "bad ai role",
            edit(full(), "/ai/role", Some(json!("advised"))),
            "ai.role",
        ),
        (
            "floating version",
            edit(full(), "/ai/model/version", Some(json!("latest"))),
            "ai.model.version",
        ),
        (
            "no version",
            edit(full(), "/ai/model/version", None),
            "ai.model.version",
        ),
        (
            "agent role not an id",
            edit(full(), "/ai/agents/1/role", Some(json!("the checker"))),
            "ai.agents[1].role",
        ),
        (
            "agent model floating",
            edit(
                full(),
                "/ai/agents/0/model/version",
                Some(json!("claude-latest")),
            ),
            "ai.agents[0].model.version",
        ),
        (
            "empty context",
            edit(full(), "/context", Some(json!([]))),
            "context",
        ),
        (
            "context not a list",
            edit(full(), "/context", Some(json!({"entries": []}))),
            "context",
        ),
        (
            "bad context kind",
            edit(full(), "/context/0/kind", Some(json!("chat"))),
            "context[0].kind",
        ),
        (
            "content and digest",
            edit(full(), "/context/0/sha256", Some(json!(EMPTY_SHA))),
            "context[0].content",
        ),
        (
            "neither content nor digest",
            edit(full(), "/context/0/content", None),
            "context[0].content",
        ),
        (
            "digest without size",
            edit(full(), "/context/2/size", None),
            "context[2].size",
        ),
        (
            "bad sha256",
            edit(full(), "/context/2/sha256", Some(json!("ABC"))),
            "context[2].sha256",
        ),
        (
            "negative size",
            edit(full(), "/context/2/size", Some(json!(-1))),
            "context[2].size",
        ),
        (
            "tool call without arguments",
            edit(full(), "/context/1/arguments", None),
            "context[1].arguments",
        ),
        (
            "arguments on a prompt",
            edit(full(), "/context/0/arguments", Some(json!("{}"))),
            "context[0].arguments",
        ),
        (
            "content not text",
            edit(full(), "/context/0/content", Some(json!({"role": "user"}))),
            "context[0].content",
        ),
        (
            "digest_only not a boolean",
            edit(full(), "/context/0/digest_only", Some(json!("yes"))),
            "context[0].digest_only",
        ),
        (
            "unknown input field",
            edit(full(), "/context/0/text", Some(json!("x"))),
            "context[0].text",
        ),
        (
            "no output",
            edit(full(), "/recommendation/output", None),
            "recommendation.output",
        ),
        (
            "no recommendation summary",
            edit(full(), "/recommendation/summary", None),
            "recommendation.summary",
        ),
    ];
    let v = validator();
    for (name, doc, field) in cases {
        assert!(!v.is_valid(&doc), "{name}: the schema accepts it:\n{doc:#}");
        let e = parse(&doc)
            .err()
            .unwrap_or_else(|| panic!("{name}: the reader accepts it"));
        assert_eq!(e.field, field, "{name}: {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn the_schema_lists_the_readers_fields_and_describes_every_one() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let props = |ptr: &str| -> Vec<String> {
        schema
            .pointer(ptr)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no {ptr}"))
            .keys()
            .cloned()
            .collect()
    };
    for (ptr, list) in [
        ("/properties", fields::TOP),
        ("/$defs/initiator/properties", fields::INITIATOR),
        ("/$defs/action/properties", fields::ACTION),
        (
            "/$defs/action/properties/payload/properties",
            fields::PAYLOAD,
        ),
        ("/$defs/target/properties", fields::TARGET),
        ("/$defs/ai/properties", fields::AI),
        ("/$defs/model/properties", fields::MODEL),
        ("/$defs/agent/properties", fields::AGENT),
        ("/$defs/input/properties", fields::INPUT),
        ("/$defs/recommendation/properties", fields::RECOMMENDATION),
    ] {
        assert_eq!(props(ptr), list, "{ptr}");
    }
    // Every property and definition says what it is.
    fn walk(v: &Value, at: &str) {
        if let Some(o) = v.as_object() {
            for key in ["properties", "$defs"] {
                if let Some(Value::Object(ps)) = o.get(key) {
                    for (name, p) in ps {
                        assert!(
                            p.get("description")
                                .and_then(Value::as_str)
                                .is_some_and(|d| !d.is_empty()),
                            "{at}/{key}/{name} has no description"
                        );
                    }
                }
            }
            for (k, x) in o {
                walk(x, &format!("{at}/{k}"));
            }
        }
    }
    walk(&schema, "");
    // The documentation names every field.
    let doc = include_str!("../../docs/intake.md");
    for f in fields::TOP
        .iter()
        .chain(fields::INPUT)
        .chain(fields::RECOMMENDATION)
    {
        assert!(
            doc.contains(&format!("`{f}`")),
            "docs/intake.md does not document `{f}`"
        );
    }
}

#[test]
fn credentials_in_stored_fields_are_refused() {
    let doc = edit(
        full(),
        "/action/summary",
        Some(json!("Rotate AKIAIOSFODNN7EXAMPLE now")),
    );
    let (_, scan) = parse(&doc).unwrap();
    assert_eq!(scan.refused.len(), 1);
    let msg = scan.refused[0].to_string();
    assert!(
        msg.starts_with("intake.json: action.summary: looks like an AWS access key id (rule aws-access-key-id); remove it"),
        "{msg}"
    );
    // A URI with a password.
    let doc = edit(
        full(),
        "/context/1/uri",
        Some(json!("postgres://app:Sup3r-s3cret@db-prod-1/orders")),
    );
    let (_, scan) = parse(&doc).unwrap();
    assert_eq!(scan.refused[0].input, "intake.json: context[1].uri");
    assert_eq!(scan.refused[0].hit.rule, "url-password");
}

#[test]
fn credentials_in_inline_content_need_digest_only() {
    let secret = "line 1\nDB_PASSWORD=Tr0ub4dor&3\n";
    let doc = edit(full(), "/context/0/content", Some(json!(secret)));
    let (_, scan) = parse(&doc).unwrap();
    assert_eq!(scan.refused.len(), 1);
    assert_eq!(
        scan.refused[0].to_string(),
        "intake.json: context[0].content, line 2: looks like a secret value assigned to a secret-looking key (`DB_PASSWORD`) (rule secret-assignment); record it as a digest only with --digest-only prompt (or \"digest_only\": true on the entry), or remove it"
    );

    // Marked in the document: a note, not a refusal; the input is digest-only.
    let marked = edit(doc.clone(), "/context/0/digest_only", Some(json!(true)));
    let (i, scan) = parse(&marked).unwrap();
    assert!(scan.refused.is_empty());
    assert_eq!(scan.noted.len(), 1);
    assert!(i.inputs[0].digest_only);
    assert!(!i.inputs[1].digest_only);

    // Or by --digest-only NAME.
    let mut scan = Scan::new(["prompt".to_owned()]);
    let i = parse_intake("intake.json", &doc, &mut scan).unwrap();
    assert!(scan.refused.is_empty() && scan.unused_selectors().is_empty());
    assert!(i.inputs[0].digest_only);

    // The output, in the recommendation.
    let doc = edit(
        full(),
        "/recommendation/output",
        // Assembled at run time: no token-shaped literal in the source.
        Some(json!(format!(
            "use token {}{}",
            "ghp_", "0123456789abcdefABCDEF0123456789abcd"
        ))),
    );
    let (_, scan) = parse(&doc).unwrap();
    assert_eq!(scan.refused.len(), 1);
    assert!(scan.refused[0]
        .to_string()
        .contains("--digest-only output (or \"digest_only\": true in recommendation)"));
    let doc = edit(doc, "/recommendation/digest_only", Some(json!(true)));
    let (i, scan) = parse(&doc).unwrap();
    assert!(scan.refused.is_empty() && i.output_digest_only);
}

#[test]
fn digest_only_names_inputs_given_by_digest_too() {
    let mut scan = Scan::new(["SEC-42".to_owned(), "nothing".to_owned()]);
    let i = parse_intake("intake.json", &full(), &mut scan).unwrap();
    assert!(i.inputs[2].digest_only);
    assert_eq!(scan.unused_selectors(), vec!["nothing".to_owned()]);
}
