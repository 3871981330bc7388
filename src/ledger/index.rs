//! The repository's index of main, in `<git dir>/aiaudit/`:
//!
//! - `index-v1-chain`: main's first-parent chain, oldest first, one raw object id (20 bytes)
//!   per commit;
//! - `index-v1-events`: one 20-byte record per commit on that chain that adds an event: the
//!   decision's id (its ULID's 16 bytes, big-endian) and the commit's position on the chain
//!   (4 bytes, little-endian), in history order.
//!
//! Who keeps it: in a clone, `verify` (what it checked), and `outcome`, `review`, `note` and
//! `exec` bring it up to the clone's main when a lookup of where a decision landed has read
//! 1,024 commits (`AIAUDIT_INDEX_AFTER`) without it; on the server, `hook install` (or `hook
//! index`) builds it and the pre-receive hook brings it up to main as accepted (never to what
//! is being pushed) in the same case. Writers hold `index-v1.flock`.
//!
//! With it, finding the commit that landed a decision costs the commits main gained since the
//! index (read once per process, however many lookups) and a few tree lookups (probes back from
//! the tip, then a bisection: [`Chain`]), not a walk back to the decision: an outcome about the
//! oldest decision of a long history is judged as quickly as one about the newest, and `show`
//! of it is as quick too (it takes the events about it from `index-v1-events`).
//!
//! It is a cache, not evidence, trusted as far as the directory it sits in (the clone's
//! remembered verify state beside it; the server's refs): a tip that branches off the index's
//! last 4,096 commits continues it from there (a landing rebuilt onto a main that moved on),
//! anything else writes it anew; a resumed `verify` keeps what matches and cuts off what does
//! not; readers ignore files whose sizes do not fit, and what is found through it is checked
//! against the objects (the commit found holds the record, its parent is the indexed commit
//! before it and lacks it, an event commit names the decision), else history is walked as
//! without it. Events are appended before the chain, so an interrupted update leaves event
//! positions beyond the chain's end, which readers skip and the next update writes again; a
//! record cut short is cut off.

use crate::engine::IndexUpdate;
use crate::ledger::trailers;
use crate::store::{Adding, Oid, Store, StoreError};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const CHAIN: &str = "index-v1-chain";
const EVENTS: &str = "index-v1-events";
/// Held (an exclusive `flock`) by whoever changes the files: `verify` in a clone, the hook on
/// the server. Unlike git's `.lock` files, its presence means nothing: the kernel releases the
/// lock when its holder exits, however it exits (a hook past its deadline included).
const LOCK: &str = "index-v1.flock";
/// How far back from the index's end a new tip may branch off and still continue it.
const WINDOW: usize = 4096;
const ID: usize = 20;
const EVENT: usize = 20;

/// The index on disk: the chain is read a commit at a time where asked (a bisection reads ~20
/// of 1,000,000), the events whole when asked (they are scanned; finding a landing commit, as
/// the hook does, never reads them).
pub struct Index {
    chain: std::fs::File,
    len: usize,
    events: std::fs::File,
}

impl Index {
    /// The number of commits on the indexed chain.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The commit at position `k` (0 = the root).
    pub fn commit(&self, k: usize) -> Option<Oid> {
        use std::os::unix::fs::FileExt as _;
        if k >= self.len {
            return None;
        }
        let mut b = [0u8; ID];
        self.chain.read_exact_at(&mut b, (k * ID) as u64).ok()?;
        Oid::try_from(&b[..]).ok()
    }

    /// The commits from position `k` to the end, read at once.
    pub fn commits_from(&self, k: usize) -> Vec<Oid> {
        use std::os::unix::fs::FileExt as _;
        let k = k.min(self.len);
        let mut b = vec![0u8; (self.len - k) * ID];
        if self.chain.read_exact_at(&mut b, (k * ID) as u64).is_err() {
            return Vec::new();
        }
        b.chunks_exact(ID)
            .filter_map(|c| Oid::try_from(c).ok())
            .collect()
    }

