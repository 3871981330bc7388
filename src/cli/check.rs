//! `aiaudit check`: run in a product repository's CI, over a range of its commits. What it
//! judges lives in [`crate::compliance`]; this command resolves the range (through the store),
//! opens (or clones) the audit repository, and prints.
//!
//! A URL given to `--audit-repo` is cloned (bare, into a temporary directory) with `git clone`:
//! with `--push`, the only places aiaudit runs the git binary, for transport gitoxide lacks
//! here.

use super::util::{self, main_base};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK, EXIT_VIOLATIONS};
use crate::compliance::{repo::normalize_repo, Compliance};
use crate::diag::Severity;
use crate::engine::Checker;
use crate::ledger::read::read_ledger;
use crate::store::{Oid, RevError, Store};
use anyhow::anyhow;
use serde_json::json;
use std::path::Path;

/// Check a product repository's commits against the audit repository's decisions
///
/// Every commit with a `Decision-Id` trailer, or AI-assisted (`Assisted-by:`, `Generated-by:`, or a
/// `Co-authored-by:` naming a known AI tool), must map to an approved decision on the audit
/// repository's main whose target names this repository.
///
/// Run it in the product repository (or pass -C DIR). Exit 0 when every such commit is
/// covered (warnings allowed), 1 on gaps, 2 on usage errors.
///
/// Example, in a pull request's CI: `aiaudit check --audit-repo
/// https://git.example.com/sec/audit.git "$BASE_SHA..$HEAD_SHA"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audit repository: a local clone or bare repository, or a URL, which is cloned
    /// (bare, to a temporary directory) with `git clone`. Default: this repository's
    /// `aiaudit.auditRepo` (git config; a relative path is taken from the repository's top).
    #[arg(long, value_name = "PATH|URL", env = "AIAUDIT_AUDIT_REPO")]
    pub audit_repo: Option<String>,
    /// The commits to check: `BASE..HEAD` (reachable from HEAD, not from BASE; either side
    /// defaults to HEAD) or one revision (that commit alone). Revisions: full or abbreviated
    /// commit ids, HEAD, branch, tag and remote-tracking names, with `~N` / `^N` suffixes.
    #[arg(value_name = "REV-RANGE")]
    pub range: String,
    /// This repository's name as decisions name it in `action.target.repo` or `.system`,
    /// e.g. `github.com/acme/payments`. Default: `remote.origin.url`, normalized to
    /// host/owner/name. A name without a host matches that owner/name on any host.
    #[arg(long, value_name = "NAME", env = "AIAUDIT_TARGET_REPO")]
    pub target_repo: Option<String>,
    /// Also recognize this AI tool in `Co-authored-by` trailers (repeatable).
    #[arg(long = "ai-tool", value_name = "NAME")]
    pub ai_tools: Vec<String>,
    /// First verify the audit repository's whole main, as `aiaudit verify --trust-root
    /// COMMIT` does, and fail if it does not verify (for audit repositories on forges without
    /// server hooks).
    #[arg(long, value_name = "COMMIT")]
    pub trust_root: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

// ---- the audit repository -----------------------------------------------------------------

fn looks_like_url(s: &str) -> bool {
    s.contains("://")
        || s.split_once(':')
            .is_some_and(|(h, _)| !h.is_empty() && !h.contains('/') && h.len() > 1)
}

/// `spec` without the credentials a URL may carry (`https://user:token@host/...`), for printing.
fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let slash = rest.find('/').unwrap_or(rest.len());
    match rest[..slash].rfind('@') {
        Some(at) if rest[..at].contains(':') || scheme.starts_with("http") => {
            format!("{scheme}://***@{}", &rest[at + 1..])
        }
        _ => spec.to_owned(),
    }
}

