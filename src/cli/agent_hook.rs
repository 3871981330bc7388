//! `aiaudit agent-hook claude-code`: a coding agent's pre-tool hook that routes privileged
//! shell commands through a decision and `aiaudit exec`.
//!
//! Claude Code runs the hook before each tool call with the call on standard input
//! (PreToolUse, <https://code.claude.com/docs/en/hooks>). A shell command that no rule calls
//! privileged passes untouched (exit 0, no output: the agent's own permission flow decides). A
//! privileged one is recorded as a decision naming its exact words — signed by the agent's
//! key, pushed as a proposal — and never run as written: with `--mode rewrite` the hook
//! answers `allow` with the command replaced by `aiaudit exec --wait … ID -- WORDS`, which
//! waits for the approval and runs exactly the approved words; with `--mode deny` it refuses
//! the call and tells the agent the decision id and that command. `aiaudit exec` by this
//! binary's absolute path passes untouched (it is the gate). The hook itself never waits
//! (a hook that times out lets the call through). A privileged line that is not one simple
//! command (pipes, `;`, `&&`, redirections, expansions) is denied: its words are not known
//! before it runs. Anything that goes wrong exits 2, which blocks the call.

use super::exec::RemoteArgs;
use super::mcp::{absolute, agent_principal, remote_flags, run_self, signer_flags};
use super::util::{self, SignerArgs};
use super::{outln, CliError, CliResult, EXIT_OK};
use crate::text::{command_pieces, shell_words, simple_command};
use anyhow::anyhow;
use serde::Deserialize;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Gate a coding agent's privileged shell commands through a decision and `exec`
///
/// Privileged commands (by --rules) are recorded as a decision and run only through `aiaudit
/// exec` once approved. Speaks Claude Code's PreToolUse hook
/// protocol on standard input and output; exit 2 (blocking) on any error. See docs/agents.md.
#[derive(Debug, clap::Args)]
pub struct AgentHookArgs {
    /// The agent whose hook protocol is spoken.
    #[arg(value_enum)]
    pub agent: Agent,
    /// Which shell commands are privileged and what they act on: a YAML file
    /// (examples/agents/privileged.yaml).
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// The model the agent runs, pinned: PROVIDER/NAME@VERSION.
    #[arg(
        long,
        value_name = "PROVIDER/NAME@VERSION",
        env = "AIAUDIT_AGENT_MODEL"
    )]
    pub model: String,
    /// The agent framework and its version, for the record.
    #[arg(long, value_name = "NAME", default_value = "claude-code")]
    pub framework: String,
    /// `rewrite`: allow the call with the command replaced by `aiaudit exec --wait`;
    /// `deny`: refuse it and tell the agent the `aiaudit exec` command to run.
    #[arg(long, value_enum, default_value = "rewrite")]
    pub mode: Mode,
    /// How long the rewritten command waits for the approval (keep it under the agent's tool
    /// timeout, 10 minutes for Claude Code's Bash tool).
    #[arg(long, value_name = "TIMEOUT", default_value = "9m")]
    pub wait: String,
    /// The agent's key: signs the record and, through `exec`, the outcome.
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Agent {
    /// Claude Code's PreToolUse hook (JSON on standard input, `hookSpecificOutput` out).
    ClaudeCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Rewrite,
    Deny,
}

/// The rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    privileged: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    /// A regular expression matched against each command a line may run.
    #[serde(rename = "match")]
    pattern: String,
    /// The decision's action kind.
    action: String,
    /// The system acted on.
    system: String,
    /// The resource inside it, if one is fixed.
    #[serde(default)]
    resource: Option<String>,
}

struct Rule {
    spec: RuleSpec,
    re: regex::Regex,
}

const MAX_RULES_BYTES: u64 = 1024 * 1024;
const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

