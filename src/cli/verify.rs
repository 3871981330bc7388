//! `aiaudit verify`: every rule of the hook over the whole history, offline.

use super::util;
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK, EXIT_VIOLATIONS};
use crate::diag::{Code, Diagnostic};
use crate::engine::{Checker, Coverage, VerifyState};
use crate::ledger::MAIN_REF;
use crate::store::Oid;
use anyhow::anyhow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Verify the audit log: every commit on main from the root, by the hook's rules
///
/// Every commit on main from the root, with the same rules the server's hook applies, plus history-wide rules (unique ids, pinned root of trust). Exit 0 when clean,
/// 1 on violations.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The ref or commit to verify.
    #[arg(long = "ref", default_value = MAIN_REF)]
    pub refname: String,
    /// Fail unless the root commit is this one (the root of trust you pinned).
    #[arg(long, value_name = "COMMIT")]
    pub trust_root: Option<String>,
    /// Fail unless the first policy's admins hold exactly these primary-key fingerprints
    /// (comma-separated): pins the root of trust by keys instead of by commit.
    #[arg(long, value_name = "FPR,...", value_delimiter = ',')]
    pub trust_admins: Vec<String>,
    /// Check every commit from the root, not only those added since the last clean verify
    /// of this clone (which it remembers in .git/aiaudit/verify-state.json).
    #[arg(long)]
    pub full: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cwd: &Path, a: VerifyArgs) -> CliResult {
    let store = util::open(cwd)?;
    let tip = match store.ref_target(&a.refname)? {
        Some(t) => t,
        None => match Oid::from_hex(a.refname.as_bytes()) {
            Ok(o) => o,
            Err(_) => {
                return Err(CliError::usage(anyhow!(
                    "no ref `{}` in this repository",
                    a.refname
                )))
            }
        },
    };
    let trust_root = util::parse_trust_root(a.trust_root.as_deref())?;
    let report = verify_and_remember(
        &store,
        &a.refname,
        tip,
        trust_root,
        a.full,
        "verify",
        &mut |checker, report| {
            if !a.trust_admins.is_empty() {
                if let Some(d) =
                    check_trust_admins(&store, checker, report.root.as_deref(), &a.trust_admins)
                {
                    report.diagnostics.push(d);
                }
            }
        },
    )?;
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = report.diagnostics.len() - errors;
    let clean = errors == 0;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(CliError::internal)?
        );
    } else {
        util::print_diagnostics(&report.diagnostics);
        outln!(
            "{}: {} commits ({} decisions, {} events, {} policy changes) from root {} to {}; {errors} violation(s), {warnings} warning(s)",
            if clean { "ok" } else { "FAILED" },
            report.commits,
            report.decisions,
            report.events,
            report.policy_changes,
            report.root.as_deref().map(short).unwrap_or("?"),
            report.tip.as_deref().map(short).unwrap_or("?"),
        );
        let l = &report.links;
        outln!(
            "   links: {} of {} record(s) signed by their initiator, {} approval(s), {} of {} outcome(s) signed by their executor, {} review(s)",
            l.initiator.signed,
            l.initiator.signed + l.initiator.unsigned,
            l.approvals,
            l.outcome.signed,
            l.outcome.signed + l.outcome.unsigned,
            l.reviews
        );
        if trust_root.is_none() {
            errln!(
                "warning: no root of trust is pinned (--trust-root COMMIT or AIAUDIT_TRUST_ROOT): this shows the history is consistent with itself, not that it is the history you trust"
            );
        }
        // A resumed run that failed before checking anything new has nothing to say about
        // coverage (a root that does not match, say).
        if report.coverage == Some(Coverage::Resumed) && (clean || report.checked.unwrap_or(0) > 0)
        {
            outln!(
                "   checked the {} commit(s) added since the last clean verify of this clone; `--full` checks all",
                report.checked.unwrap_or(0)
            );
        }
    }
    Ok(if clean { EXIT_OK } else { EXIT_VIOLATIONS })
}

