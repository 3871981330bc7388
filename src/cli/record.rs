//! `aiaudit record`: build a decision, commit it to `refs/heads/proposals/<id>`.

use super::util::{self, committer, main_base, person, unix};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::{Checker, MAIN_REF, PROPOSALS_PREFIX};
use crate::policy::Policy;
use crate::record::{
    self, canonical::to_canonical_yaml, digest, ActionKind, Agent, Ai, AiRole, Context,
    ContextEntry, ContextKind, Decision, Initiator, Model, Recommendation, Target, DECISION_SCHEMA,
};
use crate::store::{Change, ChangeKind, Entry, EntryKind};
use crate::trailers;
use anyhow::anyhow;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Record an AI-assisted decision as a proposal awaiting approval.
///
/// Every context input is hashed into the record (content is not stored); the context digest,
/// the id, the creation time and the risk (from the policy) are filled in. The decision is
/// committed with its trailers to refs/heads/proposals/<id>; nothing else changes.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Read the decision from a JSON or YAML document (`-` for standard input). `schema`, `id`,
    /// `created`, `risk` and `context.digest` may be left out and are filled in; the other
    /// flags describing the decision cannot be combined with it.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,

    /// The initiating principal's id (kind, owner and name come from the policy).
    #[arg(long, value_name = "ID", env = "AIAUDIT_INITIATOR")]
    pub initiator: Option<String>,
    /// The forge login of the initiator, where known.
    #[arg(long, value_name = "LOGIN")]
    pub forge_login: Option<String>,

    /// The action kind.
    #[arg(long, value_name = "KIND", value_parser = parse_action)]
    pub action: Option<ActionKind>,
    /// The system acted on, e.g. `aws:prod` or `github.com/acme/payments`.
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,
    /// The repository, for code changes.
    #[arg(long = "target-repo", value_name = "REPO")]
    pub target_repo: Option<String>,
    /// The change reference (pull request, change ticket).
    #[arg(long, value_name = "REF")]
    pub change: Option<String>,
    /// The resource inside the system (role, database, secret path).
    #[arg(long, value_name = "RESOURCE")]
    pub resource: Option<String>,
    /// One or more lines saying what the action does.
    #[arg(long, value_name = "TEXT")]
    pub summary: Option<String>,
    /// An identity the action touches (repeatable).
    #[arg(long = "identity", value_name = "ID")]
    pub identities: Vec<String>,
    /// A secret the action touches, by reference: a vault path or secret name, never a value
    /// (repeatable).
    #[arg(long = "secret-ref", value_name = "REF")]
    pub secrets: Vec<String>,
    /// A dataset the action touches (repeatable).
    #[arg(long = "dataset", value_name = "NAME")]
    pub datasets: Vec<String>,

    /// What the model did: suggested, changed or initiated the action.
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub ai_role: Option<AiRole>,
    /// The model, pinned: PROVIDER/NAME@VERSION (floating versions such as `latest` are refused).
    #[arg(long, value_name = "PROVIDER/NAME@VERSION", value_parser = parse_model)]
    pub model: Option<Model>,
    /// The tool or agent framework and its version.
    #[arg(long, value_name = "NAME")]
    pub framework: Option<String>,
    /// An agent of a multi-agent flow: ID:ROLE or ID:ROLE:PROVIDER/NAME@VERSION (repeatable).
    #[arg(long = "agent", value_name = "ID:ROLE[:MODEL]", value_parser = parse_agent)]
    pub agents: Vec<Agent>,

    /// The prompt (a file, `-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub prompt: Option<PathBuf>,
    /// System instructions given to the model.
    #[arg(long, value_name = "FILE")]
    pub system_instructions: Option<PathBuf>,
    /// A context input: KIND=FILE, KIND one of retrieved-document, file, ticket, dataset,
    /// other (repeatable).
    #[arg(long = "context", value_name = "KIND=FILE")]
    pub context: Vec<String>,
    /// A tool call: NAME=ARGS_FILE,RESULT_FILE (repeatable).
    #[arg(long = "tool-call", value_name = "NAME=ARGS,RESULT")]
    pub tool_calls: Vec<String>,
    /// The model's full output (only its digest and size are recorded).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A summary of the model's recommendation.
    #[arg(long, value_name = "TEXT")]
    pub recommendation: Option<String>,

    /// The creation time (RFC 3339, UTC); defaults to now.
    #[arg(long, value_name = "TIME")]
    pub created: Option<String>,
    /// Land the decision on main at once instead of proposing it. Only for decisions whose
    /// policy rule says `approval: post` (reviewed after the fact, within a deadline).
    #[arg(long)]
    pub land: bool,
    /// Push the proposal (or, with --land, main) to this remote.
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin")]
    pub push: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_action(s: &str) -> Result<ActionKind, String> {
    ActionKind::parse(s).ok_or_else(|| {
        format!(
            "unknown action kind; one of: {}",
            ActionKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn parse_role(s: &str) -> Result<AiRole, String> {
    AiRole::parse(s).ok_or_else(|| "one of: suggested, changed, initiated".into())
}

/// PROVIDER/NAME@VERSION.
pub fn parse_model(s: &str) -> Result<Model, String> {
    let (pn, version) = s
        .rsplit_once('@')
        .ok_or("expected PROVIDER/NAME@VERSION (no @VERSION)")?;
    let (provider, name) = pn
        .split_once('/')
        .ok_or("expected PROVIDER/NAME@VERSION (no PROVIDER/)")?;
    if provider.is_empty() || name.is_empty() || version.is_empty() {
        return Err("expected PROVIDER/NAME@VERSION with all three parts".into());
    }
    if record::is_floating_version(version) {
        return Err(format!(
            "`{version}` is a floating alias; pin the exact model version"
        ));
    }
    Ok(Model {
        provider: provider.into(),
        name: name.into(),
        version: version.into(),
    })
}

fn parse_agent(s: &str) -> Result<Agent, String> {
    let mut parts = s.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let role = parts
        .next()
        .ok_or("expected ID:ROLE[:PROVIDER/NAME@VERSION]")?;
    let model = parts.next().map(parse_model).transpose()?;
    Ok(Agent {
        id: id.into(),
        role: role.into(),
        model,
    })
}

pub fn run(cwd: &Path, a: RecordArgs) -> CliResult {
    let store = util::open(cwd)?;
    let now = util::now()?;
    let base = main_base(&store)?;
    let mut checker = Checker::new(&store, now);
    let policy = util::policy_at(&mut checker, base.tree)?;
    let mut d = match &a.from {
        Some(path) => from_document(&a, path, now)?,
        None => from_flags(&a, &policy, now)?,
    };
    // Derived, never chosen: the context digest and the risk.
    d.context.digest = digest::context_digest(&d.context.entries);
    d.risk = policy.verdict(&d).risk;
    let verdict = policy.verdict(&d);
    let path = record::decision_path(&d).ok_or_else(|| {
        CliError::usage(anyhow!(
            "id `{}` / created `{}` do not form a record path",
            d.id,
            d.created
        ))
    })?;
    let text = to_canonical_yaml(&d).map_err(CliError::internal)?;

    let principal = policy.principal(&d.initiator.id);
    let author = person(
        principal
            .and_then(|p| p.name.as_deref())
            .unwrap_or(&d.initiator.id),
        &principal
            .and_then(|p| p.email.clone())
            .unwrap_or_else(|| format!("{}@principals.invalid", d.initiator.id)),
        unix(now),
    );
    let committer = committer(&store, &author);
    let tree = store.tree_with_files(
        Some(base.tree),
        &[(path.clone(), text.clone().into_bytes())],
    )?;
    let message = trailers::decision_message(&d, &[]);
    let commit = store.write_commit(tree, &[base.id], &author, &committer, &message)?;

    // Judge the proposal with the server's rules before any ref moves.
    let blob = store.write_blob(text.as_bytes())?;
    let change = Change {
        path: path.clone(),
        kind: ChangeKind::Added,
        old: None,
        new: Some(Entry {
            kind: EntryKind::Blob,
            oid: blob,
        }),
    };
    let (_, diags) = checker.check_decision_commit(&store.commit(commit)?, &base, &change, false);
    util::refuse_on_errors(
        &diags,
        CliError::violations(anyhow!("the decision is not valid; nothing was recorded")),
    )?;
    if a.land && verdict.approval != crate::policy::Approval::Post {
        return Err(CliError::usage(anyhow!(
            "policy rule `{}` requires pre-approval; --land is only for `approval: post` rules",
            verdict.rule
        )));
    }
    let refname = if a.land {
        let (_, diags) = checker.check_main_commit(&store.commit(commit)?, Some(&base));
        util::refuse_on_errors(
            &diags,
            CliError::violations(anyhow!(
                "the decision would be rejected on main; nothing was recorded"
            )),
        )?;
        let local = store.ref_target(MAIN_REF)?;
        store.update_ref(MAIN_REF, commit, local, "record (post-action review)")?;
        MAIN_REF.to_owned()
    } else {
        let r = format!("{PROPOSALS_PREFIX}{}", d.id);
        store.update_ref(&r, commit, None, "record")?;
        r
    };
    if let Some(remote) = &a.push {
        util::git_push(&store, remote, &[format!("{commit}:{refname}")])?;
    }
    let needs: Vec<String> = verdict.require.iter().map(|q| q.describe()).collect();
    if a.json {
        let out = json!({
            "id": d.id,
            "path": path,
            "ref": refname,
            "commit": commit.to_string(),
            "risk": d.risk.as_str(),
            "rule": verdict.rule,
            "approval": verdict.approval.as_str(),
            "requires": needs,
            "pushed": a.push,
        });
        println!("{out}");
    } else {
        println!("{}", d.id);
        eprintln!(
            "recorded decision {} ({} on {})",
            d.id,
            d.action.kind.as_str(),
            d.action.target.system
        );
        eprintln!("  file:   {path}");
        eprintln!(
            "  ref:    {refname}{}",
            a.push
                .as_ref()
                .map(|r| format!(" (pushed to {r})"))
                .unwrap_or_default()
        );
        eprintln!(
            "  risk:   {} (policy rule `{}`)",
            d.risk.as_str(),
            verdict.rule
        );
        eprintln!(
            "  needs:  {} ({}-approval)",
            needs.join(" AND "),
            verdict.approval.as_str()
        );
        if a.land {
            eprintln!(
                "next: a reviewer runs `aiaudit review {}` within {}",
                d.id,
                verdict.review_within.as_deref().unwrap_or("the deadline")
            );
        } else {
            eprintln!("next: an approver runs `aiaudit approve {}`", d.id);
        }
    }
    Ok(EXIT_OK)
}

fn new_id(now: std::time::SystemTime, created: &Option<String>) -> CliResult<(String, String)> {
    let ts = match created {
        Some(c) => record::parse_created(c).ok_or_else(|| {
            CliError::usage(anyhow!(
                "--created `{c}` is not RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ`"
            ))
        })?,
        None => jiff::Timestamp::try_from(now).map_err(CliError::internal)?,
    };
    let secs = ts.as_second();
    let created =
        record::format_created(jiff::Timestamp::from_second(secs).map_err(CliError::internal)?);
    // The id's timestamp is the creation second; the random part keeps ids unique.
    let ms = secs as u64 * 1000 + (ts.subsec_millisecond() as u64);
    let id = ulid::Ulid::from_parts(ms, rand_u128()).to_string();
    Ok((id, created))
}

fn rand_u128() -> u128 {
    ulid::Ulid::new().random()
}

fn entry_for(kind: ContextKind, path: &Path) -> CliResult<ContextEntry> {
    let data = util::read_input(path)?;
    let name = if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    };
    Ok(ContextEntry {
        kind,
        name,
        uri: None,
        size: data.len() as u64,
        sha256: digest::sha256_hex(&data),
        arguments_sha256: None,
    })
}

fn from_flags(a: &RecordArgs, policy: &Policy, now: std::time::SystemTime) -> CliResult<Decision> {
    let missing =
        |flag: &str| CliError::usage(anyhow!("missing {flag}")).hint("see `aiaudit record --help`");
    let initiator_id = a.initiator.clone().ok_or_else(|| missing("--initiator"))?;
    let p = policy.principal(&initiator_id).ok_or_else(|| {
        CliError::usage(anyhow!(
            "initiator `{initiator_id}` is not a principal of the policy"
        ))
        .hint("an admin adds it with `aiaudit principal add`")
    })?;
    let mut entries = Vec::new();
    if let Some(pth) = &a.prompt {
        entries.push(entry_for(ContextKind::Prompt, pth)?);
    }
    if let Some(pth) = &a.system_instructions {
        entries.push(entry_for(ContextKind::SystemInstructions, pth)?);
    }
    for c in &a.context {
        let (k, f) = c
            .split_once('=')
            .ok_or_else(|| CliError::usage(anyhow!("--context `{c}`: expected KIND=FILE")))?;
        let kind = ContextKind::parse(k)
            .ok_or_else(|| CliError::usage(anyhow!("--context `{c}`: unknown kind `{k}`")))?;
        entries.push(entry_for(kind, Path::new(f))?);
    }
    for t in &a.tool_calls {
        let (name, files) = t.split_once('=').ok_or_else(|| {
            CliError::usage(anyhow!(
                "--tool-call `{t}`: expected NAME=ARGS_FILE,RESULT_FILE"
            ))
        })?;
        let (args_f, result_f) = files.split_once(',').ok_or_else(|| {
            CliError::usage(anyhow!(
                "--tool-call `{t}`: expected NAME=ARGS_FILE,RESULT_FILE"
            ))
        })?;
        let args = util::read_input(Path::new(args_f))?;
        let mut e = entry_for(ContextKind::ToolCall, Path::new(result_f))?;
        e.name = name.to_owned();
        e.arguments_sha256 = Some(digest::sha256_hex(&args));
        entries.push(e);
    }
    if entries.is_empty() {
        return Err(missing("context: at least --prompt FILE"));
    }
    let output = match &a.output {
        Some(p) => util::read_input(p)?,
        None => return Err(missing("--output FILE (the model's full output)")),
    };
    let (id, created) = new_id(now, &a.created)?;
    Ok(Decision {
        schema: DECISION_SCHEMA.into(),
        id,
        created,
        initiator: Initiator {
            id: p.id.clone(),
            kind: p.kind,
            name: p.name.clone(),
            owner: p.owner.clone(),
            forge_login: a.forge_login.clone(),
        },
        action: crate::record::Action {
            kind: a.action.ok_or_else(|| missing("--action KIND"))?,
            target: Target {
                system: a.system.clone().ok_or_else(|| missing("--system SYSTEM"))?,
                repo: a.target_repo.clone(),
                change: a.change.clone(),
                resource: a.resource.clone(),
            },
            summary: a.summary.clone().ok_or_else(|| missing("--summary TEXT"))?,
            identities: a.identities.clone(),
            secrets: a.secrets.clone(),
            datasets: a.datasets.clone(),
        },
        ai: Ai {
            role: a.ai_role.ok_or_else(|| missing("--ai-role ROLE"))?,
            model: a
                .model
                .clone()
                .ok_or_else(|| missing("--model PROVIDER/NAME@VERSION"))?,
            framework: a.framework.clone(),
            agents: a.agents.clone(),
        },
        context: Context {
            digest: String::new(),
            entries,
        },
        recommendation: Recommendation {
            summary: a
                .recommendation
                .clone()
                .ok_or_else(|| missing("--recommendation TEXT"))?,
            sha256: digest::sha256_hex(&output),
            size: output.len() as u64,
        },
        risk: crate::record::Risk::Low,
    })
}

fn from_document(a: &RecordArgs, path: &Path, now: std::time::SystemTime) -> CliResult<Decision> {
    let conflicting = a.action.is_some()
        || a.system.is_some()
        || a.summary.is_some()
        || a.model.is_some()
        || a.ai_role.is_some()
        || a.prompt.is_some()
        || a.output.is_some()
        || a.recommendation.is_some()
        || !a.context.is_empty()
        || !a.tool_calls.is_empty();
    if conflicting {
        return Err(CliError::usage(anyhow!(
            "--from cannot be combined with flags describing the decision"
        )));
    }
    let bytes = util::read_input(path)?;
    if bytes.len() > record::MAX_RECORD_BYTES {
        return Err(CliError::usage(anyhow!(
            "{}: larger than {} bytes",
            path.display(),
            record::MAX_RECORD_BYTES
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| CliError::usage(anyhow!("{}: not UTF-8: {e}", path.display())))?;
    let mut v: Value = serde_yaml::from_str(text)
        .map_err(|e| CliError::usage(anyhow!("{}: {e}", path.display())))?;
    let obj = v.as_object_mut().ok_or_else(|| {
        CliError::usage(anyhow!(
            "{}: the document must be a mapping",
            path.display()
        ))
    })?;
    obj.entry("schema")
        .or_insert_with(|| json!(DECISION_SCHEMA));
    if !obj.contains_key("id") || !obj.contains_key("created") {
        let created = obj
            .get("created")
            .and_then(|c| c.as_str())
            .map(str::to_owned);
        let (id, created) = new_id(now, &created)?;
        obj.entry("id").or_insert_with(|| json!(id));
        obj.insert("created".into(), json!(created));
    }
    obj.entry("risk").or_insert_with(|| json!("low"));
    if let Some(ctx) = obj.get_mut("context").and_then(|c| c.as_object_mut()) {
        ctx.entry("digest").or_insert_with(|| json!(""));
    }
    let d: Decision = serde_json::from_value(v)
        .map_err(|e| CliError::usage(anyhow!("{}: {e}", path.display())))?;
    Ok(d)
}
