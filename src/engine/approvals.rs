//! Rule family: signatures and separation of duties. Every signature trailer verifies over the
//! record's exact bytes with a valid key of the principal it names; approvers are humans with
//! no conflict of interest; a principal counts once; what is missing is said per group.

use super::CommitView;
use crate::diag::{Code, Diagnostic};
use crate::ledger::trailers::{self, Approval};
use crate::pgp;
use crate::policy::{self, Policy, Principal};
use crate::record::{Decision, PrincipalKind};
use crate::store::Oid;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct CheckedApproval {
    pub principal: String,
    pub key: String,
    pub signed_at: SystemTime,
}

/// A link of the chain its actor signs in a trailer of its own (SPEC §6): the initiator the
/// record (`Initiated-by`), the executor the outcome (`Executed-by`). Approvals and reviews
/// are judged by [`super::Checker::check_signed_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Initiator,
    Outcome,
}

/// Where one link's signature stands, for `show` and `verify --json`.
#[derive(Debug, Clone)]
pub enum LinkStatus {
    /// Verified: made by the actor itself with a valid key.
    Valid(CheckedApproval),
    /// No signature (a finding only where the policy rule requires one).
    Unsigned,
    /// Present and wrong: the finding says how.
    Invalid(Diagnostic),
}

impl LinkStatus {
    /// `valid`, `unsigned`, or `invalid [code]: message`.
    pub fn describe(&self) -> String {
        match self {
            LinkStatus::Valid(_) => "valid".into(),
            LinkStatus::Unsigned => "unsigned".into(),
            LinkStatus::Invalid(d) => format!("invalid [{}]: {}", d.code, d.message),
        }
    }

    /// The status as JSON: `status`, and `principal`, `key`, `signed_at` when valid.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            LinkStatus::Valid(a) => serde_json::json!({
                "status": "valid",
                "principal": a.principal,
                "key": a.key,
                "signed_at": jiff::Timestamp::try_from(a.signed_at)
                    .ok()
                    .map(crate::record::format_created),
            }),
            LinkStatus::Unsigned => serde_json::json!({"status": "unsigned"}),
            LinkStatus::Invalid(d) => serde_json::json!({
                "status": "invalid",
                "code": d.code.name(),
                "message": d.message,
            }),
        }
    }
}

impl Link {
    pub fn trailer(self) -> &'static str {
        match self {
            Link::Initiator => trailers::INITIATED_BY,
            Link::Outcome => trailers::EXECUTED_BY,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Link::Initiator => "the record's initiator",
            Link::Outcome => "the outcome's executor",
        }
    }

    fn missing(self) -> Code {
        match self {
            Link::Initiator => Code::InitiatorSignatureMissing,
            Link::Outcome => Code::OutcomeSignatureMissing,
        }
    }

    fn invalid(self) -> Code {
        match self {
            Link::Initiator => Code::InitiatorSignatureInvalid,
            Link::Outcome => Code::OutcomeSignatureInvalid,
        }
    }

    fn misattributed(self) -> Code {
        match self {
            Link::Initiator => Code::InitiatorSignatureMisattributed,
            Link::Outcome => Code::OutcomeSignatureMisattributed,
        }
    }
}

