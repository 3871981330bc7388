//! Revisions of a product repository, as `aiaudit check` names them: full or abbreviated
//! commit ids, `HEAD`, branch, tag and remote-tracking names with `~N` / `^N` suffixes, and
//! `BASE..HEAD` ranges walked by committer date as git does (reachable from HEAD, not from
//! BASE). Read with gix, like every other object.

use super::{CommitData, ObjectKind, Oid, Store, StoreError};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Why a revision or range cannot be read. Messages name the revision.
#[derive(Debug, thiserror::Error)]
pub enum RevError {
    #[error("unknown revision `{0}` in this repository")]
    Unknown(String),
    #[error("`{spec}` names a {kind}, not a commit")]
    NotACommit { spec: String, kind: String },
    #[error("`{0}` is ambiguous: give more of the commit id")]
    Ambiguous(String),
    #[error("`{spec}`: {message}")]
    Syntax { spec: String, message: String },
    /// A commit of the range is not in the repository (a shallow clone's boundary).
    #[error("the history of the range is incomplete: commit {0} is missing (a shallow clone?)")]
    Incomplete(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = RevError> = std::result::Result<T, E>;

fn peel_to_commit(store: &Store, mut oid: Oid, spec: &str) -> Result<Oid> {
    for _ in 0..16 {
        match store.object_kind(oid)? {
            Some(ObjectKind::Commit) => return Ok(oid),
            Some(ObjectKind::Tag) => oid = store.tag(oid)?.target,
            Some(k) => {
                return Err(RevError::NotACommit {
                    spec: spec.to_owned(),
                    kind: format!("{k:?}"),
                })
            }
            None => return Err(RevError::Unknown(spec.to_owned())),
        }
    }
    Err(syntax(spec, "too many nested tags"))
}

fn syntax(spec: &str, message: impl Into<String>) -> RevError {
    RevError::Syntax {
        spec: spec.to_owned(),
        message: message.into(),
    }
}

fn resolve_base(store: &Store, name: &str) -> Result<Oid> {
    let hex = name.len() >= 4 && name.bytes().all(|b| b.is_ascii_hexdigit());
    let full = store.object_hash().len_in_hex();
    if hex && name.len() == full {
        let oid = Oid::from_hex(name.as_bytes()).map_err(|e| syntax(name, e.to_string()))?;
        return peel_to_commit(store, oid, name);
    }
    let name = if name == "@" { "HEAD" } else { name };
    let candidates = [
        name.to_owned(),
        format!("refs/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/heads/{name}"),
        format!("refs/remotes/{name}"),
        format!("refs/remotes/{name}/HEAD"),
    ];
    for c in &candidates {
        if let Ok(Some(oid)) = store.ref_target(c) {
            return peel_to_commit(store, oid, name);
        }
    }
    if hex && name.len() < full {
        let prefix = gix::hash::Prefix::from_hex(name).map_err(|e| syntax(name, e.to_string()))?;
        match store.repo.objects.lookup_prefix(prefix, None) {
            Ok(Some(Ok(oid))) => return peel_to_commit(store, oid, name),
            Ok(Some(Err(()))) => return Err(RevError::Ambiguous(name.to_owned())),
            Ok(None) => {}
            Err(e) => {
                return Err(RevError::Store(StoreError::Other(format!(
                    "looking up `{name}`: {e}"
                ))))
            }
        }
    }
    Err(RevError::Unknown(name.to_owned()))
}

/// Resolves a revision: a base (id, ref name, HEAD) with `~N` and `^N` suffixes.
fn resolve(store: &Store, spec: &str) -> Result<Oid> {
    let cut = spec.find(['~', '^']).unwrap_or(spec.len());
    let mut oid = resolve_base(store, &spec[..cut])?;
    let ops = &spec.as_bytes()[cut..];
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        i += 1;
        let start = i;
        while i < ops.len() && ops[i].is_ascii_digit() {
            i += 1;
        }
        let n: usize = if start == i {
            1
        } else {
            std::str::from_utf8(&ops[start..i])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| syntax(spec, "bad number"))?
        };
        let parent = |oid: Oid, k: usize| -> Result<Oid> {
            let c = store
                .commit(oid)
                .map_err(|_| RevError::Unknown(spec.to_owned()))?;
            c.parents
                .get(k)
                .copied()
                .ok_or_else(|| syntax(spec, format!("commit {oid} has no parent number {}", k + 1)))
        };
        match op {
            b'~' => {
                for _ in 0..n {
                    oid = parent(oid, 0)?;
                }
            }
            b'^' if n > 0 => oid = parent(oid, n - 1)?,
            b'^' => {}
            _ => return Err(syntax(spec, "unsupported revision syntax")),
        }
    }
    Ok(oid)
}

