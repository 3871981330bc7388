//! `aiaudit check` in a product repository's CI: a product repository made with the git
//! binary, checked against a real audit server (decisions landed through the hook).

use crate::harness::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const PRODUCT: &str = "github.com/acme/payments";

/// `record` of a code-merge decision by bob for `repo` covering the change `covers` (none:
/// naming no change), its summary `summary` and AI role `ai_role`, pushed.
fn code_merge_args(
    files: &Path,
    repo: &str,
    summary: &str,
    ai_role: &str,
    covers: Option<&str>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "record",
        "--initiator",
        BOB,
        "--action",
        "code-merge",
        "--system",
        "github",
        "--target-repo",
        repo,
        "--summary",
        summary,
        "--ai-role",
        ai_role,
        "--model",
        MODEL,
        "--prompt",
        s(&files.join("prompt.txt")),
        "--output",
        s(&files.join("output.txt")),
        "--recommendation",
        "do it",
        "--push",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if let Some(c) = covers {
        args.extend(["--covers".into(), c.into()]);
    }
    args
}

/// Records a code-merge decision for `repo` as bob (pushed as a proposal); returns its id.
fn record_for(w: &World, files: &Path, repo: &str) -> String {
    let args = code_merge_args(
        files,
        repo,
        "Retry failed payouts",
        "changed",
        Some(EMPTY_CHANGE),
    );
    let id = w.aiaudit(&argv(&args)).ok();
    assert_eq!(id.len(), 26, "record printed {id:?}");
    id
}

/// The change digest of a commit that changes no file (the tests' empty commits): the SHA-256
/// of no lines.
const EMPTY_CHANGE: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Records for `repo` and has carol approve it; returns the id of the landed decision.
fn landed_for(w: &World, files: &Path, repo: &str) -> String {
    let id = record_for(w, files, repo);
    w.aiaudit_signed(CAROL, &["approve", &id, "--yes", "--push"])
        .ok();
    id
}

/// A product repository (`git init`, origin on GitHub) with a first, human commit.
fn product(w: &World) -> PathBuf {
    let root = w.work.parent().expect("world root").to_owned();
    let dir = root.join("product");
    w.git_in(&root, &["init", "-q", "-b", "main", "product"])
        .ok();
    w.git_in(
        &dir,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/Acme/payments.git",
        ],
    )
    .ok();
    commit(w, &dir, "Initial import");
    dir
}

/// An empty commit with `message`, authored by bob (the initiator of the tests' code-merge
/// decisions); returns its id.
fn commit(w: &World, dir: &Path, message: &str) -> String {
    commit_by(w, dir, BOB, &["--allow-empty"], message)
}

/// A commit of what is staged in `dir` (plus `extra` flags), authored by principal `who`.
fn commit_by(w: &World, dir: &Path, who: &str, extra: &[&str], message: &str) -> String {
    let author = format!("{who} <{}>", w.key(who).email);
    let mut args = vec!["commit", "-q", "--author", &author, "-m", message];
    args.extend_from_slice(extra);
    w.git_in(dir, &args).ok();
    w.git_in(dir, &["rev-parse", "HEAD"]).ok()
}

