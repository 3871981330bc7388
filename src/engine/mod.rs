//! The rule engine: one set of rules (SPEC §7) behind three front ends — the `pre-receive`
//! hook ([`Checker::check_push`]), `aiaudit verify` ([`Checker::check_history`]) and the
//! checks every write of the ledger runs before it moves a ref (`crate::ledger::write`).
//!
//! The engine reads objects through [`Store`] and never writes. Every finding is a
//! [`Diagnostic`] naming the commit, the file and a stable code; a commit is judged against the
//! governance state (policy and keys) of its *parent*, so a push can never grant itself rights.
//! Any error reading objects becomes an `internal-error` finding: callers fail closed.
//!
//! Where each rule lives (one file per reason to change):
//! - [`push`]: what a push may do to which ref (main, proposals, governance, checkpoints) and
//!   who may push it;
//! - [`verify`]: the traversal of main's history, in parallel chunks, and the state a clean
//!   run remembers; [`gaps`]: the history-wide rules (overdue reviews, missing outcomes);
//! - rule families, each judging one kind of content: [`form`] (the commit object: canonical
//!   headers and message), [`layout`] (the tree: paths, entry kinds, immutability), [`decision`], [`event`], [`stored`] (stored context),
//!   [`approvals`] (signatures and separation of duties), [`governance`] (genesis and policy
//!   changes), [`proposal`] (proposal refs).
//!
//! Every rule reads a commit through one [`CommitView`]: its data and trailers, parsed once.

mod approvals;
pub mod content;
mod decision;
mod event;
mod form;
mod gaps;
mod governance;
mod layout;
mod proposal;
mod push;
pub mod pusher;
mod stored;
mod verify;

pub use approvals::{shortfall, CheckedApproval, Link, LinkStatus};
pub use push::RefUpdate;
pub use verify::{Coverage, HistoryReport, IndexUpdate, LinkCounts, VerifyState};

use crate::diag::{Code, Diagnostic};
use crate::ledger::governance::Governance;
use crate::ledger::trailers::{self, Trailers};
use crate::ledger::MAX_CHANGES;
use crate::pgp;
use crate::record::{Decision, Event, MAX_RECORD_BYTES};
use crate::store::{BlobRead, CommitData, Oid, Store};
use layout::Class;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// Most commits one push may add to main.
pub const MAX_PUSH_COMMITS: usize = 100_000;
/// How far behind main's tip a governance change's signed base may be.
pub const MAX_POLICY_BASE_DISTANCE: usize = 10_000;

/// A commit as every rule reads it: its data and its trailer block, parsed once.
#[derive(Debug, Clone)]
pub struct CommitView {
    commit: CommitData,
    pub trailers: Trailers,
}

impl CommitView {
    pub fn new(commit: CommitData) -> Self {
        let trailers = trailers::parse(&commit.message);
        CommitView { commit, trailers }
    }

    pub fn data(&self) -> &CommitData {
        &self.commit
    }
}

impl std::ops::Deref for CommitView {
    type Target = CommitData;
    fn deref(&self) -> &CommitData {
        &self.commit
    }
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
    /// The policy and certificates at each tree judged so far.
    gov: Governance<'s>,
    /// What the server said about who pushes (hook only).
    identity: pusher::PushIdentity,
    /// Who pushes, once settled from `identity` at the start of a push.
    pusher: Option<pusher::Pusher>,
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
    /// Main's chain as the repository's index knows it (`ledger::index`), read at the first
    /// lookup of a landing commit.
    main_chain: Option<crate::ledger::index::Chain>,
    /// The index is brought up to the repository's main when a lookup has read this many
    /// commits without it.
    keep_index: Option<usize>,
    /// Whether it was (once a process is enough: it is brought up to main as it was then).
    index_kept: bool,
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

/// The findings for trees `git fsck --strict` would flag: the tree, where it sits, git's
/// message id.
fn malformed_trees(found: &[crate::store::Malformed]) -> Vec<Diagnostic> {
    found
        .iter()
        .map(|m| {
            let at = if m.path.is_empty() {
                "the root tree".to_owned()
            } else {
                format!("the tree of {}/", m.path)
            };
            let d = Diagnostic::new(
                Code::ObjectMalformed,
                format!("{at} ({}): {}: {}", m.tree, m.problem.id, m.problem.message),
            );
            if m.path.is_empty() {
                d
            } else {
                d.at_path(format!("{}/", m.path))
            }
        })
        .collect()
}

fn internal(e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(Code::InternalError, e.to_string())
}

impl<'s> Checker<'s> {
    pub fn new(store: &'s Store, now: SystemTime) -> Self {
        Checker {
            store,
            now,
            gov: Governance::new(store),
            identity: pusher::PushIdentity::default(),
            pusher: None,
            mode: pgp::VerifyMode::Landing,
            latest_tree: None,
            merged: HashMap::new(),
            progress: None,
            judging_push: false,
            main_chain: None,
            keep_index: None,
            index_kept: false,
        }
    }

