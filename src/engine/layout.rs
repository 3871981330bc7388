//! Rule family: the tree. What each changed path of a commit is — a record, stored context, a
//! governance file — and what no commit may add (symlinks, submodules, executables, files
//! outside the layout, changes to existing records). Shared by commits on main and proposals.

use crate::diag::{Code, Diagnostic};
use crate::ledger::{is_governance, is_record_path};
use crate::record;
use crate::store::{Change, ChangeKind, EntryKind, Oid};
use std::collections::{HashMap, HashSet};

/// What one changed path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Class {
    /// `.aiaudit/**` or `README.md`, whatever the change.
    Governance,
    /// An added `decisions/YYYY/MM/DD/HH/<id>.yaml`.
    Decision,
    /// An added `events/YYYY/MM/DD/HH/<id>.yaml`.
    Event,
    /// An added `context/<xx>/<sha256>`.
    Stored,
    /// An existing file deleted; `Some(to)` when the same blob was added at `to` (a rename).
    Deleted(Option<String>),
    /// An existing file changed.
    Modified,
    /// The added side of a rename (reported with the deletion).
    RenameTarget,
    /// An added entry of a kind no commit may add (symlink, submodule, executable).
    BadEntry(Diagnostic),
    /// An added file outside the layout.
    Elsewhere,
}

/// Classifies every change of a commit, in order.
pub(super) fn classify(changes: &[Change]) -> Vec<(&Change, Class)> {
    let added: HashMap<Oid, &str> = changes
        .iter()
        .filter(|ch| ch.kind == ChangeKind::Added)
        .filter_map(|ch| ch.new.map(|e| (e.oid, ch.path.as_str())))
        .collect();
    let deleted: HashSet<Oid> = changes
        .iter()
        .filter(|ch| ch.kind == ChangeKind::Deleted)
        .filter_map(|ch| ch.old.map(|e| e.oid))
        .collect();
    let added_at = |oid: Oid| added.get(&oid).map(|p| (*p).to_owned());
    let deleted = |oid: Oid| deleted.contains(&oid);
    changes
        .iter()
        .map(|ch| {
            let class = if is_governance(&ch.path) {
                Class::Governance
            } else {
                match ch.kind {
                    ChangeKind::Deleted => Class::Deleted(ch.old.and_then(|o| added_at(o.oid))),
                    ChangeKind::Modified => Class::Modified,
                    ChangeKind::Added => {
                        if ch.new.is_some_and(|n| deleted(n.oid)) {
                            Class::RenameTarget
                        } else if let Some(d) = entry_kind_problem(ch) {
                            Class::BadEntry(d)
                        } else if is_record_path("decisions", &ch.path) {
                            Class::Decision
                        } else if is_record_path("events", &ch.path) {
                            Class::Event
                        } else if record::context_path_digest(&ch.path).is_some() {
                            Class::Stored
                        } else {
                            Class::Elsewhere
                        }
                    }
                }
            };
            (ch, class)
        })
        .collect()
}

/// The finding for a change no commit on main may make, if it is one.
pub(super) fn main_change_problem(ch: &Change, class: &Class) -> Option<Diagnostic> {
    let d = match class {
        Class::Deleted(Some(to)) => Diagnostic::new(
            Code::RecordRenamed,
            format!("{} is moved to {to}", ch.path),
        ),
        Class::Deleted(None) => {
            Diagnostic::new(Code::RecordDeleted, format!("{} is deleted", ch.path))
        }
        Class::Modified => {
            Diagnostic::new(Code::RecordModified, format!("{} is changed", ch.path))
        }
        Class::BadEntry(d) => return Some(d.clone()),
        Class::Elsewhere => Diagnostic::new(
            Code::PathNotAllowed,
            format!(
                "{} is not a record path (decisions/YYYY/MM/DD/HH/<id>.yaml, events/YYYY/MM/DD/HH/<id>.yaml, context/<xx>/<sha256>)",
                ch.path
            ),
        ),
        _ => return None,
    };
    Some(d.at_path(&ch.path))
}

/// A symlink, submodule or executable among the added or changed entries.
pub(super) fn entry_kind_problem(ch: &Change) -> Option<Diagnostic> {
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
