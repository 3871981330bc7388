//! What `git fsck --strict` reports about a tree object, checked on its raw bytes: every tree
//! the rule engine reads as new (pushed, or added by a commit of history) is held to it, so the
//! hook, `verify`, `show` and git itself can never disagree about what a tree holds (a
//! duplicate `policy.yaml`, an unsorted tree whose lookups depend on the reader, a `.git`
//! entry). The message ids are git's own, as listed in git's `fsck.h` and documented in
//! `Documentation/fsck-msgids.adoc`: `badTree`, `duplicateEntries`, `treeNotSorted`,
//! `zeroPaddedFilemode`, `badFilemode`, `emptyName`, `fullPathname`, `hasDot`, `hasDotdot`,
//! `hasDotgit`, `nullSha1`.

use std::cmp::Ordering;

/// One problem git's fsck would report, with its message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckProblem {
    /// git's fsck message id (`treeNotSorted`, …).
    pub id: &'static str,
    pub message: String,
}

fn problem(id: &'static str, message: impl Into<String>) -> FsckProblem {
    FsckProblem {
        id,
        message: message.into(),
    }
}

/// The modes git writes (`git fsck --strict` flags any other, 100664 included).
const MODES: [u32; 5] = [0o100644, 0o100755, 0o120000, 0o40000, 0o160000];

/// `.git`, and what a case-insensitive (NTFS, HFS+) file system takes for it: case variants,
/// the 8.3 short name `git~1`, trailing dots and spaces (NTFS), ignorable code points (HFS+).
/// Allocation-free for ASCII names, which is every name of a normal tree.
fn is_dotgit(name: &[u8]) -> bool {
    let plain = |n: &[u8]| {
        let mut end = n.len();
        while end > 0 && matches!(n[end - 1], b'.' | b' ') {
            end -= 1;
        }
        let n = &n[..end];
        n.eq_ignore_ascii_case(b".git") || n.eq_ignore_ascii_case(b"git~1")
    };
    if name.is_ascii() {
        return plain(name);
    }
    let Ok(s) = std::str::from_utf8(name) else {
        return false;
    };
    let folded: String = s.chars().filter(|c| !crate::text::is_hidden(*c)).collect();
    plain(folded.as_bytes())
}

/// One entry of a raw tree object, as read.
pub struct RawEntry<'a> {
    pub name: &'a [u8],
    /// The mode's value (`0o100644`, …); `None` when it is not octal.
    pub mode: Option<u32>,
    pub oid: &'a [u8],
}

/// Every problem of the raw tree object `raw` (ids of `hash_len` bytes), in entry order, each
/// kind of problem reported once.
#[cfg(test)]
pub fn check_tree(raw: &[u8], hash_len: usize) -> Vec<FsckProblem> {
    read_tree(raw, hash_len, |_| {})
}

