//! The rule engine: one set of rules (SPEC §7) behind three front ends — the `pre-receive`
//! hook ([`Checker::check_push`]), `aiaudit verify` ([`Checker::check_history`]) and the
//! checks `record` and `approve` run before they write anything.
//!
//! The engine reads objects through [`Store`] and never writes. Every finding is a
//! [`Diagnostic`] naming the commit, the file and a stable code; a commit is judged against the
//! governance state (policy and keys) of its *parent*, so a push can never grant itself rights.
//! Any error reading objects becomes an `internal-error` finding: callers fail closed.

use crate::diag::{Code, Diagnostic};
use crate::intake::secrets;
use crate::pgp;
use crate::policy::{self, Policy, Principal};
use crate::record::{self, digest, Decision, Event, EventKind, PrincipalKind, MAX_RECORD_BYTES};
use crate::store::{BlobRead, Change, ChangeKind, CommitData, EntryKind, ObjectKind, Oid, Store};
use crate::trailers::{self, Approval, Trailers};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

pub const MAIN_REF: &str = "refs/heads/main";
pub const PROPOSALS_PREFIX: &str = "refs/heads/proposals/";
pub const CHECKPOINTS_PREFIX: &str = "refs/tags/checkpoint/";
/// Governance changes collecting admin signatures (admin threshold above one).
pub const GOVERNANCE_PREFIX: &str = "refs/heads/governance/";
pub const README_PATH: &str = "README.md";
/// Most changed files looked at in one commit.
pub const MAX_CHANGES: usize = 10_000;
/// Most commits one push may add to main.
pub const MAX_PUSH_COMMITS: usize = 100_000;
/// How far behind main's tip a governance change's signed base may be.
pub const MAX_POLICY_BASE_DISTANCE: usize = 10_000;
/// Size cap for certificate files.
pub const MAX_CERT_BYTES: u64 = 1024 * 1024;

/// One line of a `pre-receive` hook's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: Option<Oid>,
    pub new: Option<Oid>,
    pub name: String,
}

/// What a commit on main did, with the record it added when it parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitRole {
    Genesis,
    Decision(Option<Box<Decision>>),
    Event(Option<Box<Event>>),
    PolicyChange,
    Invalid,
}

/// The result of checking main's whole history.
#[derive(Debug, Default, serde::Serialize)]
pub struct HistoryReport {
    pub root: Option<String>,
    pub tip: Option<String>,
    pub commits: usize,
    pub decisions: usize,
    pub events: usize,
    pub policy_changes: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Whether every commit was checked, or only those after the remembered head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Commits checked in this run (all of them unless resumed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<usize>,
}

/// What a clean `verify` of main remembers, so that the next one checks only the commits
/// added since (`Checker::check_history_resume`): the head it verified, the counts, the
/// warnings it reported, and what history-wide rules still wait for (post-action reviews,
/// outcomes of high-risk decisions).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct VerifyState {
    /// The format of this state; another value means "verify everything again".
    pub version: u32,
    pub root: String,
    pub tip: String,
    pub commits: usize,
    pub decisions: usize,
    pub events: usize,
    pub policy_changes: usize,
    warnings: Vec<StoredWarning>,
    gaps: Gaps,
    /// The checkpoint tags it saw (name, tagged commit): any change means a full run.
    checkpoints: Vec<(String, String)>,
}

/// A warning of a verified commit, kept to be reported again.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct StoredWarning {
    code: String,
    refname: Option<String>,
    commit: Option<String>,
    path: Option<String>,
    message: String,
}

impl VerifyState {
    pub const VERSION: u32 = 2;
}

/// How a history check went about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// Every commit from the root.
    Full,
    /// Only the commits after a remembered, clean head.
    Resumed,
}

/// A valid approval, after signature and eligibility checks.
#[derive(Debug, Clone)]
pub struct CheckedApproval {
    pub principal: String,
    pub key: String,
    pub signed_at: SystemTime,
}

/// Told how far a history check has come, for progress displays. Called from several threads.
pub trait HistoryProgress: Send + Sync {
    /// The number of commits the check will judge.
    fn total(&self, commits: u64);
    /// `commits` more have been judged.
    fn advance(&self, commits: u64);
}

/// The rule engine over one repository.
pub struct Checker<'s> {
    store: &'s Store,
    now: SystemTime,
    policies: HashMap<Oid, Result<Arc<Policy>, String>>,
    certs: HashMap<Oid, Result<Arc<pgp::Cert>, String>>,
    /// The forge login of whoever pushes (hook only).
    pusher: Option<String>,
    /// How signatures are judged: landing something new, or re-checking history.
    mode: pgp::VerifyMode,
    /// Re-checking history: the newest tree, whose certificates carry every revocation
    /// published since an approval landed (hard revocations are retroactive).
    latest_tree: Option<Oid>,
    /// Certificates merged with their newest version, by the two cached certificates.
    merged: HashMap<(usize, usize), Arc<pgp::Cert>>,
    /// Where history checks report how far they are.
    progress: Option<Arc<dyn HistoryProgress>>,
    /// Judging a push (the hook): commits on main are also checked against who pushes them.
    judging_push: bool,
}

