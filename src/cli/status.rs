//! `aiaudit status`: where one decision stands — approved (so `exec` would run its command),
//! pending with what it still needs, refused now, or unknown — and the outcomes recorded.
//! The same judgement as `exec` (the engine's, resuming this clone's last clean verify), so an
//! agent or a script can ask before it tries.

use super::exec::{approved_decision, proposal_needs, RemoteArgs};
use super::util::{self, main_base};
use super::{outln, CliError, CliResult, EXIT_OK, EXIT_VIOLATIONS};
use crate::ledger::trailers;
use crate::record::{self, EventKind};
use serde_json::{json, Value};
use std::path::Path;

/// Where a decision stands: approved, pending and what it needs, refused, or unknown
///
/// `approved` (on main, the ledger verifies and its approvals meet the
/// policy now: `aiaudit exec` runs its command), `pending` (a proposal, with what it still
/// needs), `refused` (on main but no longer meeting its policy, or the ledger does not verify)
/// or `unknown`; and the outcomes recorded for it. Exit 0 when approved, 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The decision id.
    pub id: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A decision's state, as `status` reports it.
pub(super) struct Status {
    pub state: &'static str,
    pub needs: Vec<String>,
    pub json: Value,
}

/// Judges decision `id` in the clone at `store` (fetched first when a remote is given).
pub(super) fn status_of(
    store: &crate::store::Store,
    id: &str,
    remote: &RemoteArgs,
) -> CliResult<Status> {
    if record::path_for_id("decisions", id).is_none() {
        return Err(CliError::usage(anyhow::anyhow!(
            "`{id}` is not a decision id"
        )));
    }
    if let Some(r) = remote.remote(store) {
        util::git_fetch(store, &r)?;
    }
    let base = main_base(store)?;
    let approvals_of = |message: &str| -> Vec<String> {
        trailers::parse(message)
            .well_formed_signatures(trailers::APPROVED_BY)
            .into_iter()
            .map(|a| a.principal)
            .collect()
    };
    if let Some((landing, _, bytes, events)) = super::show::find_on_main(store, &base, id)? {
        let command = record::check_decision("", &bytes)
            .0
            .map(|d| d.action.command)
            .unwrap_or_default();
        let (state, needs) = match approved_decision(store, id, &base, remote.trust_root()?) {
            Ok(_) => ("approved", Vec::new()),
            Err(e) if e.kind == super::ErrorKind::Violations => {
                let mut needs: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
                needs.push(format!("{:#}", e.error));
                ("refused", needs)
            }
            Err(e) => return Err(e),
        };
        let outcomes: Vec<Value> = events
            .iter()
            .filter(|ev| ev.event.kind == EventKind::Outcome)
            .map(|ev| {
                let o = ev.event.outcome.as_ref();
                json!({
                    "event": ev.event.id,
                    "commit": ev.commit.id.to_string(),
                    "actor": ev.event.actor.id,
                    "status": o.map(|o| o.status.as_str()),
                    "exit_code": o.and_then(|o| o.exit_code),
                    "result": o.and_then(|o| o.result.clone()),
                })
            })
            .collect();
        let json = json!({
            "id": id,
            "state": state,
            "needs": needs,
            "landed": landing.id.to_string(),
            "approvals": approvals_of(&landing.message),
            "command": command,
            "outcomes": outcomes,
        });
        return Ok(Status { state, needs, json });
    }
    let Ok(prop) = util::find_proposal(store, id) else {
        let needs = vec![format!(
            "no decision `{id}` is on main and no proposal for it is known{}",
            if remote.offline {
                " (offline: nothing was fetched)"
            } else {
                ""
            }
        )];
        return Ok(Status {
            state: "unknown",
            json: json!({"id": id, "state": "unknown", "needs": needs}),
            needs,
        });
    };
    let needs = proposal_needs(store, &prop);
    let command = record::check_decision(&prop.path, &prop.bytes)
        .0
        .map(|d| d.action.command)
        .unwrap_or_default();
    let needs = if needs.is_empty() {
        vec![
            "its proposal meets the policy: an approver lands it with `aiaudit approve ID --push`"
                .into(),
        ]
    } else {
        needs
    };
    let json = json!({
        "id": id,
        "state": "pending",
        "needs": needs,
        "proposal": prop.refname,
        "approvals": approvals_of(&prop.commit.message),
        "command": command,
    });
    Ok(Status {
        state: "pending",
        needs,
        json,
    })
}

pub fn run(cwd: &Path, a: StatusArgs) -> CliResult {
    let store = util::open(cwd)?;
    let s = status_of(&store, &a.id, &a.remote)?;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&s.json).map_err(CliError::internal)?
        );
    } else {
        outln!("decision {}: {}", a.id, s.state);
        let list = |k: &str| {
            s.json[k]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let command = list("command");
        if !command.is_empty() {
            outln!("  command    {}", crate::text::shell_words(&command));
        }
        if s.state != "unknown" {
            let ap = list("approvals");
            outln!(
                "  approvals  {}",
                if ap.is_empty() {
                    "none yet".into()
                } else {
                    ap.join(", ")
                }
            );
        }
        for n in &s.needs {
            outln!("  needs      {n}");
        }
        for o in s.json["outcomes"].as_array().into_iter().flatten() {
            outln!(
                "  outcome    {} by {}: {}{}",
                o["event"].as_str().unwrap_or(""),
                o["actor"].as_str().unwrap_or(""),
                o["status"].as_str().unwrap_or(""),
                o["exit_code"]
                    .as_i64()
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if s.state == "approved" {
        EXIT_OK
    } else {
        EXIT_VIOLATIONS
    })
}
