//! The git store: the only module that touches git, always through gix.
//!
//! It reads commits, trees and blobs (with size caps checked before a blob is loaded), diffs
//! trees by walking only the subtrees whose ids differ, writes blobs, trees and commits, and
//! moves refs with compare-and-swap semantics so concurrent writers cannot lose each other's
//! work.
//!
//! Inside a `pre-receive` hook the pushed objects live in git's quarantine directory, which gix
//! does not find on its own (it ignores `GIT_OBJECT_DIRECTORY` and
//! `GIT_ALTERNATE_OBJECT_DIRECTORIES`). [`Store::open_for_hook`] makes them visible through an
//! object store in a private temporary directory whose `info/alternates` lists the quarantine
//! and the repository's own objects. Nothing is ever written into the quarantine, and the hook
//! never updates refs.

mod checkout;
mod fsck;
mod revisions;

pub use fsck::FsckProblem;
pub use revisions::RevError;

use gix::bstr::ByteSlice;
use gix::ObjectId;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub type Oid = ObjectId;

/// Whether `name` is a full, valid ref name (`refs/…`) as git checks it.
pub fn is_ref_name(name: &str) -> bool {
    name.starts_with("refs/") && gix::refs::FullName::try_from(name).is_ok()
}

/// Errors of the git store. Messages name the object or ref involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open git repository at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("object {oid}: {message}")]
    Object { oid: String, message: String },
    #[error("ref {name}: {message}")]
    Ref { name: String, message: String },
    #[error("ref {name} was moved by someone else (expected {expected}, found {found}); fetch and retry")]
    RefRace {
        name: String,
        expected: String,
        found: String,
    },
    #[error("{0}")]
    Other(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An error with its causes: gix's top-level messages ("Could not write loose object header")
/// leave the reason (read-only file system, no space left, a lock held) to their sources.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cause = c.source();
    }
    out
}

/// Loads every pack index of object database `handle` (at `path`) now, on this thread. gix
/// loads indexes lazily, on the first lookup that misses the ones loaded, so threads sharing a
/// new database load them concurrently, through code gix itself marks as racy. Suspected, not
/// proven, cause of one failure: the benchmark's hook at 1,000,000 decisions once reported a
/// pushed commit as missing (1 of 2 runs; the other and every smaller size passed). Loaded up
/// front, no lookup races a load. Cheap: opening an index reads its header, not its tables
/// (vendor/README.md).
fn load_all_indices(handle: &gix::odb::Handle, path: &Path) -> Result<()> {
    handle
        .packed_object_count()
        .map(|_| ())
        .map_err(|e| StoreError::Open {
            path: path.to_owned(),
            message: format!("cannot load its pack indexes: {e}"),
        })
}

fn obj_err(oid: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Object {
        oid: oid.to_string(),
        message: e.to_string(),
    }
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    Executable,
    Link,
    Tree,
    Submodule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub oid: Oid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Deleted,
    Modified,
}

/// One changed path between two trees (files only; directories are walked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old: Option<Entry>,
    pub new: Option<Entry>,
}

impl Change {
    /// A regular file added at `path` with the blob `oid`.
    pub fn added_blob(path: &str, oid: Oid) -> Change {
        Change {
            path: path.to_owned(),
            kind: ChangeKind::Added,
            old: None,
            new: Some(Entry {
                kind: EntryKind::Blob,
                oid,
            }),
        }
    }
}

/// A person and a time, as in a commit header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Offset from UTC in seconds.
    pub offset: i32,
}

/// What [`Store::commit_adding_until`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adding {
    /// The tip lacks the file.
    Absent,
    /// The commit adding the file, and its parent (`None`: the root has it).
    Found { landing: Oid, parent: Option<Oid> },
    /// The walk met a commit the caller knows (`at`, not read) before finding the commit; the
    /// commits walked before it, newest first, every one holding the file where probed.
    Met { at: Oid, walked: Vec<Oid> },
}

/// The parts of a commit the engine looks at.
#[derive(Debug, Clone)]
pub struct CommitData {
    pub id: Oid,
    pub tree: Oid,
    pub parents: Vec<Oid>,
    pub message: String,
    pub author: Person,
    pub committer: Person,
}

/// An annotated tag, with the bytes its OpenPGP signature covers.
#[derive(Debug, Clone)]
pub struct TagData {
    pub id: Oid,
    pub target: Oid,
    pub target_is_commit: bool,
    pub name: String,
    pub message: String,
    /// The armored signature git stores after the message, if any.
    pub signature: Option<String>,
    /// What the signature covers: the tag object up to the signature, as `git verify-tag`.
    pub payload: Vec<u8>,
}

/// A blob read under a size cap.
pub enum BlobRead {
    Data(Vec<u8>),
    TooLarge(u64),
}

/// The kind of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Commit,
    Tree,
    Blob,
    Tag,
}

/// A repository handle that can be sent to other threads (see [`Store::shared`]).
#[derive(Clone)]
pub struct SharedStore(
    gix::ThreadSafeRepository,
    Option<std::sync::Arc<tempfile::TempDir>>,
);

/// A git repository opened for aiaudit.
pub struct Store {
    repo: gix::Repository,
    // Keeps the hook's private object store (alternates to the quarantine) alive.
    _hook_objects: Option<std::sync::Arc<tempfile::TempDir>>,
    /// Decoded trees by id. Trees are immutable, and walking a linear history reads each one
    /// twice (as a commit's tree, then as its child's parent tree) besides the policy and key
    /// lookups: decoding and inflating them once matters most for large month folders.
    trees: std::cell::RefCell<HashMap<Oid, Rc<TreeEntries>>>,
    /// The raw bytes of the last commits read, so that judging a commit's form does not read
    /// it a second time.
    raw_commits: std::cell::RefCell<std::collections::VecDeque<(Oid, Rc<[u8]>)>>,
    /// How many commit objects this store has read (what a lookup's cost is counted in).
    commits_read: std::cell::Cell<u64>,
}

