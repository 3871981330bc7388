//! The ledger as data: every decision on main with its approvals and later events, for the
//! auditor's commands (`log`, `report`, `export`) and integrations (`check`).
//!
//! This reads; it does not judge. `verify` (the rule engine) says whether the history is
//! sound; the ledger says what it contains. Records that do not parse are skipped here and
//! reported by `verify`.

use crate::ledger::trailers::{self, Approval};
use crate::pgp;
use crate::record::{self, Decision, Event};
use crate::store::{ChangeKind, Oid, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;

/// One approval (or review signature) as carried by the commit.
#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    pub principal: String,
    pub key: String,
    /// When the signature says it was made (seconds since the epoch).
    pub signed_at: Option<i64>,
}

/// An event about a decision, with the commit that landed it.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEvent {
    pub event: Event,
    pub commit: String,
    pub path: String,
    pub landed_at: i64,
    /// The actor's signatures: `Executed-by` on an outcome, `Reviewed-by` on a review.
    pub signatures: Vec<Signed>,
}

/// A decision on main, with everything the ledger knows about it.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerDecision {
    pub decision: Decision,
    pub path: String,
    pub commit: String,
    /// The committer time of the landing commit (seconds since the epoch).
    pub landed_at: i64,
    /// Who landed it (the committer's name and email).
    pub landed_by: String,
    /// The initiator's signature over the record (`Initiated-by`), when it carries one.
    pub initiated: Option<Signed>,
    pub approvals: Vec<Signed>,
    pub events: Vec<LedgerEvent>,
}

/// Every decision on main, oldest first, with its events.
#[derive(Debug, Default, Serialize)]
pub struct Ledger {
    pub tip: Option<String>,
    pub decisions: Vec<LedgerDecision>,
    /// Events whose decision is not on main (`verify` rejects them; listed for completeness).
    pub orphan_events: Vec<LedgerEvent>,
    /// The root of trust and every admin-signed governance change (policy, certificates,
    /// catalogs), oldest first.
    #[serde(skip)]
    pub governance: Vec<LedgerGovernance>,
}

/// A commit on main that set or changed the governance files: the root of trust, or an
/// admin-signed change (`Policy-Signed-by`).
#[derive(Debug, Clone)]
pub struct LedgerGovernance {
    pub commit: String,
    /// The tree before (none for the root of trust) and after.
    pub parent_tree: Option<Oid>,
    pub tree: Oid,
    pub landed_at: i64,
    pub landed_by: String,
    /// The commit message's first line.
    pub subject: String,
    /// The admins' signatures (`Policy-Signed-by`).
    pub signers: Vec<Signed>,
    /// The paths the commit changed.
    pub paths: Vec<String>,
}

fn signed(trailers: &trailers::Trailers, key: &str) -> Vec<Signed> {
    trailers
        .all(key)
        .filter_map(|v| Approval::parse(v).ok())
        .map(|a| Signed {
            signed_at: pgp::signature_time(&a.signature).map(|t| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
            }),
            principal: a.principal,
            key: a.key,
        })
        .collect()
}

