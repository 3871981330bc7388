//! Intake from automation, through the real binary and the real hook: intake documents
//! (`record --from`), OpenTelemetry GenAI traces (`record --from-otel`), and the credential
//! scan that keeps secrets out of the audit repository.

use crate::harness::*;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

fn sha(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// A scratch file next to the server (inside the world's temporary directory).
fn scratch(w: &World, name: &str, content: &str) -> PathBuf {
    let p = w.server.with_file_name(name);
    std::fs::write(&p, content).expect("write scratch file");
    p
}

/// The decision on proposal ref of `id`, as a parsed record and its bytes.
fn proposal(w: &World, id: &str) -> (aiaudit::record::Decision, String) {
    let commit = w.rev_parse(&proposal_ref(id));
    let path = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &commit])
        .ok();
    let text = w.file_at(&commit, &path);
    let d = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    (d, text)
}

/// Approves `id` as carol, pushing, and checks the decision is on the server's main and the
/// history verifies from a fresh clone.
fn approve_and_land(w: &World, id: &str) {
    let mut args = vec!["approve", id, "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    w.aiaudit(&args).ok();
    let main = w.server_ref(MAIN).expect("server main");
    let msg = w.message(&main);
    assert_eq!(trailer(&msg, "Decision-Id"), id, "{msg}");
    let clone = w.fresh_clone();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert!(out.stdout.starts_with("ok: "), "{out}");
}

/// Every ref of the work clone and how many objects it holds: "nothing was written".
fn local_state(w: &World) -> (String, String) {
    let refs = w
        .git(&["for-each-ref", "--format=%(refname) %(objectname)"])
        .ok();
    let objects = w.git(&["count-objects", "-v"]).ok();
    (refs, objects)
}

/// `aiaudit ARGS` must be refused with exit 1, `expect` in its stderr, and nothing written.
#[track_caller]
fn refused(w: &World, args: &[&str], expect: &[&str]) -> Out {
    let before = local_state(w);
    let out = w.aiaudit(args);
    assert_eq!(out.status.code(), Some(1), "{out}");
    for e in expect {
        assert!(out.stderr.contains(e), "expected {e:?} in:\n{out}");
    }
    assert!(out.stderr.contains("nothing was recorded"), "{out}");
    assert_eq!(local_state(w), before, "a refused record wrote something");
    assert!(
        !w.git(&["for-each-ref", "refs/heads/proposals"])
            .ok()
            .contains("proposals/"),
        "a proposal ref exists"
    );
    out
}

const PROMPT: &str = "Grant bob read access to the orders database.\n";
const ARGS: &str = "{\"database\":\"orders\"}";
const RESULT: &str = "[\"orders_read\",\"orders_write\"]";
const OUTPUT: &str = "Attach orders_read to bob for 24 hours.\n";

fn intake_doc() -> Value {
    json!({
        "schema": "aiaudit/intake/v1",
        "initiator": { "id": BOB },
        "action": {
            "kind": "access-change",
            "target": { "system": "postgres:orders", "resource": "role/orders_read" },
            "summary": "Grant bob read access to orders for 24 hours",
            "secrets": ["vault:secret/data/prod/orders#dsn"]
        },
        "ai": {
            "role": "suggested",
            "model": { "provider": "anthropic", "name": "claude", "version": "2025-01-01" }
        },
        "context": [
            { "kind": "prompt", "name": "prompt", "content": PROMPT },
            { "kind": "tool-call", "name": "db.list_roles", "uri": "postgres://db-prod-1/orders",
              "arguments": ARGS, "content": RESULT },
            { "kind": "ticket", "name": "SEC-42", "sha256": sha("ticket"), "size": 6 }
        ],
        "recommendation": { "summary": "Attach orders_read for 24h", "output": OUTPUT }
    })
}

#[test]
fn intake_document_becomes_a_decision_with_hashed_content_and_lands() {
    let w = World::new();
    let file = scratch(&w, "intake.json", &intake_doc().to_string());
    let out = w.aiaudit(&["record", "--from", s(&file), "--json", "--push"]);
    let v: Value = serde_json::from_str(&out.ok()).expect("--json");
    let id = v["id"].as_str().unwrap().to_owned();
    let (d, text) = proposal(&w, &id);
    assert_eq!(d.initiator.id, BOB);
    assert_eq!(d.initiator.kind.as_str(), "human", "kind from the policy");
    let e = &d.context.entries;
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].size, e[0].sha256.as_str()),
        (46, sha(PROMPT).as_str())
    );
    assert_eq!(e[1].sha256, sha(RESULT));
    assert_eq!(e[1].arguments_sha256.as_deref(), Some(sha(ARGS).as_str()));
    assert_eq!(e[2].sha256, sha("ticket"));
    assert_eq!(d.recommendation.sha256, sha(OUTPUT));
    assert_eq!(d.recommendation.size, OUTPUT.len() as u64);
    // The content itself is not in the record.
    assert!(
        !text.contains("Grant bob read access to the orders database"),
        "{text}"
    );
    assert!(!text.contains("orders_write"), "{text}");
    approve_and_land(&w, &id);
}