/// A decoded tree: its entries, and what `git fsck --strict` would report about its bytes.
/// The names stay in the tree's own bytes (one allocation a tree, not one an entry: an hour
/// directory of a busy day holds hundreds).
struct TreeEntries {
    raw: Box<[u8]>,
    entries: Vec<TreeItem>,
    problems: Vec<FsckProblem>,
}

/// An entry of a [`TreeEntries`]: its name as a range of the tree's bytes.
#[derive(Clone, Copy)]
struct TreeItem {
    name_at: u32,
    name_len: u32,
    entry: Entry,
}

impl TreeEntries {
    fn empty() -> TreeEntries {
        TreeEntries {
            raw: Box::default(),
            entries: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn name(&self, item: &TreeItem) -> &[u8] {
        let at = item.name_at as usize;
        &self.raw[at..at + item.name_len as usize]
    }

    /// The entries in the tree's order, with their names.
    fn iter(&self) -> impl Iterator<Item = (&[u8], Entry)> {
        self.entries.iter().map(|e| (self.name(e), e.entry))
    }
}

/// A tree `git fsck --strict` would flag, found while diffing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub tree: Oid,
    /// The directory the tree is (`` for the root tree).
    pub path: String,
    pub problem: FsckProblem,
}

/// Trees kept decoded per store; the cache is emptied when full (a cheap, bounded policy that
/// suits the mostly sequential access of history walks).
const TREE_CACHE_ENTRIES: usize = 256;

impl Store {
    /// A store over `repo`, with empty caches; `hook_objects` keeps a hook's object directory
    /// alive as long as the store.
    fn with_repo(
        repo: gix::Repository,
        hook_objects: Option<std::sync::Arc<tempfile::TempDir>>,
    ) -> Store {
        Store {
            repo,
            _hook_objects: hook_objects,
            trees: Default::default(),
            raw_commits: Default::default(),
            commits_read: Default::default(),
        }
    }

    /// Opens the repository containing `path` (a work tree or a bare repository).
    pub fn discover(path: &Path) -> Result<Self> {
        // gix's discovery expects an absolute path for bare repositories given relatively.
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let repo = gix::discover(path).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Store::with_repo(repo, None))
    }

    /// Creates a bare repository at `git_dir` (an existing empty directory or a new one) and
    /// opens it as [`Store::open_isolated`] does.
    pub fn init_bare(git_dir: &Path) -> Result<Self> {
        gix::init_bare(git_dir).map_err(|e| StoreError::Open {
            path: git_dir.to_owned(),
            message: format!("cannot create a repository: {}", chain(&e)),
        })?;
        Self::open_isolated(git_dir)
    }

    /// Opens the repository at exactly `git_dir`, ignoring global and system configuration.
    pub fn open_isolated(git_dir: &Path) -> Result<Self> {
        let repo = gix::open_opts(git_dir, gix::open::Options::isolated()).map_err(|e| {
            StoreError::Open {
                path: git_dir.to_owned(),
                message: e.to_string(),
            }
        })?;
        Ok(Store::with_repo(repo, None))
    }