/// Reads the ledger on the first-parent chain ending at `tip`, calling `progress` with the
/// number of commits read so far.
pub fn read_ledger(
    store: &Store,
    tip: Oid,
    progress: &mut dyn FnMut(usize),
) -> Result<Ledger, StoreError> {
    let chain = store.first_parent_chain(tip, None, usize::MAX)?;
    let mut ledger = Ledger {
        tip: Some(tip.to_string()),
        ..Default::default()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut parent_tree: Option<Oid> = None;
    for (n, c) in chain.iter().enumerate() {
        progress(n + 1);
        let before = parent_tree.replace(c.tree);
        let t = trailers::parse(&c.message);
        if before.is_none() || t.all(trailers::POLICY_SIGNED_BY).next().is_some() {
            let paths = store
                .diff_trees(before, c.tree, crate::ledger::MAX_CHANGES)?
                .into_iter()
                .map(|ch| ch.path)
                .collect();
            ledger.governance.push(LedgerGovernance {
                commit: c.id.to_string(),
                parent_tree: before,
                tree: c.tree,
                landed_at: c.committer.time,
                landed_by: format!("{} <{}>", c.committer.name, c.committer.email),
                subject: c.message.lines().next().unwrap_or_default().to_owned(),
                signers: signed(&t, trailers::POLICY_SIGNED_BY),
                paths,
            });
        }
        let Some(parent) = before else {
            continue; // the root of trust holds no records
        };
        let is_decision = t.all(trailers::DECISION_ID).next().is_some();
        if !is_decision {
            continue;
        }
        // The record, not the stored context (`context/…`) that may come with a decision.
        let changes = store.diff_trees(Some(parent), c.tree, crate::ledger::MAX_CHANGES)?;
        let Some(ch) = changes.iter().find(|ch| {
            ch.kind == ChangeKind::Added
                && (crate::ledger::is_record_path("decisions", &ch.path)
                    || crate::ledger::is_record_path("events", &ch.path))
        }) else {
            continue;
        };
        let Some(entry) = ch.new else { continue };
        let Ok(bytes) = store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64) else {
            continue;
        };
        if ch.path.starts_with("decisions/") {
            if let (Some(d), _) = record::check_decision(&ch.path, &bytes) {
                index.insert(d.id.clone(), ledger.decisions.len());
                ledger.decisions.push(LedgerDecision {
                    decision: d,
                    path: ch.path.clone(),
                    commit: c.id.to_string(),
                    landed_at: c.committer.time,
                    landed_by: format!("{} <{}>", c.committer.name, c.committer.email),
                    initiated: signed(&t, trailers::INITIATED_BY).into_iter().next(),
                    approvals: signed(&t, trailers::APPROVED_BY),
                    events: Vec::new(),
                });
            }
        } else if ch.path.starts_with("events/") {
            if let (Some(e), _) = record::check_event(&ch.path, &bytes) {
                let ev = LedgerEvent {
                    commit: c.id.to_string(),
                    path: ch.path.clone(),
                    landed_at: c.committer.time,
                    signatures: trailers::event_signature_key(e.kind)
                        .map(|key| signed(&t, key))
                        .unwrap_or_default(),
                    event: e,
                };
                match index.get(&ev.event.decision) {
                    Some(&i) => ledger.decisions[i].events.push(ev),
                    None => ledger.orphan_events.push(ev),
                }
            }
        }
    }
    Ok(ledger)
}

impl LedgerDecision {
    /// The recorded outcome, if any (the latest one).
    pub fn outcome(&self) -> Option<&LedgerEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.event.kind == record::EventKind::Outcome)
    }

    /// The decision's status from its events: the latest outcome's, else `awaiting-outcome`
    /// (what `log --status` filters on).
    pub fn status(&self) -> &'static str {
        match self.outcome() {
            Some(o) => o
                .event
                .outcome
                .as_ref()
                .map(|x| x.status.as_str())
                .unwrap_or("executed"),
            None => "awaiting-outcome",
        }
    }

    /// Seconds from the decision's creation to its last approval signature, when approved.
    /// Only times the rules let pass count: a signature dated before the decision existed
    /// (beyond the tolerated clock skew; `time-implausible`) says nothing about how long
    /// approval took. (The landing commit's committer time is the lander's own claim, so it
    /// bounds nothing.)
    pub fn approval_latency(&self) -> Option<i64> {
        let created = record::parse_created(&self.decision.created)?.as_second();
        let skew = pgp::FUTURE_TOLERANCE.as_secs() as i64;
        let last = self
            .approvals
            .iter()
            .filter_map(|a| a.signed_at)
            .filter(|t| *t + skew >= created)
            .max()?;
        Some((last - created).max(0))
    }
}
