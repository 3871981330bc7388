//! History-wide rules: decisions awaiting a post-action review past their deadline,
//! high-risk decisions without an outcome, and outcomes written before the approvals of their
//! decision. Learned commit by commit, merged across chunks,
//! carried over by a resumed `verify`, judged at the end.

use super::approvals::{acted_before_approval, shortfall, CheckedApproval};
use super::CommitView;
use crate::diag::{Code, Diagnostic};
use crate::ledger::{trailers, MAIN_REF};
use crate::policy::{self, Policy};
use crate::record::{self, Decision, Event, EventKind};
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

/// A decision id as the 128 bits of its ULID (`None` for an id that is not one: such a
/// record is refused by the record rules anyway).
pub(super) fn id_key(id: &str) -> Option<u128> {
    ulid::Ulid::from_string(id).ok().map(u128::from)
}

/// What `verify` learns across history: decisions awaiting post-action review, and high-risk
/// decisions awaiting an outcome.
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Gaps {
    /// Decision id → (deadline, requirements, commit, path).
    pub(super) post: HashMap<String, (Option<i64>, policy::Verdict, String, String)>,
    /// Decision id → principal → when its signed review was created (earliest).
    pub(super) reviewers: HashMap<String, HashMap<String, i64>>,
    /// High-risk decisions (id → commit, path) and the decisions with an outcome.
    pub(super) high: Vec<(String, String, String)>,
    pub(super) outcomes: HashSet<String>,
    /// Decision id → the time of the latest approval signature it landed with, for the
    /// decisions of this run (not kept in the resumed state: an outcome of an older decision is
    /// looked up on main, `Checker::resolve_approvals`).
    /// Keyed by the id's 128 bits ([`id_key`]): one entry per decision of history, so 24
    /// bytes rather than a string each.
    #[serde(skip)]
    pub(super) approved: HashMap<u128, i64>,
    /// Outcomes seen: (decision id, when recorded or signed, commit, path), judged against
    /// `approved` at the end.
    #[serde(default)]
    pub(super) recorded: Vec<(String, i64, String, String)>,
}

impl Gaps {
    /// Adds what a later chunk of history learned.
    pub(super) fn merge(&mut self, other: Gaps) {
        self.post.extend(other.post);
        for (id, revs) in other.reviewers {
            let entry = self.reviewers.entry(id).or_default();
            for (p, t) in revs {
                let e = entry.entry(p).or_insert(t);
                *e = (*e).min(t);
            }
        }
        self.high.extend(other.high);
        self.outcomes.extend(other.outcomes);
        self.approved.extend(other.approved);
        self.recorded.extend(other.recorded);
    }

    pub(super) fn decision(&mut self, d: &Decision, verdict: policy::Verdict, c: &CommitView) {
        let path = record::decision_path(d).unwrap_or_default();
        let approved = c
            .trailers
            .well_formed_signatures(trailers::APPROVED_BY)
            .iter()
            .filter_map(|a| crate::pgp::signature_time(&a.signature))
            .filter_map(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|t| t.as_secs() as i64)
            .max();
        if let (Some(t), Some(k)) = (approved, id_key(&d.id)) {
            self.approved.insert(k, t);
        }
        if verdict.risk >= record::Risk::High {
            self.high
                .push((d.id.clone(), c.id.to_string(), path.clone()));
        }
        if verdict.approval == policy::Approval::Post {
            let created = record::parse_created(&d.created).map(|t| t.as_second());
            let within = verdict
                .review_within
                .as_deref()
                .and_then(policy::parse_duration);
            let deadline = match (created, within) {
                (Some(t), Some(w)) => Some(t + w),
                _ => None,
            };
            self.post
                .insert(d.id.clone(), (deadline, verdict, c.id.to_string(), path));
        }
    }

    pub(super) fn event(&mut self, e: &Event, c: &CommitView) {
        match e.kind {
            EventKind::Outcome => {
                self.outcomes.insert(e.decision.clone());
                let signed = c
                    .trailers
                    .well_formed_signatures(trailers::EXECUTED_BY)
                    .first()
                    .and_then(|a| crate::pgp::signature_time(&a.signature))
                    .map(|t| CheckedApproval {
                        principal: String::new(),
                        key: String::new(),
                        signed_at: t,
                    });
                let path = record::event_path(e).unwrap_or_default();
                self.recorded.push((
                    e.decision.clone(),
                    super::event::recorded_at(e, signed.as_ref()),
                    c.id.to_string(),
                    path,
                ));
            }
            EventKind::Review => {
                let at = record::parse_created(&e.created)
                    .map(|t| t.as_second())
                    .unwrap_or(i64::MAX);
                let entry = self.reviewers.entry(e.decision.clone()).or_default();
                for a in c.trailers.well_formed_signatures(trailers::REVIEWED_BY) {
                    let t = entry.entry(a.principal).or_insert(at);
                    *t = (*t).min(at);
                }
            }
            EventKind::Annotation => {}
        }
    }

    pub(super) fn finish(self, policy: Option<&Policy>, now: SystemTime) -> Vec<Diagnostic> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut out = Vec::new();
        let mut post: Vec<_> = self.post.into_iter().collect();
        post.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, (deadline, verdict, commit, path)) in post {
            let Some(deadline) = deadline.filter(|d| *d < now) else {
                continue;
            };
            // Only reviews made by the deadline count; a late review leaves the gap on record.
            let approvals: Vec<CheckedApproval> = self
                .reviewers
                .get(&id)
                .into_iter()
                .flatten()
                .filter(|(_, at)| **at <= deadline)
                .map(|(p, _)| CheckedApproval {
                    principal: p.clone(),
                    key: String::new(),
                    signed_at: SystemTime::UNIX_EPOCH,
                })
                .collect();
            let short = match policy {
                Some(p) => shortfall(p, &verdict.require, &approvals),
                None => vec!["the policy is unreadable".into()],
            };
            if !short.is_empty() {
                let when = jiff::Timestamp::from_second(deadline)
                    .map(record::format_created)
                    .unwrap_or_default();
                out.push(
                    Diagnostic::new(
                        Code::ReviewOverdue,
                        format!(
                            "decision {id} (rule `{}`) was due for review by {when}: {}",
                            verdict.rule,
                            short.join("; ")
                        ),
                    )
                    .at_commit(commit)
                    .at_path(path)
                    .at_ref(MAIN_REF),
                );
            }
        }
        for (decision, recorded, commit, path) in self.recorded {
            let Some(approved) = id_key(&decision).and_then(|k| self.approved.get(&k)) else {
                continue;
            };
            if let Some(d) = acted_before_approval(recorded, *approved, &decision) {
                out.push(d.at_commit(commit).at_path(path).at_ref(MAIN_REF));
            }
        }
        for (id, commit, path) in self.high {
            if !self.outcomes.contains(&id) {
                out.push(
                    Diagnostic::new(
                        Code::OutcomeMissing,
                        format!("high-risk decision {id} has no recorded outcome"),
                    )
                    .warning()
                    .at_commit(commit)
                    .at_path(path)
                    .at_ref(MAIN_REF),
                );
            }
        }
        out
    }
}
