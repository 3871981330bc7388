//! The one write path of the ledger. Every commit aiaudit makes — `init`'s root of trust, a
//! recorded decision, an approval (partial or landing), an event, a governance change, the
//! benchmark's generated history — goes through here:
//!
//! 1. [`stage`]: a [`Draft`] (parent, files, author, committer, message) becomes blobs, a tree
//!    and a commit object. Nothing is reachable yet: an interrupted run leaves only loose
//!    objects that `git gc` collects.
//! 2. [`Staged::judge`]: the rule engine judges the commit exactly as the server's hook will
//!    ([`Judgement`]).
//! 3. [`publish`]: one ref transaction moves the ref, compare-and-swap — a branch only
//!    forward over what it pointed to — and deletes the proposal ref it replaces, if any.
//!
//! [`write`] runs the three and refuses to move anything when the judgement has an error.
//! A change to how commits are made (signed links, canonical messages) is made here once.

use crate::diag::Diagnostic;
use crate::engine::{Checker, CommitView};
use crate::ledger::{is_decision_path, is_record_path as record_path, MAX_CHANGES};
use crate::store::{Change, ChangeKind, CommitData, Entry, Oid, Person, Store, StoreError};

fn is_record_path(path: &str) -> bool {
    is_decision_path(path) || record_path("events", path)
}

/// The tree of a new commit.
#[derive(Debug, Clone)]
pub enum TreeSpec {
    /// The parent's tree (the empty tree for a root commit) with `files` written as new blobs
    /// and `entries` (objects already stored: stored context, governance directories) put in
    /// place, or removed where the entry is `None`.
    Edit {
        files: Vec<(String, Vec<u8>)>,
        entries: Vec<(String, Option<Entry>)>,
    },
    /// An existing tree, unchanged (a proposal that gains a signature keeps its tree).
    Keep(Oid),
}

impl TreeSpec {
    /// The parent's tree with `files` added.
    pub fn files(files: Vec<(String, Vec<u8>)>) -> TreeSpec {
        TreeSpec::Edit {
            files,
            entries: Vec::new(),
        }
    }
}

/// A commit to be made.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The commit it builds on; `None` for the root of trust.
    pub parent: Option<CommitData>,
    pub tree: TreeSpec,
    pub author: Person,
    pub committer: Person,
    pub message: String,
}

/// A commit object written but not yet reachable from any ref.
#[derive(Debug, Clone)]
pub struct Staged {
    pub commit: CommitView,
    pub parent: Option<CommitData>,
    /// The files the draft added, in the draft's order: new content first, then entries (for a
    /// kept tree: what it adds to the parent's tree, records first).
    pub added: Vec<Change>,
}

impl Staged {
    pub fn id(&self) -> Oid {
        self.commit.id
    }

    /// Judges the commit with the server's rules.
    pub fn judge(&self, checker: &mut Checker<'_>, how: Judgement) -> Vec<Diagnostic> {
        let parent = self.parent.as_ref();
        match (how, parent) {
            (Judgement::Main, _) => checker.check_main_commit(&self.commit, parent).1,
            (Judgement::Decision { landing }, Some(parent)) => {
                let Some((record, stored)) = self.added.split_first() else {
                    return checker.check_main_commit(&self.commit, Some(parent)).1;
                };
                let stored: Vec<&Change> = stored.iter().collect();
                checker
                    .check_decision_commit(&self.commit, parent, record, &stored, landing)
                    .1
            }
            (Judgement::Governance { landing }, Some(parent)) => {
                checker.check_governance_commit(&self.commit, parent, landing)
            }
            // A root commit is judged as the root of trust, whatever was asked.
            (_, None) => checker.check_main_commit(&self.commit, None).1,
        }
    }
}

/// Which of the server's rules a staged commit must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// Every rule for a commit on main (what the hook applies to a push of main).
    Main,
    /// The decision the commit adds (its first added file) and its stored context: as a
    /// proposal (`landing: false`: approvals so far must verify) or landing on main (the
    /// policy's approvals must be complete).
    Decision { landing: bool },
    /// A governance change: admin signatures so far must verify; landing, they must meet the
    /// admin threshold.
    Governance { landing: bool },
}

/// What a ref must point to before it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The ref must not exist.
    Absent,
    /// The ref must point to this commit.
    At(Oid),
    /// The ref may be absent, or point to any commit on the new commit's first-parent chain:
    /// the branch only moves forward.
    Behind,
}

/// A ref move, with the proposal ref it replaces.
#[derive(Debug, Clone)]
pub struct RefMove {
    pub name: String,
    pub expected: Expected,
    /// A ref deleted in the same transaction, if it still points to the given commit.
    pub delete: Option<(String, Oid)>,
    /// The reflog message.
    pub why: String,
}

impl RefMove {
    pub fn new(name: impl Into<String>, expected: Expected, why: impl Into<String>) -> Self {
        RefMove {
            name: name.into(),
            expected,
            delete: None,
            why: why.into(),
        }
    }

    /// Also deletes `name` (if it points to `oid`) in the same transaction.
    pub fn deleting(mut self, name: impl Into<String>, oid: Oid) -> Self {
        self.delete = Some((name.into(), oid));
        self
    }
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine found errors; every finding (warnings too) is carried for display.
    #[error("the commit breaks the server's rules ({} finding(s))", .0.len())]
    Rejected(Vec<Diagnostic>),
}

