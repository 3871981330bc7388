//! `aiaudit show`: the chain of one decision, in order.

use super::util::{self, main_base};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::{Checker, MAIN_REF};
use crate::record::{self, Decision, Event};
use crate::store::{CommitData, Store};
use crate::trailers::{self, Approval};
use anyhow::anyhow;
use serde_json::json;
use std::path::Path;

/// Show one decision's chain: initiator → context → model and agents → recommendation →
/// approvals with live signature status → the commit that carries it.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The decision id (or a unique prefix of a pending one).
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cwd: &Path, a: ShowArgs) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let (commit, parent, bytes, status, events) = match find_on_main(&store, &base, &a.id)? {
        Some((c, p, b, ev)) => (c, p, b, "landed on main", ev),
        None => {
            let p = util::find_proposal(&store, &a.id)?;
            (p.commit, p.parent, p.bytes, "pending approval", Vec::new())
        }
    };
    let path = {
        let (Some(d), _) = record::check_decision("", &bytes) else {
            return Err(CliError::violations(anyhow!("the record does not parse")));
        };
        record::decision_path(&d).unwrap_or_default()
    };
    let (decision, diags) = record::check_decision(&path, &bytes);
    let d: Decision =
        decision.ok_or_else(|| CliError::violations(anyhow!("the record does not parse")))?;
    let mut checker = Checker::new(&store, util::now()?);
    let policy = util::policy_at(&mut checker, parent.tree)?;
    let mut approvals = Vec::new();
    for v in trailers::parse(&commit.message).all(trailers::APPROVED_BY) {
        match Approval::parse(v) {
            Ok(ap) => {
                let status = match checker.verify_signature(parent.tree, &policy, &ap, &bytes) {
                    Ok(_) => "valid".to_owned(),
                    Err(e) => format!("INVALID [{}]: {}", e.code, e.message),
                };
                approvals.push(json!({"principal": ap.principal, "key": ap.key, "status": status}));
            }
            Err(e) => {
                approvals.push(json!({"principal": null, "status": format!("malformed: {e}")}))
            }
        }
    }
    if a.json {
        let out = json!({
            "status": status,
            "path": path,
            "commit": commit.id.to_string(),
            "decision": serde_json::to_value(&d).map_err(CliError::internal)?,
            "approvals": approvals,
            "events": events.iter().map(|(c, e)| json!({"commit": c, "event": e})).collect::<Vec<_>>(),
            "findings": diags,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(CliError::internal)?
        );
        return Ok(EXIT_OK);
    }
    println!("decision {} — {status}", d.id);
    println!("  created    {}", d.created);
    let owner = d
        .initiator
        .owner
        .as_ref()
        .map(|o| format!(", owner {o}"))
        .unwrap_or_default();
    println!(
        "1 initiator  {} ({}{owner}){}",
        d.initiator.id,
        d.initiator.kind.as_str(),
        d.initiator
            .name
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    println!(
        "2 context    {} ({} input(s))",
        d.context.digest,
        d.context.entries.len()
    );
    for e in &d.context.entries {
        println!(
            "               {:<20} {:<24} {:>8} B  sha256:{}",
            e.kind.as_str(),
            e.name,
            e.size,
            &e.sha256[..16]
        );
    }
    println!(
        "3 model      {} — AI {} the action",
        d.ai.model.trailer(),
        d.ai.role.as_str()
    );
    for ag in &d.ai.agents {
        println!(
            "               agent {} as {}{}",
            ag.id,
            ag.role,
            ag.model
                .as_ref()
                .map(|m| format!(" ({})", m.trailer()))
                .unwrap_or_default()
        );
    }
    println!(
        "4 recommends {}",
        d.recommendation.summary.lines().next().unwrap_or("")
    );
    println!(
        "  action     {} on {}: {}",
        d.action.kind.as_str(),
        d.action.target.system,
        d.action.summary.lines().next().unwrap_or("")
    );
    println!("  risk       {}", d.risk.as_str());
    if approvals.is_empty() {
        println!("5 approvals  none yet");
    }
    for (i, ap) in approvals.iter().enumerate() {
        println!(
            "{} approved   by {} key {} — {}",
            if i == 0 { "5" } else { " " },
            ap["principal"].as_str().unwrap_or("?"),
            ap["key"].as_str().unwrap_or("?"),
            ap["status"].as_str().unwrap_or("?")
        );
    }
    let mut any = false;
    for (c, e) in &events {
        any = true;
        match (&e.outcome, &e.review) {
            (Some(o), _) => println!(
                "6 outcome    {} — {}{} by {} at {} (commit {})",
                o.status.as_str(),
                o.action,
                o.reference
                    .as_ref()
                    .map(|r| format!(" [{r}]"))
                    .unwrap_or_default(),
                e.actor.id,
                o.at.as_deref().unwrap_or(&e.created),
                &c[..12]
            ),
            (_, Some(r)) => println!(
                "  review     {} by {} at {}: {} (commit {})",
                r.verdict.as_str(),
                e.actor.id,
                e.created,
                r.summary.lines().next().unwrap_or(""),
                &c[..12]
            ),
            _ => println!(
                "  note       by {} at {}: {}",
                e.actor.id,
                e.created,
                e.note.as_deref().unwrap_or("").lines().next().unwrap_or("")
            ),
        }
    }
    if !any || !events.iter().any(|(_, e)| e.outcome.is_some()) {
        println!("6 outcome    none recorded");
    }
    println!("  commit     {} ({})", commit.id, path);
    for f in &diags {
        println!("  finding    {f}");
    }
    Ok(EXIT_OK)
}

type Found = (CommitData, CommitData, Vec<u8>, Vec<(String, Event)>);

/// The commit on main that added decision `id`, its parent, the file's bytes, and the events
/// about it landed since (oldest first).
fn find_on_main(store: &Store, base: &CommitData, id: &str) -> CliResult<Option<Found>> {
    let Ok(u) = ulid::Ulid::from_string(id) else {
        return Ok(None);
    };
    let Ok(ts) = jiff::Timestamp::from_second((u.timestamp_ms() / 1000) as i64) else {
        return Ok(None);
    };
    let created = record::format_created(ts);
    let path = format!("decisions/{}/{}/{id}.yaml", &created[0..4], &created[5..7]);
    let Some(entry) = store.lookup(base.tree, &path)? else {
        return Ok(None);
    };
    let bytes = store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?;
    // Newest first: the commit whose parent lacks the file added it; events on the way.
    let mut events = Vec::new();
    let mut cur = Some(base.clone());
    while let Some(c) = cur {
        let Some(p) = c.parents.first().copied() else {
            break;
        };
        let parent = store.commit(p)?;
        if store.lookup(parent.tree, &path)?.is_none() {
            events.reverse();
            return Ok(Some((c, parent, bytes, events)));
        }
        let t = trailers::parse(&c.message);
        if t.all(trailers::EVENT_ID).next().is_some()
            && t.all(trailers::DECISION_ID).any(|d| d == id)
        {
            if let Some(e) = event_of(store, &c, &parent)? {
                events.push((c.id.to_string(), e));
            }
        }
        cur = Some(parent);
    }
    Err(CliError::internal(anyhow!(
        "{path} is on {MAIN_REF} but no commit adds it"
    )))
}

fn event_of(store: &Store, c: &CommitData, parent: &CommitData) -> CliResult<Option<Event>> {
    for ch in store.diff_trees(Some(parent.tree), c.tree, 4)? {
        if let (Some(e), true) = (ch.new, ch.path.starts_with("events/")) {
            let bytes = store.read_blob_capped(e.oid, record::MAX_RECORD_BYTES as u64)?;
            return Ok(record::check_event(&ch.path, &bytes).0);
        }
    }
    Ok(None)
}
