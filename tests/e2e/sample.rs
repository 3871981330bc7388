//! Issue 13: audit sampling. `aiaudit sample` draws a reproducible random sample of decisions
//! and writes an evidence folder that an auditor re-verifies offline with aiaudit and with
//! stock GnuPG and coreutils; a tampered folder fails both.

use crate::harness::*;
use std::path::Path;

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn drawn(dir: &Path) -> Vec<String> {
    manifest(dir)["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}

/// Every file under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.push(
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn a_sample_is_reproducible_and_reverifies_with_aiaudit_and_stock_gnupg() {
    let w = World::new();
    let mut ids = Vec::new();
    for who in [BOB, DAVE, BOB, SVC] {
        ids.push(w.land(who, CAROL).id);
    }
    w.aiaudit(&[
        "outcome", &ids[0], "--actor", SVC, "--action", "done", "--push",
    ])
    .ok();
    let root = w.server.with_file_name("samples");
    let (a, b) = (root.join("a"), root.join("b"));
    let out = w.aiaudit(&["sample", "--size", "3", "--seed", "42", "--out", s(&a)]);
    out.ok();
    assert!(
        out.stderr.contains("sampled 3 of 4 decision(s) (seed 42"),
        "{out}"
    );
    w.aiaudit(&["sample", "--size", "3", "--seed", "42", "--out", s(&b)])
        .ok();
    assert_eq!(drawn(&a), drawn(&b), "the same seed draws the same sample");
    assert_eq!(drawn(&a).len(), 3);
    let m = manifest(&a);
    assert_eq!(m["population"]["count"], 4);
    assert_eq!(m["seed"], 42);
    let root_commit = w.git(&["rev-list", "--max-parents=0", "main"]).ok();
    assert_eq!(m["root"], root_commit.trim(), "{m:#}");
    assert_eq!(m["tip"], w.rev_parse("main").as_str(), "{m:#}");

    let files = listing(&a);
    eprintln!("{}", files.join("\n"));
    for f in ["README.md", "SHA256SUMS", "manifest.json", "verify-gpg.sh"] {
        assert!(files.contains(&f.to_owned()), "{f} in {files:?}");
    }
    let first = &drawn(&a)[0];
    for f in [
        "record.yaml",
        "chain.json",
        "chain.md",
        "approved-by.carol.asc",
    ] {
        let p = format!("decisions/{first}/{f}");
        assert!(files.contains(&p), "{p} in {files:?}");
    }
    assert!(files
        .iter()
        .any(|f| f.starts_with("certs/") && f.ends_with(".asc")));
    // Every signature of every drawn decision is there: initiator and approver.
    let sigs = m["signatures"].as_array().unwrap();
    let trailers_of = |id: &str| -> Vec<String> {
        sigs.iter()
            .filter(|s| s["signs"] == format!("decisions/{id}/record.yaml").as_str())
            .map(|s| s["trailer"].as_str().unwrap().to_owned())
            .collect()
    };
    for id in drawn(&a) {
        assert_eq!(trailers_of(&id), ["Initiated-by", "Approved-by"], "{id}");
    }
    // The record is the ledger's exact bytes.
    let record = std::fs::read_to_string(a.join(format!("decisions/{first}/record.yaml"))).unwrap();
    let landed = w
        .git(&[
            "log",
            "--format=%H",
            "--diff-filter=A",
            "main",
            "--",
            "decisions",
        ])
        .ok();
    assert!(
        landed.lines().any(|c| {
            let path = w
                .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", c])
                .ok();
            path.contains(first.as_str()) && w.file_at(c, path.trim()) == record
        }),
        "record.yaml differs from the ledger's file"
    );

    // Re-verified with aiaudit, outside any repository, and with stock tools.
    let elsewhere = w.server.with_file_name("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = w.aiaudit_in(&elsewhere, &["sample", "--verify", s(&a)]);
    out.ok();
    assert!(out.stdout.starts_with("ok: 3 decision(s)"), "{out}");
    let mut sums = w.command("sha256sum", &a);
    sums.args(["-c", "--quiet", "SHA256SUMS"]);
    assert!(sums.status().unwrap().success(), "sha256sum -c");
    let gpg = w.command("sh", &a);
    let gpg = run_out(gpg, &["verify-gpg.sh"]);
    assert!(gpg.status.success(), "{gpg:?}");
    let text = String::from_utf8_lossy(&gpg.stdout);
    assert!(
        text.contains(&format!(
            "ok: {} signature(s) verified by GnuPG",
            sigs.len()
        )),
        "{text}"
    );

    // One changed byte in a record: both re-verifications fail and name it.
    let path = b.join(format!("decisions/{first}/record.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered = text.replacen("Raise", "Lower", 1);
    assert_ne!(tampered, text);
    std::fs::write(&path, tampered).unwrap();
    let out = w.aiaudit_in(&elsewhere, &["sample", "--verify", s(&b)]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stderr
            .contains(&format!("decisions/{first}/record.yaml: SHA-256")),
        "{out}"
    );
    let gpg = run_out(w.command("sh", &b), &["verify-gpg.sh"]);
    assert!(!gpg.status.success());
    assert!(String::from_utf8_lossy(&gpg.stdout).contains("BAD:"));

    // Filters narrow the population; the folder must be new.
    let c = root.join("c");
    let out = w.aiaudit(&["sample", "--initiator", DAVE, "--seed", "1", "--out", s(&c)]);
    out.ok();
    assert_eq!(drawn(&c), [ids[1].clone()]);
    let out = w.aiaudit(&["sample", "--seed", "1", "--out", s(&c)]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("is not empty"), "{out}");
}

fn run_out(mut c: std::process::Command, args: &[&str]) -> std::process::Output {
    c.args(args).output().expect("run")
}
