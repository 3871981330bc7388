//! `aiaudit exec` and `aiaudit await`: the approval is the key that opens the action.
//!
//! `exec ID -- CMD…` runs CMD only when decision ID is on main, the ledger verifies (the same
//! engine as `verify`, resuming from this clone's last clean run), the commit that landed the
//! decision still meets its policy *now* (no approving key revoked or expired since), and CMD
//! is exactly the command the decision names (and `--payload FILE` its payload). It then runs
//! CMD without a shell, passes its output through, and records a signed outcome with the
//! evidence: status, exit code, start and end times, SHA-256 and size of stdout and stderr.

use super::util::{self, main_base, SignerArgs};
use super::{errln, CliError, CliResult, EXIT_VIOLATIONS};
use crate::diag::Diagnostic;
use crate::engine::{Checker, CommitView};
use crate::ledger::MAIN_REF;
use crate::record::event::{Outcome, OutcomeStatus};
use crate::record::ContentDigest;
use crate::record::{self, Decision, EventKind};
use crate::store::{Change, Store};
use anyhow::anyhow;
use sha2::Digest as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Run an approved action, only if its decision approves exactly it now
///
/// CMD runs only if decision ID is on main, the ledger verifies, its
/// approvals meet the policy now (no key revoked or expired since) and CMD is exactly the
/// command the decision approves; then its signed outcome is recorded with the evidence (exit
/// code, times, SHA-256 and size of stdout and stderr) and pushed. Exit: CMD's own exit code;
/// 1 when refused (CMD did not run).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The decision id.
    pub id: String,
    /// Wait until the decision is approved and on main, checking the remote with backoff; at
    /// most TIMEOUT (`90s`, `30m`, `2h`; default 1h).
    #[arg(long, value_name = "TIMEOUT", num_args = 0..=1, default_missing_value = "1h")]
    pub wait: Option<String>,
    /// The payload file the action applies, checked against the decision's `action.payload`.
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The executor signs the outcome (`Executed-by`): its key file or GnuPG key.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The command, after `--`: it must be exactly the one the decision approves.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Wait until a decision is approved and on main, or the timeout passes
///
/// Exit 0 once approved, on main and holding now; 1 when the timeout passes.
#[derive(Debug, clap::Args)]
pub struct AwaitArgs {
    /// The decision id.
    pub id: String,
    /// At most this long (`90s`, `30m`, `2h`).
    #[arg(long, value_name = "TIMEOUT", default_value = "1h")]
    pub timeout: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The remote the ledger is fetched from and the outcome pushed to.
    #[arg(long, value_name = "REMOTE", default_value = "origin")]
    pub remote: String,
    /// Use the local ledger only: no fetch, no push.
    #[arg(long)]
    pub offline: bool,
    /// Refuse unless main's root commit is this one (the root of trust you pinned, as for
    /// `aiaudit verify --trust-root`).
    #[arg(long, value_name = "COMMIT", env = "AIAUDIT_TRUST_ROOT")]
    pub trust_root: Option<String>,
}

impl RemoteArgs {
    pub(super) fn trust_root(&self) -> CliResult<Option<crate::store::Oid>> {
        util::parse_trust_root(self.trust_root.as_deref())
    }

    /// The remote to use, if any: none offline or when the clone has no such remote.
    pub(super) fn remote(&self, store: &Store) -> Option<String> {
        let url = format!("remote.{}.url", self.remote);
        (!self.offline && store.config_string(&url).is_some()).then(|| self.remote.clone())
    }
}

/// `90s`, `30m`, `2h`, `1d` as a duration.
pub(super) fn timeout(s: &str) -> CliResult<Duration> {
    let secs = match s.strip_suffix('s') {
        Some(n) => n.parse::<u64>().ok(),
        None => crate::policy::parse_duration(s).map(|n| n as u64),
    };
    secs.filter(|n| *n > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| CliError::usage(anyhow!("`{s}` is not a duration (90s, 30m, 2h, 1d)")))
}