    /// Opens the repository a `pre-receive` hook runs in, with the pushed (quarantined) objects
    /// visible. `env` is the hook's environment.
    pub fn open_for_hook(env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| StoreError::Other(e.to_string()))?;
        let git_dir = env("GIT_DIR")
            .map(|d| absolutize(&cwd, &d))
            .unwrap_or_else(|| cwd.clone());
        let mut store = Self::open_isolated(&git_dir)?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(d) = env("GIT_OBJECT_DIRECTORY") {
            dirs.push(absolutize(&cwd, &d));
        }
        if let Some(alts) = env("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
            dirs.extend(
                std::env::split_paths(&alts)
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| absolutize(&cwd, &p.to_string_lossy())),
            );
        }
        if dirs.is_empty() {
            return Ok(store);
        }
        let own = store.repo.common_dir().join("objects");
        let own = absolutize(&cwd, &own.to_string_lossy());
        if !dirs.contains(&own) {
            dirs.push(own);
        }
        let tmp = tempfile::Builder::new()
            .prefix("aiaudit-hook-")
            .tempdir()
            .map_err(|e| StoreError::Other(format!("cannot create a private temp dir: {e}")))?;
        let objects = tmp.path().join("objects");
        let info = objects.join("info");
        std::fs::create_dir_all(&info)
            .and_then(|_| std::fs::create_dir_all(objects.join("pack")))
            .map_err(|e| StoreError::Other(format!("cannot prepare {}: {e}", info.display())))?;
        let mut alternates = String::new();
        for d in &dirs {
            let s = d.to_str().ok_or_else(|| {
                StoreError::Other(format!("object directory {} is not UTF-8", d.display()))
            })?;
            alternates.push_str(s);
            alternates.push('\n');
        }
        std::fs::write(info.join("alternates"), alternates)
            .map_err(|e| StoreError::Other(format!("cannot write alternates: {e}")))?;
        let hash = store.repo.object_hash();
        let handle = gix::odb::at(&objects, hash).map_err(|e| StoreError::Open {
            path: objects.clone(),
            message: e.to_string(),
        })?;
        load_all_indices(&handle, &objects)?;
        store.repo.objects = gix::odb::memory::Proxy::new(handle, hash);
        store._hook_objects = Some(std::sync::Arc::new(tmp));
        Ok(store)
    }

    /// How many commit objects this store has read so far.
    pub fn commits_read(&self) -> u64 {
        self.commits_read.get()
    }

    /// The hook's private directory (its object store over the quarantine), if this is the
    /// hook's store.
    pub fn hook_dir(&self) -> Option<&Path> {
        self._hook_objects.as_ref().map(|t| t.path())
    }

    /// A handle other threads can open their own [`Store`] from (for parallel verification).
    /// `None` for the hook's store, whose object database is private to it.
    pub fn shared(&self) -> Option<SharedStore> {
        // The hook's private object store goes along, so it lives as long as any thread's view.
        Some(SharedStore(
            self.repo.clone().into_sync(),
            self._hook_objects.clone(),
        ))
    }

    /// Opens this thread's store from a [`SharedStore`].
    pub fn from_shared(shared: &SharedStore) -> Store {
        Store::with_repo(shared.0.to_thread_local(), shared.1.clone())
    }

    /// This repository with an object database of its own: the packs and indexes it maps are
    /// unmapped when it is dropped. A long read (the whole chain, a chunk of history) on such a
    /// store keeps its mapped pages out of the process once done, so that memory follows the
    /// work in flight rather than the length of history (a 1,000,000-decision pack and its index
    /// are 1.7 GB).
    pub fn with_own_objects(&self) -> Result<Store> {
        let path = self.repo.objects.store_ref().path().to_owned();
        let hash = self.repo.object_hash();
        let mut handle = gix::odb::at(&path, hash).map_err(|e| StoreError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // As gix sets up a repository's own store (`max-performance`): decoded delta bases are
        // kept, so that a chain of deltas is not inflated again for each object on it.
        handle
            .set_pack_cache(|| Box::<gix::odb::pack::cache::lru::StaticLinkedList<64>>::default());
        load_all_indices(&handle, &path)?;
        let mut repo = self.repo.clone();
        repo.objects = gix::odb::memory::Proxy::new(handle, hash);
        Ok(Store::with_repo(repo, self._hook_objects.clone()))
    }

    /// The ids of the first-parent chain from `tip` back to (not including) `stop`, oldest
    /// first; `None` when the walk reaches the root without meeting `stop` (it is not on the
    /// chain).
    pub fn first_parent_ids_until(&self, tip: Oid, stop: Oid) -> Result<Option<Vec<Oid>>> {
        let mut out = Vec::new();
        let mut cur = Some(tip);
        while let Some(oid) = cur {
            if oid == stop {
                out.reverse();
                return Ok(Some(out));
            }
            out.push(oid);
            cur = self.first_parent(oid)?;
        }
        Ok(None)
    }

    /// The ids of the first-parent chain ending at `tip`, oldest first (ids only, so a long
    /// history costs 20 bytes a commit). Read through object databases of its own, a new one
    /// every 65,536 commits: the pack pages of history's commits are never all mapped at once
    /// (1,000,000 signed commits are ~270 MB of a pack).
    pub fn first_parent_ids(&self, tip: Oid) -> Result<Vec<Oid>> {
        const ROUND: usize = 1 << 16;
        let mut out = Vec::new();
        let mut odb = self.with_own_objects()?;
        let mut cur = Some(tip);
        while let Some(oid) = cur {
            out.push(oid);
            if out.len().is_multiple_of(ROUND) {
                odb = self.with_own_objects()?;
            }
            cur = odb.first_parent(oid)?;
        }
        out.reverse();
        Ok(out)
    }

    /// The first parent of commit `oid`, read from its header alone.
    fn first_parent(&self, oid: Oid) -> Result<Option<Oid>> {
        self.commits_read.set(self.commits_read.get() + 1);
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(obj_err(oid, format!("is a {}, not a commit", obj.kind)));
        }
        let parent = gix::objs::CommitRefIter::from_bytes(&obj.data, self.repo.object_hash())
            .parent_ids()
            .next();
        Ok(parent)
    }

    /// The commits of a product repository's `range` (`BASE..HEAD`, or one revision), oldest
    /// first (see [`revisions`]).
    pub fn commits_in(&self, range: &str) -> std::result::Result<Vec<CommitData>, RevError> {
        revisions::commits_in(self, range)
    }

    /// A string value of the repository's configuration (e.g. `remote.origin.url`).
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo
            .config_snapshot()
            .string(key)
            .map(|v| v.to_string())
    }

    /// Sets `key` (`section.name`) to `value` in the repository's own configuration file
    /// (`<git dir>/config`), written atomically.
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        let path = self.git_dir().join("config");
        let err = |m: String| StoreError::Other(format!("{}: {m}", path.display()));
        let mut file =
            gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
                .map_err(|e| err(chain(&e)))?;
        file.set_raw_value(key, value)
            .map_err(|e| err(format!("cannot set {key}: {}", chain(&e))))?;
        let mut bytes = Vec::new();
        file.write_to(&mut bytes).map_err(|e| err(e.to_string()))?;
        let tmp = path.with_extension("aiaudit-tmp");
        std::fs::write(&tmp, &bytes).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))
    }

    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The top of the work tree, or the git directory of a bare repository.
    pub fn top_dir(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.git_dir())
    }

    pub fn is_bare(&self) -> bool {
        self.repo.workdir().is_none()
    }

    /// The symbolic target of HEAD, e.g. `refs/heads/main`, when HEAD is symbolic.
    pub fn head_ref_name(&self) -> Option<String> {
        self.repo
            .head_name()
            .ok()
            .flatten()
            .map(|n| n.as_bstr().to_str_lossy().into_owned())
    }

    /// The object a ref points to (peeled through symbolic refs), or `None` when absent.
    pub fn ref_target(&self, name: &str) -> Result<Option<Oid>> {
        let r = self
            .repo
            .try_find_reference(name)
            .map_err(|e| StoreError::Ref {
                name: name.into(),
                message: e.to_string(),
            })?;
        match r {
            None => Ok(None),
            Some(mut r) => {
                let id = r.peel_to_id().map_err(|e| StoreError::Ref {
                    name: name.into(),
                    message: e.to_string(),
                })?;
                Ok(Some(id.detach()))
            }
        }
    }

    /// All refs whose full name starts with `prefix` (e.g. `refs/heads/proposals/`).
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        let err = |e: &dyn std::fmt::Display| StoreError::Ref {
            name: prefix.into(),
            message: e.to_string(),
        };
        let platform = self.repo.references().map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for r in platform.all().map_err(|e| err(&e))? {
            let mut r = r.map_err(|e| err(&e))?;
            let name = r.name().as_bstr().to_str_lossy().into_owned();
            if !name.starts_with(prefix) {
                continue;
            }
            if let Ok(id) = r.peel_to_id() {
                out.push((name, id.detach()));
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn object_hash(&self) -> gix::hash::Kind {
        self.repo.object_hash()
    }

    /// The kind of an object, or `None` when the object does not exist.
    pub fn object_kind(&self, oid: Oid) -> Result<Option<ObjectKind>> {
        let h = self
            .repo
            .try_find_header(oid)
            .map_err(|e| obj_err(oid, e))?;
        Ok(h.map(|h| match h.kind() {
            gix::object::Kind::Commit => ObjectKind::Commit,
            gix::object::Kind::Tree => ObjectKind::Tree,
            gix::object::Kind::Blob => ObjectKind::Blob,
            gix::object::Kind::Tag => ObjectKind::Tag,
        }))
    }

    /// The raw bytes of a commit object, as stored (the last few commits read are kept).
    pub fn raw_commit(&self, oid: Oid) -> Result<Rc<[u8]>> {
        if let Some((_, raw)) = self.raw_commits.borrow().iter().find(|(o, _)| *o == oid) {
            return Ok(raw.clone());
        }
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(obj_err(oid, format!("is a {}, not a commit", obj.kind)));
        }
        Ok(Rc::from(&obj.data[..]))
    }

    /// A commit's tree and first parent, and its raw bytes, without decoding the rest: for
    /// walks that look at many commits and read few of them.
    pub fn commit_links(&self, oid: Oid) -> Result<(Oid, Option<Oid>, Rc<[u8]>)> {
        self.commits_read.set(self.commits_read.get() + 1);
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(obj_err(oid, format!("is a {}, not a commit", obj.kind)));
        }
        let iter = gix::objs::CommitRefIter::from_bytes(&obj.data, self.repo.object_hash());
        let tree = iter
            .clone()
            .tree_id()
            .map_err(|e| obj_err(oid, format!("malformed commit: {e}")))?;
        let parent = iter.parent_ids().next();
        Ok((tree, parent, Rc::from(&obj.data[..])))
    }

    /// The commit on `tip`'s first-parent chain that adds `path`: the file is in its tree and
    /// not in its parent's. `None` when `tip` lacks the file; the root (and no parent) when
    /// every commit has it. Files on main are never removed or changed (the hook's rule), so
    /// presence is monotone along the chain: probing 1, 2, 4, 8, … commits back until a probe
    /// lacks the file, then bisecting between the last two probes, finds it with a few tree
    /// lookups; the commits walked are read without decoding their messages. A recent file
    /// costs little however long the history, an old one a walk over headers. `visit` sees each
    /// commit walked, newest first, with its raw bytes.
    pub fn commit_adding(
        &self,
        tip: Oid,
        path: &str,
        visit: &mut dyn FnMut(Oid, &[u8]),
    ) -> Result<Option<(Oid, Option<Oid>)>> {
        match self.commit_adding_until(tip, path, &|_| false, visit)? {
            Adding::Absent => Ok(None),
            Adding::Found { landing, parent } => Ok(Some((landing, parent))),
            Adding::Met { at, .. } => Err(StoreError::Other(format!(
                "the walk for {path} stopped at {at} though nothing stops it"
            ))),
        }
    }

    /// [`Store::commit_adding`], stopping at the first commit walked that `stop` knows, before
    /// reading it, unless the commit adding `path` was found first: the walk ends where what
    /// is known of the chain (an index of it) begins.
    pub fn commit_adding_until(
        &self,
        tip: Oid,
        path: &str,
        stop: &dyn Fn(Oid) -> bool,
        visit: &mut dyn FnMut(Oid, &[u8]),
    ) -> Result<Adding> {
        // Newest first: (commit, its tree).
        let mut back: Vec<(Oid, Oid)> = Vec::new();
        let mut cur = Some(tip);
        let mut probe = 1usize;
        let mut present_upto: Option<usize> = None;
        let mut absent_at = None;
        while let Some(oid) = cur {
            if stop(oid) {
                return Ok(Adding::Met {
                    at: oid,
                    walked: back.into_iter().map(|(c, _)| c).collect(),
                });
            }
            let (tree, parent, raw) = self.commit_links(oid)?;
            visit(oid, &raw);
            cur = parent;
            back.push((oid, tree));
            let i = back.len() - 1;
            if back.len() == probe || cur.is_none() {
                if self.lookup(tree, path)?.is_some() {
                    present_upto = Some(i);
                    probe *= 2;
                } else {
                    absent_at = Some(i);
                    break;
                }
            }
        }
        let Some(mut lo) = present_upto else {
            return Ok(Adding::Absent); // absent at the tip
        };
        let Some(mut hi) = absent_at else {
            return Ok(Adding::Found {
                landing: back[back.len() - 1].0,
                parent: None,
            });
        };
        // Invariant: back[lo] holds the file, back[hi] does not.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.lookup(back[mid].1, path)?.is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(Adding::Found {
            landing: back[lo].0,
            parent: Some(back[hi].0),
        })
    }

    fn remember_raw_commit(&self, oid: Oid, raw: &[u8]) {
        let mut cache = self.raw_commits.borrow_mut();
        if cache.len() >= 4 {
            cache.pop_front();
        }
        cache.push_back((oid, Rc::from(raw)));
    }

    /// Reads a commit.
    pub fn commit(&self, oid: Oid) -> Result<CommitData> {
        self.commits_read.set(self.commits_read.get() + 1);
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Commit {
            return Err(obj_err(oid, format!("is a {}, not a commit", obj.kind)));
        }
        self.remember_raw_commit(oid, &obj.data);
        let c = gix::objs::CommitRef::from_bytes(&obj.data, self.repo.object_hash())
            .map_err(|e| obj_err(oid, format!("malformed commit: {e}")))?;
        let person = |s: gix::actor::SignatureRef<'_>| {
            let t = s.time().unwrap_or_default();
            Person {
                name: s.name.to_str_lossy().trim().to_owned(),
                email: s.email.to_str_lossy().trim().to_owned(),
                time: t.seconds,
                offset: t.offset,
            }
        };
        let author = c
            .author()
            .map_err(|e| obj_err(oid, format!("bad author: {e}")))?;
        let committer = c
            .committer()
            .map_err(|e| obj_err(oid, format!("bad committer: {e}")))?;
        Ok(CommitData {
            id: oid,
            tree: c.tree(),
            parents: c.parents().collect(),
            message: c.message.to_str_lossy().into_owned(),
            author: person(author),
            committer: person(committer),
        })
    }

    /// Reads a blob, refusing to load one larger than `cap` bytes.
    pub fn read_blob(&self, oid: Oid, cap: u64) -> Result<BlobRead> {
        let header = self.repo.find_header(oid).map_err(|e| obj_err(oid, e))?;
        if header.kind() != gix::object::Kind::Blob {
            return Err(obj_err(oid, format!("is a {}, not a blob", header.kind())));
        }
        if header.size() > cap {
            return Ok(BlobRead::TooLarge(header.size()));
        }
        let mut blob = self.repo.find_blob(oid).map_err(|e| obj_err(oid, e))?;
        Ok(BlobRead::Data(std::mem::take(&mut blob.data)))
    }

    /// Reads a blob that must be at most `cap` bytes.
    pub fn read_blob_capped(&self, oid: Oid, cap: u64) -> Result<Vec<u8>> {
        match self.read_blob(oid, cap)? {
            BlobRead::Data(d) => Ok(d),
            BlobRead::TooLarge(n) => {
                Err(obj_err(oid, format!("{n} bytes, over the {cap}-byte cap")))
            }
        }
    }

    fn tree_entries(&self, oid: Oid) -> Result<Rc<TreeEntries>> {
        if let Some(t) = self.trees.borrow().get(&oid) {
            return Ok(t.clone());
        }
        let entries = Rc::new(self.decode_tree(oid)?);
        let mut cache = self.trees.borrow_mut();
        if cache.len() >= TREE_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(oid, entries.clone());
        Ok(entries)
    }

    fn decode_tree(&self, oid: Oid) -> Result<TreeEntries> {
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Tree {
            return Err(obj_err(oid, format!("is a {}, not a tree", obj.kind)));
        }
        // A copy of exactly the tree's size: gix's buffer is sized for resolving deltas (and
        // reused for larger objects), and goes back to gix for the next read.
        let raw: Box<[u8]> = Box::from(&obj.data[..]);
        drop(obj);
        if u32::try_from(raw.len()).is_err() {
            return Err(obj_err(oid, format!("a tree of {} bytes", raw.len())));
        }
        // One pass reads the entries and what `git fsck --strict` would say of the tree.
        let mut entries = Vec::new();
        let mut bad_id = None;
        let base = raw.as_ptr() as usize;
        let problems = fsck::read_tree(&raw, self.repo.object_hash().len_in_bytes(), |e| {
            let kind = match e.mode.map(|m| m & 0o170000) {
                Some(0o040000) => EntryKind::Tree,
                Some(0o120000) => EntryKind::Link,
                Some(0o160000) => EntryKind::Submodule,
                _ if e.mode.is_some_and(|m| m & 0o111 != 0) => EntryKind::Executable,
                _ => EntryKind::Blob,
            };
            match ObjectId::try_from(e.oid) {
                // The name is a slice of `raw`, which is under 4 GiB (checked above).
                Ok(oid) => entries.push(TreeItem {
                    name_at: (e.name.as_ptr() as usize - base) as u32,
                    name_len: e.name.len() as u32,
                    entry: Entry { kind, oid },
                }),
                Err(err) => bad_id = Some(err.to_string()),
            }
        });
        if let Some(e) = bad_id {
            return Err(obj_err(oid, format!("malformed tree: {e}")));
        }
        Ok(TreeEntries {
            raw,
            entries,
            problems,
        })
    }

    /// The entry at `path` (slash-separated) inside `tree`.
    pub fn lookup(&self, tree: Oid, path: &str) -> Result<Option<Entry>> {
        let mut current = tree;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let entries = self.tree_entries(current)?;
            let Some(e) = entries
                .iter()
                .find(|(n, _)| *n == part.as_bytes())
                .map(|(_, e)| e)
            else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                return Ok(Some(e));
            }
            if e.kind != EntryKind::Tree {
                return Ok(None);
            }
            current = e.oid;
        }
        Ok(None)
    }

    /// The entries directly inside the directory `path` of `tree` (empty when absent).
    pub fn list_dir(&self, tree: Oid, path: &str) -> Result<Vec<(String, Entry)>> {
        let dir = if path.is_empty() {
            Some(Entry {
                kind: EntryKind::Tree,
                oid: tree,
            })
        } else {
            self.lookup(tree, path)?
        };
        match dir {
            Some(Entry {
                kind: EntryKind::Tree,
                oid,
            }) => Ok(self
                .tree_entries(oid)?
                .iter()
                .map(|(n, e)| (String::from_utf8_lossy(n).into_owned(), e))
                .collect()),
            _ => Ok(Vec::new()),
        }
    }

    /// Every file-level change from `old` (or the empty tree) to `new`, walking only subtrees
    /// whose ids differ. Fails once more than `limit` changes are found, so a hostile commit
    /// cannot make the caller do unbounded work.
    pub fn diff_trees(&self, old: Option<Oid>, new: Oid, limit: usize) -> Result<Vec<Change>> {
        Ok(self.diff_trees_checked(old, new, limit)?.0)
    }

    /// [`Store::diff_trees`], with what `git fsck --strict` would report about every tree of
    /// `new` that `old` does not have (the trees the diff walks into).
    pub fn diff_trees_checked(
        &self,
        old: Option<Oid>,
        new: Oid,
        limit: usize,
    ) -> Result<(Vec<Change>, Vec<Malformed>)> {
        let mut out = Vec::new();
        let mut malformed = Vec::new();
        self.diff_rec(old, Some(new), "", limit, &mut out, &mut malformed)?;
        Ok((out, malformed))
    }

    fn diff_rec(
        &self,
        old: Option<Oid>,
        new: Option<Oid>,
        prefix: &str,
        limit: usize,
        out: &mut Vec<Change>,
        malformed: &mut Vec<Malformed>,
    ) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let empty = || Rc::new(TreeEntries::empty());
        let ta = match old {
            Some(o) => self.tree_entries(o)?,
            None => empty(),
        };
        let tb = match new {
            Some(n) => self.tree_entries(n)?,
            None => empty(),
        };
        if let Some(n) = new {
            malformed.extend(tb.problems.iter().map(|p| Malformed {
                tree: n,
                path: prefix.trim_end_matches('/').to_owned(),
                problem: p.clone(),
            }));
        }
        let (a, b) = (&ta.entries, &tb.entries);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let ord = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => git_order(ta.name(x), x.entry.kind, tb.name(y), y.entry.kind),
                (Some(_), None) => Ordering::Less,
                (None, _) => Ordering::Greater,
            };
            let (old_e, new_e, name) = match ord {
                Ordering::Less => {
                    i += 1;
                    (Some(a[i - 1].entry), None, ta.name(&a[i - 1]))
                }
                Ordering::Greater => {
                    j += 1;
                    (None, Some(b[j - 1].entry), tb.name(&b[j - 1]))
                }
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                    (
                        Some(a[i - 1].entry),
                        Some(b[j - 1].entry),
                        ta.name(&a[i - 1]),
                    )
                }
            };
            if old_e == new_e {
                continue;
            }
            let path = format!("{prefix}{}", String::from_utf8_lossy(name));
            let old_tree = old_e.filter(|e| e.kind == EntryKind::Tree).map(|e| e.oid);
            let new_tree = new_e.filter(|e| e.kind == EntryKind::Tree).map(|e| e.oid);
            if old_tree.is_some() || new_tree.is_some() {
                self.diff_rec(
                    old_tree,
                    new_tree,
                    &format!("{path}/"),
                    limit,
                    out,
                    malformed,
                )?;
            }
            let old_file = old_e.filter(|e| e.kind != EntryKind::Tree);
            let new_file = new_e.filter(|e| e.kind != EntryKind::Tree);
            let kind = match (old_file, new_file) {
                (None, None) => continue,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Deleted,
                (Some(_), Some(_)) => ChangeKind::Modified,
            };
            out.push(Change {
                path,
                kind,
                old: old_file,
                new: new_file,
            });
            if out.len() > limit {
                return Err(StoreError::Other(format!(
                    "more than {limit} changed files in one commit"
                )));
            }
        }
        Ok(())
    }

    /// The first-parent chain from `tip` back to (not including) `stop`, oldest first.
    /// Fails when `stop` is given and not reached within `limit` commits.
    pub fn first_parent_chain(
        &self,
        tip: Oid,
        stop: Option<Oid>,
        limit: usize,
    ) -> Result<Vec<CommitData>> {
        let mut chain = Vec::new();
        let mut cur = Some(tip);
        while let Some(oid) = cur {
            if Some(oid) == stop {
                chain.reverse();
                return Ok(chain);
            }
            if chain.len() >= limit {
                return Err(StoreError::Other(format!(
                    "more than {limit} commits between {} and {}",
                    stop.map(|s| s.to_string())
                        .unwrap_or_else(|| "the root".into()),
                    tip
                )));
            }
            let c = self.commit(oid)?;
            cur = c.parents.first().copied();
            chain.push(c);
        }
        if stop.is_some() {
            return Err(StoreError::Other(format!(
                "{} is not an ancestor of {tip}",
                stop.map(|s| s.to_string()).unwrap_or_default()
            )));
        }
        chain.reverse();
        Ok(chain)
    }

    /// Reads an annotated tag.
    pub fn tag(&self, oid: Oid) -> Result<TagData> {
        let obj = self.repo.find_object(oid).map_err(|e| obj_err(oid, e))?;
        if obj.kind != gix::object::Kind::Tag {
            return Err(obj_err(oid, format!("is a {}, not a tag", obj.kind)));
        }
        let t = gix::objs::TagRef::from_bytes(&obj.data, self.repo.object_hash())
            .map_err(|e| obj_err(oid, format!("malformed tag: {e}")))?;
        let target =
            Oid::from_hex(t.target).map_err(|e| obj_err(oid, format!("bad tag target: {e}")))?;
        let marker = b"-----BEGIN PGP SIGNATURE-----";
        let payload = match t.signature {
            Some(_) => {
                let pos = obj
                    .data
                    .windows(marker.len())
                    .rposition(|w| w == marker)
                    .ok_or_else(|| obj_err(oid, "signature without an OpenPGP armor header"))?;
                obj.data[..pos].to_vec()
            }
            None => obj.data.clone(),
        };
        Ok(TagData {
            id: oid,
            target,
            target_is_commit: t.target_kind == gix::object::Kind::Commit,
            name: t.name.to_str_lossy().into_owned(),
            message: t.message.to_str_lossy().into_owned(),
            signature: t.signature.map(|s| s.to_str_lossy().into_owned()),
            payload,
        })
    }

    // ---- writing -------------------------------------------------------------------------

    /// The bytes a tag's signature covers, for a tag not yet written.
    pub fn tag_payload(
        &self,
        target: Oid,
        name: &str,
        tagger: &Person,
        message: &str,
    ) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        gix::objs::WriteTo::write_to(&tag_object(target, name, tagger, message, None), &mut buf)
            .map_err(|e| StoreError::Other(format!("cannot serialize tag: {e}")))?;
        Ok(buf)
    }

    /// Writes an annotated tag object pointing at commit `target` (no ref is moved).
    pub fn write_tag(
        &self,
        target: Oid,
        name: &str,
        tagger: &Person,
        message: &str,
        signature: Option<&str>,
    ) -> Result<Oid> {
        self.repo
            .write_object(tag_object(target, name, tagger, message, signature))
            .map(|id| id.detach())
            .map_err(|e| StoreError::Other(format!("cannot write tag: {}", chain(&e))))
    }

    pub fn write_blob(&self, bytes: &[u8]) -> Result<Oid> {
        self.repo
            .write_blob(bytes)
            .map(|id| id.detach())
            .map_err(|e| StoreError::Other(format!("cannot write blob: {}", chain(&e))))
    }

    /// A new tree: `base` (or the empty tree) with `files` (path, bytes) written as blobs and
    /// inserted or replaced.
    pub fn tree_with_files(&self, base: Option<Oid>, files: &[(String, Vec<u8>)]) -> Result<Oid> {
        let mut entries = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            let oid = self.write_blob(bytes)?;
            entries.push((
                path.clone(),
                Some(Entry {
                    kind: EntryKind::Blob,
                    oid,
                }),
            ));
        }
        self.tree_with_entries(base, &entries)
    }

    /// A new tree: `base` (or the empty tree) with the entries `(path, entry)` put in place (trees included), or
    /// removed where `entry` is `None`.
    pub fn tree_with_entries(
        &self,
        base: Option<Oid>,
        entries: &[(String, Option<Entry>)],
    ) -> Result<Oid> {
        let base = base.unwrap_or_else(|| ObjectId::empty_tree(self.repo.object_hash()));
        let mut editor = self
            .repo
            .edit_tree(base)
            .map_err(|e| obj_err(base, format!("cannot edit tree: {e}")))?;
        for (path, entry) in entries {
            use gix::objs::tree::EntryKind as K;
            match entry {
                Some(e) => {
                    let kind = match e.kind {
                        EntryKind::Blob => K::Blob,
                        EntryKind::Executable => K::BlobExecutable,
                        EntryKind::Link => K::Link,
                        EntryKind::Tree => K::Tree,
                        EntryKind::Submodule => K::Commit,
                    };
                    editor
                        .upsert(path.as_str(), kind, e.oid)
                        .map_err(|err| StoreError::Other(format!("cannot place {path}: {err}")))?;
                }
                None => {
                    editor
                        .remove(path.as_str())
                        .map_err(|err| StoreError::Other(format!("cannot remove {path}: {err}")))?;
                }
            }
        }
        editor
            .write()
            .map(|id| id.detach())
            .map_err(|e| StoreError::Other(format!("cannot write tree: {}", chain(&e))))
    }

    /// Writes a commit object (no ref is moved).
    pub fn write_commit(
        &self,
        tree: Oid,
        parents: &[Oid],
        author: &Person,
        committer: &Person,
        message: &str,
    ) -> Result<Oid> {
        let commit = commit_object(tree, parents, author, committer, message);
        self.repo
            .write_object(&commit)
            .map(|id| id.detach())
            .map_err(|e| StoreError::Other(format!("cannot write commit: {}", chain(&e))))
    }

    /// Moves `name` to `new` only if it currently points to `expected` (`None`: must not
    /// exist). The update is atomic (lock file + rename) and logged in the reflog.
    pub fn update_ref(&self, name: &str, new: Oid, expected: Option<Oid>, why: &str) -> Result<()> {
        let edit = update_edit(name, new, expected, why)?;
        self.repo
            .edit_reference(edit)
            .map_err(|e| self.ref_error(name, expected, name, e))?;
        Ok(())
    }

    /// Moves `name` to `new` (only if it points to `expected`) and deletes `delete` (only if
    /// it points to its expected id) in one ref transaction: both refs are locked before
    /// either changes, so an interrupted or refused run changes neither.
    pub fn update_and_delete_ref(
        &self,
        name: &str,
        new: Oid,
        expected: Option<Oid>,
        delete: (&str, Oid),
        why: &str,
    ) -> Result<()> {
        let edits = [
            update_edit(name, new, expected, why)?,
            delete_edit(delete.0, delete.1)?,
        ];
        self.repo
            .edit_references(edits)
            .map_err(|e| self.ref_error(name, expected, &format!("{name} and {}", delete.0), e))?;
        Ok(())
    }

    /// Deletes `name` if it points to `expected`.
    pub fn delete_ref(&self, name: &str, expected: Oid) -> Result<()> {
        self.repo
            .edit_reference(delete_edit(name, expected)?)
            .map_err(|e| StoreError::Ref {
                name: name.into(),
                message: chain(&e),
            })?;
        Ok(())
    }

    /// A failed ref edit: a race when `name` no longer points to `expected`, else the error
    /// (about `what`).
    fn ref_error(
        &self,
        name: &str,
        expected: Option<Oid>,
        what: &str,
        e: impl std::error::Error + 'static,
    ) -> StoreError {
        let found = self.ref_target(name).ok().flatten();
        let show = |o: Option<Oid>| o.map(|o| o.to_string()).unwrap_or_else(|| "nothing".into());
        if found != expected {
            StoreError::RefRace {
                name: name.into(),
                expected: show(expected),
                found: show(found),
            }
        } else {
            StoreError::Ref {
                name: what.into(),
                message: chain(&e),
            }
        }
    }

    /// The committer identity from configuration and `GIT_COMMITTER_*`, with its time
    /// (`GIT_COMMITTER_DATE` is honoured, else now).
    pub fn committer(&self) -> Result<Person> {
        let sig = self
            .repo
            .committer()
            .ok_or_else(|| {
                StoreError::Other(
                    "no committer identity: set git config user.name and user.email (or GIT_COMMITTER_NAME / GIT_COMMITTER_EMAIL)"
                        .into(),
                )
            })?
            .map_err(|e| StoreError::Other(format!("bad committer identity: {e}")))?;
        let t = sig.time().unwrap_or_default();
        Ok(Person {
            name: sig.name.to_str_lossy().into_owned(),
            email: sig.email.to_str_lossy().into_owned(),
            time: t.seconds,
            offset: t.offset,
        })
    }
}