fn load_rules(path: &Path) -> CliResult<Vec<Rule>> {
    let bad = |m: String| CliError::usage(anyhow!("{}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_RULES_BYTES {
        return Err(bad(format!("larger than {MAX_RULES_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let rules: Rules = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    rules
        .privileged
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            if crate::record::ActionKind::parse(&spec.action).is_none() {
                return Err(bad(format!(
                    "privileged[{i}].action: unknown action kind `{}`",
                    spec.action
                )));
            }
            let re = regex::Regex::new(&spec.pattern)
                .map_err(|e| bad(format!("privileged[{i}].match: {e}")))?;
            Ok(Rule { spec, re })
        })
        .collect()
}

/// The rule a line falls under: the first whose pattern matches the whole line or any command
/// it may run.
fn privileged<'r>(rules: &'r [Rule], line: &str) -> Option<(usize, &'r Rule)> {
    let pieces = command_pieces(line);
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.re.is_match(line) || pieces.iter().any(|p| r.re.is_match(p)))
}

/// Whether `words` call `aiaudit exec` — this very binary by its absolute path, as the rewrite
/// writes it: a program merely *named* `aiaudit` could be anything the agent wrote.
fn is_exec(words: &[String], exe: &Path) -> bool {
    let program = Path::new(&words[0]);
    let ours = program.is_absolute()
        && (program == exe
            || std::fs::canonicalize(program)
                .ok()
                .zip(std::fs::canonicalize(exe).ok())
                .is_some_and(|(a, b)| a == b));
    // `aiaudit [-C DIR] exec …`
    let rest: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let sub = match rest.as_slice() {
        ["-C" | "--repo", _, sub, ..] => Some(*sub),
        [first, sub, ..] if first.starts_with("--repo=") => Some(*sub),
        [sub, ..] => Some(*sub),
        [] => None,
    };
    ours && sub == Some("exec")
}

/// The hook's answer: `decision` with `reason`, and the replaced tool input, if any.
fn answer(decision: &str, reason: &str, updated: Option<Value>) -> Value {
    let mut out = json!({
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    });
    if let Some(u) = updated {
        out["updatedInput"] = u;
    }
    json!({ "hookSpecificOutput": out })
}

pub fn run(cwd: &Path, a: AgentHookArgs) -> CliResult {
    // Every failure blocks the call: Claude Code lets a call through on any exit but 2.
    // (A closed standard output too: the kind is forced to the one exit code that blocks.)
    gate(cwd, &a).map_err(|e| CliError {
        kind: super::ErrorKind::Usage,
        error: anyhow!("aiaudit agent-hook: {:#}; the command was blocked", e.error),
        ..e
    })
}

fn gate(cwd: &Path, a: &AgentHookArgs) -> CliResult {
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut input)?;
    if input.len() as u64 > MAX_INPUT_BYTES {
        return Err(CliError::usage(anyhow!(
            "the hook input is larger than {MAX_INPUT_BYTES} bytes"
        )));
    }
    let call: Value = serde_json::from_slice(&input)
        .map_err(|e| CliError::usage(anyhow!("the hook input is not JSON: {e}")))?;
    let field = |k: &str| call.get(k).and_then(Value::as_str);
    if field("hook_event_name") != Some("PreToolUse") || field("tool_name") != Some("Bash") {
        return Ok(EXIT_OK);
    }
    let tool_input = call
        .get("tool_input")
        .filter(|v| v.is_object())
        .ok_or_else(|| CliError::usage(anyhow!("tool_input is missing or not an object")))?;
    let line = tool_input
        .get("command")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::usage(anyhow!("tool_input.command is missing")))?;
    let rules = load_rules(&absolute(cwd, &a.rules))?;
    let exe = std::env::current_exe().map_err(CliError::internal)?;
    let simple = simple_command(line);
    if let Ok(words) = &simple {
        if is_exec(words, &exe) {
            return Ok(EXIT_OK); // `aiaudit exec` is the gate itself
        }
    }
    let Some((index, rule)) = privileged(&rules, line) else {
        return Ok(EXIT_OK);
    };
    let words = match simple {
        Ok(w) => w,
        Err(why) => {
            let reason = format!(
                "`{line}` is privileged (rule privileged[{index}] `{}`), but it is not one simple command: it has {why}. Run each privileged command on its own, without shell syntax, so that the approved words are exactly what runs.",
                rule.spec.pattern
            );
            outln!("{}", answer("deny", &reason, None));
            return Ok(EXIT_OK);
        }
    };
    let store = util::open(cwd)?;
    let (principal, _) = agent_principal(&store, &a.signer, "the agent hook")?;
    let description = tool_input
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty());
    let shown = shell_words(&words);
    let summary = description
        .map(|d| format!("{d}: `{shown}`"))
        .unwrap_or_else(|| format!("Run `{shown}`"));
    // What informed the model: the session's transcript so far, by digest only (it may quote
    // anything), and the tool call the model made.
    let mut context = Vec::new();
    if let Some(t) = field("transcript_path").map(PathBuf::from) {
        if let Ok(bytes) = std::fs::read(&t) {
            context.push(json!({
                "kind": "prompt",
                "name": "transcript",
                "sha256": crate::record::digest::sha256_hex(&bytes),
                "size": bytes.len(),
            }));
        }
    }
    let tool_call = tool_input.to_string();
    context.push(json!({"kind": "other", "name": "tool_input", "content": tool_call}));
    let model = super::record::parse_model(&a.model)
        .map_err(|e| CliError::usage(anyhow!("--model `{}`: {e}", a.model)))?;
    let mut target = json!({"system": rule.spec.system});
    if let Some(r) = &rule.spec.resource {
        target["resource"] = json!(r);
    }
    let doc = json!({
        "schema": crate::intake::INTAKE_SCHEMA,
        "initiator": {"id": principal},
        "action": {
            "kind": rule.spec.action,
            "target": target,
            "summary": summary,
            "command": words,
        },
        "ai": {
            "role": "initiated",
            "model": {"provider": model.provider, "name": model.name, "version": model.version},
            "framework": a.framework,
        },
        "context": context,
        "recommendation": {
            "summary": description.unwrap_or("run the command"),
            "output": tool_call,
        },
    });
    let repo = absolute(cwd, Path::new("."));
    let mut args: Vec<OsString> = vec![
        "record".into(),
        "--from".into(),
        "-".into(),
        "--json".into(),
    ];
    if let Some(r) = a.remote.remote(&store) {
        args.push(format!("--push={r}").into());
    }
    args.extend(signer_flags(cwd, &a.signer));
    let ran = run_self(&exe, &repo, &args, Some(doc.to_string().into_bytes()))
        .map_err(|e| CliError::internal(anyhow!("cannot run aiaudit record: {e}")))?;
    if ran.code != EXIT_OK {
        return Err(CliError::usage(anyhow!(
            "recording a decision for `{shown}` failed: {}",
            ran.stderr.trim()
        )));
    }
    let rec: Value = serde_json::from_str(&ran.stdout)
        .map_err(|e| CliError::internal(anyhow!("record's answer is not JSON: {e}")))?;
    let id = rec["id"].as_str().unwrap_or_default();
    super::exec::timeout(&a.wait)?;
    let mut exec: Vec<String> = vec![
        exe.to_string_lossy().into_owned(),
        "-C".into(),
        repo.to_string_lossy().into_owned(),
        "exec".into(),
        id.into(),
        "--wait".into(),
        a.wait.clone(),
    ];
    exec.extend(
        remote_flags(&a.remote)
            .into_iter()
            .chain(signer_flags(cwd, &a.signer))
            .map(|f| f.to_string_lossy().into_owned()),
    );
    exec.push("--".into());
    exec.extend(words.iter().cloned());
    let exec_line = shell_words(&exec);
    let needs = rec["requires"].to_string();
    match a.mode {
        Mode::Rewrite => {
            let mut updated = tool_input.clone();
            updated["command"] = json!(exec_line);
            // The Bash tool's own limit: 10 minutes.
            updated["timeout"] = json!(600_000);
            let reason = format!(
                "aiaudit recorded decision {id} for `{shown}` (needs {needs}); the command runs only through `aiaudit exec`, once approved"
            );
            outln!("{}", answer("allow", &reason, Some(updated)));
        }
        Mode::Deny => {
            let reason = format!(
                "`{shown}` is privileged: aiaudit recorded decision {id}, which an approver must approve (needs {needs}). Do not run the command directly; run exactly this, which waits for the approval and then runs it: {exec_line}"
            );
            outln!("{}", answer("deny", &reason, None));
        }
    }
    Ok(EXIT_OK)
}
