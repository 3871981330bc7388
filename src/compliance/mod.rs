//! What `aiaudit check` judges in a product repository's CI: every commit that says it is
//! AI-assisted ([`ai`]), or that names a decision, must map to an approved decision on the
//! audit repository's main whose target is this repository ([`repo`]) (SPEC §8).
//!
//! A compliant commit's `Decision-Id` names a decision that is on the audit repository's main
//! (not only proposed), whose `action.target.repo` or `action.target.system` names this
//! repository, and that was approved (at least one `Approved-by`, or landed under an
//! `approval: post` rule, which is then said). A decision landed after the commit was made is a
//! warning, as is a post-action review still missing; a review that rejected it is a gap.
//! Findings carry codes of the one catalog ([`crate::diag`], family `check`).

pub mod ai;
pub mod change;
pub mod repo;

use crate::diag::{Code, Severity};
use crate::ledger::governance::{Governance, GovernanceError};
use crate::ledger::read::{Ledger, LedgerDecision};
use crate::ledger::trailers::DECISION_ID;
use crate::policy;
use crate::record::event::ReviewVerdict;
use crate::record::{format_unix, ActionKind, EventKind};
use crate::store::{CommitData, Oid, Store, StoreError};
use ai::{claims, Claims};
use repo::{names_match, normalize_repo};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Why a commit could not be judged (the audit repository could not be read).
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the audit repository's policy: {0}")]
    Governance(#[from] GovernanceError),
    #[error("the ledger names commit `{0}`, which is not a commit id")]
    BadCommitId(String),
}

/// One finding about a product commit.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    pub commit: String,
    pub subject: String,
    /// The trailer the finding is about (`Assisted-by: Claude`, `Decision-Id: 01J…`).
    pub trailer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}]: commit {} \"{}\"\n  `{}`: {}\n  hint: {}",
            self.severity,
            self.code,
            &self.commit[..self.commit.len().min(12)],
            self.subject,
            self.trailer,
            self.message,
            self.hint
        )
    }
}

/// An AI-assistance trailer and the tool it names, where known.
#[derive(Debug, Clone, Serialize)]
pub struct AiTrailer {
    pub trailer: String,
    pub tool: Option<String>,
}

/// One judged commit (AI-assisted or naming a decision).
#[derive(Debug, Serialize)]
pub struct Checked {
    pub commit: String,
    pub subject: String,
    /// The AI-assistance trailers, with the tool each names where known.
    pub ai_trailers: Vec<AiTrailer>,
    pub decisions: Vec<String>,
    pub compliant: bool,
    /// For compliant commits: what covers them.
    pub notes: Vec<String>,
    /// What is wrong with it (errors make it non-compliant).
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// `s` as it may be shown: control and hidden characters escaped (see [`crate::text`]), so a
/// commit message cannot drive the terminal.
pub fn printable(s: &str) -> String {
    crate::text::visible(s).into_owned()
}

fn subject_of(c: &CommitData) -> String {
    printable(c.message.lines().next().unwrap_or("").trim())
}

/// Judges product commits against one audit repository's ledger.
pub struct Compliance<'a> {
    repo_name: String,
    extra_tools: Vec<String>,
    by_id: HashMap<String, &'a LedgerDecision>,
    proposals: HashSet<String>,
    gov: Governance<'a>,
}

impl<'a> Compliance<'a> {
    /// `repo_name`: this repository as decisions name it (normalized here); `proposals`: the
    /// ids of decisions proposed but not landed; `extra_tools`: more AI tool names to recognize.
    pub fn new(
        audit: &'a Store,
        ledger: &'a Ledger,
        proposals: impl IntoIterator<Item = String>,
        repo_name: &str,
        extra_tools: Vec<String>,
    ) -> Self {
        Compliance {
            repo_name: normalize_repo(repo_name),
            extra_tools,
            by_id: ledger
                .decisions
                .iter()
                .map(|d| (d.decision.id.to_ascii_uppercase(), d))
                .collect(),
            proposals: proposals
                .into_iter()
                .map(|p| p.to_ascii_uppercase())
                .collect(),
            gov: Governance::new(audit),
        }
    }