#[test]
fn yaml_intake_and_decision_shaped_documents_are_read() {
    let w = World::new();
    let yaml = format!(
        "schema: aiaudit/intake/v1\n\
         initiator: {{id: {BOB}}}\n\
         action: {{kind: config-change, target: {{system: app:prod}}, summary: Raise the limit}}\n\
         ai: {{role: suggested, model: {{provider: anthropic, name: claude, version: 2025-01-01}}}}\n\
         context:\n  - {{kind: prompt, name: prompt.txt, content: \"raise it?\"}}\n\
         recommendation: {{summary: raise it, output: \"yes\"}}\n"
    );
    let file = scratch(&w, "intake.yaml", &yaml);
    let id = w.aiaudit(&["record", "--from", s(&file)]).ok();
    assert_eq!(
        proposal(&w, &id).0.context.entries[0].sha256,
        sha("raise it?")
    );

    // The decision-shaped form `--from` always read (no schema: a decision).
    let legacy = json!({
        "initiator": { "id": BOB, "kind": "human" },
        "action": { "kind": "config-change", "target": { "system": "app:prod" }, "summary": "Lower it" },
        "ai": { "role": "suggested", "model": { "provider": "anthropic", "name": "claude", "version": "2025-01-01" } },
        "context": { "entries": [ { "kind": "prompt", "name": "p", "size": 1, "sha256": sha("x") } ] },
        "recommendation": { "summary": "lower it", "sha256": sha("y"), "size": 1 }
    });
    let file = scratch(&w, "decision.json", &legacy.to_string());
    let id = w.aiaudit(&["record", "--from", s(&file)]).ok();
    assert_eq!(proposal(&w, &id).0.action.summary, "Lower it");
}

#[test]
fn intake_errors_name_the_file_and_the_field() {
    let w = World::new();
    let mut doc = intake_doc();
    doc["context"][2]["sha256"] = json!("ABC");
    let file = scratch(&w, "bad.json", &doc.to_string());
    let out = w.aiaudit(&["record", "--from", s(&file)]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "{}: context[2].sha256: must be 64 lowercase hex digits",
            s(&file)
        )),
        "{out}"
    );

    let mut doc = intake_doc();
    doc["ai"]["model"]["version"] = json!("latest");
    let file = scratch(&w, "floating.json", &doc.to_string());
    let out = w.aiaudit(&["record", "--from", s(&file)]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("ai.model.version: `latest` is a floating alias"),
        "{out}"
    );

    let out = w.aiaudit(&["record", "--from", s(&file), "--summary", "x"]);
    assert!(
        out.stderr
            .contains("--from cannot be combined with --summary"),
        "{out}"
    );
    assert!(!w
        .git(&["for-each-ref", "refs/heads/proposals"])
        .ok()
        .contains("proposals/"));
}

// ---- OpenTelemetry ----------------------------------------------------------------------

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INPUT_MESSAGES: &str = r#"[{"role":"user","parts":[{"type":"text","content":"Can bob get read access to the orders database?"}]}]"#;
const SYSTEM: &str = r#"[{"type":"text","content":"You are the access-review agent."}]"#;
const OUTPUT_MESSAGES: &str = r#"[{"role":"assistant","parts":[{"type":"text","content":"Attach orders_read to bob for 24 hours."}],"finish_reason":"stop"}]"#;
const LIST_ARGS: &str = r#"{"database":"orders"}"#;
const LIST_RESULT: &str = r#"["orders_read","orders_write"]"#;
const GRANT_ARGS: &str = r#"{"role":"orders_read","user":"bob","ttl":"24h"}"#;
const GRANT_RESULT: &str = r#"{"granted":false,"dry_run":true}"#;

