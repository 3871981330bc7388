//! `aiaudit log`: one line per decision on main, newest first, with filters.

use super::util::{self, main_base};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::ledger::read::{read_ledger, LedgerDecision};
use crate::record;
use anyhow::anyhow;
use serde_json::json;
use std::path::Path;

/// List the decisions on main, newest first.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub filter: DecisionFilter,
    /// At most this many lines.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON (an array, newest first).
    #[arg(long)]
    pub json: bool,
}

/// Which decisions on main a command looks at (`log`, `sample`).
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize)]
pub struct DecisionFilter {
    /// Only decisions initiated by this principal.
    #[arg(long, value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// Only decisions approved by this principal.
    #[arg(long, value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Only decisions on this repository (`action.target.repo`, e.g. a product repository).
    #[arg(long = "target-repo", value_name = "REPO")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_repo: Option<String>,
    /// Only this action kind.
    #[arg(long, value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(
        ["code-merge", "access-change", "secret-retrieval", "production-change", "config-change", "data-access", "other"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only this risk.
    #[arg(long, value_name = "RISK", value_parser = ["low", "medium", "high", "critical"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
    /// Only decisions whose model (provider/name@version) contains this text.
    #[arg(long, value_name = "TEXT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Only decisions created at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only decisions created before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Only decisions with this status.
    #[arg(long, value_name = "STATUS", value_parser = ["awaiting-outcome", "executed", "failed", "aborted", "rolled-back"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl DecisionFilter {
    /// The ledger of main at `base`, after refusing (exit 2) an `--initiator` or `--approver`
    /// that names nobody: no principal of the current policy and no initiator or approver
    /// anywhere in the ledger — a typo would otherwise match nothing, silently.
    pub fn read(
        &self,
        store: &crate::store::Store,
        base: &crate::store::CommitData,
    ) -> CliResult<crate::ledger::read::Ledger> {
        let ledger = read_ledger(store, base.id, &mut |_| {})?;
        let policy = util::policy_at(store, base.tree)?;
        self.check_principals(&ledger.decisions, &policy)?;
        Ok(ledger)
    }

    fn check_principals(
        &self,
        ledger: &[LedgerDecision],
        policy: &crate::policy::Policy,
    ) -> CliResult<()> {
        for (flag, id) in [
            ("--initiator", &self.initiator),
            ("--approver", &self.approver),
        ] {
            let Some(id) = id else { continue };
            let known = policy.principal(id).is_some()
                || ledger.iter().any(|d| {
                    d.decision.initiator.id == *id || d.approvals.iter().any(|a| a.principal == *id)
                });
            if !known {
                let ids: Vec<&str> = policy.principals.iter().map(|p| p.id.as_str()).collect();
                return Err(CliError::usage(anyhow::anyhow!(
                    "{flag} {id}: no principal `{id}` in the policy or the ledger; the policy's principals are {}",
                    ids.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// A predicate keeping the decisions the filter names; bad times are usage errors.
    pub fn predicate(&self) -> CliResult<impl Fn(&LedgerDecision) -> bool + '_> {
        let (since, until) = time_bounds(&self.since, &self.until)?;
        Ok(move |d: &LedgerDecision| {
            let x = &d.decision;
            let created = record::parse_created(&x.created)
                .map(|t| t.as_second())
                .unwrap_or(0);
            self.initiator.as_ref().is_none_or(|i| &x.initiator.id == i)
                && self
                    .target_repo
                    .as_ref()
                    .is_none_or(|r| x.action.target.repo.as_ref() == Some(r))
                && self
                    .approver
                    .as_ref()
                    .is_none_or(|p| d.approvals.iter().any(|s| &s.principal == p))
                && self
                    .action
                    .as_ref()
                    .is_none_or(|k| x.action.kind.as_str() == k)
                && self.risk.as_ref().is_none_or(|r| x.risk.as_str() == r)
                && self
                    .model
                    .as_ref()
                    .is_none_or(|m| x.ai.model.trailer().contains(m.as_str()))
                && since.is_none_or(|s| created >= s)
                && until.is_none_or(|u| created < u)
                && self.status.as_ref().is_none_or(|s| d.status() == s)
        })
    }
}

/// Parses RFC 3339 or a bare date (midnight UTC) to seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let d: jiff::civil::Date = s.parse().ok()?;
    format!("{d}T00:00:00Z")
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// `--since` / `--until` as seconds; a value that is not RFC 3339 or a date is a usage error
/// naming the flag.
pub fn time_bounds(
    since: &Option<String>,
    until: &Option<String>,
) -> CliResult<(Option<i64>, Option<i64>)> {
    let bound = |s: &Option<String>, flag: &str| -> CliResult<Option<i64>> {
        s.as_deref()
            .map(|v| {
                parse_time(v).ok_or_else(|| {
                    CliError::usage(anyhow!("{flag} `{v}` is not RFC 3339 or YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    Ok((bound(since, "--since")?, bound(until, "--until")?))
}

pub fn run(cwd: &Path, a: LogArgs) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let keep = a.filter.predicate()?;
    let ledger = a.filter.read(&store, &base)?;
    let rows: Vec<&LedgerDecision> = ledger
        .decisions
        .iter()
        .rev()
        .filter(|d| keep(d))
        .take(a.limit.unwrap_or(usize::MAX))
        .collect();
    if a.json {
        let out: Vec<_> = rows
            .iter()
            .map(|d| {
                json!({
                    "id": d.decision.id,
                    "created": d.decision.created,
                    "initiator": d.decision.initiator.id,
                    "owner": d.decision.initiator.owner,
                    "action": d.decision.action.kind.as_str(),
                    "system": d.decision.action.target.system,
                    "repo": d.decision.action.target.repo,
                    "change": d.decision.action.target.change,
                    "resource": d.decision.action.target.resource,
                    "summary": d.decision.action.summary,
                    "risk": d.decision.risk.as_str(),
                    "model": d.decision.ai.model.trailer(),
                    "ai_role": d.decision.ai.role.as_str(),
                    "approvers": d.approvals.iter().map(|s| s.principal.as_str()).collect::<Vec<_>>(),
                    "status": d.status(),
                    "commit": d.commit,
                    "path": d.path,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(CliError::internal)?
        );
        return Ok(EXIT_OK);
    }
    for d in &rows {
        let x = &d.decision;
        let approvers: Vec<&str> = d.approvals.iter().map(|s| s.principal.as_str()).collect();
        let target = match (&x.action.target.repo, &x.action.target.change) {
            (Some(r), Some(c)) => format!("{} ({r} {c})", x.action.target.system),
            (Some(r), None) => format!("{} ({r})", x.action.target.system),
            (None, Some(c)) => format!("{} ({c})", x.action.target.system),
            (None, None) => x.action.target.system.clone(),
        };
        let by = match &x.initiator.owner {
            Some(o) => format!("{} (owner {o})", x.initiator.id),
            None => x.initiator.id.clone(),
        };
        outln!(
            "{}  {}  {:<8} {} on {}  by {}  approved by {}  [{}]  {}",
            x.created,
            x.id,
            x.risk.as_str(),
            x.action.kind.as_str(),
            target,
            by,
            if approvers.is_empty() {
                "nobody (post-review)".to_owned()
            } else {
                approvers.join(", ")
            },
            d.status(),
            x.action.summary.lines().next().unwrap_or("")
        );
    }
    if rows.is_empty() {
        errln!("no decisions match");
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use crate::record::ActionKind;
    use clap::CommandFactory as _;

    /// The `--action` filter offers exactly the schema's action kinds.
    #[test]
    fn action_filter_knows_every_action_kind() {
        let cmd = crate::cli::Cli::command();
        let log = cmd.find_subcommand("log").expect("log");
        let arg = log
            .get_arguments()
            .find(|a| a.get_id() == "action")
            .expect("--action");
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        let kinds: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(values, kinds);
    }
}