const UNINTERESTING: u8 = 1;
const QUEUED: u8 = 2;
const POPPED: u8 = 4;

/// Commits reachable from `include` and not from `exclude`: a walk by committer date that stops
/// once only excluded commits remain (git's `A..B`). Oldest first.
struct Walk<'s> {
    store: &'s Store,
    flags: HashMap<Oid, u8>,
    /// `None`: the commit is not in the repository (a shallow clone's boundary).
    loaded: HashMap<Oid, Option<CommitData>>,
    heap: BinaryHeap<(i64, Reverse<u64>, Oid)>,
    seq: u64,
}

impl Walk<'_> {
    fn enqueue(&mut self, oid: Oid, unint: bool) {
        let mut stack = vec![(oid, unint)];
        while let Some((oid, unint)) = stack.pop() {
            let f = self.flags.entry(oid).or_insert(0);
            let mut newly_unint = false;
            if unint && *f & UNINTERESTING == 0 {
                *f |= UNINTERESTING;
                newly_unint = *f & POPPED != 0;
            }
            if *f & QUEUED == 0 {
                *f |= QUEUED;
                let c = self.store.commit(oid).ok();
                let t = c.as_ref().map(|c| c.committer.time).unwrap_or(i64::MIN);
                self.loaded.insert(oid, c);
                self.seq += 1;
                self.heap.push((t, Reverse(self.seq), oid));
            }
            if newly_unint {
                // Already walked as wanted (clock skew): its ancestors are excluded too.
                if let Some(Some(c)) = self.loaded.get(&oid) {
                    stack.extend(c.parents.iter().map(|p| (*p, true)));
                }
            }
        }
    }

    fn unint(&self, oid: &Oid) -> bool {
        self.flags.get(oid).is_some_and(|f| f & UNINTERESTING != 0)
    }

    fn run(mut self, include: Oid, exclude: Option<Oid>) -> Result<Vec<CommitData>> {
        self.enqueue(include, false);
        if let Some(x) = exclude {
            self.enqueue(x, true);
        }
        let mut order = Vec::new();
        let mut missing = Vec::new();
        let mut slop = 5;
        while let Some((_, _, oid)) = self.heap.pop() {
            *self.flags.entry(oid).or_insert(0) |= POPPED;
            let unint = self.unint(&oid);
            let parents = match self.loaded.get(&oid) {
                Some(Some(c)) => c.parents.clone(),
                _ => {
                    if !unint {
                        missing.push(oid);
                    }
                    continue;
                }
            };
            for p in parents {
                self.enqueue(p, unint);
            }
            if !unint {
                order.push(oid);
            }
            if self.heap.iter().all(|(_, _, o)| self.unint(o)) {
                if slop == 0 {
                    break;
                }
                slop -= 1;
            } else {
                slop = 5;
            }
        }
        if let Some(m) = missing.iter().find(|m| !self.unint(m)) {
            return Err(RevError::Incomplete(m.to_string()));
        }
        let mut out = Vec::new();
        for oid in order.into_iter().rev() {
            if !self.unint(&oid) {
                if let Some(Some(c)) = self.loaded.remove(&oid) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}

/// The commits of `range` (`A..B` or one revision), oldest first.
pub(super) fn commits_in(store: &Store, range: &str) -> Result<Vec<CommitData>> {
    if range.contains("...") {
        return Err(syntax(
            range,
            "symmetric ranges (A...B) are not supported; use BASE..HEAD",
        ));
    }
    match range.split_once("..") {
        Some((a, b)) => {
            let or_head = |s: &str| {
                if s.is_empty() {
                    "HEAD".to_owned()
                } else {
                    s.to_owned()
                }
            };
            let exclude = resolve(store, &or_head(a))?;
            let include = resolve(store, &or_head(b))?;
            Walk {
                store,
                flags: HashMap::new(),
                loaded: HashMap::new(),
                heap: BinaryHeap::new(),
                seq: 0,
            }
            .run(include, Some(exclude))
        }
        None => {
            let oid = resolve(store, range)?;
            Ok(vec![store.commit(oid)?])
        }
    }
}
