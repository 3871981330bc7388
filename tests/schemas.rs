//! The JSON Schemas `schemas/decision.v1.schema.json` and `schemas/event.v1.schema.json`, the
//! Rust model and the samples (`examples/decisions/`, `examples/events/`) agree.
//!
//! - every valid example in `examples/decisions/` passes the JSON Schema and
//!   `aiaudit::record::check_decision` with no finding;
//! - every invalid sample in `tests/schema_samples/invalid/` (named after the rule it breaks) is
//!   refused by `check_decision` with the expected code and, unless the rule is one the schema
//!   cannot express, by the JSON Schema too;
//! - the schema's properties, key order, `required` lists and enums match the Rust model.

use aiaudit::record::{
    check_decision, is_floating_version, ActionKind, AiRole, ContextKind, Decision, PrincipalKind,
    Risk, FLOATING_VERSIONS,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const SCHEMA_PATH: &str = "schemas/decision.v1.schema.json";
const VALID_DIR: &str = "examples/decisions";
const INVALID_DIR: &str = "tests/schema_samples/invalid";

/// Every invalid sample, by file stem, with the diagnostic code `check_decision` must report.
const INVALID: &[(&str, &str)] = &[
    ("agent-model-version-stable", "model-version-floating"),
    ("arguments-on-non-tool-call", "field-invalid"),
    ("bad-action-kind", "field-invalid"),
    ("bad-agent-role", "field-invalid"),
    ("bad-ai-role", "field-invalid"),
    ("bad-context-kind", "field-invalid"),
    ("bad-created", "field-invalid"),
    ("bad-digest-format", "field-invalid"),
    ("bad-id", "id-invalid"),
    ("bad-identifier", "field-invalid"),
    ("bad-risk", "field-invalid"),
    ("bad-schema-version", "field-invalid"),
    ("bad-sha256", "field-invalid"),
    ("bidi-control-in-text", "field-invalid"),
    ("blank-summary", "field-missing"),
    ("control-character-in-line", "field-invalid"),
    ("digest-mismatch", "context-digest-mismatch"),
    ("empty-context", "field-missing"),
    ("human-with-owner", "field-invalid"),
    ("id-timestamp-mismatch", "id-invalid"),
    ("missing-initiator", "field-missing"),
    ("missing-model-version", "field-missing"),
    ("model-version-ends-in-latest", "model-version-floating"),
    ("model-version-latest", "model-version-floating"),
    ("negative-size", "record-malformed"),
    ("not-canonical-comment", "record-not-canonical"),
    ("not-canonical-key-order", "record-not-canonical"),
    ("not-canonical-plain-scalars", "record-not-canonical"),
    ("service-without-owner", "field-missing"),
    ("tool-call-without-arguments", "field-missing"),
    ("unknown-field", "record-malformed"),
];

/// Rules the JSON Schema cannot express (listed in its top-level description): the schema must
/// accept these samples, `check_decision` must refuse them.
const SCHEMA_CANNOT_EXPRESS: &[&str] = &[
    "digest-mismatch",
    "id-timestamp-mismatch",
    "not-canonical-comment",
    "not-canonical-key-order",
    "not-canonical-plain-scalars",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join(SCHEMA_PATH)).expect("read the schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema compiles as draft 2020-12")
}

/// `(file stem, bytes)` of every `*.yaml` in `dir`, sorted.
fn samples(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join(dir)).expect("read the sample directory") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            out.push((stem, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no samples in {dir}");
    out
}

/// The YAML document as JSON, the way a third party would feed it to a JSON Schema validator.
fn as_json(bytes: &[u8]) -> Value {
    serde_yaml::from_slice(bytes).expect("sample is YAML")
}

/// Where the sample would live in an audit repository, from its own `created` and `id`, so the
/// path check never fires by accident.
fn repo_path(doc: &Value) -> String {
    let created = doc.get("created").and_then(Value::as_str).unwrap_or("");
    let id = doc.get("id").and_then(Value::as_str).unwrap_or("");
    let part = |r: std::ops::Range<usize>| created.get(r);
    match (part(0..4), part(5..7), part(8..10), part(11..13)) {
        (Some(y), Some(m), Some(d), Some(h)) if !id.is_empty() => {
            format!("decisions/{y}/{m}/{d}/{h}/{id}.yaml")
        }
        _ => "decisions/2026/01/01/00/unknown.yaml".to_owned(),
    }
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} (at `{}`)", e, e.instance_path()))
        .collect()
}