impl super::Checker<'_> {
    /// Verifies every `Approved-by` trailer over the decision file's bytes and returns the
    /// distinct eligible principals.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_signed_by(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        d: &Decision,
        bytes: &[u8],
        c: &CommitView,
        key: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<CheckedApproval> {
        let mut out: Vec<CheckedApproval> = Vec::new();
        for parsed in c.trailers.signatures(key) {
            let a = match parsed {
                Ok(a) => a,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        Code::TrailerMismatch,
                        format!("malformed {key} trailer: {e}"),
                    ));
                    continue;
                }
            };
            let (principal, signed_at) = match self.verify_signature(gov_tree, policy, &a, bytes) {
                Ok(p) => p,
                Err(diag) => {
                    diags.push(diag);
                    continue;
                }
            };
            if let Some(why) = signed_before(signed_at, &d.created) {
                diags.push(Diagnostic::new(
                    Code::TimeImplausible,
                    format!("the {key} signature of `{}` {why}", principal.id),
                ));
                continue;
            }
            if principal.kind != PrincipalKind::Human {
                diags.push(Diagnostic::new(
                    Code::ApproverNotHuman,
                    format!(
                        "approval by `{}`, a {} principal; approvals come from humans",
                        principal.id,
                        principal.kind.as_str()
                    ),
                ));
                continue;
            }
            if let Some(why) = conflict_of_interest(&principal.id, d) {
                diags.push(Diagnostic::new(
                    Code::SelfApproval,
                    format!("`{}` cannot approve this decision: {why}", principal.id),
                ));
                continue;
            }
            if !out.iter().any(|x| x.principal == principal.id) {
                out.push(CheckedApproval {
                    principal: principal.id.clone(),
                    key: a.key.clone(),
                    signed_at,
                });
            }
        }
        out
    }

    /// Judges the signature of one link (`link`) by its actor `actor` over the record's `bytes`:
    /// at most one trailer; when present it verifies with a valid key of `actor` itself (not
    /// its owner, not anyone else) and is not dated before `created`; when `required` by the
    /// policy rule it is present. Returns the verified signature.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_link_signature(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        link: Link,
        actor: &str,
        created: &str,
        bytes: &[u8],
        c: &CommitView,
        required: bool,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<CheckedApproval> {
        let key = link.trailer();
        let all: Vec<_> = c.trailers.signatures(key).collect();
        let parsed = match all.as_slice() {
            [] => {
                if required {
                    diags.push(Diagnostic::new(
                        link.missing(),
                        format!(
                            "the policy rule requires {} `{actor}` to sign it (an {key} trailer), and there is none",
                            link.what()
                        ),
                    ));
                }
                return None;
            }
            [one] => one,
            many => {
                diags.push(Diagnostic::new(
                    link.invalid(),
                    format!(
                        "the commit has {} {key} trailers; {} signs once",
                        many.len(),
                        link.what()
                    ),
                ));
                return None;
            }
        };
        let a = match parsed {
            Ok(a) => a,
            Err(e) => {
                diags.push(Diagnostic::new(
                    link.invalid(),
                    format!("malformed {key} trailer: {e}"),
                ));
                return None;
            }
        };
        if a.principal != actor {
            diags.push(Diagnostic::new(
                link.misattributed(),
                format!(
                    "the {key} trailer names `{}`, but {} is `{actor}`",
                    super::clip(&a.principal),
                    link.what()
                ),
            ));
            return None;
        }
        let (principal, signed_at) = match self.verify_signature(gov_tree, policy, a, bytes) {
            Ok(p) => p,
            Err(d) => {
                let code = match d.code {
                    Code::ApproverMismatch => link.misattributed(),
                    Code::SignatureInvalid | Code::KeyUnknown => link.invalid(),
                    other => other,
                };
                diags.push(Diagnostic::new(code, format!("{key}: {}", d.message)));
                return None;
            }
        };
        if let Some(why) = signed_before(signed_at, created) {
            diags.push(Diagnostic::new(
                Code::TimeImplausible,
                format!("the {key} signature of `{}` {why}", principal.id),
            ));
            return None;
        }
        Some(CheckedApproval {
            principal: principal.id.clone(),
            key: a.key.clone(),
            signed_at,
        })
    }

    /// Where the signature of `link` by `actor` on commit `c` stands (see
    /// [`Self::check_link_signature`]; a missing one is [`LinkStatus::Unsigned`] whatever the
    /// policy requires).
    #[allow(clippy::too_many_arguments)]
    pub fn link_status(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        link: Link,
        actor: &str,
        created: &str,
        bytes: &[u8],
        c: &CommitView,
    ) -> LinkStatus {
        let mut found = Vec::new();
        match self.check_link_signature(
            gov_tree, policy, link, actor, created, bytes, c, false, &mut found,
        ) {
            Some(a) => LinkStatus::Valid(a),
            None if found.is_empty() => LinkStatus::Unsigned,
            None => LinkStatus::Invalid(found.swap_remove(0)),
        }
    }

    /// Verifies one signature against the governance of `gov_tree`; returns its principal and
    /// when the signature says it was made.
    pub fn verify_signature(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        a: &Approval,
        data: &[u8],
    ) -> Result<(Principal, SystemTime), Diagnostic> {
        let Some(principal) = policy.principal_by_key(&a.key) else {
            return Err(Diagnostic::new(
                Code::KeyUnknown,
                format!(
                    "key {} (claimed by `{}`) belongs to no principal of the policy",
                    a.key, a.principal
                ),
            ));
        };
        if principal.id != a.principal {
            return Err(Diagnostic::new(
                Code::ApproverMismatch,
                format!(
                    "the trailer names `{}` but key {} belongs to `{}`",
                    a.principal, a.key, principal.id
                ),
            ));
        }
        if let (Some(claimed), Some(known)) = (&a.email, &principal.email) {
            if !claimed.eq_ignore_ascii_case(known) {
                return Err(Diagnostic::new(
                    Code::ApproverMismatch,
                    format!(
                        "the trailer gives `{}` the email <{claimed}>; the policy says <{known}>",
                        a.principal
                    ),
                ));
            }
        }
        let cert = self.gov.cert_at(gov_tree, &a.key).map_err(|e| {
            Diagnostic::new(
                Code::KeyUnknown,
                format!("certificate {}: {e}", policy::key_path(&a.key)),
            )
        })?;
        let cert = match self.latest_tree.filter(|t| *t != gov_tree) {
            Some(latest) => match self.gov.cert_at(latest, &a.key) {
                Ok(newer) if !Arc::ptr_eq(&newer, &cert) => {
                    // Both come from the blob-keyed cache, so their addresses name them.
                    let key = (Arc::as_ptr(&cert) as usize, Arc::as_ptr(&newer) as usize);
                    self.merged
                        .entry(key)
                        .or_insert_with(|| Arc::new(pgp::merge_knowledge(&cert, &newer)))
                        .clone()
                }
                _ => cert,
            },
            None => cert,
        };
        let info = pgp::verify_detached_mode(&cert, &a.signature, data, self.now, self.mode)
            .map_err(|e| {
                let code = match e {
                    pgp::SigError::ExpiredAtSigning(_) | pgp::SigError::ExpiredNow(_) => {
                        Code::KeyExpired
                    }
                    pgp::SigError::Revoked(_) => Code::KeyRevoked,
                    pgp::SigError::Future(_) => Code::TimeImplausible,
                    _ => Code::SignatureInvalid,
                };
                Diagnostic::new(
                    code,
                    format!("signature of `{}` (key {}): {e}", principal.id, a.key),
                )
            })?;
        Ok((principal.clone(), info.created))
    }
}

