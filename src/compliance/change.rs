//! The change a product commit makes, as a digest a third party can recompute: what a
//! code-merge decision names (`action.changes`) so that it covers exactly that change and no
//! other commit (`aiaudit check`).
//!
//! The digest of commit C: for every file that differs between C's first parent (the empty tree
//! for a root commit) and C, one line `<mode> <object id> <path>\n` — the file's mode and object
//! id in C (`100644`, `100755`, `120000` or `160000`), or `000000` and the all-zero id when C
//! deletes it — sorted by path (bytewise); the SHA-256 of those lines, lowercase hex. It depends
//! only on the resulting contents of the changed paths, not on the commit message (which carries
//! the `Decision-Id`), the author, the dates or the parent's other files: the same change
//! rebased, squashed or amended has the same digest. `git diff-tree -r --no-renames --root C`
//! lists the same modes, ids and paths (docs/check.md gives the recipe).

use crate::store::{ChangeKind, CommitData, EntryKind, Store, StoreError};

/// Most changed files a digested commit may have.
pub const MAX_CHANGED_FILES: usize = 1_000_000;

/// The change digest of commit `c` of `store`.
pub fn change_digest(store: &Store, c: &CommitData) -> Result<String, StoreError> {
    Ok(crate::record::digest::sha256_hex(
        change_text(store, c)?.as_bytes(),
    ))
}

/// The lines the change digest of `c` hashes (see the module's documentation).
pub fn change_text(store: &Store, c: &CommitData) -> Result<String, StoreError> {
    let parent_tree = match c.parents.first() {
        Some(p) => Some(store.commit(*p)?.tree),
        None => None,
    };
    let mut lines: Vec<(String, String)> = store
        .diff_trees(parent_tree, c.tree, MAX_CHANGED_FILES)?
        .into_iter()
        .map(|ch| {
            let line = match (ch.kind, ch.new) {
                (ChangeKind::Deleted, _) | (_, None) => {
                    format!(
                        "000000 {} {}\n",
                        "0".repeat(c.id.to_string().len()),
                        ch.path
                    )
                }
                (_, Some(e)) => format!("{} {} {}\n", mode(e.kind), e.oid, ch.path),
            };
            (ch.path, line)
        })
        .collect();
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(lines.into_iter().map(|(_, l)| l).collect())
}

fn mode(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Blob => "100644",
        EntryKind::Executable => "100755",
        EntryKind::Link => "120000",
        EntryKind::Submodule => "160000",
        EntryKind::Tree => "040000",
    }
}
