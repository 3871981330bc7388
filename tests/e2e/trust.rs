//! The trust lifecycle over time: checkpoints the server never lets move, and a verifier that
//! remembers what it verified.

use crate::harness::*;

fn checkpoint(w: &World, who: &str, name: &str) -> Out {
    w.aiaudit_signed(who, &["checkpoint", name, "--push"])
}

#[test]
fn checkpoints_are_admin_signed_and_never_move() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    checkpoint(&w, ALICE, "q1").ok();
    let tag = "refs/tags/checkpoint/q1";
    assert!(w.server_ref(tag).is_some());
    // Stock git + GnuPG verify the tag (alice's key was imported into this world's keyring).
    w.sign(ALICE, b"import the key");
    let verified = w.git(&["verify-tag", "checkpoint/q1"]);
    assert!(
        verified.status.success() && verified.stderr.contains("Good signature"),
        "{verified}"
    );

    w.push_rejected(
        &[&format!(":{tag}")],
        finding("checkpoint-moved").refname(tag),
    );
    let parent = w.rev_parse(&format!("{}~1", d.commit));
    w.push_rejected(
        &[&format!("+{parent}:{tag}")],
        finding("checkpoint-moved").refname(tag),
    );
}

#[test]
fn rejects_checkpoint_not_signed_by_an_admin() {
    let w = World::new();
    w.land(BOB, CAROL);
    // bob is no admin: aiaudit refuses, and a hand-made unsigned tag is refused by the server.
    let refused = checkpoint(&w, BOB, "mine");
    assert_eq!(refused.status.code(), Some(2), "{refused}");
    w.git(&["tag", "-a", "-m", "trust me", "checkpoint/mine", "main"])
        .ok();
    let tag_obj = w.rev_parse("checkpoint/mine");
    w.push_rejected(
        &["refs/tags/checkpoint/mine:refs/tags/checkpoint/mine"],
        finding("checkpoint-invalid").commit(&tag_obj),
    );
}

#[test]
fn verify_fails_when_history_is_rewritten_under_it() {
    let w = World::new();
    let first = w.land(BOB, CAROL);
    w.land(BOB, CAROL);
    checkpoint(&w, ALICE, "after-two").ok();
    let clone = w.fresh_clone();
    w.aiaudit_in(&clone, &["verify"]).ok();

    // The history this clone sees is replaced by one that drops the last decision.
    w.git_in(&clone, &["update-ref", "refs/heads/main", &first.commit])
        .ok();
    let out = w.aiaudit_in(&clone, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("error[history-rewritten]"), "{out}");
    assert!(out.stderr.contains("the head verified last time"), "{out}");
    assert!(
        out.stderr
            .contains("checkpoint refs/tags/checkpoint/after-two"),
        "{out}"
    );
}