/// Why a signature made at `signed_at` cannot be about a record created at `created`, if it
/// cannot: it is dated before the record existed, beyond the clock skew
/// [`pgp::FUTURE_TOLERANCE`] tolerated between machines.
pub(super) fn signed_before(signed_at: SystemTime, created: &str) -> Option<String> {
    let created_at = crate::record::parse_created(created)?;
    let created_secs = created_at.as_second();
    let signed_secs = signed_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (signed_secs + (pgp::FUTURE_TOLERANCE.as_secs() as i64) < created_secs).then(|| {
        format!(
            "was made at {}, before the decision was created ({created})",
            crate::record::format_unix(signed_secs)
        )
    })
}

/// Why `principal` may not approve `d`, if it may not.
pub(super) fn conflict_of_interest(principal: &str, d: &Decision) -> Option<String> {
    if principal == d.initiator.id {
        return Some("they initiated it".into());
    }
    if d.initiator.owner.as_deref() == Some(principal) {
        return Some(format!(
            "they own the initiating account `{}`",
            d.initiator.id
        ));
    }
    if let Some(a) = d.ai.agents.iter().find(|a| a.id == principal) {
        return Some(format!(
            "they act as agent `{}` ({}) in the chain",
            a.id, a.role
        ));
    }
    None
}

/// What is missing from `approvals` to satisfy `require` (empty when satisfied).
pub fn shortfall(
    policy: &Policy,
    require: &[policy::Requirement],
    approvals: &[CheckedApproval],
) -> Vec<String> {
    let mut out = Vec::new();
    for q in require {
        let have = approvals
            .iter()
            .filter(|a| match &q.group {
                None => true,
                Some(g) => policy
                    .principal(&a.principal)
                    .is_some_and(|p| p.groups.contains(g)),
            })
            .count();
        if have < q.count as usize {
            out.push(format!(
                "needs {}, has {have} valid approval(s)",
                q.describe()
            ));
        }
    }
    out
}

/// The finding for an outcome of decision `decision` written (recorded or signed) at
/// `recorded`, before `approved`, the time of the latest approval on the decision's landing
/// commit, beyond the tolerated clock skew: it cannot be the outcome of an approved action.
pub(super) fn acted_before_approval(
    recorded: i64,
    approved: i64,
    decision: &str,
) -> Option<Diagnostic> {
    let tolerance = pgp::FUTURE_TOLERANCE.as_secs() as i64;
    (recorded + tolerance < approved).then(|| {
        Diagnostic::new(
            Code::TimeImplausible,
            format!(
                "the outcome was recorded or signed at {}, before decision {decision} was approved ({})",
                crate::record::format_unix(recorded),
                crate::record::format_unix(approved)
            ),
        )
    })
}