fn attr(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn span(id: &str, name: &str, start: u64, end: u64, attrs: Vec<Value>) -> Value {
    json!({
        "traceId": TRACE_ID,
        "spanId": id,
        "parentSpanId": "",
        "name": name,
        "kind": 3,
        "startTimeUnixNano": (1_768_471_200_000_000_000u64 + start).to_string(),
        "endTimeUnixNano": (1_768_471_200_000_000_000u64 + end).to_string(),
        "attributes": attrs,
        "status": {}
    })
}

fn tool_span(id: &str, start: u64, tool: &str, call: &str, args: &str, result: &str) -> Value {
    span(
        id,
        &format!("execute_tool {tool}"),
        start,
        start + 1000,
        vec![
            attr("gen_ai.operation.name", "execute_tool"),
            attr("gen_ai.agent.id", "svc.executor"),
            attr("gen_ai.tool.name", tool),
            attr("gen_ai.tool.call.id", call),
            attr("gen_ai.tool.call.arguments", args),
            attr("gen_ai.tool.call.result", result),
        ],
    )
}

/// One chat span (by the planner agent) and two execute_tool spans (by the executor agent),
/// written in the OTLP JSON shape a collector's file exporter produces, spans out of order.
fn trace(grant_args: &str) -> String {
    let chat = span(
        "00f067aa0ba902b7",
        "chat claude",
        0,
        5000,
        vec![
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.provider.name", "anthropic"),
            attr("gen_ai.request.model", "claude"),
            attr("gen_ai.response.model", "2025-01-01"),
            attr("gen_ai.agent.id", "svc.planner"),
            attr("aiaudit.agent.role", "proposer"),
            attr("gen_ai.system_instructions", SYSTEM),
            attr("gen_ai.input.messages", INPUT_MESSAGES),
            attr("gen_ai.output.messages", OUTPUT_MESSAGES),
            json!({ "key": "gen_ai.usage.input_tokens", "value": { "intValue": "812" } }),
        ],
    );
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [attr("service.name", "access-agent")] },
            "scopeSpans": [{
                "scope": { "name": "opentelemetry.instrumentation.anthropic", "version": "0.1" },
                "spans": [
                    tool_span("b7ad6b7169203331", 3000, "iam.grant", "call_2", grant_args, GRANT_RESULT),
                    chat,
                    tool_span("a1b2c3d4e5f60718", 1000, "db.list_roles", "call_1", LIST_ARGS, LIST_RESULT),
                ]
            }]
        }]
    })
    .to_string()
}

fn otel_args(file: &str) -> Vec<&str> {
    vec![
        "record",
        "--from-otel",
        file,
        "--initiator",
        BOB,
        "--action",
        "access-change",
        "--system",
        "postgres:orders",
        "--summary",
        "Grant bob read access to orders for 24 hours",
        "--ai-role",
        "suggested",
        "--recommendation",
        "Attach orders_read for 24h",
        "--agent",
        "svc.executor:executor",
    ]
}

#[test]
fn otel_trace_becomes_a_decision_that_lands_through_the_hook() {
    let w = World::new();
    let file = scratch(&w, "trace.json", &trace(GRANT_ARGS));
    let mut args = otel_args(s(&file));
    args.push("--push");
    let id = w.aiaudit(&args).ok();
    let (d, text) = proposal(&w, &id);

    assert_eq!(d.ai.model.trailer(), "anthropic/claude@2025-01-01");
    let agents: Vec<(&str, &str, Option<String>)> =
        d.ai.agents
            .iter()
            .map(|a| {
                (
                    a.id.as_str(),
                    a.role.as_str(),
                    a.model.as_ref().map(|m| m.trailer()),
                )
            })
            .collect();
    assert_eq!(
        agents,
        vec![
            (
                "svc.planner",
                "proposer",
                Some("anthropic/claude@2025-01-01".into())
            ),
            ("svc.executor", "executor", None),
        ]
    );

    let e = &d.context.entries;
    let kinds: Vec<(&str, &str)> = e
        .iter()
        .map(|e| (e.kind.as_str(), e.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("system-instructions", "chat claude"),
            ("prompt", "chat claude"),
            ("tool-call", "db.list_roles"),
            ("tool-call", "iam.grant"),
        ]
    );
    assert_eq!(e[0].sha256, sha(SYSTEM));
    assert_eq!(
        (e[1].size, e[1].sha256.as_str()),
        (INPUT_MESSAGES.len() as u64, sha(INPUT_MESSAGES).as_str())
    );
    for (entry, args, result, span, call) in [
        (&e[2], LIST_ARGS, LIST_RESULT, "a1b2c3d4e5f60718", "call_1"),
        (
            &e[3],
            GRANT_ARGS,
            GRANT_RESULT,
            "b7ad6b7169203331",
            "call_2",
        ),
    ] {
        assert_eq!(entry.sha256, sha(result), "{}", entry.name);
        assert_eq!(entry.size, result.len() as u64, "{}", entry.name);
        assert_eq!(
            entry.arguments_sha256.as_deref(),
            Some(sha(args).as_str()),
            "{}",
            entry.name
        );
        assert_eq!(
            entry.uri.as_deref(),
            Some(format!("otel://trace/{TRACE_ID}/span/{span}?tool_call_id={call}").as_str())
        );
    }
    assert_eq!(d.recommendation.sha256, sha(OUTPUT_MESSAGES));
    assert_eq!(d.recommendation.size, OUTPUT_MESSAGES.len() as u64);
    for content in [INPUT_MESSAGES, LIST_RESULT, GRANT_ARGS, OUTPUT_MESSAGES] {
        assert!(!text.contains(content), "content {content} stored:\n{text}");
    }
    // The proposal was pushed through the hook; the approval lands it on main.
    assert!(w.server_ref(&proposal_ref(&id)).is_some());
    approve_and_land(&w, &id);
}