/// The one shape of commit aiaudit writes: tree, parents, author, committer, message; no
/// encoding, no signature or other extra headers.
fn commit_object(
    tree: Oid,
    parents: &[Oid],
    author: &Person,
    committer: &Person,
    message: &str,
) -> gix::objs::Commit {
    gix::objs::Commit {
        tree,
        parents: parents.iter().copied().collect(),
        author: signature_of(author),
        committer: signature_of(committer),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    }
}

/// The bytes of the commit object aiaudit would write for `c` with `message`: what a commit
/// that is canonical (SPEC §4) consists of, byte for byte.
pub fn canonical_commit_bytes(c: &CommitData, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    gix::objs::WriteTo::write_to(
        &commit_object(c.tree, &c.parents, &c.author, &c.committer, message),
        &mut out,
    )
    .expect("writing to a Vec cannot fail");
    out
}

fn signature_of(p: &Person) -> gix::actor::Signature {
    gix::actor::Signature {
        name: p.name.as_str().into(),
        email: p.email.as_str().into(),
        time: gix::date::Time {
            seconds: p.time,
            offset: p.offset,
        },
    }
}

fn tag_object(
    target: Oid,
    name: &str,
    tagger: &Person,
    message: &str,
    signature: Option<&str>,
) -> gix::objs::Tag {
    // gix writes a line break between message and signature; git's signed payload is
    // everything before the signature, so the message loses its own final line break here and
    // the payload equals the unsigned serialization.
    let message = match signature {
        Some(_) => message.strip_suffix('\n').unwrap_or(message),
        None => message,
    };
    gix::objs::Tag {
        target,
        target_kind: gix::object::Kind::Commit,
        name: name.into(),
        tagger: Some(signature_of(tagger)),
        message: message.into(),
        signature: signature.map(Into::into),
    }
}