/// Follows a local `$ref` (`#/$defs/<name>`), once, as the schema only uses that form.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/$defs/")
                .expect("only local $defs references");
            &schema["$defs"][name]
        }
        None => node,
    }
}

fn valid_decisions() -> Vec<(String, Decision)> {
    samples(VALID_DIR)
        .into_iter()
        .map(|(name, bytes)| {
            let d: Decision = serde_yaml::from_slice(&bytes).expect("valid sample parses");
            (name, d)
        })
        .collect()
}

#[test]
fn schema_is_draft_2020_12() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["$id"], "https://aiaudit.dev/schemas/decision/v1");
    if let Err(e) = jsonschema::draft202012::meta::validate(&s) {
        panic!(
            "the schema breaks the 2020-12 meta-schema: {e} (at {})",
            e.instance_path()
        );
    }
    let v = jsonschema::validator_for(&s).expect("the schema compiles");
    assert_eq!(v.draft(), jsonschema::Draft::Draft202012);
    validator();
}

#[test]
fn every_object_is_closed_and_every_field_described() {
    fn walk(node: &Value, at: &str, problems: &mut Vec<String>) {
        match node {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    if m.get("additionalProperties") != Some(&Value::Bool(false)) {
                        problems.push(format!("{at}: additionalProperties is not false"));
                    }
                    for (k, p) in props {
                        if !p.get("description").is_some_and(Value::is_string) {
                            problems.push(format!("{at}/properties/{k}: no description"));
                        }
                    }
                }
                if m.get("type") == Some(&Value::String("object".into()))
                    && !m.contains_key("properties")
                {
                    problems.push(format!("{at}: object without properties"));
                }
                for (k, v) in m {
                    // `if` conditions only test a value; they describe nothing.
                    if k != "if" {
                        walk(v, &format!("{at}/{k}"), problems);
                    }
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), problems);
                }
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    walk(&schema(), "#", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn valid_examples_pass_the_schema_and_check_decision() {
    let v = validator();
    let samples = samples(VALID_DIR);
    assert!(samples.len() >= 3, "want at least three examples");
    for (name, bytes) in samples {
        let doc = as_json(&bytes);
        let errors = schema_errors(&v, &doc);
        assert!(
            errors.is_empty(),
            "{name}: the schema refuses it: {errors:#?}"
        );
        let path = repo_path(&doc);
        let (decision, diags) = check_decision(&path, &bytes);
        assert!(decision.is_some(), "{name}: does not parse");
        let diags: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert!(diags.is_empty(), "{name}: check_decision finds: {diags:#?}");
    }
}

#[test]
fn invalid_samples_are_refused() {
    let v = validator();
    let expected: BTreeMap<&str, &str> = INVALID.iter().copied().collect();
    let samples = samples(INVALID_DIR);
    let found: BTreeSet<&str> = samples.iter().map(|(n, _)| n.as_str()).collect();
    let listed: BTreeSet<&str> = expected.keys().copied().collect();
    assert_eq!(
        found, listed,
        "files in {INVALID_DIR} and the INVALID table differ"
    );
    for n in SCHEMA_CANNOT_EXPRESS {
        assert!(
            listed.contains(n),
            "{n} is in SCHEMA_CANNOT_EXPRESS but has no sample"
        );
    }

    for (name, bytes) in &samples {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.starts_with('#'),
            "{name}: name the broken rule in the file name, not in a comment"
        );
        let doc = as_json(bytes);
        let (_, diags) = check_decision(&repo_path(&doc), bytes);
        let codes: Vec<&str> = diags.iter().map(|d| d.code.name()).collect();
        let want = expected[name.as_str()];
        assert!(
            codes.contains(&want),
            "{name}: check_decision should report {want}, reports {diags:#?}"
        );

        let errors = schema_errors(&v, &doc);
        if SCHEMA_CANNOT_EXPRESS.contains(&name.as_str()) {
            assert!(
                errors.is_empty(),
                "{name}: the schema now refuses it ({errors:#?}); take it off SCHEMA_CANNOT_EXPRESS"
            );
        } else {
            assert!(!errors.is_empty(), "{name}: the JSON Schema accepts it");
        }
    }
}

