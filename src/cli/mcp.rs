//! `aiaudit mcp`: a Model Context Protocol server on standard input and output, so an agent
//! records its decisions, reads where they stand, waits for approval and records outcomes
//! without shelling out.
//!
//! The server acts for one agent principal — a service or workflow account, whose key it is
//! given — and never for a human: approvals count only from human principals, so the server
//! holds no key that could approve, and it offers no tool that approves or runs anything
//! (`aiaudit exec` stays the gate). Each tool call runs this same binary's command (`record`,
//! `status`, `await`, `outcome`) with arguments built from the typed parameters — never a
//! shell — and answers with its JSON: the tools are exactly as strict as the commands, one
//! write path serves both, and standard output stays the protocol's alone.

use super::exec::RemoteArgs;
use super::util::{self, main_base, SignerArgs};
use super::{errln, CliError, CliResult, EXIT_OK};
use crate::pgp;
use crate::record::PrincipalKind;
use anyhow::anyhow;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData as McpError, ServerHandler};
use serde::Deserialize;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Serve the Model Context Protocol on stdio for one agent principal
///
/// Tools: `record_decision` (a proposal, signed with the agent's key and pushed),
/// `decision_status` (approved, pending with what it still needs, refused, unknown; the
/// outcomes), `wait_for_approval` (bounded; answers `pending` when the time is up) and
/// `record_outcome` (signed by the agent as executor). No tool approves or runs an action:
/// `aiaudit exec` is the gate. The key must belong to a service or workflow principal of the
/// policy — approvals count only from humans, so the server can never approve.
/// See docs/agents.md.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The agent's key: it signs the records (`Initiated-by`) and outcomes (`Executed-by`).
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The longest one `wait_for_approval` call blocks before it answers `pending` (`90s`,
    /// `5m`); agents' clients time tool calls out, so keep it under theirs.
    #[arg(long, value_name = "TIMEOUT", default_value = "120s")]
    pub max_wait: String,
}

/// What every tool call needs: how to run this binary on the audit repository as the agent.
struct Ctx {
    exe: std::path::PathBuf,
    repo: std::path::PathBuf,
    /// `--key FILE` or `--gpg-key KEY --gpg-program P`.
    signer: Vec<OsString>,
    /// `--remote R`, `--offline`, `--trust-root C`, as given to `mcp`.
    remote: Vec<OsString>,
    /// Where `record` and `outcome` push (none offline).
    push: Option<String>,
    principal: String,
    max_wait: Duration,
}

