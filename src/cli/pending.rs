//! `aiaudit pending`: decisions waiting for approval.

use super::util::{self, main_base};
use super::{errln, outln};
use super::{CliResult, EXIT_OK};
use crate::ledger::trailers;
use crate::record;
use serde_json::json;
use std::path::Path;

/// List proposals awaiting approval, with what each still needs
///
/// Local and fetched proposal refs, judged as landing on today's main.
#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cwd: &Path, a: PendingArgs) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let policy = util::policy_at(&store, base.tree)?;
    let mut rows = Vec::new();
    for (_, refname, oid) in util::proposal_refs(&store)? {
        let prop = match util::load_proposal(&store, &refname, oid) {
            Ok(p) => p,
            Err(e) => {
                errln!("warning: {refname}: {:#}", e.error);
                continue;
            }
        };
        let (Some(d), _) = record::check_decision(&prop.path, &prop.bytes) else {
            errln!(
                "warning: {refname}: {} does not parse as a decision",
                prop.path
            );
            continue;
        };
        // Landed already (a stale proposal ref)?
        if store.lookup(base.tree, &prop.path)?.is_some() {
            continue;
        }
        let approvals: Vec<String> = trailers::parse(&prop.commit.message)
            .well_formed_signatures(trailers::APPROVED_BY)
            .into_iter()
            .map(|x| x.principal)
            .collect();
        let verdict = policy.verdict(&d);
        rows.push(json!({
            "id": d.id,
            "created": d.created,
            "initiator": d.initiator.id,
            "action": d.action.kind.as_str(),
            "system": d.action.target.system,
            "summary": d.action.summary,
            "risk": d.risk.as_str(),
            "rule": verdict.rule,
            "requires": verdict.require.iter().map(|q| q.describe()).collect::<Vec<_>>(),
            "approvals": approvals,
            "ref": refname,
        }));
    }
    if a.json {
        outln!("{}", serde_json::Value::Array(rows));
        return Ok(EXIT_OK);
    }
    if rows.is_empty() {
        outln!("no decisions are waiting for approval");
        return Ok(EXIT_OK);
    }
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
        let list = |k: &str| {
            r[k].as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        outln!(
            "{}  {}  {} on {}  risk {}  by {}",
            s("id"),
            s("created"),
            s("action"),
            s("system"),
            s("risk"),
            s("initiator")
        );
        outln!("    {}", s("summary").lines().next().unwrap_or(""));
        let have = list("approvals");
        outln!(
            "    needs {}; approved by {}",
            list("requires"),
            if have.is_empty() {
                "nobody yet".into()
            } else {
                have
            }
        );
    }
    Ok(EXIT_OK)
}
