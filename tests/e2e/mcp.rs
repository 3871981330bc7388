//! Issue 14: `aiaudit mcp`, driven by the official Rust MCP SDK's client over the server's
//! standard input and output, in the sealed world with the hook-guarded server repository. The
//! agent records (a signed, pushed proposal), reads the status and what it still needs, waits
//! (bounded: `pending`, then `approved` once an approver lands it from another process), and
//! records an outcome; it can neither approve nor run anything, and a human's key is refused.

use crate::harness::*;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt as _;
use serde_json::{json, Value};

type Client = RunningService<RoleClient, ()>;

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(map)),
    )
    .await
    .unwrap_or_else(|_| panic!("{tool}: no answer within 120 s"))
    .unwrap_or_else(|e| panic!("{tool}: protocol error {e:?}"))
}

/// The structured answer of a successful call.
fn ok(tool: &str, r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "{tool} failed: {r:?}");
    r.structured_content
        .clone()
        .unwrap_or_else(|| panic!("{tool}: no structured content: {r:?}"))
}

/// The message of a refused call.
fn refused(tool: &str, r: &CallToolResult) -> String {
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool} should have been refused: {r:?}"
    );
    r.structured_content.as_ref().expect("content")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn record_params(marker: &std::path::Path) -> Value {
    json!({
        "action": "config-change",
        "system": "github.com/acme/payments",
        "summary": "Raise the rate limit to 200/s",
        "command": ["sh", "-c", format!("echo ran > '{}'", marker.display())],
        "model": MODEL,
        "framework": "example-agent 1.0",
        "prompt": "The payments API is throttling checkouts; raise the limit.",
        "context": [{"kind": "ticket", "name": "OPS-42", "content": "checkout errors at 150/s"}],
        "recommendation": "raise the rate limit to 200/s",
    })
}

