//! Issue 10 §4: only well-formed git objects. A tree `git fsck --strict` flags is refused by
//! the engine itself (so `verify` flags it on a server without the hook too), the finding
//! naming the tree and git's fsck message id; `hook install` also sets receive.fsckObjects, so
//! git refuses such objects before the hook runs.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// The raw bytes of a tree with `entries` (mode, name, hex id) in the given order.
fn raw_tree(entries: &[(String, String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (mode, name, hex) in entries {
        out.extend_from_slice(mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex object id")),
        );
    }
    out
}

/// The entries of tree `rev`, as `git ls-tree` lists them (git's order).
fn entries(w: &World, rev: &str) -> Vec<(String, String, String)> {
    w.git(&["ls-tree", rev])
        .ok()
        .lines()
        .map(|l| {
            let (meta, name) = l.split_once('\t').expect("ls-tree line");
            let mut m = meta.split(' ');
            let mode = m.next().expect("mode").trim_start_matches('0').to_owned();
            m.next();
            (mode, name.to_owned(), m.next().expect("id").to_owned())
        })
        .collect()
}

/// A landing commit for a valid, approved decision whose root tree is rewritten by `edit`
/// (written as is, with `hash-object --literally`); returns (commit, tree).
fn landing_with_root(
    w: &World,
    edit: impl Fn(&mut Vec<(String, String, String)>),
) -> (String, String) {
    let p = w.land_proposal(BOB);
    let landed = w.approve_unpushed(&p, CAROL);
    let mut root = entries(w, &format!("{}^{{tree}}", landed.commit));
    edit(&mut root);
    let tree = w
        .git_stdin(
            &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
            &raw_tree(&root),
        )
        .ok();
    let parent = w.rev_parse(&format!("{}^", landed.commit));
    (w.commit_tree(&tree, &parent, &landed.message), tree)
}

/// What `git fsck --strict` says about the work clone's objects.
fn git_fsck(w: &World) -> String {
    let out = w.git(&["fsck", "--strict", "--no-dangling"]);
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn an_unsorted_tree_is_refused_by_git_and_by_the_engine() {
    let w = World::new();
    let (bad, tree) = landing_with_root(&w, |root| root.reverse());
    // Git itself calls it treeNotSorted ...
    w.git(&["update-ref", "refs/heads/probe", &bad]).ok();
    assert!(git_fsck(&w).contains("treeNotSorted"), "{}", git_fsck(&w));
    // ... and refuses it on receive, as `hook install` configured the server.
    let out = w.push(&[&onto_main(&bad)]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("treeNotSorted"), "{out}");
    // On a server that does not check objects, the engine refuses it, with git's message id.
    w.git_in(&w.server, &["config", "receive.fsckObjects", "false"])
        .ok();
    w.push_rejected(
        &[&onto_main(&bad)],
        finding("object-malformed")
            .commit(&bad)
            .mentions("treeNotSorted")
            .mentions(&tree)
            .alone(),
    );
    assert_eq!(w.server_ref(MAIN), Some(w.rev_parse(&format!("{bad}^"))));
}

#[test]
fn duplicate_entries_and_a_dotgit_name_are_refused_with_their_fsck_ids() {
    type Root = Vec<(String, String, String)>;
    let readme = |root: &Root| {
        let at = root
            .iter()
            .position(|e| e.1 == "README.md")
            .expect("README");
        (at, root[at].clone())
    };
    for (id, edit) in [
        (
            "duplicateEntries",
            Box::new(|root: &mut Root| {
                let (at, entry) = readme(root);
                root.insert(at, entry);
            }) as Box<dyn Fn(&mut Root)>,
        ),
        (
            "hasDotgit",
            Box::new(|root: &mut Root| {
                let (_, entry) = readme(root);
                root.insert(0, ("100644".into(), ".GIT".into(), entry.2));
            }),
        ),
    ] {
        let w = World::new();
        w.git_in(&w.server, &["config", "receive.fsckObjects", "false"])
            .ok();
        let (bad, _) = landing_with_root(&w, edit);
        w.git(&["update-ref", "refs/heads/probe", &bad]).ok();
        assert!(git_fsck(&w).contains(id), "git fsck: {}", git_fsck(&w));
        let found = w.push_rejected(
            &[&onto_main(&bad)],
            finding("object-malformed").commit(&bad).mentions(id),
        );
        assert!(!found.is_empty());
    }
}

/// `verify` on a clone whose main carries the malformed tree (as a server without the hook
/// would serve it) flags the commit the same way.
#[test]
fn verify_flags_a_malformed_tree_in_history() {
    let w = World::new();
    let (bad, _) = landing_with_root(&w, |root| root.reverse());
    w.git(&["update-ref", MAIN, &bad]).ok();
    let out = w.aiaudit(&["verify", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("object-malformed"), "{out}");
    assert!(out.stderr.contains("treeNotSorted"), "{out}");
}

/// The single pack index of the git directory `git_dir` after `git repack -a -d`, made writable.
fn repacked_index(w: &World, repo: &Path) -> PathBuf {
    w.git_in(repo, &["repack", "-q", "-a", "-d"]).ok();
    let pack_dir = if repo.join(".git").is_dir() {
        repo.join(".git/objects/pack")
    } else {
        repo.join("objects/pack")
    };
    let idx: Vec<PathBuf> = std::fs::read_dir(&pack_dir)
        .expect("pack directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    assert_eq!(idx.len(), 1, "one pack after repack -a -d: {idx:?}");
    let mut perm = std::fs::metadata(&idx[0]).expect("idx").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&idx[0], perm).expect("chmod idx");
    idx[0].clone()
}

/// Every 32-bit pack offset of version 2 index `idx` marked as a reference into the 64-bit
/// table (which the index does not have), as a corrupted or hostile index would be.
fn point_offsets_past_the_index(idx: &Path) {
    let mut b = std::fs::read(idx).expect("read idx");
    assert_eq!(&b[..8], b"\xfftOc\0\0\0\x02", "a version 2 index");
    let n = u32::from_be_bytes(b[8 + 255 * 4..8 + 256 * 4].try_into().expect("4 bytes")) as usize;
    let offsets = 8 + 256 * 4 + n * 20 + n * 4;
    for k in 0..n {
        b[offsets + 4 * k] |= 0x80;
    }
    std::fs::write(idx, b).expect("write idx");
}

/// A pack index whose offsets point past its own tables is an error naming an object, never a
/// crash: gix checked that by scanning every offset each time it opened an index, aiaudit's
/// patched gix-pack checks where an offset is read (vendor/README.md).
#[test]
fn a_pack_index_pointing_past_itself_is_an_error_not_a_crash() {
    let w = World::new();
    w.land(BOB, CAROL);
    w.git(&["fetch", "-q", "origin"]).ok();
    let ok = w.aiaudit(&["verify", "--full"]);
    assert_eq!(ok.status.code(), Some(0), "{ok}");

    let idx = repacked_index(&w, &w.work);
    point_offsets_past_the_index(&idx);
    let out = w.aiaudit(&["verify", "--full"]);
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(out.stderr.contains("object"), "{out}");
    assert!(out.stderr.contains("refs/heads/main"), "{out}");

    // A truncated 64-bit table (the index's size no longer adds up) is refused on opening.
    let mut b = std::fs::read(&idx).expect("read idx");
    b.truncate(b.len() - 44);
    b.extend_from_slice(&[0; 40]);
    std::fs::write(&idx, b).expect("write idx");
    let out = w.aiaudit(&["verify", "--full"]);
    assert_eq!(out.status.code(), Some(3), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}
