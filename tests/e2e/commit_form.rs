//! SPEC §4 / issue 10 §3: a commit is canonical. What `git log`, `%(trailers)` and
//! `git interpret-trailers` show is exactly what the hook verified: a landing commit whose
//! message or headers differ in any way from what aiaudit writes for it is refused, although
//! every trailer the engine reads is valid. (The suite-wide property — git's parsers read the
//! trailers the engine verified, for every landed commit — runs when each test's world drops.)

use crate::harness::*;

/// A valid approval, landed by a commit whose message also carries a paragraph that a reader
/// of `git log` takes for an approval by someone else.
#[test]
fn a_message_with_text_aiaudit_does_not_write_is_rejected() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let landed = w.approve_unpushed(&p, CAROL);
    let (subject, trailers) = landed.message.split_once("\n\n").expect("a trailer block");
    let forged = format!(
        "{subject}\n\nApproved-by: alice <alice@example.com> (approved on the phone)\n\n{trailers}"
    );
    let bad = w.with_message(&landed.commit, &forged);
    let found = w.push_rejected(
        &[&onto_main(&bad)],
        finding("commit-not-canonical")
            .commit(&bad)
            .mentions("line 3")
            .alone(),
    );
    assert!(found[0].text().contains("Approved-by: alice"), "{found:?}");
    // The commit aiaudit wrote lands.
    w.push_accepted(&[&onto_main(&landed.commit)]);
}

/// A trailer aiaudit does not write, or trailing blank lines git keeps, are not canonical.
#[test]
fn a_message_with_trailing_text_is_rejected() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let landed = w.approve_unpushed(&p, CAROL);
    for tail in ["See-also: https://evil.example/\n", "\n\n"] {
        let bad = w.with_message(&landed.commit, &format!("{}{tail}", landed.message));
        w.push_rejected(
            &[&onto_main(&bad)],
            finding("commit-not-canonical").commit(&bad).alone(),
        );
    }
}

/// A header aiaudit never writes (here `encoding`, which changes how git shows the message) is
/// refused with the header line named.
#[test]
fn a_commit_with_an_extra_header_is_rejected() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let landed = w.approve_unpushed(&p, CAROL);
    let raw = w.git(&["cat-file", "commit", &landed.commit]).ok();
    let (headers, message) = raw.split_once("\n\n").expect("headers and message");
    let crafted = format!("{headers}\nencoding ISO-8859-1\n\n{message}\n");
    let bad = w
        .git_stdin(
            &["hash-object", "-t", "commit", "-w", "--stdin"],
            crafted.as_bytes(),
        )
        .ok();
    w.push_rejected(
        &[&onto_main(&bad)],
        finding("commit-not-canonical")
            .commit(&bad)
            .mentions("encoding ISO-8859-1")
            .alone(),
    );
}

/// A proposal's commit is held to the same form: its message is the one `record` writes.
#[test]
fn a_proposal_with_a_rewritten_message_is_rejected() {
    let w = World::new();
    let p = w.record(BOB);
    let bad = w.with_message(
        &p.commit,
        &p.message.replacen("\n\n", "\n\nsee the ticket\n\n", 1),
    );
    w.push_rejected(
        &[&format!("+{bad}:{}", proposal_ref(&p.id))],
        finding("commit-not-canonical").commit(&bad).alone(),
    );
}

/// The same approval twice: git would show two approvals where the engine counts one.
#[test]
fn a_repeated_signature_trailer_is_rejected() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let landed = w.approve_unpushed(&p, CAROL);
    let approval = landed
        .message
        .lines()
        .find(|l| l.starts_with("Approved-by: "))
        .expect("an approval")
        .to_owned();
    let bad = w.with_message(&landed.commit, &format!("{}{approval}\n", landed.message));
    w.push_rejected(
        &[&onto_main(&bad)],
        finding("commit-not-canonical").commit(&bad).alone(),
    );
}
