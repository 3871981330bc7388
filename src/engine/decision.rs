//! Rule family: a decision commit. The record is well-formed and canonical, its id unused,
//! its initiator a principal of the policy, the commit's author and (where the policy rule
//! requires it, or when present) the signer of an `Initiated-by` trailer, its risk the
//! policy's, its trailers mirror the file, and (landing on main) its approvals meet the policy.

use super::approvals::{shortfall, Link};
use super::form::Expected;
use super::{clip, internal, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::trailers::{self, Trailers};
use crate::policy::{self, Policy};
use crate::record::{self, Decision};
use crate::store::{Change, CommitData, Oid};

impl super::Checker<'_> {
    /// Checks a commit that adds one decision, and the context content it stores (`stored`:
    /// the commit's added `context/<xx>/<sha256>` files). `landing`: the commit goes onto
    /// main, so the policy's approval requirement applies; otherwise (a proposal) present
    /// approvals must verify but need not be complete.
    pub fn check_decision_commit(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        change: &Change,
        stored: &[&Change],
        landing: bool,
    ) -> (Option<Decision>, Vec<Diagnostic>) {
        let (d, mut diags) = self.check_decision_only(c, parent, change, landing);
        diags.extend(self.check_stored_context(d.as_ref(), stored));
        (d, diags)
    }

    fn check_decision_only(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        change: &Change,
        landing: bool,
    ) -> (Option<Decision>, Vec<Diagnostic>) {
        let path = change.path.as_str();
        let bytes = match self.added_record(change) {
            Ok(b) => b,
            Err(d) => return (None, vec![d]),
        };
        let (decision, mut diags) = record::check_decision(path, &bytes);
        let Some(d) = decision else {
            return (None, diags);
        };
        diags.extend(self.duplicate_id(parent.tree, &d.id, path));
        diags.extend(self.created_in_future(&d.created).map(|x| x.at_path(path)));
        if c.tree == parent.tree {
            // Only `approve` can get here (a pushed commit that adds a file changes its tree):
            // the decision's file is on main already, byte for byte, because an interrupted
            // approval landed it and left its proposal ref behind.
            diags.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    format!("decision {} is already on main at {path}", d.id),
                )
                .at_path(path),
            );
        }
        let policy = match self.parent_policy(parent.tree) {
            Ok(p) => p,
            Err(e) => {
                diags.push(e);
                return (Some(d), diags);
            }
        };
        let mut found = Vec::new();
        check_initiator(&policy, &d, &mut found);
        check_separate_roles(&policy, &d, &mut found);
        if let Some(email) = policy
            .principal(&d.initiator.id)
            .and_then(|p| p.email.as_deref())
        {
            if !c.author.email.eq_ignore_ascii_case(email) {
                found.push(Diagnostic::new(
                    Code::AuthorMismatch,
                    format!(
                        "the commit's author is <{}> but initiator `{}` is <{email}>",
                        clip(&c.author.email),
                        d.initiator.id
                    ),
                ));
            }
        }
        let verdict = policy.verdict(&d);
        if d.risk != verdict.risk {
            found.push(Diagnostic::new(
                Code::RiskMismatch,
                format!(
                    "risk is `{}` but policy rule `{}` derives `{}` for {} on {}",
                    d.risk.as_str(),
                    verdict.rule,
                    verdict.risk.as_str(),
                    d.action.kind.as_str(),
                    d.action.target.system
                ),
            ));
        }
        check_expected_trailers(&trailers::decision_trailers(&d), &c.trailers, &mut found);
        self.check_link_signature(
            parent.tree,
            &policy,
            Link::Initiator,
            &d.initiator.id,
            &d.created,
            &bytes,
            c,
            verdict.signatures.initiator,
            &mut found,
        );
        let approvals = self.check_signed_by(
            parent.tree,
            &policy,
            &d,
            &bytes,
            c,
            trailers::APPROVED_BY,
            &mut found,
        );
        if landing && verdict.approval == policy::Approval::Pre {
            let short = shortfall(&policy, &verdict.require, &approvals);
            if !short.is_empty() {
                found.push(Diagnostic::new(
                    Code::ApprovalMissing,
                    format!(
                        "policy rule `{}` requires pre-approval: {}",
                        verdict.rule,
                        short.join("; ")
                    ),
                ));
            }
        }
        let so_far = [&diags[..], &found[..]].concat();
        found.extend(self.check_form(c, Expected::Decision(&d), &so_far));
        diags.extend(found.into_iter().map(|x| x.at_path(path)));
        (Some(d), diags)
    }

    /// Ids are unique across decisions and events. A record's path is a function of its id, so
    /// lookups in the parent tree find an earlier use without reading history.
    pub(super) fn duplicate_id(&self, tree: Oid, id: &str, path: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for dir in ["decisions", "events"] {
            let Some(other) = record::path_for_id(dir, id) else {
                continue;
            };
            if other == path {
                continue;
            }
            match self.store.lookup(tree, &other) {
                Ok(Some(_)) => out.push(
                    Diagnostic::new(
                        Code::DuplicateId,
                        format!("id {id} is already used by {other}"),
                    )
                    .at_path(path),
                ),
                Ok(None) => {}
                Err(e) => out.push(internal(e).at_path(path)),
            }
        }
        out
    }
}