#[test]
fn schema_top_level_properties_are_the_decision_fields_in_order() {
    let s = schema();
    let schema_keys: Vec<&str> = s["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for (name, d) in valid_decisions() {
        let v = serde_json::to_value(&d).unwrap();
        let rust_keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(schema_keys, rust_keys, "{name}");
    }
    let required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(required, schema_keys, "every top-level field is required");
}

/// For every object in every example: the keys appear in schema order, every schema property is
/// exercised by some example, and a key is in the schema's `required` exactly when the Rust model
/// refuses the record without it.
#[test]
fn nested_properties_and_required_lists_match_the_model() {
    let s = schema();
    // schema object (by pointer into the schema) -> properties seen in the examples
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();

    #[allow(clippy::too_many_arguments)]
    fn walk(
        s: &Value,
        node_schema: &Value,
        schema_ptr: &str,
        full: &Value,
        ptr: &str,
        seen: &mut BTreeMap<String, BTreeSet<String>>,
        problems: &mut Vec<String>,
        example: &str,
    ) {
        let (node_schema, schema_ptr) = match node_schema.get("$ref").and_then(Value::as_str) {
            Some(r) => (
                resolve(s, node_schema),
                r.trim_start_matches('#').to_owned(),
            ),
            None => (node_schema, schema_ptr.to_owned()),
        };
        match full.pointer(ptr).unwrap() {
            Value::Object(obj) => {
                let props = node_schema["properties"].as_object().unwrap();
                let order: Vec<&String> = props.keys().collect();
                let keys: Vec<&String> = obj.keys().collect();
                let mut positions = keys.iter().map(|k| order.iter().position(|o| o == k));
                let mut last = None;
                if !positions.all(|p| {
                    let ok = p.is_some() && p > last;
                    last = p;
                    ok
                }) {
                    problems.push(format!(
                        "{example}{ptr}: keys {keys:?} not in schema order {order:?}"
                    ));
                }
                let required: BTreeSet<&str> = node_schema["required"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for key in obj.keys() {
                    seen.entry(schema_ptr.clone())
                        .or_default()
                        .insert(key.clone());
                    let mut cut = full.clone();
                    cut.pointer_mut(ptr)
                        .unwrap()
                        .as_object_mut()
                        .unwrap()
                        .shift_remove(key);
                    let rust_requires = serde_json::from_value::<Decision>(cut).is_err();
                    if rust_requires != required.contains(key.as_str()) {
                        problems.push(format!(
                            "{example}{ptr}/{key}: Rust requires it: {rust_requires}, schema: {}",
                            !rust_requires
                        ));
                    }
                    let child = &props[key];
                    walk(
                        s,
                        child,
                        &format!("{schema_ptr}/properties/{key}"),
                        full,
                        &format!("{ptr}/{key}"),
                        seen,
                        problems,
                        example,
                    );
                }
            }
            Value::Array(items) => {
                let item_schema = &node_schema["items"];
                for i in 0..items.len() {
                    walk(
                        s,
                        item_schema,
                        &format!("{schema_ptr}/items"),
                        full,
                        &format!("{ptr}/{i}"),
                        seen,
                        problems,
                        example,
                    );
                }
            }
            _ => {}
        }
    }

    for (name, d) in valid_decisions() {
        let full = serde_json::to_value(&d).unwrap();
        walk(&s, &s, "", &full, "", &mut seen, &mut problems, &name);
    }

    // Every property of every object schema is exercised by at least one example.
    for (ptr, keys) in &seen {
        let node = if ptr.is_empty() {
            &s
        } else {
            s.pointer(ptr).unwrap()
        };
        let props: BTreeSet<String> = node["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let missing: Vec<&String> = props.difference(keys).collect();
        if !missing.is_empty() {
            problems.push(format!("#{ptr}: no example has {missing:?}"));
        }
    }
    for def in [
        "initiator",
        "action",
        "target",
        "ai",
        "model",
        "agent",
        "context",
        "contextEntry",
        "recommendation",
    ] {
        assert!(
            seen.contains_key(&format!("/$defs/{def}")),
            "no example reaches $defs/{def}"
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The variants serde accepts for `T`, read from its unknown-variant error.
fn rust_variants<T: DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
    let err = serde_json::from_value::<T>(Value::String("\u{1}".into())).unwrap_err();
    let msg = err.to_string();
    let expected = msg
        .split("expected")
        .nth(1)
        .expect("an unknown-variant error");
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn schema_enum(s: &Value, ptr: &str) -> Vec<String> {
    s.pointer(ptr)
        .unwrap_or_else(|| panic!("no {ptr} in the schema"))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn enums_match_the_model() {
    let s = schema();
    let cases = [
        ("/properties/risk/enum", rust_variants::<Risk>()),
        (
            "/$defs/initiator/properties/kind/enum",
            rust_variants::<PrincipalKind>(),
        ),
        (
            "/$defs/action/properties/kind/enum",
            rust_variants::<ActionKind>(),
        ),
        ("/$defs/ai/properties/role/enum", rust_variants::<AiRole>()),
        (
            "/$defs/contextEntry/properties/kind/enum",
            rust_variants::<ContextKind>(),
        ),
    ];
    for (ptr, rust) in cases {
        assert_eq!(schema_enum(&s, ptr), rust, "{ptr}");
    }
    let all: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(schema_enum(&s, "/$defs/action/properties/kind/enum"), all);
    let all: Vec<&str> = ContextKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        schema_enum(&s, "/$defs/contextEntry/properties/kind/enum"),
        all
    );
}

#[test]
fn schema_and_model_agree_on_floating_versions() {
    let v = validator();
    let (_, base) = valid_decisions().into_iter().next().unwrap();
    let mut versions: Vec<String> = Vec::new();
    for f in FLOATING_VERSIONS {
        versions.push((*f).to_owned());
        versions.push(f.to_ascii_uppercase());
        versions.push(format!(" {f} "));
        versions.push(format!("{f}-2025-04-14"));
        versions.push(format!("x{f}"));
    }
    for sep in ["-", ":", "@", ".", "/", "_", ""] {
        versions.push(format!("gpt-4o{sep}latest"));
        versions.push(format!("gpt-4o{sep}LaTeSt "));
        versions.push(format!("gpt-4o{sep}latest-1"));
    }
    versions.extend(
        [
            "claude-sonnet-4-20250514",
            "gpt-4.1-2025-04-14",
            "2025-04-14",
            "1.0.0-beta",
            "beta-3",
            "latest-2025",
            "latestish",
            "stable-diffusion-3.5-large",
            "**",
        ]
        .map(String::from),
    );
    for version in versions {
        let mut d = base.clone();
        d.ai.model.version = version.clone();
        let doc = serde_json::to_value(&d).unwrap();
        let schema_refuses = !v.is_valid(&doc);
        assert_eq!(
            schema_refuses,
            is_floating_version(&version),
            "version {version:?}: schema refuses: {schema_refuses}"
        );
    }
}

// ---- events: schemas/event.v1.schema.json -------------------------------------------------

const EVENT_SCHEMA_PATH: &str = "schemas/event.v1.schema.json";

fn event_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join(EVENT_SCHEMA_PATH)).expect("read the schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(schema["$id"], "https://aiaudit.dev/schemas/event/v1");
    jsonschema::draft202012::new(&schema).expect("the event schema compiles as draft 2020-12")
}

fn event_path(doc: &Value) -> String {
    repo_path(doc).replacen("decisions/", "events/", 1)
}

/// The sample events pass the schema and the full check of `aiaudit` (canonical bytes
/// included); mutations the model refuses, the schema refuses too.
#[test]
fn event_samples_pass_the_schema_and_check_event() {
    let v = event_validator();
    for (name, bytes) in samples("examples/events") {
        let doc = as_json(&bytes);
        assert_eq!(schema_errors(&v, &doc), Vec::<String>::new(), "{name}");
        let (e, diags) = aiaudit::record::check_event(&event_path(&doc), &bytes);
        assert!(e.is_some() && diags.is_empty(), "{name}: {diags:?}");
    }
    let outcome =
        as_json(&std::fs::read(root().join("examples/events/outcome-with-evidence.yaml")).unwrap());
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "unknown evidence field",
            Box::new(|d| d["outcome"]["stdout"] = "x".into()),
        ),
        (
            "digest not hex",
            Box::new(|d| d["outcome"]["log"]["sha256"] = "XYZ".into()),
        ),
        (
            "exit code as text",
            Box::new(|d| d["outcome"]["exit_code"] = "0".into()),
        ),
        (
            "started not RFC 3339 UTC",
            Box::new(|d| d["outcome"]["started"] = "2026-11-30 12:00".into()),
        ),
        (
            "size negative",
            Box::new(|d| d["outcome"]["output"]["size"] = (-1).into()),
        ),
        (
            "outcome without its section",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("outcome");
            }),
        ),
        (
            "a review section on an outcome",
            Box::new(|d| d["review"] = serde_json::json!({"verdict": "accepted", "summary": "ok"})),
        ),
    ];
    for (what, mutate) in mutations {
        let mut doc = outcome.clone();
        mutate(&mut doc);
        assert!(
            !schema_errors(&v, &doc).is_empty(),
            "the schema accepts: {what}"
        );
        let model: Result<aiaudit::record::Event, _> = serde_json::from_value(doc.clone());
        let refused = match model {
            Err(_) => true,
            Ok(e) => !aiaudit::record::event::validate_event(&e).is_empty(),
        };
        assert!(refused, "the model accepts: {what}");
    }
}

/// The schema's properties are the model's fields, in the model's (canonical) order.
#[test]
fn event_schema_properties_are_the_model_fields_in_order() {
    let text = std::fs::read_to_string(root().join(EVENT_SCHEMA_PATH)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let sample =
        as_json(&std::fs::read(root().join("examples/events/outcome-with-evidence.yaml")).unwrap());
    // The sample sets every outcome field but `at`; the model serializes fields in order.
    let mut e: aiaudit::record::Event = serde_json::from_value(sample).unwrap();
    e.outcome.as_mut().unwrap().at = Some(e.created.clone());
    e.review = Some(aiaudit::record::event::Review {
        verdict: aiaudit::record::event::ReviewVerdict::Accepted,
        summary: "ok".into(),
    });
    let model = serde_json::to_value(&e).unwrap();
    assert_eq!(keys(&schema["properties"]), keys(&model));
    assert_eq!(
        keys(&schema["$defs"]["outcome"]["properties"]),
        keys(&model["outcome"])
    );
    assert_eq!(
        keys(&schema["$defs"]["review"]["properties"]),
        keys(&model["review"])
    );
}
