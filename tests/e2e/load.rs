//! Load: several pushers at once against one server. Every valid decision lands exactly once
//! (pushers retry after a fetch when another push moved main first), every invalid one is
//! rejected, and the server verifies and fscks clean afterwards.

use crate::harness::*;
use std::collections::BTreeSet;

const PUSHERS: usize = 8;
const VALID_EACH: usize = 2;
const MAX_TRIES: usize = 40;

#[test]
fn concurrent_pushers_lose_nothing_and_let_nothing_bad_in() {
    let w = World::new();
    let root = w.server.parent().unwrap().to_path_buf();
    let clones: Vec<_> = (0..PUSHERS)
        .map(|i| {
            let dir = root.join(format!("pusher-{i}"));
            w.git_in(&root, &["clone", "-q", s(&w.server), s(&dir)])
                .ok();
            dir
        })
        .collect();
    let carol = w.signer_args(CAROL);
    let fetch = [
        "fetch",
        "-q",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
    ];

    let (landed, refused): (Vec<Vec<String>>, Vec<Vec<String>>) = std::thread::scope(|scope| {
        let handles: Vec<_> = clones
            .iter()
            .map(|dir| {
                let (w, carol) = (&w, &carol);
                scope.spawn(move || {
                    let record = |summary: &str| {
                        let mut args = RecordFlags {
                            initiator: BOB,
                            action: "config-change",
                            system: "app:prod",
                            summary,
                            model: MODEL,
                            prompt: &w.server.with_file_name("files/prompt.txt"),
                            output: &w.server.with_file_name("files/output.txt"),
                            recommendation: "ok",
                        }
                        .args();
                        args.push("--push".into());
                        w.aiaudit_in(dir, &argv(&args)).ok()
                    };
                    let mut landed = Vec::new();
                    for n in 0..VALID_EACH {
                        let id = record(&format!("change {n} from {}", dir.display()));
                        let mut args = vec!["approve", id.as_str(), "--yes", "--push"];
                        args.extend(carol.iter().map(String::as_str));
                        let done = (0..MAX_TRIES).any(|_| {
                            let out = w.aiaudit_in(dir, &args);
                            if out.status.success() {
                                return true;
                            }
                            // Rejected only because another push moved main: fetch and retry.
                            assert!(
                                !out.stderr.contains("error["),
                                "a valid approval was refused:\n{out}"
                            );
                            w.git_in(dir, &fetch).ok();
                            false
                        });
                        assert!(done, "decision {id} did not land in {MAX_TRIES} tries");
                        landed.push(id);
                    }
                    // An unapproved decision pushed straight onto main never lands.
                    let bad = record("unapproved");
                    w.git_in(dir, &fetch).ok();
                    let out = w.git_in(dir, &["push", "origin", &format!("proposals/{bad}:main")]);
                    assert!(
                        !out.status.success(),
                        "an unapproved decision was accepted:\n{out}"
                    );
                    (landed, vec![bad])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).unzip()
    });

    let clone = w.fresh_clone();
    let verify = w.aiaudit_in(&clone, &["verify"]);
    assert!(verify.status.success(), "{verify}");
    let fsck = w.git_in(
        &root,
        &[
            "--git-dir",
            s(&w.server),
            "fsck",
            "--strict",
            "--no-progress",
        ],
    );
    assert!(fsck.status.success(), "{fsck}");

    let log = w.aiaudit_in(&clone, &["log", "--json"]).ok();
    let on_main: Vec<String> = serde_json::from_str::<serde_json::Value>(&log)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = on_main.iter().collect();
    assert_eq!(unique.len(), on_main.len(), "a decision landed twice");
    let want: BTreeSet<&String> = landed.iter().flatten().collect();
    assert_eq!(unique, want, "landed set differs from the approved set");
    for bad in refused.iter().flatten() {
        assert!(!on_main.contains(bad), "unapproved {bad} is on main");
    }
    assert_eq!(on_main.len(), PUSHERS * VALID_EACH);
}
