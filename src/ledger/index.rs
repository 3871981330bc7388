//! The clone's index of main, kept by `verify` beside its state in `.git/aiaudit/`:
//!
//! - `index-v1-chain`: main's first-parent chain as it was verified, oldest first, one raw
//!   object id (20 bytes) per commit;
//! - `index-v1-events`: one 20-byte record per commit on that chain that adds an event: the
//!   decision's id (its ULID's 16 bytes, big-endian) and the commit's position on the chain
//!   (4 bytes, little-endian), in history order.
//!
//! With it, `show` finds where a decision landed by bisecting the chain (a few tree lookups) and
//! the events about it by scanning 20 bytes per event, instead of reading every commit since
//! the decision: the oldest decision of a long history is as quick to show as the newest.
//!
//! It is only a cache, never evidence: a run that checked everything rewrites it, a resumed run
//! appends to it only when it continues exactly the chain the files end with (otherwise they
//! are removed), readers ignore files whose sizes do not fit, and what `show` finds through it
//! is checked against the objects (the landing commit's parent, the event commit's trailers).
//! Events are appended before the chain, so an interrupted update leaves event positions beyond
//! the chain's end, which readers skip and the next update writes again.

use crate::engine::IndexUpdate;
use crate::store::Oid;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const CHAIN: &str = "index-v1-chain";
const EVENTS: &str = "index-v1-events";
const ID: usize = 20;
const EVENT: usize = 20;

/// The index on disk: the chain is read a commit at a time where asked (a bisection reads ~20
/// of 1,000,000), the events whole (they are scanned).
pub struct Index {
    chain: std::fs::File,
    len: usize,
    events: Vec<u8>,
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

    /// The positions of the commits adding an event about the decision `key` (its 128-bit
    /// id), in history order, each once, only those on the indexed chain.
    pub fn events_of(&self, key: u128) -> Vec<usize> {
        let want = key.to_be_bytes();
        let mut out: Vec<usize> = self
            .events
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

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(CHAIN), dir.join(EVENTS))
}

/// Reads the index in `dir` (the clone's `.git/aiaudit`); `None` when there is none or its
/// files do not have the sizes of whole records.
pub fn load(dir: &Path) -> Option<Index> {
    let (chain, events) = paths(dir);
    let chain = std::fs::File::open(chain).ok()?;
    let size = usize::try_from(chain.metadata().ok()?.len()).ok()?;
    let events = std::fs::read(events).ok()?;
    (size > 0 && size % ID == 0 && events.len() % EVENT == 0).then_some(Index {
        chain,
        len: size / ID,
        events,
    })
}

/// Applies what a `verify` run learned to the index in `dir`. A run from the root rewrites
/// it; a later one appends when the files end exactly where its commits continue, and removes
/// them otherwise (the next run from the root writes them again).
pub fn update(dir: &Path, u: &IndexUpdate) -> std::io::Result<()> {
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
    let fits = match (std::fs::metadata(&chain_path), u.after) {
        (Ok(m), Some(after)) if m.len() == (u.from * ID) as u64 => {
            last_id(&chain_path)?.is_some_and(|last| last == after)
        }
        _ => false,
    };
    if !fits || std::fs::metadata(&events_path).is_err() {
        for p in [&chain_path, &events_path] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        return Ok(());
    }
    append(&events_path, &event_bytes)?;
    append(&chain_path, &chain_bytes)
}

fn last_id(path: &Path) -> std::io::Result<Option<Oid>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    if f.metadata()?.len() < ID as u64 {
        return Ok(None);
    }
    f.seek(SeekFrom::End(-(ID as i64)))?;
    let mut b = [0u8; ID];
    f.read_exact(&mut b)?;
    Ok(Oid::try_from(&b[..]).ok())
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
    let mut out = std::io::BufWriter::new(tempfile::NamedTempFile::new_in(dir)?);
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