    /// How many event records come before the first at position `k` or later (records are in
    /// history order).
    fn events_before(&self, k: usize) -> std::io::Result<usize> {
        let events = self.read_events()?;
        Ok(events
            .chunks_exact(EVENT)
            .position(|r| u32::from_le_bytes([r[16], r[17], r[18], r[19]]) as usize >= k)
            .unwrap_or(events.len() / EVENT))
    }

    /// The event records, whole ones only.
    fn read_events(&self) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt as _;
        let size = usize::try_from(self.events.metadata()?.len()).map_err(std::io::Error::other)?;
        let mut b = vec![0u8; size - size % EVENT];
        self.events.read_exact_at(&mut b, 0)?;
        Ok(b)
    }

    /// The positions of the commits adding an event about the decision `key` (its 128-bit
    /// id), in history order, each once, only those on the indexed chain.
    pub fn events_of(&self, key: u128) -> Vec<usize> {
        let want = key.to_be_bytes();
        let mut out: Vec<usize> = self
            .read_events()
            .unwrap_or_default()
            .chunks_exact(EVENT)
            .filter(|r| r[..16] == want)
            .map(|r| u32::from_le_bytes([r[16], r[17], r[18], r[19]]) as usize)
            .filter(|p| *p < self.len())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The commit that adds a file, and its parent (`None`: the root holds it).
pub type Landing = (Oid, Option<Oid>);

/// Main's first-parent chain as far as it is known: the indexed chain (positions `0..n`), then
/// the commits read after it (`n..`), which lookups from newer tips add. Finding the commit
/// that added a record then costs the commits main gained since the index (read once, however
/// many lookups) and a few tree lookups, not a walk back to the record's landing.
pub struct Chain {
    index: Option<Index>,
    /// The indexed chain's last commit.
    last: Option<Oid>,
    tail: Vec<Oid>,
    tail_at: HashMap<Oid, usize>,
}

impl Chain {
    pub fn new(index: Option<Index>) -> Chain {
        let last = index
            .as_ref()
            .and_then(|ix| ix.len().checked_sub(1).and_then(|k| ix.commit(k)));
        Chain {
            index,
            last,
            tail: Vec::new(),
            tail_at: HashMap::new(),
        }
    }

    fn indexed(&self) -> usize {
        self.index.as_ref().map_or(0, Index::len)
    }

    /// The number of commits known.
    pub fn len(&self) -> usize {
        self.indexed() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The commit at position `k` (0 = the root).
    pub fn at(&self, k: usize) -> Option<Oid> {
        let n = self.indexed();
        if k < n {
            self.index.as_ref()?.commit(k)
        } else {
            self.tail.get(k - n).copied()
        }
    }

    /// The index this chain starts with.
    pub fn index(&self) -> Option<&Index> {
        self.index.as_ref()
    }

    /// The position of `oid` when it is the indexed chain's last commit or read after it.
    fn known(&self, oid: Oid) -> Option<usize> {
        if let Some(p) = self.tail_at.get(&oid) {
            return Some(*p);
        }
        (self.last == Some(oid)).then(|| self.indexed() - 1)
    }

    /// Continues the chain after position `at` with `walked` (newest first); returns the
    /// position of the newest. Commits known after `at` are forgotten when `walked` continues
    /// it elsewhere (a tip on another branch of history).
    fn attach(&mut self, at: usize, walked: Vec<Oid>) -> usize {
        if walked.is_empty() {
            return at;
        }
        let keep = (at + 1).saturating_sub(self.indexed());
        for o in self.tail.drain(keep.min(self.tail.len())..) {
            self.tail_at.remove(&o);
        }
        for o in walked.into_iter().rev() {
            self.tail_at.insert(o, self.len());
            self.tail.push(o);
        }
        self.len() - 1
    }

    /// [`Store::commit_adding`] through the chain: the commit of `tip`'s first-parent chain
    /// that adds `path`, and its parent (`None`: the root holds it). The walk back from `tip`
    /// stops where the known chain begins; from there, probes back from `tip`'s position
    /// (1, 2, 4, … commits) and a bisection find the commit. What the index says is checked:
    /// the commit found holds the file, its parent is the commit before it and lacks it;
    /// otherwise history is walked as without an index.
    pub fn commit_adding(
        &mut self,
        store: &Store,
        tip: Oid,
        path: &str,
    ) -> Result<Option<(Oid, Option<Oid>)>, StoreError> {
        match self.commit_adding_within(store, tip, path, usize::MAX)? {
            Some(found) => Ok(found),
            None => store.commit_adding(tip, path, &mut |_, _| {}),
        }
    }

    /// [`Chain::commit_adding`], giving up (`None`) when it has read `budget` commits back from
    /// `tip` without finding the commit or meeting the known chain: the caller may then bring
    /// the index up to date (`extend`) before the long walk. A recent decision is found within a
    /// few commits, and then nothing else is read.
    pub fn commit_adding_within(
        &mut self,
        store: &Store,
        tip: Oid,
        path: &str,
        budget: usize,
    ) -> Result<Option<Option<Landing>>, StoreError> {
        let read = std::cell::Cell::new(0usize);
        let found = store.commit_adding_until(
            tip,
            path,
            &|o| {
                read.set(read.get() + 1);
                self.known(o).is_some() || read.get() > budget
            },
            &mut |_, _| {},
        )?;
        let (at, walked) = match found {
            Adding::Absent => return Ok(Some(None)),
            Adding::Found { landing, parent } => return Ok(Some(Some((landing, parent)))),
            Adding::Met { at, walked } => (at, walked),
        };
        let Some(q) = self.known(at) else {
            return Ok(None); // out of budget
        };
        let p = self.attach(q, walked);
        Ok(match self.search(store, p, path)? {
            Some(Some(h)) => Some(Some((
                self.at(h).unwrap_or(tip),
                h.checked_sub(1).and_then(|k| self.at(k)),
            ))),
            Some(None) => Some(None),
            // The index does not fit the objects: walk without it.
            None => Some(store.commit_adding(tip, path, &mut |_, _| {})?),
        })
    }

    /// The position of `tip` on the chain, reading its first-parent chain back to a known
    /// commit (and remembering what it read); `None` when it reaches the root without meeting
    /// one.
    pub fn locate(&mut self, store: &Store, tip: Oid) -> Result<Option<usize>, StoreError> {
        let mut walked = Vec::new();
        let mut cur = Some(tip);
        while let Some(oid) = cur {
            if let Some(q) = self.known(oid) {
                return Ok(Some(self.attach(q, walked)));
            }
            walked.push(oid);
            cur = store.commit_links(oid)?.1;
        }
        Ok(None)
    }

    /// The position of the commit that adds `path` on the chain up to position `p`: the first
    /// whose tree holds it (presence is monotone on main), found by probes back from `p` (1,
    /// 2, 4, … commits) and a bisection. `Some(None)`: `p` lacks it; `None`: the chain does
    /// not fit the objects (the commit found is not the child of the one before it, or the
    /// root holds the file and is not a root).
    pub fn search(
        &self,
        store: &Store,
        p: usize,
        path: &str,
    ) -> Result<Option<Option<usize>>, StoreError> {
        // A position names a commit that cannot be read: the index is of other objects (the
        // walk without it reports what is really wrong, if anything).
        let links = |k: usize| -> Result<Option<(Oid, Option<Oid>)>, StoreError> {
            let Some(c) = self.at(k) else { return Ok(None) };
            Ok(store
                .commit_links(c)
                .ok()
                .map(|(tree, parent, _)| (tree, parent)))
        };
        let present = |k: usize| -> Result<Option<bool>, StoreError> {
            let Some((tree, _)) = links(k)? else {
                return Ok(None);
            };
            Ok(Some(store.lookup(tree, path)?.is_some()))
        };
        match present(p)? {
            None => return Ok(None),
            Some(false) => return Ok(Some(None)),
            Some(true) => {}
        }
        // Invariant: `hi` holds the file; `lo`, when known, does not.
        let (mut lo, mut hi) = (None, p);
        let mut step = 1;
        while hi > 0 {
            let k = p.saturating_sub(step);
            match present(k)? {
                None => return Ok(None),
                Some(true) => hi = k,
                Some(false) => {
                    lo = Some(k);
                    break;
                }
            }
            step *= 2;
        }
        let Some(mut lo) = lo else {
            // Position 0 holds it: it must be the root.
            let Some((_, parent)) = links(0)? else {
                return Ok(None);
            };
            return Ok(parent.is_none().then_some(Some(0)));
        };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match present(mid)? {
                None => return Ok(None),
                Some(true) => hi = mid,
                Some(false) => lo = mid,
            }
        }
        let (Some((_, parent)), Some(before)) = (links(hi)?, self.at(lo)) else {
            return Ok(None);
        };
        Ok((parent == Some(before)).then_some(Some(hi)))
    }
}

/// Brings the index in `dir` to end at `tip`, a commit of main the caller has accepted (the
/// server's hook: main as it was before the push): the commits from the indexed head to `tip`
/// are appended, or, when `tip` does not descend from it (or there is no index), the whole
/// chain is written anew. Events are found by their commits' trailers (an event id next to a
/// decision id). Returns the number of commits written.
pub fn extend(store: &Store, dir: &Path, tip: Oid) -> std::io::Result<usize> {
    let _lock = lock(dir)?;
    let (chain_path, events_path) = paths(dir);
    repair(&chain_path)?;
    repair(&events_path)?;
    // Temporary files of a rewrite that was cut short (a hook past its deadline exits at once):
    // only the lock's holder writes them, so they are all stale.
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if [CHAIN, EVENTS]
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.tmp")))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let index = load(dir);
    let n = index.as_ref().map_or(0, Index::len);
    // The index's last commits by id: a tip on a branch off one of them (a clone's landing
    // rebuilt onto a main that moved on) continues the index from there.
    let near_end: HashMap<Oid, usize> = index
        .as_ref()
        .map(|ix| ix.commits_from(n.saturating_sub(WINDOW)))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c, n.saturating_sub(WINDOW) + i))
        .collect();
    if near_end.get(&tip) == Some(&(n.wrapping_sub(1))) {
        return Ok(0);
    }
    // Newest first, until a commit near the index's end (or the root).
    let mut walked: Vec<(Oid, Option<u128>)> = Vec::new();
    let mut cur = Some(tip);
    let mut met = None;
    while let Some(oid) = cur {
        if let Some(q) = near_end.get(&oid) {
            met = Some(*q);
            break;
        }
        let (_, parent, raw) = store.commit_links(oid).map_err(std::io::Error::other)?;
        walked.push((oid, event_key(&raw)));
        cur = parent;
    }
    walked.reverse();
    let from = met.map_or(0, |q| q + 1);
    let u = IndexUpdate {
        from,
        after: met.and_then(|q| index.as_ref()?.commit(q)),
        events: walked
            .iter()
            .enumerate()
            .filter_map(|(i, (_, k))| Some(((*k)?, u32::try_from(from + i).ok()?)))
            .collect(),
        commits: walked.into_iter().map(|(c, _)| c).collect(),
    };
    drop(index);
    let added = u.commits.len();
    apply(dir, &u)?;
    Ok(added)
}

