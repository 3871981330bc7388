//! `aiaudit record`: build a decision, commit it to `refs/heads/proposals/<id>`.
//!
//! The decision comes from flags, from a document (`--from`: an intake document
//! `aiaudit/intake/v1`, or a decision-shaped one), or from an OpenTelemetry GenAI trace
//! (`--from-otel`) completed by flags. Whatever the source, every text the record would store
//! and every content that is hashed is scanned for credentials before anything is written
//! (`crate::intake::secrets`).

use super::util::{self, committer, main_base, person, unix};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::Checker;
use crate::intake::{self, otel, secrets::Scan, Digested, INTAKE_SCHEMA};
use crate::ledger::trailers;
use crate::ledger::write::{self, Draft, Expected, Judgement, RefMove, TreeSpec};
use crate::ledger::{MAIN_REF, PROPOSALS_PREFIX};
use crate::pgp;
use crate::policy::Policy;
use crate::record::{
    self, canonical::to_canonical_yaml, digest, ActionKind, Agent, Ai, AiRole, Context,
    ContextEntry, ContextKind, Decision, Initiator, Model, Recommendation, Target, DECISION_SCHEMA,
};
use anyhow::anyhow;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Record an AI-assisted decision as a proposal awaiting approval.
///
/// Every context input is hashed into the record (content is kept only with --store-context); the context digest,
/// the id, the creation time and the risk (from the policy) are filled in. Before anything is
/// written, every stored text and every hashed content is scanned for credentials: a hit
/// refuses the record (exit 1) unless the input is marked --digest-only (docs/intake.md). The decision is
/// committed with its trailers to refs/heads/proposals/<id>; nothing else changes.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Read the decision from a JSON or YAML document (`-` for standard input): an intake
    /// document (`schema: aiaudit/intake/v1`, see docs/intake.md and
    /// schemas/intake.v1.schema.json), or a decision-shaped document, where `schema`, `id`,
    /// `created`, `risk` and `context.digest` may be left out and are filled in. The other flags
    /// describing the decision cannot be combined with it.
    #[arg(long, value_name = "FILE", conflicts_with = "from_otel")]
    pub from: Option<PathBuf>,
    /// Read the model, the agents, the prompts, the tool calls and the model output from an
    /// OpenTelemetry GenAI trace export (OTLP JSON, `-` for standard input). What a trace cannot
    /// say comes from the flags: --initiator, --action, --system, --summary, --ai-role,
    /// --recommendation (required), and optionally --model, --agent, --output and context
    /// flags, which take precedence or add to the trace.
    #[arg(long = "from-otel", value_name = "FILE")]
    pub from_otel: Option<PathBuf>,
    /// Take the decision's action from a product commit (or a range `BASE..HEAD`, every
    /// commit of which it then covers): a code merge of that repository (`remote.origin.url`,
    /// or --target-repo), summarised by the commit's subject, covering its change digest,
    /// the model from its `Assisted-by: AGENT:MODEL` trailer (pinned: a dated id, else
    /// --model or `aiaudit.model`), the change itself as the model's output. Run it in the
    /// product repository (with `aiaudit.auditRepo` set) or pass --product DIR. Flags given
    /// take precedence. See docs/config.md.
    #[arg(long = "from-commit", value_name = "REV", conflicts_with_all = ["from", "from_otel"])]
    pub from_commit: Option<String>,
    /// The product repository --from-commit reads (default: the repository you are in).
    #[arg(long, value_name = "DIR", requires = "from_commit")]
    pub product: Option<PathBuf>,
    /// The change text --from-commit found, the model's output (set by the command).
    #[arg(skip)]
    pub commit_output: Option<Vec<u8>>,
    /// Record this input by its digest only although it looks like it holds a credential. NAME
    /// is the input's name in the record (a file name, a tool name, a span name), a path as
    /// given on the command line, or `output` for the model output (repeatable). Texts that the
    /// record stores are never exempt. See docs/intake.md.
    #[arg(long = "digest-only", value_name = "NAME")]
    pub digest_only: Vec<String>,

    /// The initiating principal's id (kind, owner and name come from the policy). Defaults to
    /// the principal whose key signs the record, else `aiaudit.principal`, else the principal
    /// whose e-mail is your git `user.email`.
    #[arg(long, value_name = "ID", env = "AIAUDIT_INITIATOR")]
    pub initiator: Option<String>,
    /// The initiator signs the record's exact bytes (an `Initiated-by` trailer): with a key
    /// file (--key, Ed25519) or through GnuPG (--gpg-key). Service and workflow principals sign
    /// with keys of their own. Required when the policy rule says `signatures: initiator:
    /// required` (what `aiaudit init` writes).
    #[command(flatten)]
    pub signer: super::util::SignerArgs,
    /// The forge login of the initiator, where known.
    #[arg(long, value_name = "LOGIN")]
    pub forge_login: Option<String>,

    /// The action kind. Required (without --from).
    #[arg(long, value_name = "KIND", value_parser = clap::builder::TypedValueParser::try_map(
        clap::builder::PossibleValuesParser::new(["code-merge", "access-change", "secret-retrieval",
            "production-change", "config-change", "data-access", "other"]),
        |s: String| parse_action(&s)))]
    pub action: Option<ActionKind>,
    /// The system acted on, e.g. `aws:prod` or `github.com/acme/payments`. Defaults to
    /// `aiaudit.system`, else the target repository. Required (without --from) when neither
    /// is known.
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,
    /// The repository, for code changes. Defaults to the repository a pull or merge request
    /// URL given as --change names.
    #[arg(long = "target-repo", value_name = "REPO")]
    pub target_repo: Option<String>,
    /// The change reference (pull request, change ticket).
    #[arg(long, value_name = "REF")]
    pub change: Option<String>,
    /// The resource inside the system (role, database, secret path).
    #[arg(long, value_name = "RESOURCE")]
    pub resource: Option<String>,
    /// One or more lines saying what the action does. Required (without --from).
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

    /// What the model did: suggested, changed or initiated the action. Required (without
    /// --from).
    #[arg(long, value_name = "ROLE", value_parser = clap::builder::TypedValueParser::try_map(
        clap::builder::PossibleValuesParser::new(["suggested", "changed", "initiated"]),
        |s: String| parse_role(&s)))]
    pub ai_role: Option<AiRole>,
    /// The model, pinned: PROVIDER/NAME@VERSION (floating versions such as `latest` are refused).
    /// Defaults to `aiaudit.model`. Required (without --from; with --from-otel, when the
    /// trace does not say).
    #[arg(long, value_name = "PROVIDER/NAME@VERSION", value_parser = parse_model)]
    pub model: Option<Model>,
    /// The tool or agent framework and its version.
    #[arg(long, value_name = "NAME")]
    pub framework: Option<String>,
    /// An agent of a multi-agent flow: ID:ROLE or ID:ROLE:PROVIDER/NAME@VERSION (repeatable).
    #[arg(long = "agent", value_name = "ID:ROLE[:MODEL]", value_parser = parse_agent)]
    pub agents: Vec<Agent>,

    /// The prompt (a file, `-` for standard input). Required (without --from or --from-otel),
    /// unless --context gives the inputs.
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
    /// A summary of the model's recommendation. Required (without --from).
    #[arg(long, value_name = "TEXT")]
    pub recommendation: Option<String>,

    /// For a code merge: the change it covers, as `aiaudit change-digest REV` prints it in the
    /// product repository (repeatable); `aiaudit check` accepts only commits making exactly such
    /// a change, authored by the initiator.
    #[arg(long, value_name = "DIGEST")]
    pub covers: Vec<String>,
    /// The change set or API request document the action applies (a file): its SHA-256 and
    /// size are recorded as `action.payload`, and `aiaudit exec --payload FILE` checks it.
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// The exact command the action runs, after `--`: recorded word by word as
    /// `action.command`; approvers sign it, and `aiaudit exec ID -- CMD…` runs only exactly
    /// this command.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Keep the content of the context inputs, tool calls and model output in the audit
    /// repository, content-addressed at context/<xx>/<sha256>, so auditors can read what
    /// informed the model. Only UTF-8 text up to 1 MiB that passed the credential check is
    /// kept; digest-only inputs (--digest-only, `digest_only: true`) and inputs given only as
    /// digests never are. See docs/record.md.
    #[arg(long = "store-context", conflicts_with = "no_content_store")]
    pub store_context: bool,
    /// Keep no content at all, only digests. By default the content of the context inputs,
    /// tool calls and model output (what --store-context would keep) goes to the content
    /// store beside the ledger, `refs/aiaudit/content/<sha256>`, pushed with the proposal:
    /// approvers see it with `aiaudit show`, and an admin can erase it (`aiaudit content
    /// erase`) without touching the ledger, which keeps the signed digests. See docs/record.md.
    #[arg(long = "no-content-store")]
    pub no_content_store: bool,
    /// The creation time (RFC 3339, UTC); defaults to now.
    #[arg(long, value_name = "TIME")]
    pub created: Option<String>,
    /// Land the decision on main at once instead of proposing it. Only for decisions whose
    /// policy rule says `approval: post` (reviewed after the fact, within a deadline).
    #[arg(long)]
    pub land: bool,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
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
    let m = Model {
        provider: provider.into(),
        name: name.into(),
        version: version.into(),
    };
    if m.version_floats() {
        return Err(format!(
            "`{version}` is a floating alias; pin the exact model version"
        ));
    }
    Ok(m.normalized())
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

