//! Rule family: an event commit (outcome, review, annotation). The decision it refers to is
//! on main, its actor a principal and the commit's author, its trailers mirror the file, a
//! review is signed by its actor, and an outcome by its executor (`Executed-by`, where the
//! policy rule requires it or when present), with times in a plausible order: it finished
//! after it started and before it was recorded, and was recorded and signed after the
//! decision's approvals.

use super::approvals::{acted_before_approval, CheckedApproval, Link};
use super::decision::check_expected_trailers;
use super::form::Expected;
use super::{clip, internal, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::trailers;
use crate::policy;
use crate::record::{self, Event, EventKind, PrincipalKind};
use crate::store::{Change, CommitData};
use std::time::SystemTime;

impl super::Checker<'_> {
    /// Checks a commit that adds one event: the decision it refers to exists on main, the actor
    /// is a principal and the commit's author, the trailers mirror the file, and a review is
    /// signed by eligible reviewers.
    pub fn check_event_commit(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        change: &Change,
    ) -> (Option<Event>, Vec<Diagnostic>) {
        let path = change.path.as_str();
        let bytes = match self.added_record(change) {
            Ok(b) => b,
            Err(d) => return (None, vec![d]),
        };
        let (event, mut diags) = record::check_event(path, &bytes);
        let Some(e) = event else {
            return (None, diags);
        };
        diags.extend(self.duplicate_id(parent.tree, &e.id, path));
        diags.extend(self.created_in_future(&e.created).map(|x| x.at_path(path)));
        let mut found = Vec::new();
        let decision = match record::path_for_id("decisions", &e.decision) {
            None => None,
            Some(dpath) => match self.store.lookup(parent.tree, &dpath) {
                Ok(Some(de)) => match self.read_record(de.oid, &dpath) {
                    Ok(b) => record::check_decision(&dpath, &b).0,
                    Err(d) => {
                        found.push(d);
                        None
                    }
                },
                Ok(None) => {
                    found.push(Diagnostic::new(
                        Code::EventUnknownDecision,
                        format!(
                            "decision {} is not on main (looked for {dpath})",
                            e.decision
                        ),
                    ));
                    None
                }
                Err(err) => {
                    found.push(internal(err));
                    None
                }
            },
        };
        let policy = match self.parent_policy(parent.tree) {
            Ok(p) => p,
            Err(d) => {
                diags.push(d);
                return (Some(e), diags);
            }
        };
        match policy.principal(&e.actor.id) {
            None => found.push(Diagnostic::new(
                Code::InitiatorUnknown,
                format!("actor.id `{}` is not a principal of the policy", e.actor.id),
            )),
            Some(p) if p.kind != e.actor.kind => found.push(Diagnostic::new(
                Code::InitiatorUnknown,
                format!(
                    "actor.kind is `{}` but principal `{}` is a {}",
                    e.actor.kind.as_str(),
                    p.id,
                    p.kind.as_str()
                ),
            )),
            Some(p) => {
                if let Some(email) = &p.email {
                    if !c.author.email.eq_ignore_ascii_case(email) {
                        found.push(Diagnostic::new(
                            Code::AuthorMismatch,
                            format!(
                                "the commit's author is <{}> but actor `{}` is <{email}>",
                                clip(&c.author.email),
                                p.id
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(d) = &decision {
            let (made, about) = (
                record::parse_created(&e.created),
                record::parse_created(&d.created),
            );
            if let (Some(made), Some(about)) = (made, about) {
                let tolerance = crate::pgp::FUTURE_TOLERANCE.as_secs() as i64;
                if made.as_second() + tolerance < about.as_second() {
                    found.push(Diagnostic::new(
                        Code::TimeImplausible,
                        format!(
                            "the event was recorded at {}, before decision {} was created ({})",
                            e.created, d.id, d.created
                        ),
                    ));
                }
            }
        }
        if let (Some(d), EventKind::Outcome) = (&decision, e.kind) {
            if e.actor.kind != PrincipalKind::Human && e.actor.id == d.initiator.id {
                let diag = Diagnostic::new(
                    Code::SharedAccount,
                    format!(
                        "`{}` initiated decision {} and records its outcome: initiator and executor are one {} account",
                        e.actor.id,
                        d.id,
                        e.actor.kind.as_str()
                    ),
                );
                found.push(match policy.shared_accounts {
                    Some(policy::SharedAccounts::Reject) => diag,
                    _ => diag.warning(),
                });
            }
        }
        check_expected_trailers(&trailers::event_trailers(&e), &c.trailers, &mut found);
        if let (EventKind::Outcome, Some(d)) = (e.kind, &decision) {
            let signed = self.check_link_signature(
                parent.tree,
                &policy,
                Link::Outcome,
                &e.actor.id,
                &d.created,
                &bytes,
                c,
                policy.verdict(d).signatures.outcome,
                &mut found,
            );
            found.extend(outcome_clock(&e));
            // Re-checking history, `verify` judges this order across history at the end
            // (`gaps`); landing, the approvals are read from the commit that landed the decision.
            if self.mode == crate::pgp::VerifyMode::Landing {
                let dpath = record::path_for_id("decisions", &d.id).unwrap_or_default();
                match self.landing_approval_time(parent, &dpath) {
                    Ok(Some(approved)) => {
                        let at = recorded_at(&e, signed.as_ref());
                        found.extend(acted_before_approval(at, approved, &d.id));
                    }
                    Ok(None) => {}
                    Err(err) => found.push(err),
                }
            }
        }
        if e.kind == EventKind::Review {
            let reviewers = match &decision {
                Some(d) => self.check_signed_by(
                    parent.tree,
                    &policy,
                    d,
                    &bytes,
                    c,
                    trailers::REVIEWED_BY,
                    &mut found,
                ),
                None => Vec::new(),
            };
            if decision.is_some() && !reviewers.iter().any(|r| r.principal == e.actor.id) {
                found.push(Diagnostic::new(
                    Code::ApprovalMissing,
                    format!(
                        "a review is signed by its actor `{}` (a Reviewed-by trailer)",
                        e.actor.id
                    ),
                ));
            }
        }
        let so_far = [&diags[..], &found[..]].concat();
        found.extend(self.check_form(c, Expected::Event(&e), &so_far));
        diags.extend(found.into_iter().map(|x| x.at_path(path)));
        (Some(e), diags)
    }
}

/// The earliest time an outcome claims to have been written: its `created`, or its
/// signature's time when earlier. An outcome cannot be written before the approvals it acted
/// on.
pub(super) fn recorded_at(e: &Event, signed: Option<&CheckedApproval>) -> i64 {
    let created = record::parse_created(&e.created)
        .map(|t| t.as_second())
        .unwrap_or(i64::MAX);
    let signed = signed
        .and_then(|s| s.signed_at.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(i64::MAX);
    created.min(signed)
}

/// The outcome's own times in order: it finished after it started, and neither (nor `at`)
/// lies after the event was recorded, beyond the tolerated clock skew.
fn outcome_clock(e: &Event) -> Vec<Diagnostic> {
    let Some(o) = &e.outcome else {
        return Vec::new();
    };
    let secs = |t: &Option<String>| {
        t.as_deref()
            .and_then(record::parse_created)
            .map(|t| t.as_second())
    };
    let tolerance = crate::pgp::FUTURE_TOLERANCE.as_secs() as i64;
    let mut out = Vec::new();
    if let (Some(s), Some(f)) = (secs(&o.started), secs(&o.finished)) {
        if f < s {
            out.push(Diagnostic::new(
                Code::TimeImplausible,
                format!(
                    "outcome.finished ({}) is before outcome.started ({})",
                    o.finished.as_deref().unwrap_or_default(),
                    o.started.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    let created = record::parse_created(&e.created).map(|t| t.as_second());
    for (field, t) in [
        ("outcome.started", &o.started),
        ("outcome.finished", &o.finished),
        ("outcome.at", &o.at),
    ] {
        if let (Some(at), Some(created)) = (secs(t), created) {
            if at > created + tolerance {
                out.push(Diagnostic::new(
                    Code::TimeImplausible,
                    format!(
                        "{field} ({}) is after the outcome was recorded ({}): an outcome records what already happened",
                        t.as_deref().unwrap_or_default(),
                        e.created
                    ),
                ));
            }
        }
    }
    out
}

impl super::Checker<'_> {
    /// The time of the latest approval signature on the commit that landed the decision at
    /// `dpath` on main (`None`: it landed without approvals); `from`'s tree holds it.
    pub(super) fn landing_approval_time(
        &mut self,
        from: &CommitData,
        dpath: &str,
    ) -> Result<Option<i64>, Diagnostic> {
        let landing = self.landing_commit(from, dpath)?;
        let t = trailers::parse(&landing.message);
        Ok(t.well_formed_signatures(trailers::APPROVED_BY)
            .iter()
            .filter_map(|a| crate::pgp::signature_time(&a.signature))
            .filter_map(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .max())
    }

    /// The commit of main that added the record at `path`, walking back from `from`, whose
    /// tree holds it. Main is append-only, so the record is in every tree from its landing on:
    /// the landing commit is the first whose parent's tree does not hold it. The walk stops
    /// where the repository's index of main begins (`ledger::index::Chain`).
    pub(super) fn landing_commit(
        &mut self,
        from: &CommitData,
        path: &str,
    ) -> Result<CommitData, Diagnostic> {
        use crate::ledger::index;
        // Commits read back from `from` before the index is brought up to date: a recent
        // decision is found within them and costs no more.
        let budget = self.keep_index.unwrap_or(usize::MAX);
        let store = self.store;
        let dir = store.git_dir().join("aiaudit");
        let chain = self
            .main_chain
            .get_or_insert_with(|| index::Chain::new(index::load(&dir)));
        let mut found = chain
            .commit_adding_within(store, from.id, path, budget)
            .map_err(internal)?;
        if found.is_none() {
            if self.keep_index.is_some() && !self.index_kept {
                self.index_kept = true;
                // A cache: if it cannot be written, the lookup walks history instead.
                if let Ok(Some(main)) = store.ref_target(crate::ledger::MAIN_REF) {
                    if index::extend(store, &dir, main).is_ok() {
                        self.main_chain = Some(index::Chain::new(index::load(&dir)));
                    }
                }
            }
            let chain = self
                .main_chain
                .get_or_insert_with(|| index::Chain::new(index::load(&dir)));
            found = Some(
                chain
                    .commit_adding(store, from.id, path)
                    .map_err(internal)?,
            );
        }
        match found.flatten() {
            Some((landing, _)) if landing != from.id => {
                self.store.commit(landing).map_err(internal)
            }
            _ => Ok(from.clone()),
        }
    }
}

impl super::Checker<'_> {
    /// Judges, as of now, the commit that landed decision `id` on the main ending at `tip`:
    /// every rule of the hook (its approvals meet the policy it landed under), with signatures
    /// judged as landing something new — each key valid now, and revocations published on main
    /// since (up to `tip`) counted. Returns the landing commit and the findings; `None` when the
    /// decision is not on that main.
    pub fn judge_landed_now(
        &mut self,
        tip: &CommitData,
        id: &str,
    ) -> Result<Option<(CommitData, Vec<Diagnostic>)>, Diagnostic> {
        let Some(path) = record::path_for_id("decisions", id) else {
            return Ok(None);
        };
        if self
            .store
            .lookup(tip.tree, &path)
            .map_err(internal)?
            .is_none()
        {
            return Ok(None);
        }
        let landing = self.landing_commit(tip, &path)?;
        let parent = match landing.parents.first() {
            Some(p) => self.store.commit(*p).map_err(internal)?,
            None => return Err(internal(format!("{path} is in the root commit"))),
        };
        let (mode, latest) = (self.mode, self.latest_tree);
        self.mode = crate::pgp::VerifyMode::Landing;
        self.latest_tree = Some(tip.tree);
        let (_, diags) = self.check_main_commit(&CommitView::new(landing.clone()), Some(&parent));
        (self.mode, self.latest_tree) = (mode, latest);
        Ok(Some((landing, diags)))
    }
}