/// Opens the audit repository, cloning a URL (bare, quietly) into a temporary directory.
fn open_audit(spec: &str) -> CliResult<(Store, Option<tempfile::TempDir>)> {
    let path = Path::new(spec);
    if path.exists() || !looks_like_url(spec) {
        // Absolute: gix's discovery trips over relative paths to bare repositories (`../x.git`).
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let store = Store::discover(&path).map_err(|e| {
            CliError::usage(anyhow!("--audit-repo {}: {e}", redact(spec)))
                .hint("give a clone of the audit repository, a bare repository, or its URL")
        })?;
        return Ok((store, None));
    }
    let tmp = tempfile::Builder::new()
        .prefix("aiaudit-check-")
        .tempdir()
        .map_err(|e| CliError::internal(anyhow!("cannot create a temporary directory: {e}")))?;
    let dest = tmp.path().join("audit.git");
    // The git binary for transport only (gitoxide's clone is not built in); stdout stays ours.
    let status = std::process::Command::new("git")
        .args(["clone", "--bare", "--quiet", "--", spec])
        .arg(&dest)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| CliError::usage(anyhow!("cannot run git clone: {e}")))?;
    if !status.success() {
        return Err(CliError::usage(anyhow!(
            "cannot clone the audit repository {}",
            redact(spec)
        ))
        .hint(
            "check the URL and that this job may read it (a deploy key or token), \
                 or clone it yourself and pass the path",
        ));
    }
    let store = Store::discover(&dest).map_err(CliError::internal)?;
    Ok((store, Some(tmp)))
}