#[test]
fn otel_gaps_are_refused_with_the_span_named() {
    let w = World::new();
    let t: Value = serde_json::from_str(&trace(GRANT_ARGS)).unwrap();
    // Drop gen_ai.response.model from the chat span: the version that ran is unknown.
    let mut no_version = t.clone();
    let spans = no_version["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    spans[1]["attributes"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["key"] != "gen_ai.response.model");
    let file = scratch(&w, "no-version.json", &no_version.to_string());
    let out = w.aiaudit(&otel_args(s(&file)));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("span 00f067aa0ba902b7 (chat claude): no gen_ai.response.model"),
        "{out}"
    );
    // --model says what the trace does not.
    let mut args = otel_args(s(&file));
    args.extend(["--model", MODEL]);
    w.aiaudit(&args).ok();
}

// ---- secrets ----------------------------------------------------------------------------

#[test]
fn credentials_are_refused_before_anything_is_written() {
    let w = World::new();
    let prompt = scratch(
        &w,
        "prompt.txt",
        "Please rotate the deploy key.\nThe current one is below.\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
    );
    let output = scratch(&w, "output.txt", "Rotate it.\n");
    let base = |summary: &'static str| -> Vec<String> {
        let mut args = RecordFlags {
            initiator: BOB,
            action: "secret-retrieval",
            system: "vault",
            summary,
            model: MODEL,
            prompt: &prompt,
            output: &output,
            recommendation: "rotate",
        }
        .args();
        args.extend(["--secret-ref", "vault:secret/data/deploy#key"].map(String::from));
        args
    };
    let run = |extra: &[&str], summary: &'static str| -> Vec<String> {
        let mut a = base(summary);
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };

    // A credential in a hashed input: refused, naming the file, the line and the rule.
    let args = run(&[], "Rotate the deploy key");
    let out = refused(
        &w,
        &argv(&args),
        &[&format!(
            "refused: context file {}, line 3: looks like an AWS access key id (rule aws-access-key-id); record it as a digest only with --digest-only prompt.txt, or remove it",
            s(&prompt)
        )],
    );
    assert!(
        !out.stderr.contains("AKIAIOSFODNN7EXAMPLE"),
        "the message echoes the secret:\n{out}"
    );

    // A credential in a stored text: refused, and no --digest-only can exempt it.
    let args = run(
        &["--digest-only", "prompt.txt"],
        "Rotate AKIAIOSFODNN7EXAMPLE",
    );
    refused(
        &w,
        &argv(&args),
        &["refused: --summary: looks like an AWS access key id (rule aws-access-key-id); remove it"],
    );

    // A typo in --digest-only is an error, not a silent exemption.
    let args = run(&["--digest-only", "promt.txt"], "Rotate the deploy key");
    let out = w.aiaudit(&argv(&args));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the refusal comes first:\n{out}"
    );
    let mut fixed = run(
        &["--digest-only", "prompt.txt", "--digest-only", "nothing"],
        "Rotate the deploy key",
    );
    let out = w.aiaudit(&argv(&fixed));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("--digest-only nothing: no input of this record has that name"),
        "{out}"
    );

    // Digest-only: recorded, with a note; the secret reference is kept as a reference.
    fixed.truncate(fixed.len() - 2);
    let out = w.aiaudit(&argv(&fixed));
    let id = out.ok();
    assert!(out.stderr.contains("note: context file"), "{out}");
    let (d, _) = proposal(&w, &id);
    assert_eq!(d.action.secrets, vec!["vault:secret/data/deploy#key"]);
    assert_eq!(d.context.entries[0].name, "prompt.txt");
}