/// The initiator is a principal of the policy, of the kind and owner the policy gives it.
fn check_initiator(policy: &Policy, d: &Decision, diags: &mut Vec<Diagnostic>) {
    let i = &d.initiator;
    match policy.principal(&i.id) {
        None => diags.push(Diagnostic::new(
            Code::InitiatorUnknown,
            format!("initiator.id `{}` is not a principal of the policy", i.id),
        )),
        Some(p) if p.kind != i.kind => diags.push(Diagnostic::new(
            Code::InitiatorUnknown,
            format!(
                "initiator.kind is `{}` but principal `{}` is a {}",
                i.kind.as_str(),
                p.id,
                p.kind.as_str()
            ),
        )),
        Some(p) if p.owner != i.owner => diags.push(Diagnostic::new(
            Code::InitiatorUnknown,
            format!(
                "initiator.owner is `{}` but the policy names `{}` as owner of `{}`",
                i.owner.as_deref().unwrap_or("none"),
                p.owner.as_deref().unwrap_or("none"),
                p.id
            ),
        )),
        Some(_) => {}
    }
}

/// No identity may hold both roles of a pair the policy keeps apart.
fn check_separate_roles(policy: &Policy, d: &Decision, diags: &mut Vec<Diagnostic>) {
    let held: Vec<(&str, &str)> = std::iter::once((d.initiator.id.as_str(), "initiator"))
        .chain(d.ai.agents.iter().map(|a| (a.id.as_str(), a.role.as_str())))
        .collect();
    for [r1, r2] in &policy.separate_roles {
        for (id, role) in &held {
            if role == r1 && held.iter().any(|(i, r)| i == id && r == r2) {
                diags.push(Diagnostic::new(
                    Code::RolesNotSeparated,
                    format!("`{id}` is both {r1} and {r2}; the policy keeps these roles apart"),
                ));
            }
        }
    }
}

/// Each trailer `expected` holds appears exactly once in `actual`, with the same value.
pub(super) fn check_expected_trailers(
    expected: &Trailers,
    actual: &Trailers,
    diags: &mut Vec<Diagnostic>,
) {
    for (key, want) in &expected.0 {
        let got: Vec<&str> = actual.all(key).collect();
        match got.as_slice() {
            [] => diags.push(Diagnostic::new(
                Code::TrailerMissing,
                format!("the commit has no `{key}` trailer (expected `{key}: {want}`)"),
            )),
            [one] if one == want => {}
            [one] => diags.push(Diagnostic::new(
                Code::TrailerMismatch,
                format!(
                    "trailer `{key}: {}` disagrees with the file, which says `{}`",
                    clip(one),
                    clip(want)
                ),
            )),
            many => diags.push(Diagnostic::new(
                Code::TrailerMismatch,
                format!(
                    "the commit has {} `{key}` trailers; exactly one is allowed",
                    many.len()
                ),
            )),
        }
    }
}