/// Reads the raw tree object `raw` in one pass: every entry it can read goes to `each`, and
/// every problem `git fsck --strict` would report is returned (each kind once).
pub fn read_tree<'a>(
    raw: &'a [u8],
    hash_len: usize,
    mut each: impl FnMut(RawEntry<'a>),
) -> Vec<FsckProblem> {
    let mut out: Vec<FsckProblem> = Vec::new();
    let mut add = |p: FsckProblem| {
        if !out.iter().any(|o| o.id == p.id) {
            out.push(p);
        }
    };
    let mut rest = raw;
    let mut prev: Option<(&[u8], bool)> = None;
    while !rest.is_empty() {
        let Some(space) = memchr::memchr(b' ', rest) else {
            add(problem("badTree", "an entry has no mode"));
            break;
        };
        let mode = &rest[..space];
        let after = &rest[space + 1..];
        let Some(nul) = memchr::memchr(0, after) else {
            add(problem("badTree", "an entry's name is not terminated"));
            break;
        };
        let name = &after[..nul];
        if after.len() < nul + 1 + hash_len {
            add(problem("badTree", "an entry's object id is cut short"));
            break;
        }
        let oid = &after[nul + 1..nul + 1 + hash_len];
        rest = &after[nul + 1 + hash_len..];
        let shown = || String::from_utf8_lossy(name);
        // The modes git writes, without parsing; anything else the slow way.
        let mode_value = match mode {
            b"100644" => Some(0o100644),
            b"40000" => Some(0o40000),
            b"100755" => Some(0o100755),
            b"120000" => Some(0o120000),
            b"160000" => Some(0o160000),
            _ if mode.is_empty() || !mode.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                add(problem(
                    "badTree",
                    format!(
                        "entry `{}` has mode `{}`",
                        shown(),
                        String::from_utf8_lossy(mode)
                    ),
                ));
                None
            }
            _ => mode.iter().try_fold(0u32, |v, b| {
                v.checked_mul(8)?.checked_add(u32::from(b - b'0'))
            }),
        };
        if mode.len() > 1 && mode[0] == b'0' {
            add(problem(
                "zeroPaddedFilemode",
                format!(
                    "entry `{}` has a zero-padded mode `{}`",
                    shown(),
                    String::from_utf8_lossy(mode)
                ),
            ));
        }
        if let Some(v) = mode_value.filter(|v| !MODES.contains(v)) {
            add(problem(
                "badFilemode",
                format!("entry `{}` has mode {v:o}", shown()),
            ));
        }
        match name {
            b"" => add(problem("emptyName", "an entry has an empty name")),
            b"." => add(problem("hasDot", "an entry is named `.`")),
            b".." => add(problem("hasDotdot", "an entry is named `..`")),
            n if memchr::memchr(b'/', n).is_some() => add(problem(
                "fullPathname",
                format!("entry `{}` holds a `/`", shown()),
            )),
            // Only names starting `.`, `g`, `G` or with a non-ASCII byte can read as `.git`.
            n if matches!(n[0], b'.' | b'g' | b'G' | 0x80..) && is_dotgit(n) => add(problem(
                "hasDotgit",
                format!("entry `{}` is read as `.git`", shown()),
            )),
            _ => {}
        }
        if oid.iter().all(|b| *b == 0) {
            add(problem(
                "nullSha1",
                format!("entry `{}` points to the null id", shown()),
            ));
        }
        each(RawEntry {
            name,
            mode: mode_value,
            oid,
        });
        let is_tree = mode_value == Some(0o40000);
        if let Some((p, p_tree)) = prev {
            if p == name {
                add(problem(
                    "duplicateEntries",
                    format!("entry `{}` appears more than once", shown()),
                ));
            } else if order(p, p_tree, name, is_tree) != Ordering::Less {
                add(problem(
                    "treeNotSorted",
                    format!(
                        "entry `{}` comes after `{}`",
                        shown(),
                        String::from_utf8_lossy(p)
                    ),
                ));
            }
        }
        prev = Some((name, is_tree));
    }
    out
}

/// git's tree order: by name, a tree's name compared as if followed by `/`.
fn order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    let next = |s: &[u8], tree: bool| s.get(n).copied().or(tree.then_some(b'/'));
    next(a, a_tree).cmp(&next(b, b_tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: &str, name: &[u8], oid: u8) -> Vec<u8> {
        let mut v = format!("{mode} ").into_bytes();
        v.extend_from_slice(name);
        v.push(0);
        v.extend_from_slice(&[oid; 20]);
        v
    }

    fn ids(entries: &[Vec<u8>]) -> Vec<&'static str> {
        check_tree(&entries.concat(), 20)
            .iter()
            .map(|p| p.id)
            .collect()
    }

    #[test]
    fn flags_what_git_fsck_flags() {
        assert!(ids(&[entry("100644", b"a", 1), entry("40000", b"b", 2)]).is_empty());
        // `a.b` sorts before the tree `a` (`a/`), after the file `a`.
        assert!(ids(&[entry("100644", b"a.b", 1), entry("40000", b"a", 2)]).is_empty());
        assert_eq!(
            ids(&[entry("100644", b"b", 1), entry("100644", b"a", 2)]),
            ["treeNotSorted"]
        );
        assert_eq!(
            ids(&[entry("100644", b"a", 1), entry("100644", b"a", 2)]),
            ["duplicateEntries"]
        );
        assert_eq!(
            ids(&[entry("100644", b"a", 1), entry("40000", b"a", 2)]),
            ["duplicateEntries"]
        );
        assert_eq!(ids(&[entry("040000", b"d", 1)]), ["zeroPaddedFilemode"]);
        assert_eq!(ids(&[entry("100664", b"f", 1)]), ["badFilemode"]);
        assert_eq!(ids(&[entry("100644", b"", 1)]), ["emptyName"]);
        assert_eq!(ids(&[entry("100644", b"..", 1)]), ["hasDotdot"]);
        assert_eq!(ids(&[entry("40000", b".GIT", 1)]), ["hasDotgit"]);
        assert_eq!(ids(&[entry("40000", b"git~1", 1)]), ["hasDotgit"]);
        assert_eq!(
            ids(&[entry("40000", ".g\u{200c}it".as_bytes(), 1)]),
            ["hasDotgit"]
        );
        assert_eq!(ids(&[entry("100644", b"x", 0)]), ["nullSha1"]);
        assert_eq!(ids(&[b"100644 cut".to_vec()]), ["badTree"]);
    }
}