/// The decision an event commit is about, from its trailers (`Event-Id` and `Decision-Id`).
fn event_key(raw: &[u8]) -> Option<u128> {
    let body = memchr::memmem::find(raw, b"\n\n")?;
    let message = std::str::from_utf8(&raw[body + 2..]).ok()?;
    let t = trailers::parse(message);
    t.all(trailers::EVENT_ID).next()?;
    let id = t.all(trailers::DECISION_ID).next()?;
    ulid::Ulid::from_string(id).ok().map(u128::from)
}

/// Cuts a file that an interrupted append left with part of a record back to whole records.
fn repair(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() % ID as u64 != 0 => std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(m.len() - m.len() % ID as u64),
        _ => Ok(()),
    }
}

/// Takes the index's lock in `dir` (waiting for another holder).
fn lock(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))?;
    f.lock()?;
    Ok(f)
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(CHAIN), dir.join(EVENTS))
}

/// Reads the index in `dir` (the clone's `.git/aiaudit`); `None` when there is none or its
/// files do not have the sizes of whole records.
pub fn load(dir: &Path) -> Option<Index> {
    let (chain, events) = paths(dir);
    let chain = std::fs::File::open(chain).ok()?;
    let size = usize::try_from(chain.metadata().ok()?.len()).ok()?;
    let events = std::fs::File::open(events).ok()?;
    let events_size = events.metadata().ok()?.len();
    (size > 0 && size % ID == 0 && events_size % EVENT as u64 == 0).then_some(Index {
        chain,
        len: size / ID,
        events,
    })
}

