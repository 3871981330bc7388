//! Rule family: an event commit (outcome, review, annotation). The decision it refers to is
//! on main, its actor a principal and the commit's author, its trailers mirror the file, and a
//! review is signed by its actor.

use super::decision::check_expected_trailers;
use super::form::Expected;
use super::{clip, internal, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::trailers;
use crate::policy;
use crate::record::{self, Event, EventKind, PrincipalKind};
use crate::store::{Change, CommitData};

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