    /// Judges one commit of the product repository `product`; `None` when it neither is
    /// AI-assisted nor names a decision.
    pub fn judge(
        &mut self,
        product: &Store,
        c: &CommitData,
    ) -> Result<Option<Checked>, ComplianceError> {
        let cl = claims(&c.message, &self.extra_tools);
        if cl.decisions.is_empty() && cl.ai.is_empty() {
            return Ok(None);
        }
        let mut findings = Vec::new();
        let notes = check_commit(self, product, c, &cl, &mut findings)?;
        Ok(Some(Checked {
            commit: c.id.to_string(),
            subject: subject_of(c),
            ai_trailers: cl
                .ai
                .iter()
                .map(|(t, tool)| AiTrailer {
                    trailer: t.clone(),
                    tool: tool.clone(),
                })
                .collect(),
            decisions: cl.decisions.clone(),
            compliant: !findings.iter().any(|f| f.severity == Severity::Error),
            notes,
            findings,
        }))
    }
}

fn check_commit(
    cx: &mut Compliance<'_>,
    product: &Store,
    c: &CommitData,
    cl: &Claims,
    findings: &mut Vec<Finding>,
) -> Result<Vec<String>, ComplianceError> {
    let commit = c.id.to_string();
    let subject = subject_of(c);
    let mut notes = Vec::new();
    let mut add = |severity, code, trailer: String, decision: Option<&str>, message, hint| {
        findings.push(Finding {
            severity,
            code,
            commit: commit.clone(),
            subject: subject.clone(),
            trailer,
            decision: decision.map(str::to_owned),
            message,
            hint,
        })
    };
    if cl.decisions.is_empty() {
        let (trailer, tool) = &cl.ai[0];
        add(
            Severity::Error,
            Code::AiCommitWithoutDecision,
            trailer.clone(),
            None,
            format!(
                "the commit is AI-assisted{} but carries no Decision-Id trailer",
                tool.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
            ),
            format!(
                "record the decision in the audit repository (`aiaudit record --action code-merge \
                 --system {0} --target-repo {0} ...`), have it approved, and add \
                 `Decision-Id: <id>` to the commit message",
                &cx.repo_name
            ),
        );
        return Ok(notes);
    }
    for raw in &cl.decisions {
        let id = raw.to_ascii_uppercase();
        let trailer = format!("{DECISION_ID}: {raw}");
        let Some(ld) = cx.by_id.get(&id).copied() else {
            if cx.proposals.contains(&id) {
                add(
                    Severity::Error,
                    Code::DecisionNotApproved,
                    trailer,
                    Some(&id),
                    "the decision is only proposed: it has not been approved and landed on the \
                     audit repository's main"
                        .into(),
                    format!(
                        "an approver runs `aiaudit approve {id}`; re-run the check once it landed"
                    ),
                );
            } else {
                add(
                    Severity::Error,
                    Code::DecisionUnknown,
                    trailer,
                    Some(&id),
                    "no decision with this id is on the audit repository's main, nor proposed"
                        .into(),
                    "check the id (`aiaudit log` in the audit repository lists decisions), and \
                     that --audit-repo is the audit repository this product uses"
                        .into(),
                );
            }
            continue;
        };
        let d = &ld.decision;
        let t = &d.action.target;
        let named: Vec<&str> = t
            .repo
            .iter()
            .map(String::as_str)
            .chain([t.system.as_str()])
            .collect();
        if !named
            .iter()
            .any(|n| names_match(&cx.repo_name, &normalize_repo(n)))
        {
            add(
                Severity::Error,
                Code::DecisionOtherTarget,
                trailer,
                Some(&id),
                format!(
                    "the decision targets {}, not this repository `{}`",
                    match &t.repo {
                        Some(r) => format!("repository `{r}` (system `{}`)", t.system),
                        None => format!("system `{}`", t.system),
                    },
                    &cx.repo_name
                ),
                "reference a decision recorded for this repository (record one with \
                 `--target-repo`), or pass --target-repo if this repository's name is not \
                 what decisions call it"
                    .into(),
            );
            continue;
        }
        let mut covering = String::new();
        if d.action.kind == ActionKind::CodeMerge {
            // A code merge covers exactly the change it names, made by its initiator.
            if d.action.changes.is_empty() {
                add(
                    Severity::Error,
                    Code::DecisionNamesNoChange,
                    trailer.clone(),
                    Some(&id),
                    "the code-merge decision names no change (action.changes): it would cover any commit"
                        .into(),
                    "record the decision with the change it covers: `aiaudit record --action code-merge --covers $(aiaudit change-digest REV) ...`"
                        .into(),
                );
                continue;
            }
            let digest = change::change_digest(product, c)?;
            if !d.action.changes.contains(&digest) {
                add(
                    Severity::Error,
                    Code::DecisionDoesNotCover,
                    trailer.clone(),
                    Some(&id),
                    format!(
                        "the commit's change (digest {digest}) is not one the decision covers ({})",
                        d.action.changes.join(", ")
                    ),
                    "reference the decision recorded for this change, or record one for it (`aiaudit change-digest REV` gives the digest)"
                        .into(),
                );
                continue;
            }
            let landed = Oid::from_hex(ld.commit.as_bytes())
                .map_err(|_| ComplianceError::BadCommitId(ld.commit.clone()))?;
            let tree = cx.gov.store().commit(landed)?.tree;
            let pol = cx.gov.policy_at(tree)?;
            let email = pol.principal(&d.initiator.id).and_then(|p| p.email.clone());
            let authored = email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&c.author.email));
            if !authored {
                add(
                    Severity::Error,
                    Code::DecisionOtherAuthor,
                    trailer.clone(),
                    Some(&id),
                    match email {
                        Some(e) => format!(
                            "the commit is authored by <{}>, not by the decision's initiator `{}` <{e}>",
                            printable(&c.author.email),
                            d.initiator.id
                        ),
                        None => format!(
                            "the policy gives the decision's initiator `{}` no email, so the commit's author <{}> cannot be theirs",
                            d.initiator.id,
                            printable(&c.author.email)
                        ),
                    },
                    "the initiator of a code-merge decision authors the change it covers; another author records their own decision"
                        .into(),
                );
                continue;
            }
            covering = format!(", covering this commit's change ({digest})");
        }
        let reviews: Vec<_> = ld
            .events
            .iter()
            .filter_map(|e| match (&e.event.kind, &e.event.review) {
                (EventKind::Review, Some(r)) => Some(r),
                _ => None,
            })
            .collect();
        let mut ok = true;
        if ld.approvals.is_empty() {
            let landed = Oid::from_hex(ld.commit.as_bytes())
                .map_err(|_| ComplianceError::BadCommitId(ld.commit.clone()))?;
            let tree = cx.gov.store().commit(landed)?.tree;
            let pol = cx.gov.policy_at(tree)?;
            let verdict = pol.verdict(d);
            if verdict.approval == policy::Approval::Post {
                match reviews.last() {
                    Some(r) if r.verdict == ReviewVerdict::Rejected => {
                        ok = false;
                        add(
                            Severity::Error,
                            Code::DecisionReviewRejected,
                            trailer.clone(),
                            Some(&id),
                            format!("its post-action review rejected it: {}", r.summary),
                            "revert the change, or record and approve a new decision for it".into(),
                        );
                    }
                    Some(r) => notes.push(format!(
                        "{id}: post-action review under rule `{}`, reviewed ({}){covering}",
                        verdict.rule,
                        r.verdict.as_str()
                    )),
                    None => {
                        notes.push(format!(
                            "{id}: post-action review under rule `{}`, review pending{covering}",
                            verdict.rule
                        ));
                        add(
                            Severity::Warning,
                            Code::DecisionReviewPending,
                            trailer.clone(),
                            Some(&id),
                            format!(
                                "landed without approval under rule `{}` (approval: post); its \
                                 review is not recorded yet",
                                verdict.rule
                            ),
                            format!("a reviewer runs `aiaudit review {id} ...`"),
                        )
                    }
                }
            } else {
                ok = false;
                add(
                    Severity::Error,
                    Code::DecisionUnapproved,
                    trailer.clone(),
                    Some(&id),
                    "the decision is on main without any approval, and its rule requires \
                     approval before the action"
                        .into(),
                    "run `aiaudit verify` on the audit repository: its history breaks the policy"
                        .into(),
                );
            }
        } else {
            let approvers: Vec<&str> = ld.approvals.iter().map(|a| a.principal.as_str()).collect();
            notes.push(format!(
                "{id}: {} on {}, approved by {}, landed {}{covering}",
                d.action.kind.as_str(),
                t.repo.as_deref().unwrap_or(&t.system),
                approvers.join(", "),
                format_unix(ld.landed_at)
            ));
            if let Some(r) = reviews
                .last()
                .filter(|r| r.verdict == ReviewVerdict::Rejected)
            {
                ok = false;
                add(
                    Severity::Error,
                    Code::DecisionReviewRejected,
                    trailer.clone(),
                    Some(&id),
                    format!("a review rejected it: {}", r.summary),
                    "revert the change, or record and approve a new decision for it".into(),
                );
            }
        }
        if ok && ld.landed_at > c.committer.time {
            add(
                Severity::Warning,
                Code::DecisionLandedAfterCommit,
                trailer,
                Some(&id),
                format!(
                    "the decision landed at {}, after the commit was made ({})",
                    format_unix(ld.landed_at),
                    format_unix(c.committer.time)
                ),
                "record and approve decisions before the change they cover".into(),
            );
        }
    }
    Ok(notes)
}