pub fn run(cwd: &Path, mut a: RecordArgs) -> CliResult {
    let store = util::open(cwd)?;
    if let Some(rev) = a.from_commit.clone() {
        from_commit(cwd, &store, &rev, &mut a)?;
    }
    let push = a.push.remote()?;
    let now = util::now()?;
    let base = main_base(&store)?;
    let mut checker = Checker::new(&store, now);
    let policy = checker.governance().policy_at(base.tree)?;
    // Who signs, known before anything is read: the key names its principal.
    let signer = match a.signer.optional()? {
        None => None,
        Some(signer) => {
            let fpr = pgp::signer_fingerprint(&signer).map_err(CliError::usage)?;
            let Some(p) = policy.principal_by_key(&fpr) else {
                return Err(CliError::usage(anyhow!(
                    "your key {fpr} belongs to no principal of the policy"
                ))
                .hint("an admin adds it with `aiaudit principal add-key`"));
            };
            if a.initiator.is_none() && a.from.is_none() {
                a.initiator = Some(p.id.clone());
            }
            Some((signer, fpr, p.clone()))
        }
    };
    if a.from.is_none() {
        flag_defaults(&mut a, &policy)?;
    }
    let mut scan = Scan::new(a.digest_only.iter().cloned());
    // Content goes into the ledger (--store-context, immutable), or by default into the
    // content store beside it (erasable), or nowhere (--no-content-store).
    let content_store = !a.store_context && !a.no_content_store;
    if a.store_context || content_store {
        scan.keep_content();
    }
    scan_flags(&a, &mut scan);
    let mut d = match (&a.from, &a.from_otel) {
        (Some(path), _) => from_document(&a, path, &policy, now, &mut scan)?,
        (None, Some(path)) => from_otel(&a, path, &policy, now, &mut scan)?,
        (None, None) => from_flags(&a, &policy, now, &mut scan)?,
    };
    // Derived, never chosen: the context digest and the risk.
    d.context.digest = digest::context_digest(&d.context.entries);
    d.risk = policy.verdict(&d).risk;
    // Before anything is written: no credential goes into the audit repository.
    scan.decision_fields(&d, "the record's ");
    refuse_secrets(&scan)?;
    let verdict = policy.verdict(&d);
    let path = record::decision_path(&d).ok_or_else(|| {
        CliError::usage(anyhow!(
            "id `{}` / created `{}` do not form a record path",
            d.id,
            d.created
        ))
    })?;
    let text = to_canonical_yaml(&d).map_err(CliError::internal)?;
    let initiated = match &signer {
        Some((signer, fpr, p)) => {
            if p.id != d.initiator.id {
                return Err(CliError::usage(anyhow!(
                    "your key {fpr} belongs to `{}`, not to the initiator `{}`; nothing was recorded",
                    p.id,
                    d.initiator.id
                ))
                .hint("the initiator signs its own record: a service or workflow account with its own key"));
            }
            let sig = pgp::sign_detached(signer, text.as_bytes(), now).map_err(CliError::usage)?;
            Some(trailers::Approval {
                principal: p.id.clone(),
                email: p.email.clone(),
                key: fpr.clone(),
                signature: sig,
            })
        }
        None if verdict.signatures.initiator => {
            return Err(CliError::usage(anyhow!(
            "policy rule `{}` requires the initiator `{}` to sign the record; nothing was recorded",
            verdict.rule,
            d.initiator.id
        ))
            .hint("pass --key FILE (an Ed25519 key file of the initiator) or --gpg-key KEY"))
        }
        None => None,
    };

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
    let stored = if a.store_context {
        keepable(&d, &scan, true)
            .into_iter()
            .map(|(sha, data)| (record::context_path(&sha), data))
            .collect()
    } else {
        Vec::new()
    };
    let content = if content_store {
        keepable(&d, &scan, false)
    } else {
        Vec::new()
    };
    let stored_paths: Vec<String> = stored.iter().map(|(p, _)| p.clone()).collect();
    if a.land && verdict.approval != crate::policy::Approval::Post {
        return Err(CliError::usage(anyhow!(
            "policy rule `{}` requires pre-approval; --land is only for `approval: post` rules",
            verdict.rule
        )));
    }
    let staged = write::stage(
        &store,
        Draft {
            parent: Some(base),
            tree: TreeSpec::files(
                std::iter::once((path.clone(), text.into_bytes()))
                    .chain(stored)
                    .collect(),
            ),
            author,
            committer,
            message: trailers::decision_message(&d, initiated.as_ref(), &[]),
        },
    )?;
    // Judge the proposal with the server's rules before any ref moves.
    util::judged(
        staged.judge(&mut checker, Judgement::Decision { landing: false }),
        "the decision is not valid; nothing was recorded",
    )?;
    let mv = if a.land {
        util::judged(
            staged.judge(&mut checker, Judgement::Main),
            "the decision would be rejected on main; nothing was recorded",
        )?;
        RefMove::new(MAIN_REF, Expected::Behind, "record (post-action review)")
    } else {
        let r = format!("{PROPOSALS_PREFIX}{}", d.id);
        RefMove::new(r, Expected::Absent, "record")
    };
    util::note_left_alone(&write::publish(&store, &staged, &mv)?);
    let (commit, refname) = (staged.id(), mv.name);
    let kept = util::keep_content(&store, &content)?;
    if let Some(remote) = &push {
        let mut refspecs = vec![format!("{commit}:{refname}")];
        refspecs.extend(kept.iter().map(|(r, oid)| format!("{oid}:{r}")));
        let pushed = if a.land {
            util::git_push(&store, remote, &refspecs)
        } else {
            util::git_push_new_refs(&store, remote, &refspecs)
        };
        // The record is in this clone either way: say which, and how to push it later.
        pushed.map_err(|e| {
            e.hint(format!(
                "decision {} is recorded in this clone ({refname}) but not on {remote}; to push it again: git push {remote} {}",
                d.id,
                refspecs
                    .iter()
                    .map(|r| r.split_once(':').map_or(r.as_str(), |(_, dst)| dst))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        })?;
    }
    let needs: Vec<String> = verdict.require.iter().map(|q| q.describe()).collect();
    if a.json {
        let out = json!({
            "id": d.id,
            "initiator": d.initiator.id,
            "signed": initiated.as_ref().map(|i| i.key.clone()),
            "path": path,
            "ref": refname,
            "commit": commit.to_string(),
            "risk": d.risk.as_str(),
            "rule": verdict.rule,
            "approval": verdict.approval.as_str(),
            "requires": needs,
            "stored_context": stored_paths,
            "content_store": kept.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            "pushed": push,
        });
        outln!("{out}");
    } else {
        outln!("{}", d.id);
        errln!(
            "recorded decision {} ({} on {})",
            d.id,
            d.action.kind.as_str(),
            d.action.target.system
        );
        errln!("  file:   {path}");
        match &initiated {
            Some(i) => errln!("  signed: by {} with key {}", i.principal, i.key),
            None => errln!("  signed: no (the policy rule does not require it)"),
        }
        if a.store_context {
            errln!(
                "  stored: {} context file(s) under context/",
                stored_paths.len()
            );
        }
        if !kept.is_empty() {
            errln!(
                "  content: {} kept for approvers in the content store (refs/aiaudit/content/; erasable: `aiaudit content erase`)",
                kept.len()
            );
        }
        errln!(
            "  ref:    {refname}{}",
            push.as_ref()
                .map(|r| format!(" (pushed to {r})"))
                .unwrap_or_default()
        );
        errln!(
            "  risk:   {} (policy rule `{}`)",
            d.risk.as_str(),
            verdict.rule
        );
        errln!(
            "  needs:  {} ({}-approval)",
            needs.join(" AND "),
            verdict.approval.as_str()
        );
        if d.action.kind == ActionKind::CodeMerge && d.action.changes.is_empty() {
            errln!(
                "note: this code-merge decision names no change (--covers DIGEST from `aiaudit change-digest REV`): `aiaudit check` accepts no commit under it"
            );
        }
        if a.land {
            errln!(
                "next: a reviewer runs `aiaudit review {}` within {}",
                d.id,
                verdict.review_within.as_deref().unwrap_or("the deadline")
            );
        } else {
            errln!("next: an approver runs `aiaudit approve {}`", d.id);
        }
        if !d.action.command.is_empty() {
            errln!(
                "then: run it through the gate, `aiaudit exec {} -- {}` (it runs only once approved)",
                d.id,
                crate::text::shell_words(&d.action.command)
            );
        }
        if d.action.kind == ActionKind::CodeMerge || d.action.target.repo.is_some() {
            errln!(
                "link: every product commit under this decision carries the trailer `Decision-Id: {}` (git commit --trailer \"Decision-Id: {}\"); `aiaudit check` in the product repository's CI accepts it once the decision is approved (docs/check.md)",
                d.id,
                d.id
            );
        }
    }
    Ok(EXIT_OK)
}

/// The content that may be kept (`--store-context` in the ledger, else the content store):
/// `(sha256, content)` for every content digest the decision names whose content was read, is
/// not digest-only and passed the credential check. Binary or oversized content is left out,
/// with a note when `noted`.
fn keepable(d: &Decision, scan: &Scan, noted: bool) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for sha in record::content_digests(d) {
        if out.iter().any(|(p, _)| p == sha) {
            continue;
        }
        let Some((label, data)) = scan.kept(sha) else {
            continue;
        };
        let why = if data.len() > record::MAX_STORED_CONTEXT_BYTES {
            Some(format!(
                "{} bytes, more than the {}-byte cap",
                data.len(),
                record::MAX_STORED_CONTEXT_BYTES
            ))
        } else if std::str::from_utf8(data).is_err() || data.contains(&0) {
            Some("not UTF-8 text".to_owned())
        } else {
            None
        };
        match why {
            Some(why) if noted => {
                errln!("note: {label} is not stored ({why}); its digest is recorded")
            }
            Some(_) => {}
            None => out.push((sha.to_owned(), data.to_vec())),
        }
    }
    out
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

/// Reports the credential scan: notes for digest-only inputs, then refusals (exit 1), then
/// `--digest-only` names that matched no input (exit 2). Runs before anything is written.
fn refuse_secrets(scan: &Scan) -> CliResult<()> {
    for n in &scan.noted {
        errln!(
            "note: {}; recorded by its digest only (--digest-only)",
            n.head()
        );
    }
    if !scan.refused.is_empty() {
        for f in &scan.refused {
            errln!("refused: {f}");
        }
        let n = scan.refused.len();
        return Err(CliError::violations(anyhow!(
            "{n} {} like {} a credential; nothing was recorded",
            if n == 1 { "input looks" } else { "inputs look" },
            if n == 1 { "it holds" } else { "they hold" },
        ))
        .hint("secrets never enter the audit repository; name a secret by reference (a vault path, a secret name) with --secret-ref. See docs/intake.md for the rules"));
    }
    if let Some(name) = scan.unused_selectors().first() {
        return Err(CliError::usage(anyhow!(
            "--digest-only {name}: no input of this record has that name"
        ))
        .hint("NAME is an input's name as the record shows it (a file name, a tool name), a path as given, or `output`"));
    }
    Ok(())
}

/// Scans the flags whose text the record stores.
fn scan_flags(a: &RecordArgs, scan: &mut Scan) {
    let one = [
        ("--initiator", &a.initiator),
        ("--forge-login", &a.forge_login),
        ("--system", &a.system),
        ("--target-repo", &a.target_repo),
        ("--change", &a.change),
        ("--resource", &a.resource),
        ("--summary", &a.summary),
        ("--framework", &a.framework),
        ("--recommendation", &a.recommendation),
    ];
    for (flag, v) in one {
        if let Some(v) = v {
            scan.stored(flag, v);
        }
    }
    for (flag, list) in [
        ("--identity", &a.identities),
        ("--secret-ref", &a.secrets),
        ("--dataset", &a.datasets),
    ] {
        for v in list {
            scan.stored(flag, v);
        }
    }
    let models = a.model.iter().map(|m| ("--model", m)).chain(
        a.agents
            .iter()
            .filter_map(|g| g.model.as_ref().map(|m| ("--agent", m))),
    );
    for (flag, m) in models {
        for v in [&m.provider, &m.name, &m.version] {
            scan.stored(flag, v);
        }
    }
    for g in &a.agents {
        scan.stored("--agent", &g.id);
        scan.stored("--agent", &g.role);
    }
}

/// A file input: its name in the record, how messages call it, and the names `--digest-only`
/// accepts for it.
struct FileInput {
    data: Vec<u8>,
    name: String,
    label: String,
    selectors: Vec<String>,
}

fn read_file_input(path: &Path, what: &str) -> CliResult<FileInput> {
    let data = util::read_input(path)?;
    let (name, label) = if path == Path::new("-") {
        ("stdin".to_owned(), format!("{what} from standard input"))
    } else {
        (
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            format!("{what} {}", path.display()),
        )
    };
    let given = path.display().to_string();
    let mut selectors = vec![name.clone()];
    if given != name {
        selectors.push(given);
    }
    Ok(FileInput {
        data,
        name,
        label,
        selectors,
    })
}

fn scan_file(scan: &mut Scan, f: &FileInput, first: Option<&str>) {
    let mut selectors: Vec<&str> = first.into_iter().collect();
    selectors.extend(f.selectors.iter().map(String::as_str));
    scan.hashed(&f.label, &f.data, &selectors, false, None);
}

fn entry_for(kind: ContextKind, path: &Path, scan: &mut Scan) -> CliResult<ContextEntry> {
    let f = read_file_input(path, "context file")?;
    scan_file(scan, &f, None);
    Ok(ContextEntry {
        kind,
        name: f.name,
        uri: None,
        size: f.data.len() as u64,
        sha256: digest::sha256_hex(&f.data),
        arguments_sha256: None,
    })
}

/// The context entries given by flags, in the order: prompt, system instructions, --context,
/// --tool-call.
fn flag_entries(a: &RecordArgs, scan: &mut Scan) -> CliResult<Vec<ContextEntry>> {
    let mut entries = Vec::new();
    if let Some(pth) = &a.prompt {
        entries.push(entry_for(ContextKind::Prompt, pth, scan)?);
    }
    if let Some(pth) = &a.system_instructions {
        entries.push(entry_for(ContextKind::SystemInstructions, pth, scan)?);
    }
    for c in &a.context {
        let (k, f) = c
            .split_once('=')
            .ok_or_else(|| CliError::usage(anyhow!("--context `{c}`: expected KIND=FILE")))?;
        let kind = ContextKind::parse(k)
            .ok_or_else(|| CliError::usage(anyhow!("--context `{c}`: unknown kind `{k}`")))?;
        entries.push(entry_for(kind, Path::new(f), scan)?);
    }
    for t in &a.tool_calls {
        let bad = || {
            CliError::usage(anyhow!(
                "--tool-call `{t}`: expected NAME=ARGS_FILE,RESULT_FILE"
            ))
        };
        let (name, files) = t.split_once('=').ok_or_else(bad)?;
        let (args_f, result_f) = files.split_once(',').ok_or_else(bad)?;
        let args = read_file_input(
            Path::new(args_f),
            &format!("tool call {name}: arguments file"),
        )?;
        scan_file(scan, &args, Some(name));
        let result = read_file_input(
            Path::new(result_f),
            &format!("tool call {name}: result file"),
        )?;
        scan_file(scan, &result, Some(name));
        entries.push(ContextEntry {
            kind: ContextKind::ToolCall,
            name: name.to_owned(),
            uri: None,
            size: result.data.len() as u64,
            sha256: digest::sha256_hex(&result.data),
            arguments_sha256: Some(digest::sha256_hex(&args.data)),
        });
    }
    Ok(entries)
}

/// The model output given by `--output FILE`: hashed and scanned (stored only with
/// `--store-context`).
fn flag_output(a: &RecordArgs, scan: &mut Scan) -> CliResult<Option<Digested>> {
    let Some(p) = &a.output else {
        // --from-commit: the change is what the model produced.
        if let Some(text) = &a.commit_output {
            scan.hashed(
                "the product commit's change",
                text,
                &["output"],
                false,
                None,
            );
            return Ok(Some(Digested::of(text)));
        }
        return Ok(None);
    };
    let f = read_file_input(p, "output file")?;
    scan_file(scan, &f, Some("output"));
    Ok(Some(Digested::of(&f.data)))
}

/// The defaults of flags not given: the initiator from `aiaudit.principal` or the git
/// identity's e-mail, the target repository from a pull-request URL, the system from
/// `aiaudit.system` or the target repository, the model from `aiaudit.model`.
fn flag_defaults(a: &mut RecordArgs, policy: &Policy) -> CliResult<()> {
    let cfg = super::settings::settings();
    if a.initiator.is_none() {
        a.initiator = cfg.principal.clone().or_else(|| {
            let email = cfg.user_email.as_deref()?;
            let mut hits = policy.principals.iter().filter(|p| {
                p.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            });
            match (hits.next(), hits.next()) {
                (Some(p), None) => Some(p.id.clone()),
                _ => None,
            }
        });
    }
    if a.target_repo.is_none() {
        a.target_repo = a.change.as_deref().and_then(repo_of_request_url);
    }
    if a.system.is_none() {
        a.system = cfg.system.clone().or_else(|| a.target_repo.clone());
    }
    if a.model.is_none() && a.from_otel.is_none() {
        if let Some(m) = &cfg.model {
            a.model = Some(parse_model(m).map_err(|e| {
                CliError::usage(anyhow!("aiaudit.model = `{m}`: {e}"))
                    .hint("git config aiaudit.model PROVIDER/NAME@VERSION")
            })?);
        }
    }
    Ok(())
}

/// `host/owner/name` of a pull or merge request URL (`https://github.com/acme/pay/pull/42`,
/// `https://gitlab.example.com/g/sub/pay/-/merge_requests/7`), if it is one.
fn repo_of_request_url(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://")?.1;
    let (repo, _) = [
        "/-/merge_requests/",
        "/pull/",
        "/pulls/",
        "/merge_requests/",
    ]
    .iter()
    .find_map(|m| rest.split_once(m))?;
    let repo = crate::compliance::repo::normalize_repo(repo);
    (repo.matches('/').count() >= 2).then_some(repo)
}

/// `--from-commit REV`: fills what the product commit says into the flags not given.
fn from_commit(
    cwd: &Path,
    audit: &crate::store::Store,
    rev: &str,
    a: &mut RecordArgs,
) -> CliResult<()> {
    use crate::intake::commit::{self as pc, NotPinned};
    let dir = match &a.product {
        Some(d) => d.clone(),
        None => cwd.to_owned(),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let product = crate::store::Store::discover(&dir).map_err(|e| {
        CliError::usage(anyhow!(
            "--from-commit: {} is not a git repository: {e}",
            dir.display()
        ))
    })?;
    if product.git_dir() == audit.git_dir() {
        return Err(CliError::usage(anyhow!(
            "--from-commit {rev}: you are in the audit repository; the commit is in a product repository"
        ))
        .hint("run it in the product repository (with `git config aiaudit.auditRepo PATH` there), or pass --product DIR"));
    }
    let commits = product
        .commits_in(rev)
        .map_err(|e| CliError::usage(anyhow!("--from-commit: {e}")))?;
    let Some(tip) = commits.first().cloned() else {
        return Err(CliError::usage(anyhow!(
            "--from-commit {rev}: the range holds no commit"
        )));
    };
    if a.target_repo.is_none() {
        a.target_repo = Some(match product.config_string("remote.origin.url") {
            Some(u) => crate::compliance::repo::normalize_repo(&u),
            None => {
                return Err(CliError::usage(anyhow!(
                    "--from-commit: {} has no remote.origin.url to name the repository by",
                    dir.display()
                ))
                .hint("pass --target-repo NAME, e.g. github.com/acme/payments"))
            }
        });
    }
    a.action.get_or_insert(ActionKind::CodeMerge);
    let subject = pc::subject(&tip.message);
    let short = |c: &crate::store::CommitData| c.id.to_string()[..12].to_owned();
    if a.summary.is_none() && !subject.is_empty() {
        a.summary = Some(subject.clone());
    }
    if a.recommendation.is_none() {
        a.recommendation = Some(match commits.len() {
            1 => format!("merge commit {} ({subject})", short(&tip)),
            n => format!(
                "merge the {n} commits {}..{} ({subject})",
                short(&commits[n - 1]),
                short(&tip)
            ),
        });
    }
    let mut text = String::new();
    for c in &commits {
        let digest = crate::compliance::change::change_digest(&product, c)?;
        if !a.covers.contains(&digest) {
            a.covers.push(digest);
        }
        text.push_str(&crate::compliance::change::change_text(&product, c)?);
    }
    a.commit_output = Some(text.into_bytes());
    // The model: every commit's Assisted-by trailers.
    let assisted: Vec<(crate::store::CommitData, pc::AssistedBy)> = commits
        .iter()
        .flat_map(|c| {
            pc::assisted_by(&c.message)
                .into_iter()
                .map(move |t| (c.clone(), t))
        })
        .collect();
    if a.ai_role.is_none() && !assisted.is_empty() {
        a.ai_role = Some(AiRole::Changed);
    }
    if a.framework.is_none() {
        a.framework = assisted.first().map(|(_, t)| t.agent.clone());
    }
    if a.model.is_none() {
        let configured = super::settings::settings()
            .model
            .as_deref()
            .and_then(|m| parse_model(m).ok());
        let mut found: Vec<Model> = Vec::new();
        for (c, t) in &assisted {
            let m = match pc::pinned_model(&t.model) {
                Ok(m) => m,
                Err(NotPinned::Missing) => continue,
                Err(why) => match &configured {
                    Some(m) if m.name.eq_ignore_ascii_case(pc::alias_name(&t.model)) => m.clone(),
                    _ => {
                        let what = match why {
                            NotPinned::UnknownProvider(v) => {
                                format!("`{v}`: its provider cannot be told from the name")
                            }
                            _ => format!(
                                "`{}` is an alias, not a pinned model version (it does not say which snapshot ran)",
                                t.model.trim()
                            ),
                        };
                        return Err(CliError::usage(anyhow!(
                            "--from-commit: commit {} says `Assisted-by: {}:{}`: {what}",
                            short(c),
                            t.agent,
                            t.model
                        ))
                        .hint("pass --model PROVIDER/NAME@VERSION, or set it once: git config aiaudit.model anthropic/claude-sonnet-4@20250514"));
                    }
                },
            };
            if !found.contains(&m) {
                found.push(m);
            }
        }
        match found.len() {
            0 => {}
            1 => a.model = found.pop(),
            _ => {
                return Err(CliError::usage(anyhow!(
                    "--from-commit {rev}: the commits name {} models ({}); a decision records one",
                    found.len(),
                    found
                        .iter()
                        .map(Model::trailer)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .hint(
                    "pass --model for the one that proposed the change, and --agent for the others",
                ))
            }
        }
    }
    Ok(())
}

fn missing(flag: &str) -> CliError {
    CliError::usage(anyhow!("missing {flag}")).hint("see `aiaudit record --help`")
}

/// The initiator as the policy knows it: kind, owner and name come from the principal.
fn initiator(policy: &Policy, id: &str, forge_login: Option<String>) -> CliResult<Initiator> {
    let p = policy.principal(id).ok_or_else(|| {
        CliError::usage(anyhow!("initiator `{id}` is not a principal of the policy"))
            .hint("an admin adds it with `aiaudit principal add`")
    })?;
    Ok(Initiator {
        id: p.id.clone(),
        kind: p.kind,
        name: p.name.clone(),
        owner: p.owner.clone(),
        forge_login,
    })
}

/// A decision from flags, with the context, model, agents and output found elsewhere.
fn assemble(
    a: &RecordArgs,
    policy: &Policy,
    now: std::time::SystemTime,
    entries: Vec<ContextEntry>,
    model: Model,
    agents: Vec<Agent>,
    output: Digested,
) -> CliResult<Decision> {
    let initiator_id = a.initiator.clone().ok_or_else(|| missing("--initiator"))?;
    let initiator = initiator(policy, &initiator_id, a.forge_login.clone())?;
    let (id, created) = new_id(now, &a.created)?;
    Ok(Decision {
        schema: DECISION_SCHEMA.into(),
        id,
        created,
        initiator,
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
            command: a.command.clone(),
            changes: a.covers.clone(),
            payload: a.payload.as_deref().map(util::file_digest).transpose()?,
        },
        ai: Ai {
            role: a.ai_role.ok_or_else(|| missing("--ai-role ROLE"))?,
            model,
            framework: a.framework.clone(),
            agents,
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
            sha256: output.sha256,
            size: output.size,
        },
        risk: crate::record::Risk::Low,
    })
}

fn from_flags(
    a: &RecordArgs,
    policy: &Policy,
    now: std::time::SystemTime,
    scan: &mut Scan,
) -> CliResult<Decision> {
    // The initiator first: an unknown principal is the likeliest mistake.
    let initiator_id = a.initiator.clone().ok_or_else(|| missing("--initiator"))?;
    initiator(policy, &initiator_id, None)?;
    let entries = flag_entries(a, scan)?;
    if entries.is_empty() {
        return Err(missing("context: at least --prompt FILE"));
    }
    let output =
        flag_output(a, scan)?.ok_or_else(|| missing("--output FILE (the model's full output)"))?;
    let model = a
        .model
        .clone()
        .ok_or_else(|| missing("--model PROVIDER/NAME@VERSION"))?;
    assemble(a, policy, now, entries, model, a.agents.clone(), output)
}

/// How messages name a file given on the command line.
fn label(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// `--from-otel FILE`: the trace gives the model, agents, context and output; the flags the
/// rest. Context flags come first, then the trace's inputs in time order; `--model` and
/// `--output` take precedence over the trace; `--agent ID:ROLE[:MODEL]` sets the role (and
/// model) of the trace's agent with that id, or adds an agent.
fn from_otel(
    a: &RecordArgs,
    path: &Path,
    policy: &Policy,
    now: std::time::SystemTime,
    scan: &mut Scan,
) -> CliResult<Decision> {
    let file = label(path);
    let bytes = util::read_input(path)?;
    let mut entries = flag_entries(a, scan)?;
    let flag_out = flag_output(a, scan)?;
    let trace = otel::parse_trace(&file, &bytes, flag_out.is_none(), scan)
        .map_err(|e| CliError::usage(anyhow!("{e}")))?;
    entries.extend(trace.inputs.iter().map(|i| i.entry.clone()));
    if entries.is_empty() {
        return Err(CliError::usage(anyhow!(
            "{file}: the trace carries no prompt or tool call content (gen_ai.input.messages, gen_ai.tool.call.*)"
        ))
        .hint("enable content capture in the instrumentation, or pass --prompt FILE"));
    }
    let model = match &a.model {
        Some(m) => m.clone(),
        None => trace
            .model(&file)
            .map_err(|e| CliError::usage(anyhow!("{e}")))?,
    };
    let mut agents = trace.agents.clone();
    for f in &a.agents {
        match agents.iter_mut().find(|g| g.id == f.id) {
            Some(g) => {
                g.role = f.role.clone();
                if f.model.is_some() {
                    g.model = f.model.clone();
                }
            }
            None => agents.push(f.clone()),
        }
    }
    let output = match (flag_out, &trace.output) {
        (Some(o), _) => o,
        (None, Some((o, _))) => o.clone(),
        (None, None) => {
            return Err(CliError::usage(anyhow!(
                "{file}: no model output in the trace (gen_ai.output.messages or gen_ai.completion)"
            ))
            .hint("enable content capture in the instrumentation, or pass --output FILE"))
        }
    };
    assemble(a, policy, now, entries, model, agents, output)
}

/// The flags that describe the decision, by name, when given (they conflict with `--from`).
fn describing_flags(a: &RecordArgs) -> Vec<&'static str> {
    [
        ("--action", a.action.is_some()),
        ("--system", a.system.is_some()),
        ("--target-repo", a.target_repo.is_some()),
        ("--change", a.change.is_some()),
        ("--resource", a.resource.is_some()),
        ("--summary", a.summary.is_some()),
        ("--identity", !a.identities.is_empty()),
        ("--secret-ref", !a.secrets.is_empty()),
        ("--dataset", !a.datasets.is_empty()),
        ("--ai-role", a.ai_role.is_some()),
        ("--model", a.model.is_some()),
        ("--framework", a.framework.is_some()),
        ("--agent", !a.agents.is_empty()),
        ("--prompt", a.prompt.is_some()),
        ("--system-instructions", a.system_instructions.is_some()),
        ("--context", !a.context.is_empty()),
        ("--tool-call", !a.tool_calls.is_empty()),
        ("--output", a.output.is_some()),
        ("--recommendation", a.recommendation.is_some()),
        ("--payload", a.payload.is_some()),
        ("--covers", !a.covers.is_empty()),
        ("-- COMMAND", !a.command.is_empty()),
    ]
    .into_iter()
    .filter_map(|(f, given)| given.then_some(f))
    .collect()
}

fn from_document(
    a: &RecordArgs,
    path: &Path,
    policy: &Policy,
    now: std::time::SystemTime,
    scan: &mut Scan,
) -> CliResult<Decision> {
    let conflicting = describing_flags(a);
    if !conflicting.is_empty() {
        return Err(CliError::usage(anyhow!(
            "--from cannot be combined with {}: the document describes the decision",
            conflicting.join(", ")
        )));
    }
    let file = label(path);
    let bytes = util::read_input(path)?;
    if bytes.len() > intake::MAX_INTAKE_BYTES {
        return Err(CliError::usage(anyhow!(
            "{file}: larger than {} bytes",
            intake::MAX_INTAKE_BYTES
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| CliError::usage(anyhow!("{file}: not UTF-8: {e}")))?;
    let v: Value =
        serde_yaml::from_str(text).map_err(|e| CliError::usage(anyhow!("{file}: {e}")))?;
    if !v.is_object() {
        return Err(CliError::usage(anyhow!(
            "{file}: the document must be a mapping"
        )));
    }
    match v.get("schema") {
        Some(Value::String(s)) if s == INTAKE_SCHEMA => from_intake(a, &file, &v, policy, now, scan),
        None | Some(Value::Null) | Some(Value::String(_))
            if bytes.len() > record::MAX_RECORD_BYTES =>
        {
            Err(CliError::usage(anyhow!(
                "{file}: larger than {} bytes, the cap for a decision",
                record::MAX_RECORD_BYTES
            )))
        }
        None | Some(Value::Null) => from_decision_shaped(&file, v, now, scan),
        Some(Value::String(s)) if s == DECISION_SCHEMA => {
            from_decision_shaped(&file, v, now, scan)
        }
        Some(other) => Err(CliError::usage(anyhow!(
            "{file}: schema: {other} is neither `{INTAKE_SCHEMA}` (an intake document) nor `{DECISION_SCHEMA}` (a decision)"
        ))),
    }
}

/// An intake document: the initiator's kind and owner come from the policy; `--initiator`,
/// `--forge-login` and `--created` may fill what it leaves out, never contradict it.
fn from_intake(
    a: &RecordArgs,
    file: &str,
    v: &Value,
    policy: &Policy,
    now: std::time::SystemTime,
    scan: &mut Scan,
) -> CliResult<Decision> {
    let doc =
        intake::parse_intake(file, v, scan).map_err(|e| CliError::usage(anyhow!("{file}: {e}")))?;
    if let Some(flag) = &a.initiator {
        if *flag != doc.initiator {
            return Err(CliError::usage(anyhow!(
                "{file}: initiator.id is `{}` but --initiator (or AIAUDIT_INITIATOR) says `{flag}`",
                doc.initiator
            )));
        }
    }
    let forge_login = same_or_fill(
        file,
        "initiator.forge_login",
        &doc.forge_login,
        &a.forge_login,
        "--forge-login",
    )?;
    let created = same_or_fill(file, "created", &doc.created, &a.created, "--created")?;
    let initiator = initiator(policy, &doc.initiator, forge_login).map_err(|e| CliError {
        error: anyhow!("{file}: initiator.id: {:#}", e.error),
        ..e
    })?;
    let (id, created) = new_id(now, &created)?;
    Ok(Decision {
        schema: DECISION_SCHEMA.into(),
        id,
        created,
        initiator,
        action: doc.action,
        ai: doc.ai,
        context: Context {
            digest: String::new(),
            entries: doc.inputs.into_iter().map(|i| i.entry).collect(),
        },
        recommendation: doc.recommendation,
        risk: crate::record::Risk::Low,
    })
}

/// The document's value, else the flag's; both given, they must agree.
fn same_or_fill(
    file: &str,
    field: &str,
    doc: &Option<String>,
    flag: &Option<String>,
    flag_name: &str,
) -> CliResult<Option<String>> {
    match (doc, flag) {
        (Some(d), Some(f)) if d != f => Err(CliError::usage(anyhow!(
            "{file}: {field} is `{d}` but {flag_name} says `{f}`"
        ))),
        (Some(d), _) => Ok(Some(d.clone())),
        (None, f) => Ok(f.clone()),
    }
}

/// A decision-shaped document (schema `aiaudit/decision/v1`, which may be left out, as may
/// `id`, `created`, `risk` and `context.digest`).
fn from_decision_shaped(
    file: &str,
    mut v: Value,
    now: std::time::SystemTime,
    scan: &mut Scan,
) -> CliResult<Decision> {
    let obj = v
        .as_object_mut()
        .ok_or_else(|| CliError::usage(anyhow!("{file}: the document must be a mapping")))?;
    let looks_like_intake = obj.get("context").is_some_and(Value::is_array);
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
    let d: Decision = serde_json::from_value(v).map_err(|e| {
        let err = CliError::usage(anyhow!("{file}: {e}"));
        if looks_like_intake {
            err.hint(format!(
                "an intake document declares `schema: \"{INTAKE_SCHEMA}\"` (docs/intake.md)"
            ))
        } else {
            err
        }
    })?;
    scan.decision_fields(&d, &format!("{file}: "));
    Ok(d)
}
