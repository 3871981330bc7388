//! Issue 15, item 7: the content store. By default `record` keeps what informed the model
//! beside the ledger (`refs/aiaudit/content/<sha256>`), pushed with the proposal; an approver's
//! `show` fetches it from the server and checks it against the signed digests without keeping
//! it; an admin (and no one else) erases it with `content erase`, after which `show` says so and
//! the ledger still verifies. The hook's rules for content refs, attacked directly.

use crate::harness::*;
use sha2::Digest as _;

const PROMPT: &str = "Grant bob read access to the billing DB?\n";
const OUTPUT: &str = "Yes: a read-only role, 24 hours.\n";

fn sha(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn content_ref(text: &str) -> String {
    format!("refs/aiaudit/content/{}", sha(text))
}

/// alice and bob get forge logins (`<id>-gh`), so the server can name them.
fn with_logins(w: &World) {
    w.set_forge_logins(&[(ALICE, "alice-gh"), (BOB, "bob-gh")], "");
}

#[test]
fn content_is_kept_beside_the_ledger_shown_to_approvers_and_erased_by_an_admin() {
    let w = World::new();
    with_logins(&w);
    let d = w.land_proposal(BOB);
    let server_refs = w
        .git_in(
            &w.server,
            &[
                "for-each-ref",
                "--format=%(refname) %(objecttype)",
                "refs/aiaudit/",
            ],
        )
        .ok();
    assert_eq!(
        server_refs,
        {
            let mut v = [
                format!("{} blob", content_ref(PROMPT)),
                format!("{} blob", content_ref(OUTPUT)),
            ];
            v.sort();
            v.join("\n")
        },
        "the prompt and the output went to the server's content store with the proposal"
    );
    // Not in the ledger: the proposal adds the record alone.
    let files = w
        .git(&[
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            &d.commit,
        ])
        .ok();
    assert_eq!(files.lines().count(), 1, "{files}");

    // An approver's fresh clone: show fetches the content, checks it, keeps no ref.
    let clone = w.fresh_clone();
    let shown = w.aiaudit_in(&clone, &["show", &d.id]).ok();
    assert!(
        shown.contains(PROMPT.trim()) && shown.contains(OUTPUT.trim()),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("stored at {}", content_ref(PROMPT))),
        "{shown}"
    );
    assert_eq!(
        w.git_in(&clone, &["for-each-ref", "refs/aiaudit/"]).ok(),
        ""
    );
    let json: serde_json::Value =
        serde_json::from_str(&w.aiaudit_in(&clone, &["show", &d.id, "--json"]).ok()).unwrap();
    assert_eq!(
        json["stored_context"]["entries"][0]["content"]["content"],
        PROMPT
    );
    w.aiaudit_signed(CAROL, &["approve", &d.id, "--yes", "--push"])
        .ok();

    // Erasure: refused unless an admin the server names pushes it; nothing changes then.
    let before = w.server_refs();
    let anonymous = w.aiaudit(&["content", "erase", &d.id, "--push"]);
    assert_eq!(anonymous.status.code(), Some(1), "{anonymous}");
    assert!(
        anonymous.stderr.contains("error[content-erase-denied]"),
        "{anonymous}"
    );
    assert!(
        anonymous.stderr.contains("did not say who pushed"),
        "{anonymous}"
    );
    let erase_as = |login: &str| {
        w.aiaudit_in_env(
            &w.work,
            &["content", "erase", &d.id, "--push"],
            &[("GL_USERNAME", login)],
        )
    };
    let bob = erase_as("bob-gh");
    assert_eq!(bob.status.code(), Some(1), "{bob}");
    assert!(
        bob.stderr.contains("error[content-erase-denied]") && bob.stderr.contains("is no admin"),
        "{bob}"
    );
    assert_eq!(w.server_refs(), before);
    assert!(
        w.git(&["rev-parse", "--verify", "-q", &content_ref(PROMPT)])
            .status
            .success(),
        "a refused erasure leaves the clone's content too"
    );

    let alice = erase_as("alice-gh");
    alice.ok();
    assert!(
        alice
            .stderr
            .contains("erased 2 content(s) from origin's content store"),
        "{alice}"
    );
    assert_eq!(
        w.git_in(&w.server, &["for-each-ref", "refs/aiaudit/"]).ok(),
        ""
    );
    assert_eq!(w.git(&["for-each-ref", "refs/aiaudit/"]).ok(), "");
    // The server's objects go with git gc; the ledger does not change.
    w.git_in(&w.server, &["gc", "--quiet", "--prune=now"]).ok();
    let prompt_blob = {
        let mut c = w.command("git", &w.work);
        c.args(["hash-object", "--stdin"]);
        w.run_command(c, Some(PROMPT.as_bytes())).ok()
    };
    assert!(
        !w.git_in(&w.server, &["cat-file", "-e", &prompt_blob])
            .status
            .success(),
        "the erased prompt's blob is gone from the server"
    );
    let auditor = w.fresh_clone();
    let shown = w.aiaudit_in(&auditor, &["show", &d.id]).ok();
    assert!(!shown.contains(PROMPT.trim()), "{shown}");
    assert!(
        shown.contains("content not in the content store: erased, or never kept"),
        "{shown}"
    );
    w.aiaudit_in(&auditor, &["verify", "--full"]).ok();

    // --no-content-store keeps nothing anywhere.
    let mut args = w.config_change_args(BOB);
    args.extend(["--no-content-store".into(), "--push".into()]);
    w.aiaudit(&argv(&args)).ok();
    assert_eq!(
        w.git_in(&w.server, &["for-each-ref", "refs/aiaudit/"]).ok(),
        ""
    );
}

#[test]
fn the_hook_judges_every_content_ref() {
    let w = World::new();
    let blob = |text: &str| {
        let mut c = w.command("git", &w.work);
        c.args(["hash-object", "-w", "--stdin"]);
        w.run_command(c, Some(text.as_bytes())).ok()
    };
    // Content no decision in the push names.
    let loose = "a note nobody recorded\n";
    let oid = blob(loose);
    w.push_rejected(
        &[&format!("{oid}:{}", content_ref(loose))],
        finding("stored-context-unreferenced"),
    );
    // A name that is not its content's digest.
    w.push_rejected(
        &[&format!("{oid}:{}", content_ref("something else\n"))],
        finding("stored-context-mismatch"),
    );
    // Something that looks like a credential.
    let secret = "aws_access_key_id = AKIAZ3MHK6EXAMPLE7QQ\n";
    let oid = blob(secret);
    w.push_rejected(
        &[&format!("{oid}:{}", content_ref(secret))],
        finding("stored-context-secret"),
    );
    // Not a content name; not a blob.
    let oid = blob(loose);
    w.push_rejected(
        &[&format!("{oid}:refs/aiaudit/content/not-a-digest")],
        finding("content-ref-invalid"),
    );
    let head = w.rev_parse("HEAD");
    w.push_rejected(
        &[&format!("{head}:{}", content_ref(loose))],
        finding("content-ref-invalid"),
    );
    // A recorded decision's content lands with it; moving it afterwards is refused.
    let d = w.land_proposal(BOB);
    assert!(w.server_ref(&content_ref(PROMPT)).is_some(), "{}", d.id);
    w.push_rejected(
        &[&format!("+{}:{}", blob(OUTPUT), content_ref(PROMPT))],
        finding("content-ref-invalid"),
    );
}