/// Verifies `refname` at `tip` as `aiaudit verify` does — resuming from this clone's last clean
/// run unless `full`, `extra` adding checks of its own — and remembers a clean result (the
/// verified head, the state to resume from).
#[allow(clippy::too_many_arguments)]
pub(super) fn verify_and_remember(
    store: &crate::store::Store,
    refname: &str,
    tip: Oid,
    trust_root: Option<Oid>,
    full: bool,
    label: &str,
    extra: &mut dyn FnMut(&mut Checker<'_>, &mut crate::engine::HistoryReport),
) -> CliResult<crate::engine::HistoryReport> {
    let remembered_file = store.git_dir().join("aiaudit").join("verified-heads");
    let mut remembered = read_remembered(&remembered_file);
    let state_file = store.git_dir().join("aiaudit").join("verify-state.json");
    let mut states = read_states(&state_file);
    let resume = if full {
        None
    } else {
        states.get(refname).cloned()
    };
    let progress = super::progress::Progress::history(label);
    let mut checker = Checker::new(store, util::now()?).with_progress(progress.for_engine());
    let (mut report, mut state) =
        checker.check_history_resume(tip, trust_root, remembered.get(refname).copied(), resume);
    drop(progress);
    extra(&mut checker, &mut report);
    if !report.diagnostics.iter().any(Diagnostic::is_error) {
        // Remember what was verified: a later verify fails loudly if it is rewritten away.
        remembered.insert(refname.to_owned(), tip);
        remember(&remembered_file, "the verified head", |w| {
            for (name, oid) in &remembered {
                writeln!(w, "{name} {oid}")?;
            }
            Ok(())
        });
        if let (Some(u), true) = (state.index.take(), refname == crate::ledger::MAIN_REF) {
            let dir = store.git_dir().join("aiaudit");
            if let Err(e) = crate::ledger::index::update(&dir, &u) {
                errln!(
                    "warning: cannot update the index of main in {}: {e}",
                    dir.display()
                );
            }
        }
        states.insert(refname.to_owned(), state);
        remember(&state_file, "the verify state", |w| {
            serde_json::to_writer(w, &states).map_err(std::io::Error::from)
        });
    }
    Ok(report)
}

fn read_remembered(path: &Path) -> BTreeMap<String, Oid> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, oid) = l.rsplit_once(' ')?;
            Some((name.to_owned(), Oid::from_hex(oid.as_bytes()).ok()?))
        })
        .collect()
}

/// Writes `path` through a temporary file renamed into place, so an interrupted verify leaves
/// the old record; a failure is a warning (what is remembered only saves later work).
fn remember(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) {
    if let Err(e) = crate::ledger::index::write_replacing(path, write) {
        errln!("warning: cannot remember {what} in {}: {e}", path.display());
    }
}

/// The remembered states by ref; an unreadable file is ignored (the next verify is full).
fn read_states(path: &Path) -> BTreeMap<String, VerifyState> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

/// The root policy's admin keys must be exactly the pinned set.
fn check_trust_admins(
    store: &crate::store::Store,
    checker: &mut Checker<'_>,
    root: Option<&str>,
    pinned: &[String],
) -> Option<Diagnostic> {
    let root = root.and_then(|r| Oid::from_hex(r.as_bytes()).ok())?;
    let mismatch =
        |m: String| Some(Diagnostic::new(Code::TrustRootMismatch, m).at_commit(root.to_string()));
    let tree = match store.commit(root) {
        Ok(c) => c.tree,
        Err(e) => return mismatch(e.to_string()),
    };
    let policy = match checker.governance().policy_at(tree) {
        Ok(p) => p,
        Err(e) => return mismatch(format!("the root policy is unusable: {e}")),
    };
    let actual: BTreeSet<String> = policy
        .principals
        .iter()
        .filter(|p| p.groups.contains(&policy.admins.group))
        .flat_map(|p| p.keys.iter().cloned())
        .collect();
    let want: BTreeSet<String> = pinned
        .iter()
        .map(|f| f.trim().to_ascii_uppercase())
        .collect();
    (actual != want).then(|| {
        Diagnostic::new(
            Code::TrustRootMismatch,
            format!(
                "the root policy's admin keys are {}, the pinned set is {}",
                actual.into_iter().collect::<Vec<_>>().join(","),
                want.into_iter().collect::<Vec<_>>().join(",")
            ),
        )
        .at_commit(root.to_string())
    })
}