#[test]
fn credentials_in_intake_documents_and_traces_are_refused() {
    let w = World::new();
    // Inline content of an intake document.
    let mut doc = intake_doc();
    doc["context"][0]["content"] =
        json!("connect with postgres://app:Sup3r-s3cret@db-prod-1/orders\n");
    let file = scratch(&w, "intake.json", &doc.to_string());
    refused(
        &w,
        &["record", "--from", s(&file)],
        &[&format!(
            "refused: {}: context[0].content: looks like a password in a URL (rule url-password); record it as a digest only with --digest-only prompt (or \"digest_only\": true on the entry), or remove it",
            s(&file)
        )],
    );
    doc["context"][0]["digest_only"] = json!(true);
    let file = scratch(&w, "intake-marked.json", &doc.to_string());
    w.aiaudit(&["record", "--from", s(&file)]).ok();

    // A tool call's arguments in a trace.
    let w = World::new();
    let leaky = r#"{"role":"orders_read","user":"bob","dsn":"postgres://app:Sup3r-s3cret@db-prod-1/orders"}"#;
    let file = scratch(&w, "trace.json", &trace(leaky));
    refused(
        &w,
        &otel_args(s(&file)),
        &[&format!(
            "refused: {}: span b7ad6b7169203331 (execute_tool iam.grant), gen_ai.tool.call.arguments: looks like a password in a URL (rule url-password); record it as a digest only with --digest-only iam.grant, or remove it",
            s(&file)
        )],
    );
    let mut args = otel_args(s(&file));
    args.extend(["--digest-only", "iam.grant"]);
    let id = w.aiaudit(&args).ok();
    let (d, _) = proposal(&w, &id);
    assert_eq!(
        d.context.entries[3].arguments_sha256.as_deref(),
        Some(sha(leaky).as_str())
    );
}

/// The traces of `examples/otel/`: the same agent run (an agent, its chat, its tool call) as
/// semantic conventions v1.41.0 describe it and as open-telemetry/semantic-conventions-genai
/// does since the move (a turn span; the agent known by a display name only, carrying its
/// configured model; structured tool arguments and result). Both become the same decision
/// material and land through the hook; the digests are the ones computed independently in the
/// research notes (docs/intake.md, "OpenTelemetry").
#[test]
fn otel_traces_of_both_convention_releases_are_read() {
    let output_sha = "d8c6afebb8e17f4a0f19ce9bf993e269aeb0750b4593b500342ceb5dde5a4cae";
    let args_sha = "2499fd0f53e363fa1a03a025bb33d933bcdeccd8fa42c99c26dd6b1a38173177";
    let result_sha = "fcfa9b9ec85e0df0c53cc80bc38dc1a564e5de5976f083c96a165ba6bd4414d5";
    for (file, agent) in [
        ("trace-semconv-1.41.json", "svc.planner"),
        ("trace-semconv-genai.json", "Access-Planner"),
    ] {
        let w = World::new();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/otel")
            .join(file);
        let mut args = otel_args(s(&path));
        args.truncate(args.len() - 2); // no --agent: the trace names its agent
        args.push("--push");
        let id = w.aiaudit(&args).ok();
        let (d, _) = proposal(&w, &id);
        // The response model repeats the request model in front: one model, one form.
        let model = "anthropic/claude-sonnet-4@20250514";
        assert_eq!(d.ai.model.trailer(), model, "{file}");
        let agents: Vec<(&str, Option<String>)> =
            d.ai.agents
                .iter()
                .map(|a| (a.id.as_str(), a.model.as_ref().map(|m| m.trailer())))
                .collect();
        assert_eq!(agents, [(agent, Some(model.to_owned()))], "{file}");
        let e = &d.context.entries;
        let kinds: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.kind.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("system-instructions", "chat claude-sonnet-4"),
                ("prompt", "chat claude-sonnet-4"),
                ("tool-call", "db.grant"),
            ],
            "{file}"
        );
        assert_eq!(e[2].arguments_sha256.as_deref(), Some(args_sha), "{file}");
        assert_eq!(
            (e[2].sha256.as_str(), e[2].size),
            (result_sha, 52),
            "{file}"
        );
        assert_eq!(
            e[2].uri.as_deref(),
            Some("otel://trace/5b8efff798038103d269b633813fc60c/span/c1d2e3f405162738?tool_call_id=call_mszuSIzqtI65i1wAUOE8w5H4"),
            "{file}"
        );
        assert_eq!(
            (d.recommendation.sha256.as_str(), d.recommendation.size),
            (output_sha, 241),
            "{file}"
        );
        approve_and_land(&w, &id);
    }
}