/// The result of [`write`].
#[derive(Debug, Clone)]
pub struct Written {
    pub staged: Staged,
    /// The judgement's warnings (it had no error).
    pub warnings: Vec<Diagnostic>,
    /// What the checkout of the moved branch did not follow ([`Store::follow_checkout`]).
    pub left_alone: Vec<CheckoutNote>,
}

/// Where a clone's checkout did not follow its checked-out branch when aiaudit moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutNote {
    /// A file with local changes, kept as it was.
    LocalChanges(String),
    /// The checkout could not be updated at all (e.g. git's `index.lock` is held); the branch
    /// moved regardless, and these files differ.
    NotUpdated { reason: String, paths: Vec<String> },
}

/// Writes the draft's blobs, tree and commit. No ref moves.
pub fn stage(store: &Store, draft: Draft) -> Result<Staged, StoreError> {
    let mut added = Vec::new();
    let tree = match draft.tree {
        TreeSpec::Keep(tree) => {
            // What the kept tree adds to the parent's: records first, as a draft lists them.
            if let Some(p) = &draft.parent {
                added = store
                    .diff_trees(Some(p.tree), tree, MAX_CHANGES)?
                    .into_iter()
                    .filter(|ch| ch.kind == ChangeKind::Added)
                    .collect();
                added.sort_by_key(|ch| !is_record_path(&ch.path));
            }
            tree
        }
        TreeSpec::Edit { files, entries } => {
            let mut edits: Vec<(String, Option<Entry>)> = Vec::new();
            for (path, bytes) in files {
                let change = Change::added_blob(&path, store.write_blob(&bytes)?);
                edits.push((path, change.new));
                added.push(change);
            }
            for (path, entry) in entries {
                if let Some(e) = entry {
                    added.push(Change {
                        path: path.clone(),
                        kind: ChangeKind::Added,
                        old: None,
                        new: Some(e),
                    });
                }
                edits.push((path, entry));
            }
            let base = draft.parent.as_ref().map(|p| p.tree);
            store.tree_with_entries(base, &edits)?
        }
    };
    let parents: Vec<Oid> = draft.parent.iter().map(|p| p.id).collect();
    let id = store.write_commit(
        tree,
        &parents,
        &draft.author,
        &draft.committer,
        &draft.message,
    )?;
    Ok(Staged {
        commit: CommitView::new(store.commit(id)?),
        parent: draft.parent,
        added,
    })
}

/// Moves the ref to the staged commit (and deletes the replaced ref) in one transaction; when
/// the ref is the branch checked out in the clone's work tree, the checkout follows (see
/// [`Store::follow_checkout`]). Returns where the checkout did not follow: the ref has moved
/// either way, so a checkout that cannot be updated is a note, not an error.
pub fn publish(
    store: &Store,
    staged: &Staged,
    mv: &RefMove,
) -> Result<Vec<CheckoutNote>, StoreError> {
    let new = staged.id();
    let current = store.ref_target(&mv.name)?;
    let race = |expected: String| StoreError::RefRace {
        name: mv.name.clone(),
        expected,
        found: current
            .map(|c| c.to_string())
            .unwrap_or_else(|| "nothing".into()),
    };
    let expected = match mv.expected {
        Expected::Absent if current.is_some() => return Err(race("nothing".into())),
        Expected::Absent => None,
        Expected::At(oid) if current != Some(oid) => return Err(race(oid.to_string())),
        Expected::At(oid) => Some(oid),
        Expected::Behind => {
            if let Some(cur) = current {
                if cur != new && store.first_parent_ids_until(new, cur)?.is_none() {
                    return Err(race(format!("an ancestor of {new}")));
                }
            }
            current
        }
    };
    match &mv.delete {
        Some((name, oid)) => {
            store.update_and_delete_ref(&mv.name, new, expected, (name, *oid), &mv.why)?
        }
        None => store.update_ref(&mv.name, new, expected, &mv.why)?,
    }
    Ok(match store.follow_checkout(&mv.name, current, new) {
        Ok(left) => left.into_iter().map(CheckoutNote::LocalChanges).collect(),
        Err(e) => {
            let paths = match current {
                Some(old) => store
                    .commit(old)
                    .and_then(|o| store.diff_trees(Some(o.tree), staged.commit.tree, 1000))
                    .map(|c| c.into_iter().map(|c| c.path).collect())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            vec![CheckoutNote::NotUpdated {
                reason: e.to_string(),
                paths,
            }]
        }
    })
}

/// Stages the draft, judges it, and moves the ref only when the judgement has no error.
pub fn write(
    checker: &mut Checker<'_>,
    draft: Draft,
    how: Judgement,
    mv: &RefMove,
) -> Result<Written, WriteError> {
    let store = checker.store();
    let staged = stage(store, draft)?;
    let diags = staged.judge(checker, how);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(WriteError::Rejected(diags));
    }
    let left_alone = publish(checker.store(), &staged, mv)?;
    Ok(Written {
        staged,
        warnings: diags,
        left_alone,
    })
}