/// Pushed text quoted in a finding, cut short: a megabyte trailer or author line is named, not
/// echoed back to the pusher's terminal.
fn clip(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

fn internal(e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(Code::InternalError, e.to_string())
}

impl<'s> Checker<'s> {
    pub fn new(store: &'s Store, now: SystemTime) -> Self {
        Checker {
            store,
            now,
            policies: HashMap::new(),
            certs: HashMap::new(),
            pusher: None,
            mode: pgp::VerifyMode::Landing,
            latest_tree: None,
            merged: HashMap::new(),
            progress: None,
            judging_push: false,
        }
    }

    /// Reports the progress of history checks to `p`.
    pub fn with_progress(mut self, p: Arc<dyn HistoryProgress>) -> Self {
        self.progress = Some(p);
        self
    }

    /// Sets the forge login of the pusher, as the forge reported it to the hook.
    pub fn with_pusher(mut self, pusher: Option<String>) -> Self {
        self.pusher = pusher.filter(|p| !p.is_empty());
        self
    }

    pub fn store(&self) -> &Store {
        self.store
    }

    // ---- front end: the hook ----------------------------------------------------------------

    /// Judges a whole push. Any finding rejects the push.
    pub fn check_push(&mut self, updates: &[RefUpdate]) -> Vec<Diagnostic> {
        self.judging_push = true;
        let mut diags = Vec::new();
        // Checkpoints may tag commits this very push adds to main.
        let main_after = match updates.iter().find(|u| u.name == MAIN_REF) {
            Some(u) => u.new,
            None => self.store.ref_target(MAIN_REF).ok().flatten(),
        };
        for u in updates {
            let mut found = if u.name.starts_with(CHECKPOINTS_PREFIX) {
                self.check_checkpoint(u, main_after)
            } else {
                self.check_update(u)
            };
            for d in &mut found {
                if d.refname.is_none() {
                    d.refname = Some(u.name.clone());
                }
            }
            diags.extend(found);
        }
        diags
    }

    fn check_update(&mut self, u: &RefUpdate) -> Vec<Diagnostic> {
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
            return match u.new {
                None => Vec::new(), // withdrawing or cleaning up a proposal is allowed
                Some(new) => self.check_proposal(id, new),
            };
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
        self.check_chunks(&ids, from)
            .into_iter()
            .flat_map(|r| r.diagnostics)
            .collect()
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
        let policy = match self.policy_at(tree) {
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
                let Ok(cert) = self.cert_at(tree, fpr) else {
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

    /// Pusher binding: under a policy with `pushers.bind`, the pusher must be one of the
    /// principals accountable for the commit, or a landing account.
    fn check_pusher(
        &mut self,
        c: &CommitData,
        parent: &CommitData,
        role: &CommitRole,
    ) -> Option<Diagnostic> {
        let policy = self.policy_at(parent.tree).ok()?;
        let binding = policy.pushers.as_ref().filter(|p| p.bind)?;
        let Some(pusher) = self.pusher.clone() else {
            return Some(Diagnostic::new(
                Code::PusherMismatch,
                "the policy binds pushers, but the server did not say who pushed (GITHUB_USER_LOGIN, GL_USERNAME or GITEA_PUSHER_NAME)",
            ));
        };
        if binding.landing_accounts.contains(&pusher) {
            return None;
        }
        let t = trailers::parse(&c.message);
        let signers = |key: &str| -> Vec<String> {
            t.all(key)
                .filter_map(|v| Approval::parse(v).ok())
                .map(|a| a.principal)
                .collect()
        };
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
            CommitRole::PolicyChange => signers(trailers::POLICY_SIGNED_BY),
            _ => return None, // already rejected for other reasons
        };
        let allowed = accountable
            .iter()
            .filter_map(|id| policy.principal(id))
            .any(|p| p.forge_logins.contains(&pusher));
        (!allowed).then(|| {
            Diagnostic::new(
                Code::PusherMismatch,
                format!(
                    "pushed by forge login `{pusher}`, who is none of {} and not a landing account",
                    if accountable.is_empty() {
                        "its accountable principals".to_owned()
                    } else {
                        accountable.join(", ")
                    }
                ),
            )
        })
    }

    // ---- front end: verify ------------------------------------------------------------------

    /// Checks every commit on main from the root, with the same rules as the hook, plus
    /// history-wide rules (ids unique across history, pinned trust root).
    pub fn check_history(&mut self, tip: Oid, trust_root: Option<Oid>) -> HistoryReport {
        self.check_history_from(tip, trust_root, None)
    }

    /// [`Self::check_history`], also failing when `remembered` (the head verified last time)
    /// or any checkpoint tag is not on main's history any more.
    pub fn check_history_from(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
    ) -> HistoryReport {
        self.check_history_resume(tip, trust_root, remembered, None)
            .0
    }

    /// [`Self::check_history_from`], resuming from `state` (what the last clean run
    /// remembered) when its head is on main: only the commits added since are checked, and
    /// history-wide rules (overdue reviews, outcomes) are judged with what the state carried
    /// over. A new policy change among them (it may revoke keys, retroactively) or a state
    /// that does not fit this history means a full check. Returns the report and the state to
    /// remember if the report is clean.
    pub fn check_history_resume(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
        state: Option<VerifyState>,
    ) -> (HistoryReport, VerifyState) {
        // Approvals on history counted when they landed: judge them at their signing time,
        // with hard revocations retroactive (see `pgp::VerifyMode::History`).
        let mode = std::mem::replace(&mut self.mode, pgp::VerifyMode::History);
        self.latest_tree = self.store.commit(tip).ok().map(|c| c.tree);
        let out = self.check_history_inner(tip, trust_root, remembered, state);
        self.mode = mode;
        self.latest_tree = None;
        out
    }

    fn check_history_inner(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
        state: Option<VerifyState>,
    ) -> (HistoryReport, VerifyState) {
        let mut report = HistoryReport {
            tip: Some(tip.to_string()),
            ..Default::default()
        };
        let empty_state = |report: &HistoryReport| VerifyState {
            version: VerifyState::VERSION,
            root: report.root.clone().unwrap_or_default(),
            tip: tip.to_string(),
            commits: 0,
            decisions: 0,
            events: 0,
            policy_changes: 0,
            warnings: Vec::new(),
            gaps: Gaps::default(),
            checkpoints: Vec::new(),
        };
        let checkpoints = match self.checkpoint_targets() {
            Ok(c) => c,
            Err(e) => {
                report.diagnostics.push(internal(e));
                let st = empty_state(&report);
                return (report, st);
            }
        };
        // A clean earlier run of this clone whose head is still on main's first-parent line,
        // with the same checkpoints and root of trust: only the commits since are read at all.
        let mut state = state.filter(|st| st.version == VerifyState::VERSION);
        let quick = state.as_ref().and_then(|st| {
            let stop = Oid::from_hex(st.tip.as_bytes()).ok()?;
            let fits = remembered.is_none_or(|r| r == stop)
                && trust_root
                    .is_none_or(|t| Oid::from_hex(st.root.as_bytes()).is_ok_and(|r| r == t))
                && st.checkpoints == checkpoints;
            if !fits {
                return None;
            }
            let newer = self.store.first_parent_ids_until(tip, Some(stop)).ok()??;
            Some(std::iter::once(stop).chain(newer).collect::<Vec<Oid>>())
        });
        if let Some((chain, st)) = quick.and_then(|c| Some((c, state.take()?))) {
            let results = self.check_chunks(&chain, 1);
            if !results.iter().any(|r| r.policy_changes > 0) {
                report.root = Some(st.root.clone());
                return self.finish_history(report, &chain, results, Some(st), checkpoints);
            }
            // A new policy change may revoke keys retroactively: everything again, below,
            // without the state (`take` above).
        }
        // Ids only: 20 bytes a commit, whatever the length of history.
        let ids_chain = match self.store.first_parent_ids(tip) {
            Ok(c) => c,
            Err(e) => {
                report.diagnostics.push(internal(e).at_ref(MAIN_REF));
                let st = empty_state(&report);
                return (report, st);
            }
        };
        report.root = ids_chain.first().map(|c| c.to_string());
        if let (Some(want), Some(root)) = (trust_root, ids_chain.first()) {
            if *root != want {
                report.diagnostics.push(
                    Diagnostic::new(
                        Code::TrustRootMismatch,
                        format!("main's root commit is {root}, the pinned trust root is {want}"),
                    )
                    .at_commit(root.to_string()),
                );
            }
        }
        let on_main: HashSet<Oid> = ids_chain.iter().copied().collect();
        if let Some(r) = remembered.filter(|r| !on_main.contains(r)) {
            report.diagnostics.push(
                Diagnostic::new(
                    Code::HistoryRewritten,
                    format!("the head verified last time, {r}, is not an ancestor of {tip}"),
                )
                .at_commit(r.to_string())
                .at_ref(MAIN_REF),
            );
        }
        for (name, target) in &checkpoints {
            let on = Oid::from_hex(target.as_bytes()).is_ok_and(|t| on_main.contains(&t));
            if !on {
                report.diagnostics.push(
                    Diagnostic::new(
                        Code::HistoryRewritten,
                        format!("checkpoint {name} tags {target}, which is not on main"),
                    )
                    .at_commit(target.clone())
                    .at_ref(name.clone()),
                );
            }
        }
        // Every commit is judged against its parent alone, so the chain splits into chunks
        // that threads check independently (each with its own caches); results merge in order.
        drop(on_main);
        // Where the last clean run stopped, if it fits this history.
        let resume = state
            .filter(|st| Some(&st.root) == report.root.as_ref())
            .and_then(|st| {
                let want = Oid::from_hex(st.tip.as_bytes()).ok()?;
                let k = ids_chain.iter().rposition(|c| *c == want)?;
                Some((k + 1, st))
            });
        let (results, base) = match resume {
            Some((from, st)) => {
                let results = self.check_chunks(&ids_chain, from);
                if results.iter().any(|r| r.policy_changes > 0) {
                    (self.check_chunks(&ids_chain, 0), None)
                } else {
                    (results, Some(st))
                }
            }
            None => (self.check_chunks(&ids_chain, 0), None),
        };
        self.finish_history(report, &ids_chain, results, base, checkpoints)
    }

    /// Every checkpoint tag with the commit it tags (hex), sorted by name.
    fn checkpoint_targets(&self) -> Result<Vec<(String, String)>, crate::store::StoreError> {
        let mut out: Vec<(String, String)> = self
            .store
            .refs_with_prefix(CHECKPOINTS_PREFIX)?
            .into_iter()
            .map(|(name, oid)| {
                let target = self.store.tag(oid).map(|t| t.target).unwrap_or(oid);
                (name, target.to_string())
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Merges the chunks' results (after what `base`, a remembered state, carries over),
    /// applies the history-wide rules, and builds the state to remember. `chain` ends at the
    /// tip.
    fn finish_history(
        &mut self,
        mut report: HistoryReport,
        chain: &[Oid],
        results: Vec<ChunkResult>,
        base: Option<VerifyState>,
        checkpoints: Vec<(String, String)>,
    ) -> (HistoryReport, VerifyState) {
        let tip = chain.last().copied();
        let root = report.root.clone();
        report.checked = Some(results.iter().map(|r| r.commits).sum());
        report.coverage = Some(if base.is_some() {
            Coverage::Resumed
        } else {
            Coverage::Full
        });
        let mut gaps = Gaps::default();
        if let Some(st) = base {
            report.commits = st.commits;
            report.decisions = st.decisions;
            report.events = st.events;
            report.policy_changes = st.policy_changes;
            report
                .diagnostics
                .extend(st.warnings.into_iter().filter_map(|w| {
                    let mut d = Diagnostic::new(Code::from_name(&w.code)?, w.message).warning();
                    d.refname = w.refname;
                    d.commit = w.commit;
                    d.path = w.path;
                    Some(d)
                }));
            gaps = st.gaps;
        }
        let mut seen: HashSet<String> = HashSet::new();
        for r in results {
            report.commits += r.commits;
            report.decisions += r.decisions;
            report.events += r.events;
            report.policy_changes += r.policy_changes;
            for (id, commit) in r.decision_ids {
                if !seen.insert(id.clone()) {
                    report.diagnostics.push(
                        Diagnostic::new(
                            Code::DuplicateId,
                            format!("decision id {id} appears more than once on main"),
                        )
                        .at_commit(commit)
                        .at_ref(MAIN_REF),
                    );
                }
            }
            report.diagnostics.extend(r.diagnostics);
            gaps.merge(r.gaps);
        }
        let policy = tip
            .and_then(|t| self.store.commit(t).ok())
            .and_then(|c| self.policy_at(c.tree).ok());
        // What the next run resumes from: per-commit warnings (history-wide findings are
        // recomputed from the gaps every time) and the gaps still open.
        let mut kept = gaps.clone();
        kept.high.retain(|(id, _, _)| !kept.outcomes.contains(id));
        kept.outcomes.clear();
        let next = VerifyState {
            version: VerifyState::VERSION,
            root: root.unwrap_or_default(),
            tip: tip.map(|t| t.to_string()).unwrap_or_default(),
            commits: report.commits,
            decisions: report.decisions,
            events: report.events,
            policy_changes: report.policy_changes,
            warnings: report
                .diagnostics
                .iter()
                .filter(|d| !d.is_error())
                .map(|d| StoredWarning {
                    code: d.code.name().to_owned(),
                    refname: d.refname.clone(),
                    commit: d.commit.clone(),
                    path: d.path.clone(),
                    message: d.message.clone(),
                })
                .collect(),
            gaps: kept,
            checkpoints,
        };
        report
            .diagnostics
            .extend(gaps.finish(policy.as_deref(), self.now));
        (report, next)
    }

    /// Checks every commit of `chain` (oldest first), in parallel chunks when the store can be
    /// shared across threads.
    fn check_chunks(&mut self, chain: &[Oid], from: usize) -> Vec<ChunkResult> {
        use rayon::prelude::*;
        let n = chain.len();
        if let Some(p) = &self.progress {
            p.total(n.saturating_sub(from) as u64);
        }
        let threads = rayon::current_num_threads().max(1);
        let size = (n.saturating_sub(from) / (threads * 8)).clamp(4, 8192);
        let ranges: Vec<std::ops::Range<usize>> = (from..n)
            .step_by(size)
            .map(|s| s..(s + size).min(n))
            .collect();
        let (now, mode, latest) = (self.now, self.mode, self.latest_tree);
        let progress = self.progress.clone();
        let pusher = self.pusher.clone();
        let judging_push = self.judging_push;
        match self.store.shared() {
            Some(shared) if ranges.len() > 1 => ranges
                .into_par_iter()
                .map(|r| {
                    let store = Store::from_shared(&shared);
                    let mut checker = Checker::new(&store, now);
                    checker.mode = mode;
                    checker.latest_tree = latest;
                    checker.progress = progress.clone();
                    checker.pusher = pusher.clone();
                    checker.judging_push = judging_push;
                    checker.check_range(chain, r)
                })
                .collect(),
            _ => ranges
                .into_iter()
                .map(|r| self.check_range(chain, r))
                .collect(),
        }
    }

    /// Checks `chain[range]`, each commit against its predecessor in `chain`.
    fn check_range(&mut self, chain: &[Oid], range: std::ops::Range<usize>) -> ChunkResult {
        let mut out = ChunkResult::default();
        // Newest first: packs store older trees as deltas against newer ones, so walking
        // backwards finds each delta's base freshly decoded. Results are put back in history
        // order at the end.
        let mut per_commit: Vec<CommitFindings> = Vec::new();
        let mut child: Option<CommitData> = None;
        for i in range.rev() {
            let c = match child.take() {
                Some(c) => c,
                None => match self.store.commit(chain[i]) {
                    Ok(c) => c,
                    Err(e) => {
                        out.diagnostics
                            .push(internal(e).at_commit(chain[i].to_string()).at_ref(MAIN_REF));
                        return out;
                    }
                },
            };
            let parent = match i {
                0 => None,
                _ => match self.store.commit(chain[i - 1]) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        out.diagnostics.push(internal(e).at_ref(MAIN_REF));
                        return out;
                    }
                },
            };
            let (role, mut found) = self.check_main_commit(&c, parent.as_ref());
            if let (Some(p), true) = (&parent, self.judging_push) {
                if let Some(d) = self.check_pusher(&c, p, &role) {
                    found.push(d.at_commit(c.id.to_string()));
                }
            }
            out.commits += 1;
            let clean = !found.iter().any(Diagnostic::is_error);
            let mut id = None;
            match role {
                CommitRole::Decision(d) => {
                    out.decisions += 1;
                    id = trailers::parse(&c.message)
                        .all(trailers::DECISION_ID)
                        .next()
                        .map(|x| (x.to_owned(), c.id.to_string()));
                    if let (Some(d), Some(p), true) = (d, parent.as_ref(), clean) {
                        if let Ok(policy) = self.policy_at(p.tree) {
                            out.gaps.decision(&d, policy.verdict(&d), &c);
                        }
                    }
                }
                CommitRole::Event(e) => {
                    out.events += 1;
                    if let (Some(e), true) = (e, clean) {
                        out.gaps.event(&e, &c);
                    }
                }
                CommitRole::PolicyChange => out.policy_changes += 1,
                _ => {}
            }
            per_commit.push((found.into_iter().map(|d| d.at_ref(MAIN_REF)).collect(), id));
            child = parent;
            if per_commit.len() % 256 == 0 {
                if let Some(p) = &self.progress {
                    p.advance(256);
                }
            }
        }
        if let Some(p) = &self.progress {
            p.advance((per_commit.len() % 256) as u64);
        }
        for (diags, id) in per_commit.into_iter().rev() {
            out.diagnostics.extend(diags);
            out.decision_ids.extend(id);
        }
        out
    }

    // ---- commits on main ----------------------------------------------------------------------

    /// Checks one commit on main against its parent's governance.
    pub fn check_main_commit(
        &mut self,
        c: &CommitData,
        parent: Option<&CommitData>,
    ) -> (CommitRole, Vec<Diagnostic>) {
        let at = |d: Diagnostic| d.at_commit(c.id.to_string());
        let parent = match (parent, c.parents.len()) {
            (None, 0) => {
                let diags = self.check_genesis(c);
                return (CommitRole::Genesis, diags.into_iter().map(at).collect());
            }
            (Some(p), 1) if c.parents[0] == p.id => p,
            (_, n) => {
                return (
                    CommitRole::Invalid,
                    vec![at(Diagnostic::new(
                        Code::MergeCommit,
                        format!("the commit has {n} parents; main is a linear chain of single-parent commits"),
                    ))],
                )
            }
        };
        let changes = match self
            .store
            .diff_trees(Some(parent.tree), c.tree, MAX_CHANGES)
        {
            Ok(ch) => ch,
            Err(e) => {
                return (
                    CommitRole::Invalid,
                    vec![at(Diagnostic::new(
                        Code::CommitMultipleRecords,
                        e.to_string(),
                    ))],
                )
            }
        };
        let mut diags = Vec::new();
        let mut records = Vec::new();
        let mut stored = Vec::new();
        let mut governance = Vec::new();
        let added: HashMap<Oid, &str> = changes
            .iter()
            .filter(|ch| ch.kind == ChangeKind::Added)
            .filter_map(|ch| ch.new.map(|e| (e.oid, ch.path.as_str())))
            .collect();
        for ch in &changes {
            if is_governance(&ch.path) {
                governance.push(ch);
                continue;
            }
            match ch.kind {
                ChangeKind::Deleted => {
                    let moved = ch.old.and_then(|o| added.get(&o.oid));
                    diags.push(
                        match moved {
                            Some(to) => Diagnostic::new(
                                Code::RecordRenamed,
                                format!("{} is moved to {to}", ch.path),
                            ),
                            None => Diagnostic::new(
                                Code::RecordDeleted,
                                format!("{} is deleted", ch.path),
                            ),
                        }
                        .at_path(&ch.path),
                    );
                }
                ChangeKind::Modified => diags.push(
                    Diagnostic::new(Code::RecordModified, format!("{} is changed", ch.path))
                        .at_path(&ch.path),
                ),
                ChangeKind::Added => {
                    let renamed_from = ch.new.and_then(|n| {
                        changes
                            .iter()
                            .any(|o| {
                                o.kind == ChangeKind::Deleted && o.old.map(|e| e.oid) == Some(n.oid)
                            })
                            .then_some(())
                    });
                    if renamed_from.is_some() {
                        continue; // reported with the deletion
                    }
                    if let Some(d) = entry_kind_problem(ch) {
                        diags.push(d);
                    } else if is_record_path("decisions", &ch.path)
                        || is_record_path("events", &ch.path)
                    {
                        records.push(ch);
                    } else if record::context_path_digest(&ch.path).is_some() {
                        stored.push(ch);
                    } else {
                        diags.push(
                            Diagnostic::new(
                                Code::PathNotAllowed,
                                format!(
                                    "{} is not a record path (decisions/YYYY/MM/<id>.yaml, events/YYYY/MM/<id>.yaml, context/<xx>/<sha256>)",
                                    ch.path
                                ),
                            )
                            .at_path(&ch.path),
                        );
                    }
                }
            }
        }
        let decision_added = records.len() == 1
            && governance.is_empty()
            && records[0].path.starts_with("decisions/");
        if !decision_added {
            // Stored context belongs to the decision its commit adds; there is none here.
            diags.extend(self.check_stored_context(None, &stored));
        }
        let role = if !governance.is_empty() {
            if !records.is_empty() {
                diags.push(Diagnostic::new(
                    Code::CommitMultipleRecords,
                    "the commit mixes records with a change to governance files",
                ));
            }
            diags.extend(self.check_policy_change(c, parent, &governance, true));
            CommitRole::PolicyChange
        } else if records.len() > 1 {
            diags.push(Diagnostic::new(
                Code::CommitMultipleRecords,
                format!(
                    "the commit adds {} records ({} …); land one decision per commit",
                    records.len(),
                    records[0].path
                ),
            ));
            CommitRole::Invalid
        } else if let Some(ch) = records.first().filter(|ch| ch.path.starts_with("events/")) {
            let (e, found) = self.check_event_commit(c, parent, ch);
            diags.extend(found);
            CommitRole::Event(e.map(Box::new))
        } else if let Some(ch) = records.first() {
            let (d, found) = self.check_decision_commit(c, parent, ch, &stored, true);
            diags.extend(found);
            CommitRole::Decision(d.map(Box::new))
        } else {
            if diags.is_empty() {
                diags.push(Diagnostic::new(
                    Code::CommitEmpty,
                    "the commit adds no record",
                ));
            }
            CommitRole::Invalid
        };
        (role, diags.into_iter().map(at).collect())
    }

    /// Checks a commit that adds one decision, and the context content it stores (`stored`:
    /// the commit's added `context/<xx>/<sha256>` files). `landing`: the commit goes onto
    /// main, so the policy's approval requirement applies; otherwise (a proposal) present
    /// approvals must verify but need not be complete.
    pub fn check_decision_commit(
        &mut self,
        c: &CommitData,
        parent: &CommitData,
        change: &Change,
        stored: &[&Change],
        landing: bool,
    ) -> (Option<Decision>, Vec<Diagnostic>) {
        let (d, mut diags) = self.check_decision_only(c, parent, change, landing);
        diags.extend(self.check_stored_context(d.as_ref(), stored));
        (d, diags)
    }

    /// Stored context files: each named by the SHA-256 of its content, UTF-8 text within the
    /// size cap, free of anything that looks like a credential, and the content of an input,
    /// tool call or model output of `decision` (None: the commit adds no decision, so nothing
    /// may be stored).
    fn check_stored_context(
        &self,
        decision: Option<&Decision>,
        stored: &[&Change],
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let named: HashSet<&str> = decision
            .map(|d| record::content_digests(d).into_iter().collect())
            .unwrap_or_default();
        for ch in stored {
            let path = ch.path.as_str();
            let (Some(entry), Some(name)) = (ch.new, record::context_path_digest(path)) else {
                continue;
            };
            let bytes = match self
                .store
                .read_blob(entry.oid, record::MAX_STORED_CONTEXT_BYTES as u64)
            {
                Ok(BlobRead::Data(b)) => b,
                Ok(BlobRead::TooLarge(n)) => {
                    diags.push(
                        Diagnostic::new(
                            Code::FileTooLarge,
                            format!(
                                "{n} bytes, more than the {}-byte cap for stored context",
                                record::MAX_STORED_CONTEXT_BYTES
                            ),
                        )
                        .at_path(path),
                    );
                    continue;
                }
                Err(e) => {
                    diags.push(internal(e).at_path(path));
                    continue;
                }
            };
            let actual = digest::sha256_hex(&bytes);
            if actual != name {
                diags.push(
                    Diagnostic::new(
                        Code::StoredContextMismatch,
                        format!("the content's SHA-256 is {actual}, not the {name} its path names"),
                    )
                    .at_path(path),
                );
            }
            if std::str::from_utf8(&bytes).is_err() || bytes.contains(&0) {
                diags.push(
                    Diagnostic::new(
                        Code::NotUtf8,
                        "stored context is UTF-8 text without NUL bytes; binary inputs are recorded by digest only",
                    )
                    .at_path(path),
                );
            } else if let Some(hit) = secrets::scan(&bytes).first() {
                diags.push(
                    Diagnostic::new(
                        Code::StoredContextSecret,
                        format!("line {}: {}", hit.line, hit.describe()),
                    )
                    .at_path(path),
                );
            }
            if !named.contains(name) {
                let why = match decision {
                    Some(d) => format!(
                        "no input, tool call or model output of decision {} has SHA-256 {name}",
                        d.id
                    ),
                    None => "the commit adds no decision for it to belong to".to_owned(),
                };
                diags.push(Diagnostic::new(Code::StoredContextUnreferenced, why).at_path(path));
            }
        }
        diags
    }

    fn check_decision_only(
        &mut self,
        c: &CommitData,
        parent: &CommitData,
        change: &Change,
        landing: bool,
    ) -> (Option<Decision>, Vec<Diagnostic>) {
        let path = change.path.as_str();
        let Some(entry) = change.new else {
            return (None, vec![internal("decision change without a new entry")]);
        };
        let bytes = match self.store.read_blob(entry.oid, MAX_RECORD_BYTES as u64) {
            Ok(BlobRead::Data(b)) => b,
            Ok(BlobRead::TooLarge(n)) => {
                return (
                    None,
                    vec![Diagnostic::new(
                        Code::FileTooLarge,
                        format!("{n} bytes, more than the {MAX_RECORD_BYTES}-byte cap for records"),
                    )
                    .at_path(path)],
                )
            }
            Err(e) => return (None, vec![internal(e).at_path(path)]),
        };
        let (decision, mut diags) = record::check_decision(path, &bytes);
        let Some(d) = decision else {
            return (None, diags);
        };
        diags.extend(self.duplicate_id(parent.tree, &d.id, path));
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
        let policy = match self.policy_at(parent.tree) {
            Ok(p) => p,
            Err(e) => {
                diags.push(Diagnostic::new(Code::PolicyInvalid, e).at_path(policy::POLICY_PATH));
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
        let trailers = trailers::parse(&c.message);
        check_trailers(&d, &trailers, &mut found);
        let approvals = self.check_signed_by(
            parent.tree,
            &policy,
            &d,
            &bytes,
            &trailers,
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
        diags.extend(found.into_iter().map(|x| x.at_path(path)));
        (Some(d), diags)
    }

    /// Ids are unique across decisions and events. A record's path is a function of its id, so
    /// lookups in the parent tree find an earlier use without reading history.
    fn duplicate_id(&self, tree: Oid, id: &str, path: &str) -> Vec<Diagnostic> {
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

    /// Checks a commit that adds one event: the decision it refers to exists on main, the actor
    /// is a principal and the commit's author, the trailers mirror the file, and a review is
    /// signed by eligible reviewers.
    pub fn check_event_commit(
        &mut self,
        c: &CommitData,
        parent: &CommitData,
        change: &Change,
    ) -> (Option<Event>, Vec<Diagnostic>) {
        let path = change.path.as_str();
        let Some(entry) = change.new else {
            return (None, vec![internal("event change without a new entry")]);
        };
        let bytes = match self.read_record(entry.oid, path) {
            Ok(b) => b,
            Err(d) => return (None, vec![d]),
        };
        let (event, mut diags) = record::check_event(path, &bytes);
        let Some(e) = event else {
            return (None, diags);
        };
        diags.extend(self.duplicate_id(parent.tree, &e.id, path));
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
        let policy = match self.policy_at(parent.tree) {
            Ok(p) => p,
            Err(err) => {
                diags.push(Diagnostic::new(Code::PolicyInvalid, err).at_path(policy::POLICY_PATH));
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
        let trailers = trailers::parse(&c.message);
        check_expected_trailers(&trailers::event_trailers(&e), &trailers, &mut found);
        if e.kind == EventKind::Review {
            let reviewers = match &decision {
                Some(d) => self.check_signed_by(
                    parent.tree,
                    &policy,
                    d,
                    &bytes,
                    &trailers,
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
        diags.extend(found.into_iter().map(|x| x.at_path(path)));
        (Some(e), diags)
    }

    fn read_record(&self, oid: Oid, path: &str) -> Result<Vec<u8>, Diagnostic> {
        match self.store.read_blob(oid, MAX_RECORD_BYTES as u64) {
            Ok(BlobRead::Data(b)) => Ok(b),
            Ok(BlobRead::TooLarge(n)) => Err(Diagnostic::new(
                Code::FileTooLarge,
                format!("{n} bytes, more than the {MAX_RECORD_BYTES}-byte cap for records"),
            )
            .at_path(path)),
            Err(e) => Err(internal(e).at_path(path)),
        }
    }

    /// Verifies every `Approved-by` trailer over the decision file's bytes and returns the
    /// distinct eligible principals.
    #[allow(clippy::too_many_arguments)]
    fn check_signed_by(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        d: &Decision,
        bytes: &[u8],
        trailers: &Trailers,
        key: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<CheckedApproval> {
        let mut out: Vec<CheckedApproval> = Vec::new();
        for value in trailers.all(key) {
            let a = match Approval::parse(value) {
                Ok(a) => a,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        Code::TrailerMismatch,
                        format!("malformed {key} trailer: {e}"),
                    ));
                    continue;
                }
            };
            let principal = match self.verify_signature(gov_tree, policy, &a, bytes) {
                Ok(p) => p,
                Err(diag) => {
                    diags.push(diag);
                    continue;
                }
            };
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
                    signed_at: self.now,
                });
            }
        }
        out
    }

    /// Verifies one signature against the governance of `gov_tree`; returns its principal.
    pub fn verify_signature(
        &mut self,
        gov_tree: Oid,
        policy: &Policy,
        a: &Approval,
        data: &[u8],
    ) -> Result<Principal, Diagnostic> {
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
        let cert = self.cert_at(gov_tree, &a.key).map_err(|e| {
            Diagnostic::new(
                Code::KeyUnknown,
                format!("certificate {}: {e}", policy::key_path(&a.key)),
            )
        })?;
        let cert = match self.latest_tree.filter(|t| *t != gov_tree) {
            Some(latest) => match self.cert_at(latest, &a.key) {
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
        pgp::verify_detached_mode(&cert, &a.signature, data, self.now, self.mode).map_err(|e| {
            let code = match e {
                pgp::SigError::ExpiredAtSigning(_) | pgp::SigError::ExpiredNow(_) => {
                    Code::KeyExpired
                }
                pgp::SigError::Revoked(_) => Code::KeyRevoked,
                _ => Code::SignatureInvalid,
            };
            Diagnostic::new(
                code,
                format!("signature of `{}` (key {}): {e}", principal.id, a.key),
            )
        })?;
        Ok(principal.clone())
    }

    // ---- governance -------------------------------------------------------------------------

    fn check_genesis(&mut self, c: &CommitData) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let changes = match self.store.diff_trees(None, c.tree, MAX_CHANGES) {
            Ok(ch) => ch,
            Err(e) => return vec![Diagnostic::new(Code::GenesisInvalid, e.to_string())],
        };
        for ch in &changes {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            } else if !is_governance(&ch.path) {
                diags.push(
                    Diagnostic::new(
                        Code::GenesisInvalid,
                        format!(
                            "the root commit may hold only .aiaudit/ and README.md, not {}",
                            ch.path
                        ),
                    )
                    .at_path(&ch.path),
                );
            }
        }
        diags.extend(self.check_governance_files(c.tree, &changes, Code::GenesisInvalid));
        diags
    }

    /// Checks a governance change: sound new files, and `Policy-Signed-by` signatures of admins
    /// of the previous policy over the statement. `landing`: the admin threshold must be met
    /// (on main); otherwise (a governance proposal) present signatures must merely verify.
    fn check_policy_change(
        &mut self,
        c: &CommitData,
        parent: &CommitData,
        changes: &[&Change],
        landing: bool,
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for ch in changes {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            }
        }
        let owned: Vec<Change> = changes.iter().map(|c| (*c).clone()).collect();
        diags.extend(self.check_governance_files(c.tree, &owned, Code::PolicyInvalid));
        let old_policy = match self.policy_at(parent.tree) {
            Ok(p) => p,
            Err(e) => {
                diags.push(Diagnostic::new(
                    Code::PolicyInvalid,
                    format!("previous policy: {e}"),
                ));
                return diags;
            }
        };
        let base = match self.policy_base(c, parent) {
            Ok(b) => b,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        let statement = match governance_statement(self.store, base, c.tree) {
            Ok(s) => s,
            Err(e) => {
                diags.push(internal(e));
                return diags;
            }
        };
        let mut signers = BTreeSet::new();
        for value in trailers::parse(&c.message).all(trailers::POLICY_SIGNED_BY) {
            let a = match Approval::parse(value) {
                Ok(a) => a,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        Code::TrailerMismatch,
                        format!("malformed Policy-Signed-by trailer: {e}"),
                    ));
                    continue;
                }
            };
            match self.verify_signature(parent.tree, &old_policy, &a, statement.as_bytes()) {
                Ok(p)
                    if p.kind == PrincipalKind::Human
                        && p.groups.contains(&old_policy.admins.group) =>
                {
                    signers.insert(p.id);
                }
                Ok(p) => diags.push(Diagnostic::new(
                    Code::PolicyChangeUnsigned,
                    format!(
                        "`{}` is not an admin (group `{}`) of the previous policy",
                        p.id, old_policy.admins.group
                    ),
                )),
                Err(d) => diags.push(d),
            }
        }
        let need = old_policy.admins.threshold as usize;
        let file = changes.first().map(|c| c.path.clone()).unwrap_or_default();
        for d in diags.iter_mut().filter(|d| d.path.is_none()) {
            d.path = Some(file.clone());
        }
        if landing && signers.len() < need {
            diags.push(Diagnostic::new(
                Code::PolicyChangeUnsigned,
                format!(
                    "the change to {} needs {need} admin signature(s) from the previous policy, has {} valid",
                    changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>().join(", "),
                    signers.len()
                ),
            )
            .at_path(file));
        }
        diags
    }

    /// The commit a governance change was signed against: its `Policy-Base` trailer, or its
    /// parent. Admins sign a change once; while main moves on with records only, the signed
    /// change can still land. The base must be a recent commit of main, and no governance file
    /// may have changed between it and the parent, so a change signed for one policy can never
    /// be replayed onto another (even one whose content was later reverted to the same bytes).
    fn policy_base(&self, c: &CommitData, parent: &CommitData) -> Result<Oid, Diagnostic> {
        let bad = |m: String| Diagnostic::new(Code::PolicyChangeUnsigned, m);
        let Some(value) = trailers::parse(&c.message)
            .all(trailers::POLICY_BASE)
            .next()
            .map(str::to_owned)
        else {
            return Ok(parent.id);
        };
        let base = Oid::from_hex(value.as_bytes())
            .map_err(|_| bad(format!("Policy-Base `{}` is not a commit id", clip(&value))))?;
        let state = |tree: Oid| -> Result<(Option<Oid>, Option<Oid>), Diagnostic> {
            let get = |p: &str| {
                self.store
                    .lookup(tree, p)
                    .map(|e| e.map(|e| e.oid))
                    .map_err(internal)
            };
            Ok((get(".aiaudit")?, get(README_PATH)?))
        };
        let want = state(parent.tree)?;
        let mut cur = parent.clone();
        for _ in 0..=MAX_POLICY_BASE_DISTANCE {
            if cur.id == base {
                return Ok(base);
            }
            let Some(p) = cur.parents.first().copied() else {
                break;
            };
            let child = cur.id;
            cur = self.store.commit(p).map_err(internal)?;
            if state(cur.tree)? != want {
                return Err(bad(format!(
                    "the change was signed against {base}, but governance files changed after it (in {child}); sign it again"
                )));
            }
        }
        Err(bad(format!(
            "the change was signed against {base}, which is not among the last {MAX_POLICY_BASE_DISTANCE} commits of main"
        )))
    }

    /// The new governance state must itself be sound: a valid policy, certificates named by
    /// their fingerprint, no secret keys, nothing else under `.aiaudit/`.
    fn check_governance_files(
        &mut self,
        tree: Oid,
        changes: &[Change],
        code: Code,
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let policy = match self.policy_at(tree) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(Diagnostic::new(code, e).at_path(policy::POLICY_PATH));
                None
            }
        };
        for ch in changes {
            if ch.kind == ChangeKind::Deleted || !is_governance(&ch.path) {
                continue;
            }
            if ch.path == policy::POLICY_PATH || ch.path == README_PATH {
                if ch.path == README_PATH {
                    if let Some(e) = ch.new {
                        match self.store.read_blob(e.oid, MAX_RECORD_BYTES as u64) {
                            Ok(BlobRead::Data(b)) => {
                                if let Err(d) = record::check_text(&b) {
                                    diags.push(d.at_path(&ch.path));
                                }
                            }
                            Ok(BlobRead::TooLarge(n)) => diags.push(
                                Diagnostic::new(Code::FileTooLarge, format!("{n} bytes"))
                                    .at_path(&ch.path),
                            ),
                            Err(e) => diags.push(internal(e).at_path(&ch.path)),
                        }
                    }
                }
                continue;
            }
            let fpr = ch
                .path
                .strip_prefix(&format!("{}/", policy::KEYS_DIR))
                .and_then(|f| f.strip_suffix(".asc"))
                .filter(|f| policy::is_fingerprint(f));
            let Some(fpr) = fpr else {
                diags.push(
                    Diagnostic::new(
                        Code::PathNotAllowed,
                        format!("{} is not a governance file (.aiaudit/policy.yaml, .aiaudit/keys/<FPR>.asc, README.md)", ch.path),
                    )
                    .at_path(&ch.path),
                );
                continue;
            };
            match self.cert_at(tree, fpr) {
                Ok(_) => {}
                Err(e) => diags.push(Diagnostic::new(code, e).at_path(&ch.path)),
            }
            if let Some(p) = &policy {
                if p.principal_by_key(fpr).is_none() {
                    diags.push(
                        Diagnostic::new(
                            code,
                            format!("certificate {fpr} belongs to no principal of the policy"),
                        )
                        .at_path(&ch.path),
                    );
                }
            }
        }
        if let Some(p) = &policy {
            for pr in &p.principals {
                for k in &pr.keys {
                    if let Err(e) = self.cert_at(tree, k) {
                        diags.push(
                            Diagnostic::new(
                                code,
                                format!("principal `{}`: certificate {k}: {e}", pr.id),
                            )
                            .at_path(policy::key_path(k)),
                        );
                    }
                }
            }
        }
        diags
    }

    /// The policy in force at `tree` (cached by blob id).
    pub fn policy_at(&mut self, tree: Oid) -> Result<Arc<Policy>, String> {
        let entry = self
            .store
            .lookup(tree, policy::POLICY_PATH)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} is missing", policy::POLICY_PATH))?;
        if entry.kind != EntryKind::Blob {
            return Err(format!("{} is not a regular file", policy::POLICY_PATH));
        }
        if let Some(p) = self.policies.get(&entry.oid) {
            return p.clone();
        }
        let parsed = self
            .store
            .read_blob_capped(entry.oid, policy::MAX_POLICY_BYTES as u64)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                // A pushed policy is parsed before its signatures are checked: bound what it
                // may cost the YAML parser first (see `record::yaml_bounds`). Policies may use
                // flow lists and aliases, so the bounds are generous: flow brackets × size at
                // most 2^28 (a policy written in block style, as aiaudit writes it, has none;
                // the worst case parses in well under a second), aliases expanding to 16 times
                // the file.
                if let Ok(text) = std::str::from_utf8(&b) {
                    let bounded = |m: String| {
                        format!(
                            "{}: {m}; write lists in block style (`- item`)",
                            policy::POLICY_PATH
                        )
                    };
                    let max_brackets = (1usize << 28) / text.len().max(1);
                    record::yaml_bounds::check_flow(text, max_brackets).map_err(bounded)?;
                    record::yaml_bounds::check_aliases(text, 16 * text.len() + 64 * 1024)
                        .map_err(|m| format!("{}: {m}", policy::POLICY_PATH))?;
                }
                Policy::parse(&b).map_err(|e| format!("{}: {e}", policy::POLICY_PATH))
            })
            .map(Arc::new);
        self.policies.insert(entry.oid, parsed.clone());
        parsed
    }

    /// The certificate `.aiaudit/keys/<fpr>.asc` at `tree` (cached by blob id).
    pub fn cert_at(&mut self, tree: Oid, fpr: &str) -> Result<Arc<pgp::Cert>, String> {
        let path = policy::key_path(fpr);
        let entry = self
            .store
            .lookup(tree, &path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{path} is missing"))?;
        if entry.kind != EntryKind::Blob {
            return Err(format!("{path} is not a regular file"));
        }
        if let Some(c) = self.certs.get(&entry.oid) {
            return c.clone();
        }
        let parsed = self
            .store
            .read_blob_capped(entry.oid, MAX_CERT_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| pgp::parse_cert(&b).map_err(|e| e.to_string()))
            .and_then(|c| {
                let got = pgp::fingerprint(&c);
                if got == fpr {
                    Ok(Arc::new(c))
                } else {
                    Err(format!("{path} holds certificate {got}, not {fpr}"))
                }
            });
        self.certs.insert(entry.oid, parsed.clone());
        parsed
    }

    // ---- proposals --------------------------------------------------------------------------

    /// A governance proposal: one commit on top of a commit of main, changing only governance
    /// files, whose signatures so far verify.
    fn check_governance_proposal(&mut self, new: Oid) -> Vec<Diagnostic> {
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
    ) -> Result<(CommitData, CommitData, Vec<Change>), Vec<Diagnostic>> {
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
        let changes = self
            .store
            .diff_trees(Some(parent.tree), c.tree, MAX_CHANGES)
            .map_err(|e| bad(e.to_string()))?;
        Ok((c, parent, changes))
    }

    fn check_proposal(&mut self, id: &str, new: Oid) -> Vec<Diagnostic> {
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
        for ch in &changes {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            } else if ch.kind == ChangeKind::Added
                && is_decision_path(&ch.path)
                && decision_change.is_none()
            {
                decision_change = Some(ch);
            } else if ch.kind == ChangeKind::Added
                && record::context_path_digest(&ch.path).is_some()
            {
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

/// The bytes admins sign to approve a governance change: the commit of main it was made
/// against (see `Checker::policy_base`) and the exact new content of `.aiaudit/` and
/// `README.md`, so a signature cannot be replayed onto another position or another content.
pub fn governance_statement(
    store: &Store,
    base: Oid,
    tree: Oid,
) -> Result<String, crate::store::StoreError> {
    let aiaudit = store.lookup(tree, ".aiaudit")?.map(|e| e.oid.to_string());
    let readme = store.lookup(tree, README_PATH)?.map(|e| e.oid.to_string());
    Ok(format!(
        "aiaudit/policy-change/v1\nbase {base}\naiaudit {}\nreadme {}\n",
        aiaudit.as_deref().unwrap_or("none"),
        readme.as_deref().unwrap_or("none")
    ))
}

/// Whether `path` is a governance file (changed only with admin signatures).
pub fn is_governance(path: &str) -> bool {
    path == README_PATH || path.starts_with(".aiaudit/")
}

/// `decisions/YYYY/MM/<name>.yaml`, shape only; the record check compares with the id.
pub fn is_decision_path(path: &str) -> bool {
    is_record_path("decisions", path)
}

/// `<dir>/YYYY/MM/<name>.yaml`, shape only.
pub fn is_record_path(dir: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 4
        && parts[0] == dir
        && parts[1].len() == 4
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && parts[2].len() == 2
        && parts[2].bytes().all(|b| b.is_ascii_digit())
        && parts[3].ends_with(".yaml")
}

fn entry_kind_problem(ch: &Change) -> Option<Diagnostic> {
    let e = ch.new?;
    let d = match e.kind {
        EntryKind::Link => Diagnostic::new(
            Code::SymlinkNotAllowed,
            format!("{} is a symbolic link", ch.path),
        ),
        EntryKind::Submodule => Diagnostic::new(
            Code::SubmoduleNotAllowed,
            format!("{} is a submodule", ch.path),
        ),
        EntryKind::Executable => Diagnostic::new(
            Code::FileModeNotAllowed,
            format!("{} is executable (mode 100755)", ch.path),
        ),
        EntryKind::Blob | EntryKind::Tree => return None,
    };
    Some(d.at_path(&ch.path))
}

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

fn check_trailers(d: &Decision, actual: &Trailers, diags: &mut Vec<Diagnostic>) {
    check_expected_trailers(&trailers::decision_trailers(d), actual, diags)
}

fn check_expected_trailers(expected: &Trailers, actual: &Trailers, diags: &mut Vec<Diagnostic>) {
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

/// Why `principal` may not approve `d`, if it may not.
fn conflict_of_interest(principal: &str, d: &Decision) -> Option<String> {
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

/// Collects approvals already on a proposal commit (valid ones only), for `approve`.
pub fn existing_approvals(trailers: &Trailers) -> Vec<Approval> {
    trailers
        .all(trailers::APPROVED_BY)
        .filter_map(|v| Approval::parse(v).ok())
        .collect()
}

/// One commit's findings and, for a decision, its (id, commit).
type CommitFindings = (Vec<Diagnostic>, Option<(String, String)>);

/// What one chunk of history yields, merged in order by `check_history`.
#[derive(Default)]
struct ChunkResult {
    commits: usize,
    decisions: usize,
    events: usize,
    policy_changes: usize,
    /// (decision id, commit) in history order, for the uniqueness check across chunks.
    decision_ids: Vec<(String, String)>,
    diagnostics: Vec<Diagnostic>,
    gaps: Gaps,
}

/// What `verify` learns across history: decisions awaiting post-action review, and high-risk
/// decisions awaiting an outcome.
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
struct Gaps {
    /// Decision id → (deadline, requirements, commit, path).
    post: HashMap<String, (Option<i64>, policy::Verdict, String, String)>,
    /// Decision id → principal → when its signed review was created (earliest).
    reviewers: HashMap<String, HashMap<String, i64>>,
    /// High-risk decisions (id → commit, path) and the decisions with an outcome.
    high: Vec<(String, String, String)>,
    outcomes: HashSet<String>,
}

impl Gaps {
    /// Adds what a later chunk of history learned.
    fn merge(&mut self, other: Gaps) {
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
    }

    fn decision(&mut self, d: &Decision, verdict: policy::Verdict, c: &CommitData) {
        let path = record::decision_path(d).unwrap_or_default();
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

    fn event(&mut self, e: &Event, c: &CommitData) {
        match e.kind {
            EventKind::Outcome => {
                self.outcomes.insert(e.decision.clone());
            }
            EventKind::Review => {
                let at = record::parse_created(&e.created)
                    .map(|t| t.as_second())
                    .unwrap_or(i64::MAX);
                let entry = self.reviewers.entry(e.decision.clone()).or_default();
                for a in trailers::parse(&c.message)
                    .all(trailers::REVIEWED_BY)
                    .filter_map(|v| Approval::parse(v).ok())
                {
                    let t = entry.entry(a.principal).or_insert(at);
                    *t = (*t).min(at);
                }
            }
            EventKind::Annotation => {}
        }
    }

    fn finish(self, policy: Option<&Policy>, now: SystemTime) -> Vec<Diagnostic> {
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