/// What one run of this binary gave.
pub(super) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs this binary, `aiaudit -C REPO ARGS…`, with `stdin`, capturing both outputs: the tools
/// and hooks that act for an agent go through the commands, never around them.
pub(super) fn run_self(
    exe: &Path,
    repo: &Path,
    args: &[OsString],
    stdin: Option<Vec<u8>>,
) -> std::io::Result<Ran> {
    let mut child = Command::new(exe)
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut pipe) = child.stdin.take() {
        let data = stdin.unwrap_or_default();
        // Written from a thread: a child that writes much before reading cannot deadlock us;
        // one that exits early closes the pipe, and its exit status says why.
        std::thread::spawn(move || {
            use std::io::Write as _;
            let _ = pipe.write_all(&data);
        });
    }
    let out = child.wait_with_output()?;
    Ok(Ran {
        code: out.status.code().unwrap_or(super::EXIT_INTERNAL),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The agent an MCP server or agent hook acts for: the principal of `signer`'s key, which must
/// be a service or workflow principal of the policy on main — approvals count only from
/// humans, so whatever acts for an agent holds no key that can approve. Returns its id and the
/// key's fingerprint.
pub(super) fn agent_principal(
    store: &crate::store::Store,
    signer: &SignerArgs,
    what: &str,
) -> CliResult<(String, String)> {
    let key = signer.optional()?.ok_or_else(|| {
        CliError::usage(anyhow!("{what} needs the agent's key"))
            .hint("pass --key FILE (the agent's Ed25519 key file) or --gpg-key KEY")
    })?;
    let fpr = pgp::signer_fingerprint(&key).map_err(CliError::usage)?;
    let policy = util::policy_at(store, main_base(store)?.tree)?;
    let principal = policy.principal_by_key(&fpr).ok_or_else(|| {
        CliError::usage(anyhow!(
            "the key {fpr} belongs to no principal of the policy"
        ))
        .hint("an admin adds the agent's service principal and key with `aiaudit principal add`")
    })?;
    if principal.kind == PrincipalKind::Human {
        return Err(CliError::usage(anyhow!(
            "the key {fpr} belongs to `{}`, a human principal: {what} acts for an agent and must hold no key that can approve",
            principal.id
        ))
        .hint("give the agent a service or workflow principal with a key of its own"));
    }
    Ok((principal.id.clone(), fpr))
}

/// `--key FILE` (absolute) or `--gpg-key KEY --gpg-program P`, for the commands run for the
/// agent.
pub(super) fn signer_flags(cwd: &Path, signer: &SignerArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    if let Some(k) = &signer.key {
        out.extend(["--key".into(), absolute(cwd, k).into_os_string()]);
    }
    if let Some(k) = &signer.gpg_key {
        out.extend([
            "--gpg-key".into(),
            k.into(),
            "--gpg-program".into(),
            signer.gpg_program.clone().into_os_string(),
        ]);
    }
    out
}

/// `--remote R [--offline] [--trust-root C]`, as given.
pub(super) fn remote_flags(remote: &RemoteArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["--remote".into(), remote.remote.clone().into()];
    if remote.offline {
        out.push("--offline".into());
    }
    if let Some(t) = &remote.trust_root {
        out.extend(["--trust-root".into(), t.into()]);
    }
    out
}

impl Ctx {
    fn run(&self, args: Vec<OsString>, stdin: Option<Vec<u8>>) -> Result<Ran, McpError> {
        run_self(&self.exe, &self.repo, &args, stdin)
            .map_err(|e| McpError::internal_error(format!("cannot run aiaudit: {e}"), None))
    }

    /// A command that writes for the agent: signed with its key, pushed where there is a
    /// remote.
    fn run_signed(&self, mut args: Vec<OsString>, stdin: Option<Vec<u8>>) -> Result<Ran, McpError> {
        if let Some(r) = &self.push {
            args.push(format!("--push={r}").into());
        }
        args.extend(self.signer.iter().cloned());
        self.run(args, stdin)
    }

    fn status(&self, id: &str) -> Result<Value, McpError> {
        let mut args: Vec<OsString> = vec!["status".into(), id.into(), "--json".into()];
        args.extend(self.remote.iter().cloned());
        let ran = self.run(args, None)?;
        // 0 approved, 1 anything else: both answer with the JSON.
        match (ran.code, serde_json::from_str::<Value>(&ran.stdout)) {
            (0 | 1, Ok(v)) => Ok(v),
            _ => Err(tool_failed(&ran)),
        }
    }
}

/// A command's refusal, for the agent to read and correct (a tool error, not a protocol one).
fn tool_failed(ran: &Ran) -> McpError {
    McpError::invalid_params(
        if ran.stderr.trim().is_empty() {
            format!("aiaudit exited with {}", ran.code)
        } else {
            ran.stderr.trim().to_owned()
        },
        Some(json!({"exit_code": ran.code})),
    )
}

/// A refusal the agent can act on: an `isError` result with the command's own message.
fn refused(ran: &Ran) -> CallToolResult {
    CallToolResult::structured_error(json!({
        "error": ran.stderr.trim(),
        "exit_code": ran.code,
    }))
}

/// Runs blocking work off the protocol's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, McpError> + Send + 'static,
) -> Result<T, McpError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| McpError::internal_error(format!("tool task failed: {e}"), None))?
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ContextInput {
    /// What the input is: `retrieved-document`, `file`, `ticket`, `dataset`,
    /// `system-instructions` or `other`.
    kind: String,
    /// Its name (a file name, a document title).
    name: String,
    /// Its content: hashed into the record, never stored.
    content: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecordParams {
    /// The action kind: `production-change`, `access-change`, `secret-retrieval`,
    /// `config-change`, `data-access`, `code-merge` or `other`.
    action: String,
    /// The system acted on, e.g. `aws:prod` or `k8s:prod/payments`.
    system: String,
    /// What the action does, in plain words, for the approver.
    summary: String,
    /// The exact command to run, word by word (no shell): approvers sign exactly this, and
    /// `aiaudit exec ID -- COMMAND…` runs only exactly this.
    #[serde(default)]
    command: Vec<String>,
    /// The resource inside the system (a role, a database, a secret path).
    #[serde(default)]
    resource: Option<String>,
    /// The change reference (a ticket, a pull request).
    #[serde(default)]
    change: Option<String>,
    /// Identities the action touches.
    #[serde(default)]
    identities: Vec<String>,
    /// Secrets the action touches, by reference (a vault path), never by value.
    #[serde(default)]
    secret_refs: Vec<String>,
    /// The model, pinned: PROVIDER/NAME@VERSION (e.g. `anthropic/claude-sonnet-4@20250514`).
    model: String,
    /// The agent framework and its version.
    #[serde(default)]
    framework: Option<String>,
    /// The model's part: `suggested`, `changed` or `initiated` (default `initiated`).
    #[serde(default)]
    ai_role: Option<String>,
    /// The request the agent acts on (the user's prompt): hashed, never stored.
    prompt: String,
    /// Other inputs that informed the model: hashed, never stored.
    #[serde(default)]
    context: Vec<ContextInput>,
    /// The model's recommendation, summarised for the approver.
    recommendation: String,
    /// The model's full output (hashed, never stored); defaults to the recommendation.
    #[serde(default)]
    output: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct IdParams {
    /// The decision id `record_decision` returned.
    id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    /// The decision id `record_decision` returned.
    id: String,
    /// How long to wait at most, in seconds (capped by the server's --max-wait); then the
    /// answer is `pending` and the agent may call again.
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct OutcomeParams {
    /// The decision id.
    id: String,
    /// `executed`, `failed`, `aborted` or `rolled-back`.
    status: String,
    /// What was done, e.g. `restarted payments-api`.
    action: String,
    /// The system's own reference (a change id, a grant id).
    #[serde(default)]
    reference: Option<String>,
    /// When the execution began and ended, RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    finished: Option<String>,
    /// The command's exit code, where there was one.
    #[serde(default)]
    exit_code: Option<i64>,
    /// The system's result in its own words, one line.
    #[serde(default)]
    result: Option<String>,
}

#[derive(Clone)]
struct Server {
    ctx: Arc<Ctx>,
}

#[tool_router]
impl Server {
    #[tool(
        description = "Record a decision before acting: what the action is (ideally the exact command), what informed the model and what it recommends. It becomes a proposal, signed with the agent's key and pushed; approvers sign exactly it. Returns its id and what it still needs. Nothing runs until it is approved: then `aiaudit exec ID -- COMMAND` runs exactly the approved command."
    )]
    async fn record_decision(
        &self,
        Parameters(p): Parameters<RecordParams>,
    ) -> Result<CallToolResult, McpError> {
        let ctx = self.ctx.clone();
        blocking(move || {
            let doc = intake_document(&ctx.principal, &p);
            let args: Vec<OsString> =
                vec!["record".into(), "--from".into(), "-".into(), "--json".into()];
            let ran = ctx.run_signed(args, Some(doc.to_string().into_bytes()))?;
            if ran.code != EXIT_OK {
                return Ok(refused(&ran));
            }
            let rec: Value = serde_json::from_str(&ran.stdout).map_err(|e| {
                McpError::internal_error(format!("record's answer is not JSON: {e}"), None)
            })?;
            let id = rec["id"].as_str().unwrap_or_default().to_owned();
            let status = ctx.status(&id)?;
            Ok(CallToolResult::structured(json!({
                "id": id,
                "state": status["state"],
                "needs": status["needs"],
                "risk": rec["risk"],
                "rule": rec["rule"],
                "requires": rec["requires"],
                "proposal": rec["ref"],
                "next": format!(
                    "an approver reviews and approves it (`aiaudit approve {id} --push`); wait with wait_for_approval, then run it with `aiaudit exec {id} -- COMMAND`"
                ),
            })))
        })
        .await
    }

    #[tool(
        description = "Where a decision stands: `approved` (on main, the ledger verifies and its approvals meet the policy now, so `aiaudit exec` runs its command), `pending` (with what it still needs: which approvals, from which groups), `refused` (no longer meets its policy, e.g. an approver's key was revoked) or `unknown`; with the outcomes recorded."
    )]
    async fn decision_status(
        &self,
        Parameters(p): Parameters<IdParams>,
    ) -> Result<CallToolResult, McpError> {
        let ctx = self.ctx.clone();
        blocking(move || Ok(CallToolResult::structured(ctx.status(&p.id)?))).await
    }

    #[tool(
        description = "Wait until a decision is approved, at most `timeout_seconds` (capped by the server). Answers with the decision's status: `approved`, or `pending` with what it still needs when the time is up (call again to keep waiting)."
    )]
    async fn wait_for_approval(
        &self,
        Parameters(p): Parameters<WaitParams>,
    ) -> Result<CallToolResult, McpError> {
        let ctx = self.ctx.clone();
        blocking(move || {
            let secs = p
                .timeout_seconds
                .unwrap_or(ctx.max_wait.as_secs())
                .clamp(1, ctx.max_wait.as_secs().max(1));
            let mut args: Vec<OsString> = vec![
                "await".into(),
                p.id.clone().into(),
                "--timeout".into(),
                format!("{secs}s").into(),
            ];
            args.extend(ctx.remote.iter().cloned());
            let ran = ctx.run(args, None)?;
            if ran.code > super::EXIT_VIOLATIONS {
                return Ok(refused(&ran));
            }
            Ok(CallToolResult::structured(ctx.status(&p.id)?))
        })
        .await
    }

    #[tool(
        description = "Record the outcome of an approved decision's action, signed by the agent as its executor, with its evidence (times, exit code, result), and push it. `aiaudit exec` records this itself when it runs the command; use this tool for actions taken another way."
    )]
    async fn record_outcome(
        &self,
        Parameters(p): Parameters<OutcomeParams>,
    ) -> Result<CallToolResult, McpError> {
        let ctx = self.ctx.clone();
        blocking(move || {
            let mut args: Vec<OsString> = vec![
                "outcome".into(),
                p.id.clone().into(),
                "--status".into(),
                p.status.into(),
                "--action".into(),
                p.action.into(),
            ];
            for (flag, v) in [
                ("--reference", p.reference),
                ("--started", p.started),
                ("--finished", p.finished),
                ("--result", p.result),
                ("--exit-code", p.exit_code.map(|c| c.to_string())),
            ] {
                if let Some(v) = v {
                    args.push(format!("{flag}={v}").into());
                }
            }
            let ran = ctx.run_signed(args, None)?;
            if ran.code != EXIT_OK {
                return Ok(refused(&ran));
            }
            let status = ctx.status(&p.id)?;
            Ok(CallToolResult::structured(json!({
                "id": p.id,
                "recorded": ran.stdout.trim(),
                "outcomes": status["outcomes"],
            })))
        })
        .await
    }
}

