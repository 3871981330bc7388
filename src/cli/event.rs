//! `aiaudit outcome` and `aiaudit review`: events after a decision, landed on main.

use super::util::{self, committer, main_base, person, unix, SignerArgs};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::Checker;
use crate::ledger::governance::Governance;
use crate::ledger::trailers::{self, Approval};
use crate::ledger::write::{self, Draft, Expected, Judgement, RefMove, TreeSpec};
use crate::ledger::MAIN_REF;
use crate::pgp;
use crate::record::event::{Actor, Outcome, OutcomeStatus, Review, ReviewVerdict, EVENT_SCHEMA};
use crate::record::{self, canonical::to_canonical_yaml, path_for_id, Event, EventKind};
use anyhow::anyhow;
use std::path::Path;

/// Record a decision's outcome, signed by its executor, as an event on main
///
/// The final system action (the merge commit, the change id, the grant) and its evidence, as an
/// immutable event on main.
#[derive(Debug, clap::Args)]
pub struct OutcomeArgs {
    /// The decision id.
    pub id: String,
    /// Who executed the action (a principal id: a human or the executing service account).
    /// Defaults to the principal whose key signs the outcome.
    #[arg(long, value_name = "ID", env = "AIAUDIT_ACTOR")]
    pub actor: Option<String>,
    /// executed, failed, aborted or rolled-back.
    #[arg(long, value_parser = parse_status, default_value = "executed")]
    pub status: OutcomeStatus,
    /// What was done, e.g. "merged PR #42" or "attached role db-read".
    #[arg(long = "action", value_name = "TEXT")]
    pub what: String,
    /// The system's own reference: merge commit, change id, grant id.
    #[arg(long, value_name = "REF")]
    pub reference: Option<String>,
    /// When the action happened (RFC 3339 UTC), when not now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Evidence: when the execution started (RFC 3339 UTC).
    #[arg(long, value_name = "TIME")]
    pub started: Option<String>,
    /// Evidence: when the execution finished (RFC 3339 UTC).
    #[arg(long, value_name = "TIME")]
    pub finished: Option<String>,
    /// Evidence: the exit code of the command that executed the action.
    #[arg(long, value_name = "CODE", allow_negative_numbers = true)]
    pub exit_code: Option<i64>,
    /// Evidence: the system's result in its own words, one line (e.g. "HTTP 201").
    #[arg(long, value_name = "TEXT")]
    pub result: Option<String>,
    /// Evidence: the execution's output (a file, `-` for standard input); its SHA-256 and
    /// size are recorded, not its content.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Evidence: the execution's log (a file); its SHA-256 and size are recorded.
    #[arg(long = "log", value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    /// A note for auditors.
    #[arg(long)]
    pub note: Option<String>,
    /// The executor signs the outcome's exact bytes (an `Executed-by` trailer): with a key
    /// file (--key) or through GnuPG (--gpg-key). Required when the policy rule says
    /// `signatures: outcome: required` (what `aiaudit init` writes).
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Record a signed post-action review of a decision
///
/// Required within a deadline for decisions whose policy rule says `approval: post`.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The decision id.
    pub id: String,
    /// accepted, concerns or rejected.
    #[arg(long, value_parser = parse_verdict)]
    pub verdict: ReviewVerdict,
    /// What the reviewer found.
    #[arg(long, value_name = "TEXT")]
    pub summary: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

fn parse_status(s: &str) -> Result<OutcomeStatus, String> {
    OutcomeStatus::parse(s).ok_or_else(|| "one of: executed, failed, aborted, rolled-back".into())
}

fn parse_verdict(s: &str) -> Result<ReviewVerdict, String> {
    ReviewVerdict::parse(s).ok_or_else(|| "one of: accepted, concerns, rejected".into())
}

pub fn run_outcome(cwd: &Path, a: OutcomeArgs) -> CliResult {
    let mut outcome = Outcome::new(a.status, a.what.clone());
    outcome.reference = a.reference.clone();
    outcome.at = a.at.clone();
    outcome.started = a.started.clone();
    outcome.finished = a.finished.clone();
    outcome.exit_code = a.exit_code;
    outcome.result = a.result.clone();
    outcome.output = a.output.as_deref().map(util::file_digest).transpose()?;
    outcome.log = a.log.as_deref().map(util::file_digest).transpose()?;
    let signer = a.signer.optional()?;
    let actor =
        match (&a.actor, &signer) {
            (Some(id), _) => id.clone(),
            (None, Some(signer)) => {
                let store = util::open(cwd)?;
                let base = main_base(&store)?;
                let policy = Governance::new(&store).policy_at(base.tree)?;
                signer_principal(&policy, signer)?
            }
            (None, None) => return Err(CliError::usage(anyhow!("who executed the action?")).hint(
                "sign as the executor with --key FILE or --gpg-key KEY, or name it with --actor ID",
            )),
        };
    let id = land(
        &util::open(cwd)?,
        &a.id,
        &actor,
        EventKind::Outcome,
        Some(outcome),
        None,
        a.note.clone(),
        signer.as_ref(),
        a.push.remote()?.as_deref(),
    )?;
    outln!("{id}");
    Ok(EXIT_OK)
}

/// The principal whose key `signer` holds.
pub(super) fn signer_principal(
    policy: &crate::policy::Policy,
    signer: &pgp::Signer,
) -> CliResult<String> {
    let fpr = pgp::signer_fingerprint(signer).map_err(CliError::usage)?;
    Ok(policy
        .principal_by_key(&fpr)
        .ok_or_else(|| {
            CliError::usage(anyhow!(
                "your key {fpr} belongs to no principal of the policy"
            ))
        })?
        .id
        .clone())
}

pub fn run_review(cwd: &Path, a: ReviewArgs) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let policy = Governance::new(&store).policy_at(base.tree)?;
    let signer = a.signer.signer()?;
    let reviewer = signer_principal(&policy, &signer)?;
    let review = Review {
        verdict: a.verdict,
        summary: a.summary.clone(),
    };
    let id = land(
        &store,
        &a.id,
        &reviewer,
        EventKind::Review,
        None,
        Some(review),
        None,
        Some(&signer),
        a.push.remote()?.as_deref(),
    )?;
    outln!("{id}");
    Ok(EXIT_OK)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn land(
    store: &crate::store::Store,
    decision_id: &str,
    actor_id: &str,
    kind: EventKind,
    outcome: Option<Outcome>,
    review: Option<Review>,
    note: Option<String>,
    signer: Option<&pgp::Signer>,
    push: Option<&str>,
) -> CliResult<String> {
    let now = util::now()?;
    let base = main_base(store)?;
    // Where the decision landed is found through the clone's index of main, brought up to
    // main first (`ledger::index`): an event about an old decision does not walk history.
    let mut checker = Checker::new(store, now).with_index_upkeep(util::index_after());
    let policy = checker.governance().policy_at(base.tree)?;
    let dpath = path_for_id("decisions", decision_id)
        .ok_or_else(|| CliError::usage(anyhow!("`{decision_id}` is not a decision id")))?;
    if store.lookup(base.tree, &dpath)?.is_none() {
        return Err(CliError::usage(anyhow!(
            "decision {decision_id} is not on main ({dpath} is missing)"
        ))
        .hint("events describe landed decisions; fetch main first if it landed elsewhere"));
    }
    let actor = policy
        .principal(actor_id)
        .ok_or_else(|| CliError::usage(anyhow!("`{actor_id}` is not a principal of the policy")))?;
    let ts = jiff::Timestamp::try_from(now).map_err(CliError::internal)?;
    let secs = ts.as_second();
    let created =
        record::format_created(jiff::Timestamp::from_second(secs).map_err(CliError::internal)?);
    let id = ulid::Ulid::from_parts(secs as u64 * 1000, ulid::Ulid::new().random()).to_string();
    let event = Event {
        schema: EVENT_SCHEMA.into(),
        id,
        created,
        decision: decision_id.to_owned(),
        kind,
        actor: Actor {
            id: actor.id.clone(),
            kind: actor.kind,
        },
        outcome,
        review,
        note,
    };
    let path = record::event_path(&event)
        .ok_or_else(|| CliError::internal(anyhow!("no path for the event")))?;
    let text = to_canonical_yaml(&event).map_err(CliError::internal)?;
    let decision = match store.lookup(base.tree, &dpath)? {
        Some(entry) => match store.read_blob(entry.oid, record::MAX_RECORD_BYTES as u64)? {
            crate::store::BlobRead::Data(b) => record::check_decision(&dpath, &b).0,
            crate::store::BlobRead::TooLarge(_) => None,
        },
        None => None,
    };
    let required = kind == EventKind::Outcome
        && decision
            .as_ref()
            .is_some_and(|d| policy.verdict(d).signatures.outcome);
    let mut signatures = Vec::new();
    if signer.is_none() && required {
        return Err(CliError::usage(anyhow!(
            "the policy requires the executor `{}` to sign the outcome; nothing was recorded",
            actor.id
        ))
        .hint("pass --key FILE (the executor's Ed25519 key file) or --gpg-key KEY"));
    }
    if let Some(signer) = signer {
        let fpr = pgp::signer_fingerprint(signer).map_err(CliError::usage)?;
        if policy.principal_by_key(&fpr).map(|p| p.id.as_str()) != Some(actor.id.as_str()) {
            return Err(CliError::usage(anyhow!(
                "your key {fpr} is not a key of `{}`, who {} it; nothing was recorded",
                actor.id,
                if kind == EventKind::Outcome {
                    "executed"
                } else {
                    "records"
                }
            ))
            .hint("the actor signs its own event, with a key the policy lists for it"));
        }
        let sig = pgp::sign_detached(signer, text.as_bytes(), now).map_err(CliError::usage)?;
        signatures.push(Approval {
            principal: actor.id.clone(),
            email: actor.email.clone(),
            key: fpr,
            signature: sig,
        });
    }
    let author = person(
        actor.name.as_deref().unwrap_or(&actor.id),
        &actor
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@principals.invalid", actor.id)),
        unix(now),
    );
    let committer = committer(store, &author);
    let draft = Draft {
        parent: Some(base),
        tree: TreeSpec::files(vec![(path.clone(), text.into_bytes())]),
        author,
        committer,
        message: trailers::event_message(&event, &signatures),
    };
    let main_before = store.ref_target(MAIN_REF)?;
    let written = write::write(
        &mut checker,
        draft.clone(),
        Judgement::Main,
        &RefMove::new(MAIN_REF, Expected::Behind, kind.as_str()),
    )
    .map_err(util::refused(
        "the event would be rejected; nothing was recorded",
    ))?;
    util::print_diagnostics(&written.warnings);
    util::note_left_alone(&written.left_alone);
    let commit = written.staged.id();
    errln!(
        "recorded {} {} for decision {decision_id}",
        kind.as_str(),
        event.id
    );
    errln!("  file:   {path}");
    match push {
        Some(remote) => {
            // When the server's main moved on, the event is rebuilt onto it and pushed again.
            let commit = util::land_on_remote(
                store,
                &mut checker,
                remote,
                &util::Landing {
                    draft,
                    how: Judgement::Main,
                    commit,
                    main_before,
                    deleted: Vec::new(),
                    remote_deletes: Vec::new(),
                },
            )?;
            errln!("  commit: {commit}");
            errln!("  pushed to {remote}");
        }
        None => {
            errln!("  commit: {commit}");
            errln!("next: git push origin main   (or pass --push)");
        }
    }
    Ok(event.id)
}