/// Fetches (when there is a remote) until decision `id` is on main, waiting at most `wait`
/// (none: no waiting). Returns the store's view of main.
fn until_landed(
    store: &Store,
    id: &str,
    remote: Option<&str>,
    wait: Option<Duration>,
) -> CliResult<crate::store::CommitData> {
    let path = record::path_for_id("decisions", id)
        .ok_or_else(|| CliError::usage(anyhow!("`{id}` is not a decision id")))?;
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        if let Some(r) = remote {
            util::git_fetch(store, r)?;
        }
        let base = main_base(store)?;
        if store.lookup(base.tree, &path)?.is_some() {
            return Ok(base);
        }
        let pending = what_is_missing(store, id);
        match wait {
            Some(w) if start.elapsed() + delay <= w => {
                errln!(
                    "waiting for decision {id} to be approved ({pending}); next check in {}s",
                    delay.as_secs()
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Some(w) => {
                return Err(CliError::violations(anyhow!(
                    "decision {id} is not approved after {}s ({pending}); nothing was run",
                    w.as_secs()
                )))
            }
            None => {
                return Err(CliError::violations(anyhow!(
                    "decision {id} is not approved: it is not on main ({pending}); nothing was run"
                ))
                .hint("an approver runs `aiaudit approve ID --push`; `--wait` waits for it"))
            }
        }
    }
}

/// What a decision still needs, from its proposal (the engine's own judgement of landing it):
/// an empty list when the proposal meets the policy.
pub(super) fn proposal_needs(store: &Store, prop: &util::Proposal) -> Vec<String> {
    let Ok(Some(entry)) = store.lookup(prop.commit.tree, &prop.path) else {
        return vec!["its proposal holds no record".into()];
    };
    let Ok(now) = util::now() else {
        return vec!["the clock is unreadable".into()];
    };
    // Judged as landing on today's main, as `approve` judges it: the policy there decides.
    let Ok(base) = main_base(store) else {
        return vec!["main is unreadable".into()];
    };
    let mut checker = Checker::new(store, now);
    let change = Change::added_blob(&prop.path, entry.oid);
    let stored: Vec<&Change> = prop.stored.iter().collect();
    let (_, diags) = checker.check_decision_commit(
        &CommitView::new(prop.commit.clone()),
        &base,
        &change,
        &stored,
        true,
    );
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect()
}

/// [`proposal_needs`] in one phrase.
fn what_is_missing(store: &Store, id: &str) -> String {
    let Ok(prop) = util::find_proposal(store, id) else {
        return "no proposal for it was found".into();
    };
    let needs = proposal_needs(store, &prop);
    if needs.is_empty() {
        "its proposal meets the policy and waits to be landed with `aiaudit approve`".into()
    } else {
        needs.join("; ")
    }
}

/// The decision on main, verified and judged now; refusal (nothing runs) otherwise.
pub(super) fn approved_decision(
    store: &Store,
    id: &str,
    base: &crate::store::CommitData,
    trust_root: Option<crate::store::Oid>,
) -> CliResult<Decision> {
    let history = super::verify::verify_and_remember(
        store,
        MAIN_REF,
        base.id,
        trust_root,
        false,
        "exec: verifying the ledger",
        &mut |_, _| {},
    )?;
    let errors: Vec<Diagnostic> = history
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(CliError::violations(anyhow!(
            "the ledger does not verify ({} violation(s)); nothing was run",
            errors.len()
        ))
        .with_diagnostics(errors));
    }
    let mut checker = Checker::new(store, util::now()?).with_index_upkeep(util::index_after());
    let (landing, diags) = checker
        .judge_landed_now(base, id)
        .map_err(|d| CliError::internal(anyhow!("{}", d.message)))?
        .ok_or_else(|| CliError::violations(anyhow!("decision {id} is not on main")))?;
    let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
    if !errors.is_empty() {
        return Err(CliError::violations(anyhow!(
            "decision {id} no longer meets its policy now (commit {}); nothing was run",
            landing.id
        ))
        .with_diagnostics(errors)
        .hint("a key that approved it was revoked or has expired since: collect a new approval"));
    }
    let path = record::path_for_id("decisions", id).unwrap_or_default();
    let entry = store
        .lookup(base.tree, &path)?
        .ok_or_else(|| CliError::violations(anyhow!("decision {id} is not on main")))?;
    let bytes = store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?;
    record::check_decision(&path, &bytes)
        .0
        .ok_or_else(|| CliError::internal(anyhow!("{path} does not parse")))
}

pub fn run_await(cwd: &Path, a: AwaitArgs) -> CliResult {
    let store = util::open(cwd)?;
    let wait = timeout(&a.timeout)?;
    let remote = a.remote.remote(&store);
    let base = until_landed(&store, &a.id, remote.as_deref(), Some(wait))?;
    approved_decision(&store, &a.id, &base, a.remote.trust_root()?)?;
    super::outln!("{}", a.id);
    errln!("decision {} is approved and on main", a.id);
    Ok(super::EXIT_OK)
}

