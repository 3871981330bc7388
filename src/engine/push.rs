//! The hook's front end: what a push may do to each ref. Main moves only forward, one judged
//! commit at a time; proposals and governance proposals are judged as such; checkpoint tags
//! are created once, admin-signed; under `pushers.bind` the pusher is accountable for what it
//! pushes. Any other ref is refused.

use super::{internal, CommitRole, CommitView, MAX_PUSH_COMMITS};
use crate::diag::{Code, Diagnostic};
use crate::ledger::{trailers, CHECKPOINTS_PREFIX, GOVERNANCE_PREFIX, MAIN_REF, PROPOSALS_PREFIX};
use crate::pgp;
use crate::policy;
use crate::record::PrincipalKind;
use crate::store::{CommitData, ObjectKind, Oid};

/// One line of a `pre-receive` hook's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: Option<Oid>,
    pub new: Option<Oid>,
    pub name: String,
}

impl super::Checker<'_> {
    /// Judges a whole push. Any finding rejects the push.
    pub fn check_push(&mut self, updates: &[RefUpdate]) -> Vec<Diagnostic> {
        self.judging_push = true;
        let mut diags = self.settle_pusher(updates);
        // Checkpoints may tag commits this very push adds to main.
        let main_after = match updates.iter().find(|u| u.name == MAIN_REF) {
            Some(u) => u.new,
            None => self.store.ref_target(MAIN_REF).ok().flatten(),
        };
        for u in updates {
            if u.name.starts_with(crate::ledger::CONTENT_PREFIX) {
                continue; // judged together below: content goes with the decisions of the push
            }
            let mut found = if u.name.starts_with(CHECKPOINTS_PREFIX) {
                self.check_checkpoint(u, main_after)
            } else {
                self.check_update(u, main_after)
            };
            for d in &mut found {
                if d.refname.is_none() {
                    d.refname = Some(u.name.clone());
                }
            }
            diags.extend(found);
        }
        diags.extend(self.check_content_updates(updates));
        diags
    }

    fn check_update(&mut self, u: &RefUpdate, main_after: Option<Oid>) -> Vec<Diagnostic> {
        if u.name == MAIN_REF {
            return self.check_main_update(u);
        }
        if u.name.starts_with(GOVERNANCE_PREFIX) {
            return match u.new {
                None => Vec::new(),
                Some(new) => self.check_governance_proposal(new),
            };
        }
        if let Some(id) = u.name.strip_prefix(PROPOSALS_PREFIX) {
            let diags = match u.new {
                None => Vec::new(), // withdrawing or cleaning up a proposal is allowed
                Some(new) => self.check_proposal(id, new),
            };
            if !diags.is_empty() {
                return diags;
            }
            return self
                .check_proposal_pusher(u, id, main_after)
                .into_iter()
                .collect();
        }
        vec![Diagnostic::new(
            Code::RefNotAllowed,
            format!("{} is not writable on an audit server", u.name),
        )]
    }

    fn check_main_update(&mut self, u: &RefUpdate) -> Vec<Diagnostic> {
        let Some(new) = u.new else {
            return vec![Diagnostic::new(Code::MainDeleted, "the push deletes main")];
        };
        match self.store.object_kind(new) {
            Ok(Some(ObjectKind::Commit)) => {}
            Ok(Some(k)) => {
                return vec![Diagnostic::new(
                    Code::RefNotAllowed,
                    format!("main must point to a commit, not a {k:?}"),
                )
                .at_commit(new.to_string())]
            }
            Ok(None) => return vec![internal(format!("pushed object {new} is missing"))],
            Err(e) => return vec![internal(e)],
        }
        let chain = match self.store.first_parent_chain(new, u.old, MAX_PUSH_COMMITS) {
            Ok(c) => c,
            Err(e) => {
                return vec![match u.old {
                    Some(old) => Diagnostic::new(
                        Code::NonFastForward,
                        format!(
                        "main would move from {old} to {new}, which does not descend from it: {e}"
                    ),
                    ),
                    None => internal(e),
                }]
            }
        };
        // Each commit is judged against its parent alone: the pushed commits are checked in
        // parallel chunks, as `verify` checks history, and the findings come back in order.
        let ids: Vec<Oid> = u
            .old
            .into_iter()
            .chain(chain.iter().map(|c| c.id))
            .collect();
        let from = usize::from(u.old.is_some());
        drop(chain);
        let mut found = Vec::new();
        self.check_chunks(&ids, from, &mut |r| found.extend(r.diagnostics));
        found
    }

    /// A checkpoint tag: created once, never moved or deleted; an annotated tag of a commit on
    /// main, named as its ref, signed by an admin of the policy at that commit.
    fn check_checkpoint(&mut self, u: &RefUpdate, main_after: Option<Oid>) -> Vec<Diagnostic> {
        let (None, Some(new)) = (u.old, u.new) else {
            return vec![Diagnostic::new(
                Code::CheckpointMoved,
                format!("{} exists; checkpoints are never moved or deleted", u.name),
            )];
        };
        let bad = |m: String| {
            vec![Diagnostic::new(Code::CheckpointInvalid, m).at_commit(new.to_string())]
        };
        let tag = match self.store.object_kind(new) {
            Ok(Some(ObjectKind::Tag)) => match self.store.tag(new) {
                Ok(t) => t,
                Err(e) => return bad(e.to_string()),
            },
            Ok(_) => return bad("a checkpoint is an annotated tag object".into()),
            Err(e) => return vec![internal(e)],
        };
        let short = &u.name["refs/tags/".len()..];
        if tag.name != short {
            return bad(format!(
                "the tag object is named `{}`, the ref `{short}`",
                tag.name
            ));
        }
        if !tag.target_is_commit {
            return bad("a checkpoint tags a commit".into());
        }
        let Some(main) = main_after else {
            return bad("there is no main to checkpoint".into());
        };
        if self
            .store
            .first_parent_chain(main, Some(tag.target), usize::MAX)
            .is_err()
            && main != tag.target
        {
            return bad(format!("{} is not a commit of main", tag.target));
        }
        let Some(sig) = &tag.signature else {
            return bad("the tag is not signed".into());
        };
        let tree = match self.store.commit(tag.target) {
            Ok(c) => c.tree,
            Err(e) => return vec![internal(e)],
        };
        let policy = match self.gov.policy_at(tree) {
            Ok(p) => p,
            Err(e) => return bad(format!("the policy at {}: {e}", tag.target)),
        };
        let mut last_err = "no admin of the policy has a key".to_owned();
        for admin in policy
            .principals
            .iter()
            .filter(|p| p.kind == PrincipalKind::Human && p.groups.contains(&policy.admins.group))
        {
            for fpr in &admin.keys {
                let Ok(cert) = self.gov.cert_at(tree, fpr) else {
                    continue;
                };
                match pgp::verify_detached(&cert, sig.as_bytes(), &tag.payload, self.now) {
                    Ok(_) => return Vec::new(),
                    Err(pgp::SigError::WrongKey(_)) => {}
                    Err(e) => last_err = format!("`{}` (key {fpr}): {e}", admin.id),
                }
            }
        }
        bad(format!(
            "the tag's signature is not a valid admin signature: {last_err}"
        ))
    }

    /// Pusher binding on a proposal ref, under the policy of main after the push: a proposal is
    /// created by its initiator, updated by its initiator or an approver whose approval it
    /// carries (`approve` adding a partial approval), and deleted by its initiator, an approver
    /// of it (on the proposal, or on the commit that landed it) or an admin; a landing account
    /// may do all three.
    fn check_proposal_pusher(
        &mut self,
        u: &RefUpdate,
        id: &str,
        main_after: Option<Oid>,
    ) -> Option<Diagnostic> {
        let main = self.store.commit(main_after?).ok()?;
        let policy = self.gov.policy_at(main.tree).ok()?;
        policy.pushers.as_ref().filter(|p| p.bind || p.signed)?;
        let proposal = match self.store.commit(u.new.or(u.old)?) {
            Ok(c) => CommitView::new(c),
            Err(e) => return Some(internal(e)),
        };
        let mut accountable: Vec<String> = proposal
            .trailers
            .first(trailers::INITIATOR)
            .and_then(|v| v.split_whitespace().next())
            .map(|i| vec![i.to_owned()])
            .unwrap_or_default();
        let what = match (u.old, u.new) {
            (None, _) => "creates",
            (Some(_), Some(_)) => {
                accountable.extend(signers(&proposal, trailers::APPROVED_BY));
                "updates"
            }
            (Some(_), None) => {
                accountable.extend(signers(&proposal, trailers::APPROVED_BY));
                let path = crate::record::path_for_id("decisions", id).unwrap_or_default();
                if let Ok(Some(_)) = self.store.lookup(main.tree, &path) {
                    match self.landing_commit(&main, &path) {
                        Ok(landing) => accountable
                            .extend(signers(&CommitView::new(landing), trailers::APPROVED_BY)),
                        Err(d) => return Some(d),
                    }
                }
                accountable.extend(
                    policy
                        .principals
                        .iter()
                        .filter(|p| p.groups.contains(&policy.admins.group))
                        .map(|p| p.id.clone()),
                );
                "deletes"
            }
        };
        self.judge_pusher(&policy, &accountable, || format!("{what} proposal {id}"))
    }

    /// Pusher binding: under a policy with `pushers.bind`, the pusher must be one of the
    /// principals accountable for the commit, or a landing account; under `pushers.signed`,
    /// the push must be signed. A change to the policy is exempt from both: its admin
    /// signatures are its authority, and a policy must never lock out the change that relaxes
    /// it (on a server that does not say who pushes, `bind: true` would otherwise refuse
    /// everything, the admins' own signed change to turn it off included).
    pub(super) fn check_pusher(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        role: &CommitRole,
    ) -> Option<Diagnostic> {
        let policy = self.gov.policy_at(parent.tree).ok()?;
        policy.pushers.as_ref().filter(|p| p.bind || p.signed)?;
        let signers = |key: &str| signers(c, key);
        let accountable: Vec<String> = match role {
            CommitRole::Decision(Some(d)) => {
                let mut v = signers(trailers::APPROVED_BY);
                if policy.verdict(d).approval == policy::Approval::Post {
                    v.push(d.initiator.id.clone());
                }
                v
            }
            CommitRole::Event(Some(e)) => {
                let mut v = signers(trailers::REVIEWED_BY);
                v.push(e.actor.id.clone());
                v
            }
            CommitRole::PolicyChange => return None,
            _ => return None, // already rejected for other reasons
        };
        self.judge_pusher(&policy, &accountable, || "pushes this commit".to_owned())
    }
}

/// The principals whose well-formed signature trailers `key` commit `c` carries.
fn signers(c: &CommitView, key: &str) -> Vec<String> {
    c.trailers
        .well_formed_signatures(key)
        .into_iter()
        .map(|a| a.principal)
        .collect()
}