fn scratch_files(w: &World) -> PathBuf {
    let files = w.work.parent().unwrap().join("check-files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("prompt.txt"), "Make payouts retry\n").unwrap();
    std::fs::write(files.join("output.txt"), "diff --git ...\n").unwrap();
    files
}

#[test]
fn maps_ai_assisted_commits_to_approved_decisions_for_this_repo() {
    let w = World::new();
    let files = scratch_files(&w);
    let approved = landed_for(&w, &files, PRODUCT);
    let by_system = w.land(BOB, CAROL); // --system github.com/acme/payments, no --target-repo
    let proposal = w.land_proposal(BOB);
    let other = landed_for(&w, &files, "github.com/acme/ledger");

    let p = product(&w);
    let base = w.git_in(&p, &["rev-parse", "HEAD"]).ok();
    let ok = commit(
        &w,
        &p,
        &format!(
            "Retry failed payouts\n\nAssisted-by: Claude:claude-sonnet-4\nDecision-Id: {approved}"
        ),
    );
    let no_decision = commit(&w, &p, "Add jitter\n\nAssisted-by: Claude");
    let proposed = commit(
        &w,
        &p,
        &format!(
            "Raise the rate limit\n\nDecision-Id: {}\nCo-authored-by: Claude <noreply@anthropic.com>",
            proposal.id
        ),
    );
    let elsewhere = commit(
        &w,
        &p,
        &format!("Share the ledger client\n\nDecision-Id: {other}"),
    );
    let human = commit(
        &w,
        &p,
        "Fix a typo\n\nCo-authored-by: Claude Dupont <claude.dupont@acme.example>",
    );
    let ok_by_system = commit(
        &w,
        &p,
        &format!(
            "Raise the limit in config\n\nDecision-Id: {}\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
            by_system.id
        ),
    );
    let range = format!("{base}..HEAD");

    let out = w.aiaudit_in(&p, &["check", "--audit-repo", s(&w.server), &range]);
    eprintln!("{out}");
    assert_eq!(out.status.code(), Some(1), "{out}");
    let names = [
        (approved.as_str(), "<approved>"),
        (by_system.id.as_str(), "<by-system>"),
        (proposal.id.as_str(), "<proposal>"),
        (other.as_str(), "<other>"),
        (ok.as_str(), "<ok>"),
        (no_decision.as_str(), "<no-decision>"),
        (proposed.as_str(), "<proposed>"),
        (elsewhere.as_str(), "<elsewhere>"),
        (ok_by_system.as_str(), "<ok-by-system>"),
        (base.as_str(), "<base>"),
        (s(&w.server), "<server>"),
    ];
    let shorts: Vec<(String, String)> = names
        .iter()
        .filter(|(v, _)| v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(v, n)| (v[..12].to_owned(), n.replace('>', "-short>")))
        .collect();
    let mut all: Vec<(&str, &str)> = names.to_vec();
    all.extend(shorts.iter().map(|(v, n)| (v.as_str(), n.as_str())));
    insta::assert_snapshot!(
        "check_human",
        redact(
            &format!("--- stdout\n{}--- stderr\n{}", out.stdout, out.stderr),
            &all
        )
    );
    let short = |c: &str| c[..12].to_owned();
    for (code, c, mention) in [
        (
            "ai-commit-without-decision",
            &no_decision,
            "Assisted-by: Claude",
        ),
        ("decision-not-approved", &proposed, proposal.id.as_str()),
        (
            "decision-other-target",
            &elsewhere,
            "github.com/acme/ledger",
        ),
    ] {
        let header = format!("error[{code}]: commit {}", short(c));
        let block = out
            .stderr
            .split("\nerror[")
            .map(|b| {
                if b.starts_with("error[") {
                    b.to_owned()
                } else {
                    format!("error[{b}")
                }
            })
            .find(|b| b.starts_with(&header))
            .unwrap_or_else(|| panic!("no `{header}` in:\n{out}"));
        assert!(block.contains(mention), "{block}");
        assert!(block.contains("\n  hint: "), "{block}");
    }
    assert_eq!(out.stderr.matches("error[").count(), 3, "{out}");
    assert!(!out.stderr.contains("warning["), "{out}");
    for c in [&ok, &ok_by_system] {
        assert!(
            out.stdout.contains(&format!("ok: commit {}", short(c))),
            "{out}"
        );
    }
    assert!(
        out.stdout.contains(&format!("approved by {CAROL}")),
        "{out}"
    );
    assert!(!out.stdout.contains(&short(&human)) && !out.stderr.contains(&short(&human)));
    assert!(
        out.stdout.contains(&format!(
            "FAILED: 6 commit(s) in {range} of {PRODUCT}; 5 AI-assisted or naming a decision: 2 covered, 3 gap(s); 0 warning(s)"
        )),
        "{out}"
    );

    // --json: the same, for machines.
    let out = w.aiaudit_in(
        &p,
        &["check", "--json", "--audit-repo", s(&w.server), &range],
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    insta::assert_snapshot!("check_json", redact(&out.stdout, &all));
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], false);
    assert_eq!(v["repository"], PRODUCT);
    assert_eq!(
        (v["commits"].as_u64(), v["checked"].as_u64()),
        (Some(6), Some(5))
    );
    assert_eq!(
        (v["compliant"].as_u64(), v["gaps"].as_u64()),
        (Some(2), Some(3))
    );
    let results = v["results"].as_array().unwrap();
    let compliant: Vec<(&str, bool)> = results
        .iter()
        .map(|r| {
            (
                r["commit"].as_str().unwrap(),
                r["compliant"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        compliant,
        [
            (ok.as_str(), true),
            (no_decision.as_str(), false),
            (proposed.as_str(), false),
            (elsewhere.as_str(), false),
            (ok_by_system.as_str(), true),
        ]
    );
    assert_eq!(results[2]["ai_trailers"][0]["tool"], "Claude");
    assert_eq!(results[4]["ai_trailers"][0]["tool"], "GitHub Copilot");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "ai-commit-without-decision",
            "decision-not-approved",
            "decision-other-target"
        ]
    );

    // One revision: that commit alone. Clean → exit 0. The audit repo as a URL is cloned, and
    // its history verified against the pinned root first.
    let root = w
        .git_in(&w.server, &["rev-list", "--max-parents=0", "main"])
        .ok();
    let url = format!("file://{}", s(&w.server));
    let out = w.aiaudit_in(
        &p,
        &["check", "--audit-repo", &url, "--trust-root", &root, &ok],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(
        out.stdout
            .starts_with(&format!("ok: commit {}", short(&ok))),
        "{out}"
    );
    assert!(out.stdout.contains("ok: 1 commit(s)"), "{out}");
    // A wrong root of trust: the audit repository cannot be relied on.
    let out = w.aiaudit_in(
        &p,
        &["check", "--audit-repo", &url, "--trust-root", &ok, &ok],
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("does not verify"), "{out}");

    // The decision for the other repository passes when this repository is named so.
    let out = w.aiaudit_in(
        &p,
        &[
            "check",
            "--audit-repo",
            s(&w.server),
            "--target-repo",
            "acme/ledger",
            &format!("{elsewhere}~1..{elsewhere}"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    // A human-only range: nothing to check.
    let out = w.aiaudit_in(
        &p,
        &[
            "check",
            "--audit-repo",
            s(&w.server),
            &format!("{ok_by_system}..HEAD"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stdout.contains("ok: 0 commit(s)"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new();
    let p = product(&w);
    let run = |args: &[&str]| {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        w.aiaudit_in(&p, &all)
    };
    let audit = s(&w.server);
    let root = w.work.parent().unwrap();
    w.git_in(root, &["init", "-q", "--bare", "empty.git"]).ok();
    let empty = root.join("empty.git");
    for (args, says) in [
        (
            vec!["--audit-repo", audit, "0123456789abcdef..HEAD"],
            "unknown revision",
        ),
        (vec!["--audit-repo", audit, "HEAD...HEAD"], "symmetric"),
        (vec!["--audit-repo", s(&empty), "HEAD"], "no main branch"),
        (
            vec!["--audit-repo", "file:///nonexistent/audit.git", "HEAD"],
            "cannot clone",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{out}");
        assert!(out.stderr.contains(says), "{says}: {out}");
    }
    // Without origin, this repository's name must be given.
    w.git_in(&p, &["remote", "remove", "origin"]).ok();
    let out = run(&["--audit-repo", audit, "HEAD"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("--target-repo"), "{out}");
    let out = run(&["--audit-repo", audit, "--target-repo", PRODUCT, "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{out}");
}

/// Decisions under an `approval: post` rule land unapproved: covered, with a warning until the
/// review, and a gap once a review rejects them. A decision landed after the commit warns.
#[test]
fn post_rule_decisions_and_late_landing() {
    let w = World::new();
    w.add_post_rule("post-merge", "code-merge", None);
    let files = scratch_files(&w);
    let mut args = code_merge_args(
        &files,
        PRODUCT,
        "Bump a dependency",
        "initiated",
        Some(EMPTY_CHANGE),
    );
    args.push("--land".into());
    let id = w.aiaudit(&argv(&args)).ok();

    let p = product(&w);
    let c = commit(&w, &p, &format!("Bump a dependency\n\nDecision-Id: {id}"));
    let check = |rev: &str| w.aiaudit_in(&p, &["check", "--audit-repo", s(&w.server), rev]);
    let out = check(&c);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "warning[decision-review-pending]: commit {}",
            &c[..12]
        )) && out.stderr.contains("post-merge"),
        "{out}"
    );

    // The same claim in a commit made long before the decision landed (committer time 2023).
    let tree = w.git_in(&p, &["rev-parse", "HEAD^{tree}"]).ok();
    let raw = format!(
        "tree {tree}\nparent {c}\nauthor bob <bob@example.com> 1700000000 +0000\n\
         committer E2E Committer <committer@example.com> 1700000000 +0000\n\n\
         Early bump\n\nDecision-Id: {id}\n"
    );
    let git_dir = p.join(".git");
    let early = w
        .git_stdin(
            &[
                "--git-dir",
                s(&git_dir),
                "hash-object",
                "-t",
                "commit",
                "-w",
                "--stdin",
            ],
            raw.as_bytes(),
        )
        .ok();
    let out = check(&early);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(
        out.stderr.contains("warning[decision-landed-after-commit]"),
        "{out}"
    );

    // A post-action review rejects it: now a gap.
    let mut review = vec![
        "review",
        id.as_str(),
        "--verdict",
        "rejected",
        "--summary",
        "not needed",
        "--push",
    ];
    let signer = w.signer_args(CAROL);
    review.extend(signer.iter().map(String::as_str));
    w.aiaudit(&review).ok();
    let out = check(&c);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("error[decision-review-rejected]") && out.stderr.contains("not needed"),
        "{out}"
    );
}

/// A code-merge decision covers exactly the change it names, authored by its initiator: not
/// another change carrying its id, not the same change by someone else, and a code-merge
/// decision naming no change covers nothing.
#[test]
fn a_code_merge_decision_covers_only_its_change_by_its_initiator() {
    let w = World::new();
    let files = scratch_files(&w);
    let p = product(&w);
    let base = w.git_in(&p, &["rev-parse", "HEAD"]).ok();
    // bob makes the change, records the decision naming it, and adds the trailer afterwards.
    std::fs::write(p.join("payouts.rs"), "fn retry() {}\n").unwrap();
    w.git_in(&p, &["add", "payouts.rs"]).ok();
    commit_by(&w, &p, BOB, &[], "Retry failed payouts");
    let digest_line = w.aiaudit_in(&p, &["change-digest"]).ok();
    let digest = digest_line.split_whitespace().next().unwrap().to_owned();
    assert_eq!(digest.len(), 64, "{digest_line}");
    // The documented recipe with stock tools gives the same digest (docs/check.md).
    let recipe = "git diff-tree -r --no-renames --no-commit-id --root HEAD | awk -F'\\t' '{ split($1, f, \" \"); print f[2] \" \" f[4] \" \" $2 }' | LC_ALL=C sort -k3 | sha256sum";
    let mut sh = w.command("sh", &p);
    sh.args(["-c", recipe]);
    let by_hand = String::from_utf8(sh.output().unwrap().stdout).unwrap();
    assert!(by_hand.starts_with(&digest), "{by_hand} vs {digest}");
    let args = code_merge_args(
        &files,
        PRODUCT,
        "Retry failed payouts",
        "changed",
        Some(&digest),
    );
    let id = w.aiaudit(&argv(&args)).ok();
    w.aiaudit_signed(CAROL, &["approve", &id, "--yes", "--push"])
        .ok();
    let covered = commit_by(
        &w,
        &p,
        BOB,
        &["--amend"],
        &format!("Retry failed payouts\n\nDecision-Id: {id}"),
    );
    let again = w.aiaudit_in(&p, &["change-digest", &covered]).ok();
    assert!(
        again.starts_with(&digest),
        "the amended message keeps the digest: {again}"
    );

    // Another change carrying the same id.
    std::fs::write(p.join("ledger.rs"), "fn post() {}\n").unwrap();
    w.git_in(&p, &["add", "ledger.rs"]).ok();
    let other = commit_by(
        &w,
        &p,
        BOB,
        &[],
        &format!("Post to the ledger\n\nDecision-Id: {id}"),
    );
    // The same change, made by carol on a branch from the same base.
    w.git_in(&p, &["checkout", "-q", "-b", "carols", &base])
        .ok();
    std::fs::write(p.join("payouts.rs"), "fn retry() {}\n").unwrap();
    w.git_in(&p, &["add", "payouts.rs"]).ok();
    let by_carol = commit_by(
        &w,
        &p,
        CAROL,
        &[],
        &format!("Retry failed payouts\n\nDecision-Id: {id}"),
    );
    // A code-merge decision that names no change.
    let no_change = code_merge_args(&files, PRODUCT, "Retry failed payouts", "changed", None);
    let vague = w.aiaudit(&argv(&no_change)).ok();
    w.aiaudit_signed(CAROL, &["approve", &vague, "--yes", "--push"])
        .ok();
    let uncovered = commit(&w, &p, &format!("Anything\n\nDecision-Id: {vague}"));

    let judge = |rev: &str| -> (Option<i32>, String) {
        let out = w.aiaudit_in(&p, &["check", "--audit-repo", s(&w.server), rev]);
        (out.status.code(), out.stdout.clone() + &out.stderr)
    };
    let (code, text) = judge(&covered);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("covering this commit's change ({digest})")),
        "{text}"
    );
    for (rev, want) in [
        (&other, "decision-does-not-cover"),
        (&by_carol, "decision-other-author"),
        (&uncovered, "decision-names-no-change"),
    ] {
        let (code, text) = judge(rev);
        assert_eq!(code, Some(1), "{rev}: {text}");
        assert!(text.contains(want), "{rev} must be {want}: {text}");
    }
}