/// Applies what a `verify` run learned to the index in `dir`. A run from the root rewrites
/// it; a later one appends when the files end exactly where its commits continue, and removes
/// them otherwise (the next run from the root writes them again).
pub fn update(dir: &Path, u: &IndexUpdate) -> std::io::Result<()> {
    let _lock = lock(dir)?;
    apply(dir, u)
}

fn apply(dir: &Path, u: &IndexUpdate) -> std::io::Result<()> {
    let (chain_path, events_path) = paths(dir);
    std::fs::create_dir_all(dir)?;
    // Written through a buffer, record by record: at 1,000,000 commits the chain is 20 MB.
    let chain_bytes = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        u.commits.iter().try_for_each(|c| w.write_all(c.as_bytes()))
    };
    let event_bytes = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        u.events.iter().try_for_each(|(k, p)| {
            w.write_all(&k.to_be_bytes())?;
            w.write_all(&p.to_le_bytes())
        })
    };
    if u.from == 0 {
        replace(&events_path, &event_bytes)?;
        return replace(&chain_path, &chain_bytes);
    }
    // The index holds the chain up to `from` (it may hold more: a clone's `outcome` or the
    // server's hook brought it further): what follows `from` is kept when it is what `u`
    // adds, else cut off and replaced; an index of another chain is removed.
    let index = load(dir)
        .filter(|ix| ix.len() >= u.from && u.after.is_some() && ix.commit(u.from - 1) == u.after);
    let Some(ix) = index else {
        for p in [&chain_path, &events_path] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        return Ok(());
    };
    let end = u.from + u.commits.len();
    if ix.len() >= end && (u.commits.is_empty() || ix.commit(end - 1) == u.commits.last().copied())
    {
        return Ok(());
    }
    if ix.len() > u.from {
        let kept_events = ix.events_before(u.from)?;
        drop(ix);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&chain_path)?
            .set_len((u.from * ID) as u64)?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&events_path)?
            .set_len((kept_events * EVENT) as u64)?;
    }
    append(&events_path, &event_bytes)?;
    append(&chain_path, &chain_bytes)
}

