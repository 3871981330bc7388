//! Pushes that rewrite the ledger or put something other than a new record on it.

use crate::harness::*;

#[test]
fn rejects_modified_record() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let text = replace_once(&d.text, "Raise the rate limit", "Lower the rate limit");
    let c = w.commit(&d.commit, &[Edit::File(&d.path, text.as_bytes())], "edit\n");
    w.push_rejected(
        &[&onto_main(&c)],
        finding("record-modified").commit(&c).path(&d.path).alone(),
    );
}

#[test]
fn rejects_deleted_record() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let c = w.commit(&d.commit, &[Edit::Remove(&d.path)], "remove\n");
    w.push_rejected(
        &[&onto_main(&c)],
        finding("record-deleted").commit(&c).path(&d.path).alone(),
    );
}

#[test]
fn rejects_renamed_record() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let to = "decisions/1999/01/moved.yaml";
    let c = w.commit(
        &d.commit,
        &[Edit::Remove(&d.path), Edit::File(to, d.text.as_bytes())],
        "move\n",
    );
    let findings = w.push_rejected(
        &[&onto_main(&c)],
        finding("record-renamed").commit(&c).path(&d.path).alone(),
    );
    assert!(
        findings.iter().any(|f| f.text().contains(to)),
        "{findings:?}"
    );
}

#[test]
fn rejects_file_outside_record_folders() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File("notes.txt", b"hello\n")], "notes\n");
    w.push_rejected(
        &[&onto_main(&c)],
        finding("path-not-allowed")
            .commit(&c)
            .path("notes.txt")
            .alone(),
    );
}

/// A symlink where a record belongs, pointing at a governance file.
#[test]
fn rejects_symlink() {
    let w = World::new();
    let p = w.record(BOB);
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(
        &main,
        &[Edit::Symlink(&p.path, "../../../README.md")],
        &p.message,
    );
    w.push_rejected(
        &[&onto_main(&c)],
        finding("symlink-not-allowed")
            .commit(&c)
            .path(&p.path)
            .alone(),
    );
}

/// A record padded past the 256 KiB cap.
#[test]
fn rejects_oversized_file() {
    let w = World::new();
    let p = w.record(BOB);
    let text = format!("{}{}", p.text, "# padding\n".repeat(300 * 1024 / 10));
    assert!(text.len() > 256 * 1024);
    let c = w.decision_commit(&p, &text, &[CAROL]);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("file-too-large").commit(&c).path(&p.path).alone(),
    );
}

/// The last commit of main rewritten (same tree, other message) and force-pushed.
#[test]
fn rejects_force_push_of_main() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let rewritten = w.with_message(&main, "rewritten history\n");
    w.push_rejected(
        &[&format!("+{rewritten}:{MAIN}")],
        finding("non-fast-forward").refname(MAIN).alone(),
    );
}

#[test]
fn rejects_deletion_of_main() {
    let w = World::new();
    w.push_rejected(
        &[&format!(":{MAIN}")],
        finding("main-deleted").refname(MAIN).alone(),
    );
}

/// A landed decision's exact file and approval, added again under another month's folder.
#[test]
fn rejects_duplicate_id() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let other = format!("decisions/1999/01/01/00/{}.yaml", d.id);
    let c = w.commit(
        &d.commit,
        &[Edit::File(&other, d.text.as_bytes())],
        &d.message,
    );
    let findings = w.push_rejected(
        &[&onto_main(&c)],
        finding("duplicate-id").commit(&c).path(&other),
    );
    // Its path does not match its date either; nothing else is wrong with it.
    assert_eq!(codes(&findings), ["path-mismatch", "duplicate-id"]);
}

#[test]
fn rejects_ref_outside_main_and_proposals() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    w.push_rejected(
        &[&format!("{main}:refs/heads/feature")],
        finding("ref-not-allowed")
            .refname("refs/heads/feature")
            .alone(),
    );
}