    /// When a lookup of where a decision landed does not find it within the last `after`
    /// commits (nor meet the indexed chain; `AIAUDIT_INDEX_AFTER`, default 1,024), the repository's index of main (`ledger::index`)
    /// is first brought up to its `main` (on the server: main as accepted, which the push has
    /// not moved yet; built if missing), so that this and later lookups read only what is newer
    /// (the hook: what was pushed). A recent decision never waits for the index. The server's
    /// hook, and the commands that record an event or run an approved action in a clone.
    pub fn with_index_upkeep(mut self, after: usize) -> Self {
        self.keep_index = Some(after);
        self
    }

    /// Reports the progress of history checks to `p`.
    pub fn with_progress(mut self, p: Arc<dyn HistoryProgress>) -> Self {
        self.progress = Some(p);
        self
    }

    /// Sets what the server said about who pushes (see [`pusher`]).
    pub fn with_push_identity(mut self, identity: pusher::PushIdentity) -> Self {
        self.identity = identity;
        self
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The governance cache the rules use (policy and certificates at a tree).
    pub fn governance(&mut self) -> &mut Governance<'s> {
        &mut self.gov
    }

    /// Checks one commit on main against its parent's governance.
    pub fn check_main_commit(
        &mut self,
        c: &CommitView,
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
        let (changes, malformed) =
            match self
                .store
                .diff_trees_checked(Some(parent.tree), c.tree, MAX_CHANGES)
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
        if !malformed.is_empty() {
            // What a malformed tree holds depends on who reads it: nothing else is judged.
            let diags = malformed_trees(&malformed);
            return (CommitRole::Invalid, diags.into_iter().map(at).collect());
        }
        let mut diags = Vec::new();
        let (mut records, mut stored, mut governance) = (Vec::new(), Vec::new(), Vec::new());
        for (ch, class) in layout::classify(&changes) {
            match class {
                Class::Governance => governance.push(ch),
                Class::Decision | Class::Event => records.push(ch),
                Class::Stored => stored.push(ch),
                other => diags.extend(layout::main_change_problem(ch, &other)),
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

    /// A record's `created` later than now by more than the clock skew tolerated between
    /// machines ([`pgp::FUTURE_TOLERANCE`]): the hook sees it arrive from the future, and
    /// `verify` judges history the same way.
    fn created_in_future(&self, created: &str) -> Option<Diagnostic> {
        let at = crate::record::parse_created(created)?.as_second();
        let now = self
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        (at > now + pgp::FUTURE_TOLERANCE.as_secs() as i64).then(|| {
            Diagnostic::new(
                Code::TimeImplausible,
                format!(
                    "created {created}, later than now ({}) by more than the tolerated clock skew",
                    crate::record::format_unix(now)
                ),
            )
        })
    }

    /// The bytes of the record a change adds, within the size cap.
    fn added_record(&self, change: &crate::store::Change) -> Result<Vec<u8>, Diagnostic> {
        let Some(entry) = change.new else {
            return Err(internal(format!(
                "{}: a change without a new entry",
                change.path
            )));
        };
        self.read_record(entry.oid, &change.path)
    }

    /// The policy a commit on `parent_tree` is judged by; unusable, a `policy-invalid` finding.
    fn parent_policy(
        &mut self,
        parent_tree: Oid,
    ) -> Result<Arc<crate::policy::Policy>, Diagnostic> {
        self.gov.policy_at(parent_tree).map_err(|e| {
            Diagnostic::new(Code::PolicyInvalid, e.to_string()).at_path(crate::policy::POLICY_PATH)
        })
    }

    /// A record's bytes, within the size cap.
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
}