#[tool_handler(
    name = "aiaudit",
    instructions = "Records the accountability chain of privileged actions in a signed git audit ledger. Before a privileged action, call record_decision with the exact command; wait_for_approval (or decision_status) until it is approved; then run it through `aiaudit exec ID -- COMMAND`, which refuses anything not approved. This server cannot approve or run anything."
)]
impl ServerHandler for Server {}

/// The intake document (`aiaudit/intake/v1`) the tool's parameters describe.
fn intake_document(principal: &str, p: &RecordParams) -> Value {
    let mut action = json!({
        "kind": p.action,
        "target": {"system": p.system},
        "summary": p.summary,
    });
    if let Some(r) = &p.resource {
        action["target"]["resource"] = json!(r);
    }
    if let Some(c) = &p.change {
        action["target"]["change"] = json!(c);
    }
    for (k, v) in [
        ("identities", &p.identities),
        ("secrets", &p.secret_refs),
        ("command", &p.command),
    ] {
        if !v.is_empty() {
            action[k] = json!(v);
        }
    }
    // PROVIDER/NAME@VERSION; a malformed one is passed as given and refused by `record`.
    let (pn, version) = p.model.rsplit_once('@').unwrap_or((&p.model, ""));
    let (provider, name) = pn.split_once('/').unwrap_or(("", pn));
    let mut ai = json!({
        "role": p.ai_role.as_deref().unwrap_or("initiated"),
        "model": {"provider": provider, "name": name, "version": version},
    });
    if let Some(f) = &p.framework {
        ai["framework"] = json!(f);
    }
    let mut context = vec![json!({"kind": "prompt", "name": "prompt", "content": p.prompt})];
    context.extend(
        p.context
            .iter()
            .map(|c| json!({"kind": c.kind, "name": c.name, "content": c.content})),
    );
    json!({
        "schema": crate::intake::INTAKE_SCHEMA,
        "initiator": {"id": principal},
        "action": action,
        "ai": ai,
        "context": context,
        "recommendation": {
            "summary": p.recommendation,
            "output": p.output.as_deref().unwrap_or(&p.recommendation),
        },
    })
}

pub fn run(cwd: &Path, a: McpArgs) -> CliResult {
    let store = util::open(cwd)?;
    let max_wait = super::exec::timeout(&a.max_wait)?;
    let (principal, fpr) = agent_principal(&store, &a.signer, "an MCP server")?;
    let ctx = Ctx {
        exe: std::env::current_exe().map_err(CliError::internal)?,
        repo: absolute(cwd, Path::new(".")),
        signer: signer_flags(cwd, &a.signer),
        remote: remote_flags(&a.remote),
        push: a.remote.remote(&store),
        principal,
        max_wait,
    };
    errln!(
        "aiaudit mcp: serving on standard input and output as `{}` (key {fpr})",
        ctx.principal
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::internal)?;
    rt.block_on(async move {
        use rmcp::ServiceExt as _;
        let service = Server { ctx: Arc::new(ctx) }
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| CliError::internal(anyhow!("MCP session failed to start: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| CliError::internal(anyhow!("MCP session ended abnormally: {e}")))?;
        Ok(EXIT_OK)
    })
}

pub(super) fn absolute(cwd: &Path, p: &Path) -> std::path::PathBuf {
    let p = cwd.join(p);
    std::fs::canonicalize(&p).unwrap_or(p)
}