/// The edit moving `name` to `new` if it points to `expected` (`None`: must not exist).
fn update_edit(
    name: &str,
    new: Oid,
    expected: Option<Oid>,
    why: &str,
) -> Result<gix::refs::transaction::RefEdit> {
    use gix::refs::transaction::{Change as RefChange, LogChange, PreviousValue, RefEdit, RefLog};
    use gix::refs::Target;
    Ok(RefEdit {
        change: RefChange::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: format!("aiaudit: {why}").into(),
            },
            expected: match expected {
                Some(o) => PreviousValue::MustExistAndMatch(Target::Object(o)),
                None => PreviousValue::MustNotExist,
            },
            new: Target::Object(new),
        },
        name: full_name(name)?,
        deref: false,
    })
}

/// The edit deleting `name` if it points to `expected`.
fn delete_edit(name: &str, expected: Oid) -> Result<gix::refs::transaction::RefEdit> {
    use gix::refs::transaction::{Change as RefChange, PreviousValue, RefEdit, RefLog};
    use gix::refs::Target;
    Ok(RefEdit {
        change: RefChange::Delete {
            expected: PreviousValue::MustExistAndMatch(Target::Object(expected)),
            log: RefLog::AndReference,
        },
        name: full_name(name)?,
        deref: false,
    })
}

fn full_name(name: &str) -> Result<gix::refs::FullName> {
    name.try_into()
        .map_err(|e: gix::validate::reference::name::Error| StoreError::Ref {
            name: name.into(),
            message: e.to_string(),
        })
}

fn absolutize(cwd: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_owned()
    } else {
        cwd.join(p)
    }
}

/// Git's tree order: names compare bytewise, a tree's name as if followed by `/`.
fn git_order(a: &[u8], ak: EntryKind, b: &[u8], bk: EntryKind) -> Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    let next = |s: &[u8], k: EntryKind| {
        s.get(n).copied().or(if k == EntryKind::Tree {
            Some(b'/')
        } else {
            None
        })
    };
    next(a, ak).cmp(&next(b, bk))
}