pub fn run(cwd: &Path, a: Args) -> CliResult {
    let cwd = &std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_owned());
    let product = Store::discover(cwd).map_err(|e| {
        CliError::usage(e).hint("run inside the product repository, or pass -C DIR")
    })?;
    let repo_name = match &a.target_repo {
        Some(n) => normalize_repo(n),
        None => match product.config_string("remote.origin.url") {
            Some(u) => normalize_repo(&u),
            None => {
                return Err(usage(
                    "cannot tell this repository's name: it has no remote.origin.url".into(),
                )
                .hint("pass --target-repo NAME, e.g. github.com/acme/payments"))
            }
        },
    };
    if repo_name.is_empty() {
        return Err(usage("--target-repo is empty".into()));
    }
    let commits = product.commits_in(&a.range).map_err(rev_error)?;

    let audit_spec = match &a.audit_repo {
        Some(s) => s.clone(),
        None => match super::settings::set_value(&product, "aiaudit.auditRepo") {
            Some(v) if looks_like_url(&v) => v,
            Some(v) => super::settings::config_path(&product, &v)
                .to_string_lossy()
                .into_owned(),
            None => return Err(usage("no audit repository given".into()).hint(
                "pass --audit-repo PATH|URL, or set it once: git config aiaudit.auditRepo PATH|URL",
            )),
        },
    };
    let (audit, _tmp) = open_audit(&audit_spec)?;
    let base = main_base(&audit).map_err(|e| {
        let m = format!("--audit-repo {}: {:#}", redact(&audit_spec), e.error);
        usage(m).hint("--audit-repo must be the audit repository (with a main branch)")
    })?;
    let mut checker = Checker::new(&audit, util::now()?);
    if let Some(root) = &a.trust_root {
        let root = Oid::from_hex(root.as_bytes())
            .map_err(|_| usage(format!("--trust-root `{root}` is not a full commit id")))?;
        let report = checker.check_history_from(base.id, Some(root), None);
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            for d in &errors {
                errln!("{d}");
            }
            return Err(CliError::violations(anyhow!(
                "the audit repository does not verify against --trust-root: {} violation(s); its decisions cannot be relied on",
                errors.len()
            ))
            .hint("run `aiaudit verify --trust-root ...` in a clone of it, and tell its admins"));
        }
    }
    let ledger = read_ledger(&audit, base.id, &mut |_| {})?;
    let proposals = util::proposal_refs(&audit)?
        .into_iter()
        .map(|(id, _, _)| id);
    let mut judge = Compliance::new(&audit, &ledger, proposals, &repo_name, a.ai_tools.clone());
    let mut findings = Vec::new();
    let mut checked = Vec::new();
    for c in &commits {
        if let Some(mut ch) = judge.judge(&product, c).map_err(CliError::internal)? {
            findings.append(&mut ch.findings);
            checked.push(ch);
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let gaps = checked.iter().filter(|c| !c.compliant).count();
    let clean = errors == 0;
    if a.json {
        let out = json!({
            "ok": clean,
            "repository": repo_name,
            "range": a.range,
            "audit_repo": redact(&audit_spec),
            "audit_main": base.id.to_string(),
            "commits": commits.len(),
            "checked": checked.len(),
            "compliant": checked.len() - gaps,
            "gaps": gaps,
            "errors": errors,
            "warnings": warnings,
            "results": checked,
            "findings": findings,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(CliError::internal)?
        );
    } else {
        for ch in checked.iter().filter(|c| c.compliant) {
            for n in &ch.notes {
                outln!(
                    "ok: commit {} \"{}\" -> decision {n}",
                    &ch.commit[..12.min(ch.commit.len())],
                    ch.subject
                );
            }
        }
        for f in &findings {
            errln!("{f}");
        }
        outln!(
            "{}: {} commit(s) in {} of {}; {} AI-assisted or naming a decision: {} covered, {} gap(s); {} warning(s) (audit main {})",
            if clean { "ok" } else { "FAILED" },
            commits.len(),
            a.range,
            repo_name,
            checked.len(),
            checked.len() - gaps,
            gaps,
            warnings,
            &base.id.to_string()[..12],
        );
    }
    Ok(if clean { EXIT_OK } else { EXIT_VIOLATIONS })
}

fn usage(m: String) -> CliError {
    CliError::usage(anyhow!(m))
}

/// A revision that cannot be read, with what to do about it.
fn rev_error(e: RevError) -> CliError {
    let history_hint = "clone the whole history (GitHub Actions: actions/checkout with \
                        fetch-depth: 0; GitLab CI: GIT_DEPTH: \"0\")";
    match e {
        RevError::Store(e) => e.into(),
        RevError::Unknown(_) => {
            CliError::usage(e).hint(format!("fetch it first; in CI, {history_hint}"))
        }
        RevError::Incomplete(_) => CliError::usage(e).hint(history_hint),
        _ => CliError::usage(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_of_urls() {
        assert_eq!(
            redact("https://x-access-token:s3cret@github.com/acme/audit.git"),
            "https://***@github.com/acme/audit.git"
        );
        assert_eq!(redact("/srv/git/audit.git"), "/srv/git/audit.git");
    }
}

/// Print the change digest of product commits, for `record --covers`
///
/// The change digest is what a code-merge decision names with
/// `aiaudit record --covers DIGEST` so that `aiaudit check` accepts exactly that change: the
/// SHA-256 of the sorted `<mode> <object id> <path>` lines of the files each commit changes
/// against its first parent (docs/check.md). Run it in the product repository; it depends on
/// the files changed, not on the commit message, author or dates.
#[derive(Debug, clap::Args)]
pub struct ChangeDigestArgs {
    /// Commits (a revision, or a range A..B); default HEAD.
    #[arg(value_name = "REV")]
    pub revs: Vec<String>,
}

pub fn change_digest(cwd: &Path, a: ChangeDigestArgs) -> CliResult {
    let cwd = &std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_owned());
    let product = Store::discover(cwd)
        .map_err(|e| CliError::usage(anyhow!("{} is not a git repository: {e}", cwd.display())))?;
    let revs = if a.revs.is_empty() {
        vec!["HEAD".to_owned()]
    } else {
        a.revs.clone()
    };
    for rev in &revs {
        let commits = product
            .commits_in(rev)
            .map_err(|e| CliError::usage(anyhow!("{e}")))?;
        for c in commits {
            let digest = crate::compliance::change::change_digest(&product, &c)?;
            outln!("{digest}  {}", c.id);
        }
    }
    Ok(EXIT_OK)
}