type Records<'a> = dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + 'a;

fn replace(path: &Path, write: &Records<'_>) -> std::io::Result<()> {
    write_replacing(path, |w| write(w))
}

/// Writes `path` anew through a temporary file beside it, renamed into place once complete:
/// an interrupted write leaves the old file (or none). The clone's remembered state and this
/// index are all written so.
pub fn write_replacing(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Named after the file it replaces (`.index-v1-chain.tmpXXXXXX`): one left by a process
    // that was killed is known for what it is.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp"))
        .tempfile_in(dir)?;
    let mut out = std::io::BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn append(path: &Path, write: &Records<'_>) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().append(true).open(path)?;
    let mut out = std::io::BufWriter::new(f);
    write(&mut out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Person;

    fn key(i: usize) -> u128 {
        0x0123_4567_89ab_cdef_0000_0000_0000_0000 + i as u128
    }

    /// A first-parent chain of `n` commits on top of `base` (or a new root), commit `i`
    /// adding `d/{tag}{i}`; every 10th (from the 6th) an event about decision `key(i - 5)`.
    fn grow(store: &Store, base: Option<Oid>, tag: &str, n: usize) -> Vec<Oid> {
        let who = Person {
            name: "T".into(),
            email: "t@example.org".into(),
            time: 1_700_000_000,
            offset: 0,
        };
        let mut parent = base;
        let mut tree = base.map(|b| store.commit_links(b).unwrap().0);
        let mut out = Vec::new();
        for i in 0..n {
            let t = store
                .tree_with_files(tree, &[(format!("d/{tag}{i:04}"), vec![i as u8])])
                .unwrap();
            let msg = if i % 10 == 5 {
                let id = ulid::Ulid::from(key(i - 5)).to_string();
                format!("event {i}\n\nEvent-Id: 01JAAAAAAAAAAAAAAAAAAAAAAA\nDecision-Id: {id}\n")
            } else {
                format!("commit {i}\n")
            };
            let parents: Vec<Oid> = parent.into_iter().collect();
            let c = store.write_commit(t, &parents, &who, &who, &msg).unwrap();
            (parent, tree) = (Some(c), Some(t));
            out.push(c);
        }
        out
    }

    fn repo() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init_bare(&dir.path().join("a.git")).unwrap();
        (dir, store)
    }

    #[test]
    fn extend_indexes_main_and_appends_what_it_gained() {
        let (_d, store) = repo();
        let c = grow(&store, None, "a", 150);
        let dir = store.git_dir().join("aiaudit");
        assert_eq!(extend(&store, &dir, c[99]).unwrap(), 100);
        assert_eq!(extend(&store, &dir, c[99]).unwrap(), 0);
        assert_eq!(extend(&store, &dir, c[149]).unwrap(), 50);
        let ix = load(&dir).unwrap();
        assert_eq!(ix.len(), 150);
        assert!((0..150).all(|k| ix.commit(k) == Some(c[k])));
        assert_eq!(ix.events_of(key(0)), [5]);
        assert_eq!(ix.events_of(key(140)), [145]);
        // A branch off the index's end (a landing rebuilt onto another main): continued from
        // where it branches, the events after it cut off.
        let other = grow(&store, Some(c[139]), "b", 5);
        assert_eq!(extend(&store, &dir, other[4]).unwrap(), 5);
        let ix = load(&dir).unwrap();
        assert_eq!(
            (ix.len(), ix.commit(139), ix.commit(144)),
            (145, Some(c[139]), Some(other[4]))
        );
        assert!(ix.events_of(key(140)).is_empty());
        assert_eq!(ix.events_of(key(130)), [135]);
        // Another history: written anew (and a rewrite's leftover removed).
        std::fs::write(dir.join(".index-v1-chain.tmpAbC123"), b"cut short").unwrap();
        let other = grow(&store, None, "b", 15);
        assert_eq!(extend(&store, &dir, other[14]).unwrap(), 15);
        assert_eq!(load(&dir).unwrap().commit(14), Some(other[14]));
        assert!(!dir.join(".index-v1-chain.tmpAbC123").exists());
        // A record cut short by an interrupted append is cut off, and the rest kept.
        let (chain_path, _) = paths(&dir);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&chain_path)
            .unwrap();
        f.write_all(&[9u8; 7]).unwrap();
        assert!(load(&dir).is_none());
        assert_eq!(extend(&store, &dir, other[4]).unwrap(), 0);
        assert_eq!(load(&dir).unwrap().len(), 15);
    }

    #[test]
    fn the_chain_finds_where_a_file_landed_as_the_walk_does_reading_what_main_gained() {
        let (_d, store) = repo();
        let c = grow(&store, None, "a", 400);
        let dir = store.git_dir().join("aiaudit");
        extend(&store, &dir, c[299]).unwrap();
        let tip = c[399];
        let mut chain = Chain::new(load(&dir));
        for i in [0usize, 1, 7, 150, 298, 299, 300, 350, 398, 399] {
            let path = format!("d/a{i:04}");
            let walked = store.commit_adding(tip, &path, &mut |_, _| {}).unwrap();
            let before = store.commits_read();
            let found = chain.commit_adding(&store, tip, &path).unwrap();
            let read = store.commits_read() - before;
            let parent = i.checked_sub(1).map(|k| c[k]);
            assert_eq!(found, Some((c[i], parent)), "d/a{i:04}");
            assert_eq!(found, walked);
            // The 100 commits after the index are read once (by the first lookup); then a few
            // probes each.
            assert!(
                read <= if i == 0 { 140 } else { 40 },
                "{path}: {read} commits read"
            );
        }
        assert_eq!(chain.len(), 400);
        assert_eq!(chain.commit_adding(&store, tip, "d/none").unwrap(), None);
        // Within a budget: what is found a few commits back, and giving up further back
        // (without an index, the chain knows nothing to meet).
        let mut bare = Chain::new(None);
        assert_eq!(
            bare.commit_adding_within(&store, tip, "d/a0398", 4)
                .unwrap(),
            Some(Some((c[398], Some(c[397]))))
        );
        assert_eq!(
            bare.commit_adding_within(&store, tip, "d/a0100", 64)
                .unwrap(),
            None
        );
        assert_eq!(
            chain
                .commit_adding_within(&store, tip, "d/a0100", 0)
                .unwrap(),
            Some(Some((c[100], Some(c[99]))))
        );
        // From a tip inside what is known, and from a branch off it.
        let side = grow(&store, Some(c[349]), "s", 3);
        assert_eq!(
            chain.commit_adding(&store, side[2], "d/a0100").unwrap(),
            Some((c[100], Some(c[99])))
        );
        assert_eq!(
            chain.commit_adding(&store, side[2], "d/s0001").unwrap(),
            Some((side[1], Some(side[0])))
        );
        assert_eq!(chain.len(), 353);
        assert_eq!(
            chain.commit_adding(&store, c[320], "d/a0310").unwrap(),
            Some((c[310], Some(c[309])))
        );
    }

    #[test]
    fn an_index_that_does_not_fit_the_objects_is_not_believed() {
        let (_d, store) = repo();
        let c = grow(&store, None, "a", 120);
        let dir = store.git_dir().join("aiaudit");
        extend(&store, &dir, c[119]).unwrap();
        let (chain_path, _) = paths(&dir);
        let good = std::fs::read(&chain_path).unwrap();
        let want = |i: usize| Some((c[i], i.checked_sub(1).map(|k| c[k])));
        // Two commits swapped; every commit moved one place; ids of no commit.
        let mut swapped = good.clone();
        swapped[40 * ID..41 * ID].copy_from_slice(&good[60 * ID..61 * ID]);
        swapped[60 * ID..61 * ID].copy_from_slice(&good[40 * ID..41 * ID]);
        let mut shifted = good[ID..].to_vec();
        shifted.extend_from_slice(&good[119 * ID..]);
        let mut foreign = vec![7u8; 119 * ID];
        foreign.extend_from_slice(&good[119 * ID..]);
        for (name, bytes) in [
            ("swapped", swapped),
            ("shifted", shifted),
            ("foreign", foreign),
        ] {
            std::fs::write(&chain_path, &bytes).unwrap();
            for i in [0usize, 39, 40, 41, 59, 60, 61, 100, 119] {
                let mut chain = Chain::new(load(&dir));
                let got = chain
                    .commit_adding(&store, c[119], &format!("d/a{i:04}"))
                    .unwrap();
                assert_eq!(got, want(i), "{name}: d/a{i:04}");
            }
        }
    }

    fn oid(n: u8) -> Oid {
        Oid::try_from(&[n; 20][..]).unwrap()
    }

    #[test]
    fn a_run_from_the_root_writes_and_a_later_run_appends_only_where_the_chain_ends() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("aiaudit");
        update(
            &d,
            &IndexUpdate {
                from: 0,
                after: None,
                commits: vec![oid(1), oid(2), oid(3)],
                events: vec![(7, 2)],
            },
        )
        .unwrap();
        let ix = load(&d).unwrap();
        assert_eq!(
            (ix.len(), ix.commit(2), ix.commit(3)),
            (3, Some(oid(3)), None)
        );
        assert_eq!(ix.events_of(7), [2]);
        // Continues the chain: appended.
        update(
            &d,
            &IndexUpdate {
                from: 3,
                after: Some(oid(3)),
                commits: vec![oid(4), oid(5)],
                events: vec![(7, 4), (9, 3)],
            },
        )
        .unwrap();
        let ix = load(&d).unwrap();
        assert_eq!(ix.len(), 5);
        assert_eq!(ix.events_of(7), [2, 4]);
        assert_eq!(ix.events_of(9), [3]);
        assert!(ix.events_of(8).is_empty());
        // Does not continue it (another head at position 5): the index goes.
        update(
            &d,
            &IndexUpdate {
                from: 5,
                after: Some(oid(9)),
                commits: vec![oid(6)],
                events: vec![],
            },
        )
        .unwrap();
        assert!(load(&d).is_none());
    }

    #[test]
    fn a_verify_behind_an_index_the_hook_kept_leaves_it_and_replaces_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("aiaudit");
        let all = IndexUpdate {
            from: 0,
            after: None,
            commits: (1..=6).map(oid).collect(),
            events: vec![(7, 4)],
        };
        update(&d, &all).unwrap();
        // What a resumed verify of commits 3..=4 adds is already there.
        let behind = IndexUpdate {
            from: 2,
            after: Some(oid(2)),
            commits: vec![oid(3), oid(4)],
            events: vec![],
        };
        update(&d, &behind).unwrap();
        let ix = load(&d).unwrap();
        assert_eq!((ix.len(), ix.events_of(7)), (6, vec![4]));
        // Commits that differ from the index's after position 2: what follows is replaced.
        let other = IndexUpdate {
            commits: vec![oid(3), oid(9)],
            ..behind.clone()
        };
        update(&d, &other).unwrap();
        let ix = load(&d).unwrap();
        assert_eq!((ix.len(), ix.commit(3)), (4, Some(oid(9))));
        assert!(ix.events_of(7).is_empty());
        // An update that does not continue the index at its place: it goes.
        let elsewhere = IndexUpdate {
            after: Some(oid(8)),
            ..behind
        };
        update(&d, &elsewhere).unwrap();
        assert!(load(&d).is_none());
    }

    #[test]
    fn event_positions_beyond_the_chain_and_torn_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(CHAIN), [1u8; 40]).unwrap();
        let mut ev = Vec::new();
        for p in [1u32, 5, 1] {
            ev.extend_from_slice(&7u128.to_be_bytes());
            ev.extend_from_slice(&p.to_le_bytes());
        }
        std::fs::write(d.join(EVENTS), &ev).unwrap();
        assert_eq!(load(d).unwrap().events_of(7), [1]);
        std::fs::write(d.join(CHAIN), [1u8; 41]).unwrap();
        assert!(load(d).is_none());
    }
}
