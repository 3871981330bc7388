//! Load: several pushers at once against one server — over the local file transport, and
//! over SSH into gitolite. Every valid decision lands exactly once (pushers retry after a
//! fetch when another push moved main first), every invalid one is rejected, and the server
//! verifies and fscks clean afterwards.

use crate::harness::*;
use crate::servers::Gitolite;
use crate::transports::GITOLITE_CONF;
use std::collections::BTreeSet;
use std::path::PathBuf;

const PUSHERS: usize = 8;
const VALID_EACH: usize = 2;

#[test]
fn concurrent_pushers_lose_nothing_and_let_nothing_bad_in() {
    let w = World::new();
    let root = w.files.clone();
    let clones: Vec<_> = (0..PUSHERS)
        .map(|i| {
            let dir = root.join(format!("pusher-{i}"));
            w.git_in(&root, &["clone", "-q", s(&w.server), s(&dir)])
                .ok();
            dir
        })
        .collect();
    concurrent_load(&w, &clones, || w.fresh_clone());
}

/// The same over SSH: eight clients, each its own clone and SSH connection, through gitolite.
#[test]
fn concurrent_pushers_over_ssh_lose_nothing_and_let_nothing_bad_in() {
    let mut w = World::new();
    let g = Gitolite::start(&mut w, &[ALICE, BOB], GITOLITE_CONF);
    let root = w.files.clone();
    let clones: Vec<_> = (0..PUSHERS)
        .map(|i| {
            let dir = root.join(format!("pusher-{i}"));
            let mut c = w.command("git", &root);
            c.args(["clone", "-q", &g.url(), s(&dir)]).env(
                "GIT_SSH_COMMAND",
                g.ssh_command(if i % 2 == 0 { ALICE } else { BOB }),
            );
            assert!(c.status().unwrap().success(), "clone {i} over ssh");
            g.use_as(&w, &dir, if i % 2 == 0 { ALICE } else { BOB });
            dir
        })
        .collect();
    let auditor = || {
        let dir = root.join("auditor");
        let mut c = w.command("git", &root);
        c.args(["clone", "-q", &g.url(), s(&dir)])
            .env("GIT_SSH_COMMAND", g.ssh_command(ALICE));
        assert!(c.status().unwrap().success(), "auditor's clone over ssh");
        dir
    };
    concurrent_load(&w, &clones, auditor);
}

/// Each clone in `clones` records and lands decisions at once with the others, and pushes one
/// unapproved decision onto main; then the server is checked.
fn concurrent_load(w: &World, clones: &[PathBuf], auditor: impl FnOnce() -> PathBuf) {
    let root = w.files.clone();
    let carol = w.signer_args(CAROL);
    let fetch = [
        "fetch",
        "-q",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
    ];

    let rebuilt = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let (landed, refused): (Vec<Vec<String>>, Vec<Vec<String>>) = std::thread::scope(|scope| {
        let handles: Vec<_> = clones
            .iter()
            .map(|dir| {
                let (w, carol, rebuilt) = (w, &carol, &rebuilt);
                scope.spawn(move || {
                    let record = |summary: &str| {
                        let mut args = RecordFlags {
                            initiator: BOB,
                            action: "config-change",
                            system: "app:prod",
                            summary,
                            model: MODEL,
                            prompt: &w.files.join("prompt.txt"),
                            output: &w.files.join("output.txt"),
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
                        // When another push moved main first, approve rebuilds its landing
                        // onto the server's main and pushes again, by itself.
                        let out = w.aiaudit_in(dir, &args);
                        assert!(
                            out.status.success(),
                            "decision {id} did not land by itself:\n{out}"
                        );
                        assert!(!out.stderr.contains("error["), "{out}");
                        rebuilt.fetch_add(
                            out.stderr.matches("the server's main moved on").count(),
                            std::sync::atomic::Ordering::Relaxed,
                        );
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
    eprintln!(
        "{} clones: {} decisions landed in {:.1?}, {} landing(s) rebuilt onto a main that moved on",
        clones.len(),
        landed.iter().flatten().count(),
        started.elapsed(),
        rebuilt.load(std::sync::atomic::Ordering::Relaxed)
    );

    let clone = auditor();
    let verify = w.aiaudit_in(&clone, &["verify"]);
    assert!(verify.status.success(), "{verify}");
    let fsck = w.git_in(
        &root,
        &[
            "-c",
            "safe.directory=*",
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