#[test]
fn an_agent_records_waits_and_reads_status_through_mcp() {
    let w = World::new();
    let marker = w.files.join("marker");

    // A human's key is refused: the server must hold no key that can approve.
    let mut args = vec!["mcp".to_owned()];
    args.extend(w.signer_args(CAROL));
    let out = w.aiaudit(&argv(&args));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("a human principal"), "{out}");

    let mut c = w.command(env!("CARGO_BIN_EXE_aiaudit"), &w.work);
    c.arg("mcp")
        .args(w.signer_args(SVC))
        .args(["--max-wait", "90s"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let transport = TokioChildProcess::new(tokio::process::Command::from(c)).expect("spawn");
        let client: Client = ().serve(transport).await.expect("MCP handshake");
        let info = client.peer_info().expect("server info");
        assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("aiaudit"));

        // The tools: nothing approves, nothing runs.
        let tools = client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "decision_status",
                "record_decision",
                "record_outcome",
                "wait_for_approval"
            ]
        );
        let record_tool = tools.iter().find(|t| t.name == "record_decision").unwrap();
        let schema = serde_json::to_value(&record_tool.input_schema).unwrap();
        for field in ["command", "model", "prompt", "recommendation"] {
            assert!(
                schema["properties"][field]["description"].is_string(),
                "{schema}"
            );
        }

        // Refusals come back as tool errors with the command's own message; nothing is pushed.
        let before = w.server_refs();
        let mut bad = record_params(&marker);
        bad["model"] = json!("anthropic/claude@latest");
        let msg = refused("record_decision", &call(&client, "record_decision", bad).await);
        assert!(msg.contains("floating"), "{msg}");
        let mut bad = record_params(&marker);
        bad["command"] = json!(["curl", "https://admin:Tr0ub4dor-and-3@db.example.com/"]);
        let msg = refused("record_decision", &call(&client, "record_decision", bad).await);
        assert!(msg.contains("action.command"), "{msg}");
        assert_eq!(w.server_refs(), before, "a refused record pushed something");

        // Recorded: a proposal on the server, signed by the agent, naming the exact command.
        let rec = ok(
            "record_decision",
            &call(&client, "record_decision", record_params(&marker)).await,
        );
        let id = rec["id"].as_str().expect("id").to_owned();
        assert_eq!(rec["state"], "pending", "{rec}");
        let needs = rec["needs"].to_string();
        assert!(needs.contains("1 from any human principal"), "{rec}");
        let proposal = w
            .server_ref(&proposal_ref(&id))
            .expect("the proposal was pushed");
        let message = w.message(&proposal);
        assert!(message.contains("Initiated-by: svc "), "{message}");

        let status = ok(
            "decision_status",
            &call(&client, "decision_status", json!({"id": id})).await,
        );
        assert_eq!(status["state"], "pending", "{status}");
        assert_eq!(status["command"][0], "sh", "{status}");
        assert_eq!(status["approvals"], json!([]), "{status}");

        // Waiting is bounded: the answer is `pending` when the time is up.
        let started = std::time::Instant::now();
        let waited = ok(
            "wait_for_approval",
            &call(
                &client,
                "wait_for_approval",
                json!({"id": id, "timeout_seconds": 1}),
            )
            .await,
        );
        assert_eq!(waited["state"], "pending", "{waited}");
        assert!(started.elapsed() < std::time::Duration::from_secs(60));

        // No outcome before the decision is on main.
        let msg = refused(
            "record_outcome",
            &call(
                &client,
                "record_outcome",
                json!({"id": id, "status": "executed", "action": "raised the limit"}),
            )
            .await,
        );
        assert!(!msg.is_empty());

        // carol approves from another process and clone while the agent waits.
        let other = w.fresh_clone();
        let approver = {
            let mut c = w.command(env!("CARGO_BIN_EXE_aiaudit"), &other);
            c.args(["approve", &id, "--yes", "--push"])
                .args(w.signer_args(CAROL))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(2));
                c.output().expect("approve")
            })
        };
        let waited = ok(
            "wait_for_approval",
            &call(
                &client,
                "wait_for_approval",
                json!({"id": id, "timeout_seconds": 80}),
            )
            .await,
        );
        let approved = approver.join().expect("approver thread");
        assert!(
            approved.status.success(),
            "{}",
            String::from_utf8_lossy(&approved.stderr)
        );
        assert_eq!(waited["state"], "approved", "{waited}");
        assert_eq!(waited["approvals"], json!(["carol"]), "{waited}");
        assert!(!marker.exists(), "nothing ran on approval alone");

        // exec stays the gate: it runs exactly the approved command, and its outcome lands.
        let mut args: Vec<String> = vec!["exec".into(), id.clone()];
        args.extend(w.signer_args(SVC));
        args.push("--".into());
        args.extend(
            rec_command(&status)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        w.aiaudit(&argv(&args)).ok();
        assert!(marker.exists());

        // An outcome recorded through the tool, signed by the agent as executor.
        let out = ok(
            "record_outcome",
            &call(
                &client,
                "record_outcome",
                json!({"id": id, "status": "rolled-back", "action": "restored the limit", "result": "limit 150/s", "exit_code": 0}),
            )
            .await,
        );
        let outcomes = out["outcomes"].as_array().expect("outcomes");
        assert_eq!(outcomes.len(), 2, "{out}");
        assert_eq!(outcomes[0]["status"], "executed", "{out}");
        assert_eq!(outcomes[1]["status"], "rolled-back", "{out}");
        assert_eq!(outcomes[1]["actor"], "svc", "{out}");
        let main = w.server_ref(MAIN).expect("main");
        assert!(w.message(&main).contains("Executed-by: svc "));

        let unknown = ok(
            "decision_status",
            &call(
                &client,
                "decision_status",
                json!({"id": "01M8P9GB103V9X7C5B1N8M4D2F"}),
            )
            .await,
        );
        assert_eq!(unknown["state"], "unknown", "{unknown}");
        client.cancel().await.expect("close");
    });
    // The ledger the agent wrote verifies.
    w.aiaudit(&["verify", "--full"]).ok();
}

fn rec_command(status: &Value) -> Vec<&str> {
    status["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|v| v.as_str().expect("word"))
        .collect()
}