pub fn run(cwd: &Path, a: ExecArgs) -> CliResult {
    let store = util::open(cwd)?;
    let wait = a.wait.as_deref().map(timeout).transpose()?;
    let remote = a.remote.remote(&store);
    let signer = a.signer.optional()?;
    let base = until_landed(&store, &a.id, remote.as_deref(), wait)?;
    let d = approved_decision(&store, &a.id, &base, a.remote.trust_root()?)?;

    // The command must be exactly the approved one.
    if d.action.command.is_empty() {
        return Err(CliError::violations(anyhow!(
            "decision {} does not name the command it approves; exec runs only approved commands; nothing was run",
            a.id
        ))
        .hint("record the decision with the exact command after `--`: aiaudit record … -- CMD ARGS"));
    }
    if d.action.command != a.command {
        return Err(CliError::violations(anyhow!(
            "`{}` is not the command decision {} approves: `{}`; nothing was run",
            crate::text::shell_words(&a.command),
            a.id,
            crate::text::shell_words(&d.action.command)
        )));
    }
    match (&d.action.payload, &a.payload) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(CliError::violations(anyhow!(
                "decision {} approves a payload (action.payload); give it with --payload FILE; nothing was run",
                a.id
            )))
        }
        (None, Some(_)) => {
            return Err(CliError::violations(anyhow!(
                "decision {} approves no payload, but --payload was given; nothing was run",
                a.id
            )))
        }
        (Some(want), Some(file)) => {
            let got = util::file_digest(file)?;
            if got != *want {
                return Err(CliError::violations(anyhow!(
                    "{} (sha256 {}, {} bytes) is not the payload decision {} approves (sha256 {}, {} bytes); nothing was run",
                    file.display(),
                    got.sha256,
                    got.size,
                    a.id,
                    want.sha256,
                    want.size
                )));
            }
        }
    }
    // Who executes, and whether the policy needs the outcome signed, before anything runs.
    let policy = util::policy_at(&store, base.tree)?;
    let actor = match &signer {
        Some(s) => super::event::signer_principal(&policy, s)?,
        None if policy.verdict(&d).signatures.outcome => {
            return Err(CliError::usage(anyhow!(
                "the policy requires the executor to sign the outcome; nothing was run"
            ))
            .hint("pass --key FILE (the executor's key file) or --gpg-key KEY"))
        }
        None => std::env::var("AIAUDIT_ACTOR").map_err(|_| {
            CliError::usage(anyhow!("who executes? nothing was run"))
                .hint("pass --key FILE (the executor signs the outcome) or set AIAUDIT_ACTOR")
        })?,
    };

    let started = util::now()?;
    let ran = execute(&a.command)?;
    let finished = util::now()?;
    let code = ran.status.code();
    let mut outcome = Outcome::new(
        if ran.status.success() {
            OutcomeStatus::Executed
        } else {
            OutcomeStatus::Failed
        },
        action_line(&a.command),
    );
    outcome.started = Some(rfc3339(started));
    outcome.finished = Some(rfc3339(finished));
    outcome.exit_code = code.map(i64::from);
    if code.is_none() {
        outcome.result = Some(signal_text(&ran.status));
    }
    outcome.output = Some(ran.stdout);
    outcome.log = Some(ran.stderr);
    errln!(
        "aiaudit: `{}` exited with {}; recording its outcome",
        crate::text::shell_words(&a.command),
        code.map(|c| c.to_string())
            .unwrap_or_else(|| signal_text(&ran.status))
    );
    super::event::land(
        &store,
        &a.id,
        &actor,
        EventKind::Outcome,
        Some(outcome),
        None,
        None,
        signer.as_ref(),
        remote.as_deref(),
    )
    .map_err(|e| CliError {
        error: anyhow!(
            "the command ran (exit {}), but its outcome could not be recorded: {:#}",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into()),
            e.error
        ),
        ..e
    })?;
    Ok(code.unwrap_or(EXIT_VIOLATIONS))
}

/// What ran, with the evidence of its output.
struct Ran {
    status: std::process::ExitStatus,
    stdout: ContentDigest,
    stderr: ContentDigest,
}

/// Runs `argv` without a shell: stdin inherited, stdout and stderr passed through as they come
/// and hashed on the way.
fn execute(argv: &[String]) -> CliResult<Ran> {
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            CliError::usage(anyhow!(
                "cannot run `{}`: {e}; nothing was run",
                crate::text::shell_words(&argv[..1])
            ))
        })?;
    let out = child.stdout.take().map(|p| tee(p, std::io::stdout()));
    let err = child.stderr.take().map(|p| tee(p, std::io::stderr()));
    let status = child
        .wait()
        .map_err(|e| CliError::internal(anyhow!("waiting for the command: {e}")))?;
    let join = |h: Option<std::thread::JoinHandle<ContentDigest>>| {
        h.and_then(|h| h.join().ok()).unwrap_or(ContentDigest {
            sha256: record::digest::sha256_hex(b""),
            size: 0,
        })
    };
    Ok(Ran {
        status,
        stdout: join(out),
        stderr: join(err),
    })
}

/// Copies `from` to `to` as it comes, returning the digest and size of what passed.
fn tee(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
) -> std::thread::JoinHandle<ContentDigest> {
    std::thread::spawn(move || {
        let mut hash = sha2::Sha256::new();
        let mut size = 0u64;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    hash.update(&buf[..n]);
                    size += n as u64;
                    // The caller's terminal may be gone; the evidence is still taken.
                    let _ = to.write_all(&buf[..n]);
                    let _ = to.flush();
                }
            }
        }
        ContentDigest {
            sha256: hex::encode(hash.finalize()),
            size,
        }
    })
}

fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| record::format_unix(t.as_second()))
        .unwrap_or_default()
}

fn signal_text(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = status.signal() {
            return format!("terminated by signal {sig}");
        }
    }
    format!("ended without an exit code ({status})")
}

/// The outcome's one-line `action`: `ran` and the command, shortened to fit a line.
fn action_line(argv: &[String]) -> String {
    let words = crate::text::shell_words(argv).replace('\n', " ");
    let mut line: String = words.chars().take(200).collect();
    if words.chars().count() > 200 {
        line.push('…');
    }
    format!("ran {line}")
}
