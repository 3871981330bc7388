//! Rule family: proposal refs. A proposal is one commit on top of a commit of main: a decision
//! proposal adds exactly one decision (and its stored context) named as its ref; a governance
//! proposal changes only governance files, with signatures that verify so far.

use super::layout::{self, entry_kind_problem, Class};
use super::{internal, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::{is_governance, MAIN_REF, MAX_CHANGES};
use crate::record;
use crate::store::{Change, CommitData, ObjectKind, Oid};

impl super::Checker<'_> {
    /// A governance proposal: one commit on top of a commit of main, changing only governance
    /// files, whose signatures so far verify.
    pub(super) fn check_governance_proposal(&mut self, new: Oid) -> Vec<Diagnostic> {
        let bad =
            |m: String| vec![Diagnostic::new(Code::ProposalInvalid, m).at_commit(new.to_string())];
        let (c, parent, changes) = match self.proposal_commit(new, "governance proposal") {
            Ok(x) => x,
            Err(d) => return d,
        };
        if let Some(ch) = changes.iter().find(|ch| !is_governance(&ch.path)) {
            return bad(format!(
                "a governance proposal changes only .aiaudit/ and README.md, not {}",
                ch.path
            ));
        }
        if changes.is_empty() {
            return bad("the governance proposal changes nothing".into());
        }
        let refs: Vec<&Change> = changes.iter().collect();
        self.check_policy_change(&c, &parent, &refs, false)
            .into_iter()
            .map(|d| d.at_commit(new.to_string()))
            .collect()
    }

    /// What every proposal ref must be: a commit with one parent, that parent a commit of
    /// main. Returns the commit, its parent and what it changes; `what` names the proposal
    /// kind in the findings.
    fn proposal_commit(
        &self,
        new: Oid,
        what: &str,
    ) -> Result<(CommitView, CommitData, Vec<Change>), Vec<Diagnostic>> {
        let bad =
            |m: String| vec![Diagnostic::new(Code::ProposalInvalid, m).at_commit(new.to_string())];
        match self.store.object_kind(new) {
            Ok(Some(ObjectKind::Commit)) => {}
            Ok(_) => return Err(bad(format!("a {what} ref must point to a commit"))),
            Err(e) => return Err(vec![internal(e)]),
        }
        let c = self.store.commit(new).map_err(|e| vec![internal(e)])?;
        let [p] = c.parents.as_slice() else {
            return Err(bad(format!(
                "a {what} is one commit on top of main; this one has {} parents",
                c.parents.len()
            )));
        };
        let main = match self.store.ref_target(MAIN_REF) {
            Ok(Some(m)) => m,
            Ok(None) => return Err(bad("the server has no main yet".into())),
            Err(e) => return Err(vec![internal(e)]),
        };
        if self
            .store
            .first_parent_chain(main, Some(*p), usize::MAX)
            .is_err()
        {
            return Err(bad(format!("its parent {p} is not a commit of main")));
        }
        let parent = self.store.commit(*p).map_err(|e| vec![internal(e)])?;
        let (changes, malformed) = self
            .store
            .diff_trees_checked(Some(parent.tree), c.tree, MAX_CHANGES)
            .map_err(|e| bad(e.to_string()))?;
        if !malformed.is_empty() {
            return Err(super::malformed_trees(&malformed)
                .into_iter()
                .map(|d| d.at_commit(new.to_string()))
                .collect());
        }
        Ok((CommitView::new(c), parent, changes))
    }

    /// A decision proposal on `refs/heads/proposals/<id>`: one decision named `id`, its stored
    /// context, and approvals so far that verify.
    pub(super) fn check_proposal(&mut self, id: &str, new: Oid) -> Vec<Diagnostic> {
        let bad =
            |m: String| vec![Diagnostic::new(Code::ProposalInvalid, m).at_commit(new.to_string())];
        if !record::is_ulid(id) {
            return bad(format!("proposal ref name `{id}` is not a decision id"));
        }
        let (c, parent, changes) = match self.proposal_commit(new, "proposal") {
            Ok(x) => x,
            Err(d) => return d,
        };
        let at = |d: Diagnostic| d.at_commit(new.to_string());
        let mut diags: Vec<Diagnostic> = Vec::new();
        let mut decision_change = None;
        let mut stored = Vec::new();
        for (ch, class) in layout::classify(&changes) {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            } else if class == Class::Decision && decision_change.is_none() {
                decision_change = Some(ch);
            } else if class == Class::Stored {
                stored.push(ch);
            } else {
                diags.push(
                    Diagnostic::new(
                        Code::ProposalInvalid,
                        format!(
                            "a proposal adds exactly one decision; it also changes {}",
                            ch.path
                        ),
                    )
                    .at_path(&ch.path),
                );
            }
        }
        match decision_change {
            None => {
                diags.push(Diagnostic::new(
                    Code::ProposalInvalid,
                    "the proposal adds no decision",
                ));
                diags.extend(self.check_stored_context(None, &stored));
            }
            Some(ch) => {
                let (d, found) = self.check_decision_commit(&c, &parent, ch, &stored, false);
                diags.extend(found);
                if let Some(d) = d {
                    if d.id != id {
                        diags.push(
                            Diagnostic::new(
                                Code::ProposalInvalid,
                                format!("ref proposals/{id} carries decision {}", d.id),
                            )
                            .at_path(&ch.path),
                        );
                    }
                }
            }
        }
        diags.into_iter().map(at).collect()
    }
}
