//! Keeping a clone's checkout in step when aiaudit moves the branch it has checked out.
//!
//! aiaudit commits without touching the work tree (`record`, `approve`, `outcome`, `policy
//! set`, `principal add` build trees in the object database and move a ref). In a normal clone
//! whose checked-out branch is `main`, moving `main` alone would leave the index and the files
//! at the old commit: `git status` would show the new files as staged deletions, and a `git
//! commit -a` would revert them. So after moving the checked-out branch, the files that changed
//! between the old and the new commit are brought along: the index entry wherever it held the
//! old content (so nothing shows as staged against the new commit), the file wherever it still
//! held the old content too. A file the user changed locally keeps their change (it shows as
//! an unstaged modification, its stat cleared so git compares content) and is named; a file
//! whose change the user staged is left alone entirely. Nothing of theirs is overwritten.

use super::{chain, EntryKind, Oid, Result, Store, StoreError};
use gix::bstr::ByteSlice;
use std::path::Path;

/// Limit on the files one move brings along; aiaudit's commits change a handful.
const MAX_FILES: usize = 100_000;

impl Store {
    /// After ref `name` moved from `old` to `new`: when `name` is the branch checked out in
    /// this clone's work tree, updates the index and the work tree for every file that differs
    /// between the two commits, as the module documentation says. Returns the paths whose local
    /// changes were kept (the caller says so). Nothing happens in a bare repository or when
    /// another branch is checked out.
    pub fn follow_checkout(&self, name: &str, old: Option<Oid>, new: Oid) -> Result<Vec<String>> {
        let Some(workdir) = self.repo.workdir().map(Path::to_path_buf) else {
            return Ok(Vec::new());
        };
        if self.head_ref_name().as_deref() != Some(name) {
            return Ok(Vec::new());
        }
        let err = |what: &str, e: &(dyn std::error::Error + 'static)| {
            StoreError::Other(format!(
                "updating the checkout in {} ({what}): {}",
                workdir.display(),
                chain(e)
            ))
        };
        let old_tree = old.map(|o| self.commit(o)).transpose()?.map(|c| c.tree);
        let new_tree = self.commit(new)?.tree;
        let changes = self.diff_trees(old_tree, new_tree, MAX_FILES)?;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let index_path = self.repo.index_path();
        let mut index = if index_path.exists() {
            self.repo
                .open_index()
                .map_err(|e| err("reading the index", &e))?
        } else {
            gix::index::File::from_state(
                gix::index::State::new(self.repo.object_hash()),
                index_path.clone(),
            )
        };
        let mut left = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let mut touched = false;
        for ch in &changes {
            let blob = |e: &Option<super::Entry>| {
                e.as_ref()
                    .filter(|e| e.kind == EntryKind::Blob)
                    .map(|e| e.oid)
            };
            let (was, now) = (blob(&ch.old), blob(&ch.new));
            if ch.old.as_ref().is_some_and(|e| e.kind != EntryKind::Blob)
                || ch.new.as_ref().is_some_and(|e| e.kind != EntryKind::Blob)
            {
                // aiaudit writes regular files only; anything else is the user's to check out.
                left.push(ch.path.clone());
                continue;
            }
            let path = workdir.join(&ch.path);
            let in_index = index
                .entry_by_path(ch.path.as_bytes().as_bstr())
                .map(|e| e.id);
            let on_disk = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {
                    let data = std::fs::read(&path).map_err(|e| err(&ch.path, &e))?;
                    Some(
                        gix::objs::compute_hash(
                            self.repo.object_hash(),
                            gix::objs::Kind::Blob,
                            &data,
                        )
                        .map_err(|e| err(&ch.path, &e))?,
                    )
                }
                Ok(_) => {
                    left.push(ch.path.clone());
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(err(&ch.path, &e)),
            };
            if in_index != was {
                // Staged changes of the user's own: index and file stay as they are.
                left.push(ch.path.clone());
                continue;
            }
            // The index follows the branch (so nothing shows as staged against the new main);
            // the file follows only if it still held the old content.
            touched = true;
            let follow = on_disk == was;
            if !follow {
                left.push(ch.path.clone());
            }
            let key = ch.path.as_bytes().as_bstr();
            match now {
                Some(oid) => {
                    let stat = if follow {
                        let data = self.read_blob_capped(oid, u64::MAX)?;
                        if let Some(dir) = path.parent() {
                            std::fs::create_dir_all(dir).map_err(|e| err(&ch.path, &e))?;
                        }
                        std::fs::write(&path, &data).map_err(|e| err(&ch.path, &e))?;
                        let meta = gix::index::fs::Metadata::from_path_no_follow(&path)
                            .map_err(|e| err(&ch.path, &e))?;
                        gix::index::entry::Stat::from_fs(&meta).map_err(|e| err(&ch.path, &e))?
                    } else {
                        // No stat: git compares the file's content, so the local change shows.
                        gix::index::entry::Stat::default()
                    };
                    match index.entry_index_by_path(key) {
                        Ok(i) => {
                            let e = &mut index.entries_mut()[i];
                            e.id = oid;
                            e.stat = stat;
                            e.mode = gix::index::entry::Mode::FILE;
                        }
                        Err(_) => {
                            index.dangerously_push_entry(
                                stat,
                                oid,
                                gix::index::entry::Flags::empty(),
                                gix::index::entry::Mode::FILE,
                                key,
                            );
                            index.sort_entries();
                        }
                    }
                }
                None => {
                    if follow && on_disk.is_some() {
                        std::fs::remove_file(&path).map_err(|e| err(&ch.path, &e))?;
                        // Directories the removal left empty go too, as git's checkout does.
                        let mut dir = path.parent();
                        while let Some(d) = dir.filter(|d| *d != workdir) {
                            if std::fs::remove_dir(d).is_err() {
                                break;
                            }
                            dir = d.parent();
                        }
                    }
                    removed.push(ch.path.clone());
                }
            }
        }
        if !removed.is_empty() {
            index.remove_entries(|_, p, _| removed.iter().any(|r| r.as_bytes() == p.as_bytes()));
        }
        if touched {
            // The tree cache would describe the old entries (gix does not update it on write).
            index.remove_tree();
            index
                .write(gix::index::write::Options::default())
                .map_err(|e| err("writing the index", &e))?;
        }
        Ok(left)
    }
}
