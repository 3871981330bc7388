//! Hostile inputs: pushes built to exhaust, confuse or crash the hook. Each goes through a real
//! `git push` into the World's server and must end in a clear rejection — a stable code naming
//! the commit and file, never a panic or an internal error — with no server ref moved, in
//! bounded time and memory.
//!
//! Every push here runs under a watchdog ([`push_bounded`]): a hook that hangs is killed and
//! the test fails instead of hanging the suite. Where a test needs the hook's own time and
//! peak memory, or feeds it input git never writes, it runs the hook directly with git's
//! quarantine environment ([`hook_direct`]): the clone's object directory plays the quarantine.

use crate::harness::*;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest any single push or hook run may take before the test calls it a hang.
const WATCHDOG: Duration = Duration::from_secs(60);
/// GitHub Enterprise Server's pre-receive budget, which every hook run must stay inside.
const HOOK_BUDGET: Duration = Duration::from_secs(5);
/// Peak memory a direct hook run may use (its working set is a few MiB plus the records it
/// reads, each at most 256 KiB): far below what reading a 100 MB blob or expanding an alias
/// bomb would need.
const HOOK_MAX_RSS_KIB: i64 = 96 * 1024;
/// Most bytes of diagnostics a rejection may print: findings quote names, not payloads.
const MAX_REPORT_BYTES: usize = 64 * 1024;

// ---- running things under a watchdog --------------------------------------------------------

/// A finished child process: its output and wall time.
pub(crate) struct Ran {
    pub out: Out,
    pub elapsed: Duration,
}

/// Runs `c` (in a process group of its own) with `stdin`, killing the whole group and failing
/// the test when it outlives `limit`.
pub(crate) fn run_bounded(mut c: Command, stdin: Option<Vec<u8>>, limit: Duration) -> Ran {
    use std::os::unix::process::CommandExt as _;
    let what = format!(
        "{} {}",
        c.get_program().to_string_lossy(),
        c.get_args()
            .map(|a| {
                let a = a.to_string_lossy();
                if a.len() > 120 {
                    format!("{}…", a.chars().take(120).collect::<String>())
                } else {
                    a.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    c.process_group(0)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut hung = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit && !hung {
            // SAFETY: signals the process group our child leads.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            hung = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let out = Out {
        what,
        status,
        stdout: String::from_utf8_lossy(&stdout.join().expect("stdout")).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.join().expect("stderr")).into_owned(),
    };
    assert!(
        !hung,
        "{} did not finish within {limit:?}; killed:\n{out}",
        out.what
    );
    Ran { out, elapsed }
}

/// `git ARGS` in the work clone (sealed, bounded), with `stdin` and extra environment.
pub(crate) fn git_env(w: &World, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Out {
    let mut c = w.command("git", &w.work);
    c.args(args).envs(env.iter().copied());
    run_bounded(c, Some(stdin.to_vec()), WATCHDOG).out
}

/// `git push origin REFSPECS` from the work clone, under the watchdog.
pub(crate) fn push_bounded(w: &World, refspecs: &[&str]) -> Ran {
    let mut c = w.command("git", &w.work);
    c.args(["push", "origin"]).args(refspecs);
    run_bounded(c, None, WATCHDOG)
}

/// Runs `aiaudit hook pre-receive` in the server the way git's receive-pack does: `GIT_DIR`
/// the server, `GIT_OBJECT_DIRECTORY` the quarantine (here: the work clone's objects, which
/// hold whatever the test crafted) and the server's own objects as the alternate.
pub(crate) fn hook_direct(w: &World, stdin: &[u8]) -> Ran {
    hook_command(w, &[], stdin)
}

/// The hook run in the server with git's quarantine environment, behind `wrapper` (a program
/// and its arguments, which then runs the hook) when one is given.
fn hook_command(w: &World, wrapper: &[&str], stdin: &[u8]) -> Ran {
    let mut c = match wrapper {
        [] => w.command(AIAUDIT, &w.server),
        [program, args @ ..] => {
            let mut c = w.command(program, &w.server);
            c.args(args).arg(AIAUDIT);
            c
        }
    };
    // The hook's own deadline is GitHub Enterprise Server's budget: a run that finishes with
    // the expected verdict stayed inside it (an overrun rejects with internal-error instead).
    c.args(["hook", "pre-receive"])
        .env("AIAUDIT_HOOK_TIMEOUT", HOOK_BUDGET.as_secs().to_string())
        .env("GIT_DIR", ".")
        .env("GIT_OBJECT_DIRECTORY", w.work.join(".git/objects"))
        .env("GIT_ALTERNATE_OBJECT_DIRECTORIES", w.server.join("objects"));
    run_bounded(c, Some(stdin.to_vec()), WATCHDOG)
}

/// [`hook_direct`] under GNU time, which reports the hook's peak resident memory (KiB). A
/// child's own `wait4` figure is useless here: it starts from the forked test process's size.
/// `None` (and a loud note) where `/usr/bin/time` is missing.
fn hook_direct_measured(w: &World, stdin: &[u8]) -> (Ran, Option<i64>) {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        eprintln!("NOTE: /usr/bin/time is missing: the hook's peak memory is not measured");
        return (hook_direct(w, stdin), None);
    }
    let report = w.work.parent().unwrap().join("files").join("hook-time.txt");
    let _ = std::fs::remove_file(&report);
    let ran = hook_command(w, &["/usr/bin/time", "-f", "%M", "-o", s(&report)], stdin);
    let text = std::fs::read_to_string(&report).expect("GNU time's report");
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("GNU time said {text:?}"));
    (ran, Some(kib))
}

/// No sign of a crash in a hook's (or git's relay of a hook's) output.
#[track_caller]
pub(crate) fn assert_no_panic(out: &Out) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "stack overflow",
        "the checker crashed",
        "memory allocation",
    ] {
        assert!(
            !out.stderr.contains(bad),
            "the hook crashed ({bad}):\n{out}"
        );
    }
}

// ---- what a rejection must say --------------------------------------------------------------

/// A finding the hook must report (the harness's `Expect`, which is private to it).
#[derive(Debug, Default, Clone)]
struct Want {
    code: &'static str,
    commit: Option<String>,
    path: Option<String>,
    refname: Option<String>,
    mentions: Option<String>,
}

fn want(code: &'static str) -> Want {
    Want {
        code,
        ..Default::default()
    }
}

impl Want {
    fn commit(mut self, oid: &str) -> Self {
        self.commit = Some(oid[..12].to_owned());
        self
    }
    fn path(mut self, p: &str) -> Self {
        self.path = Some(p.to_owned());
        self
    }
    fn refname(mut self, r: &str) -> Self {
        self.refname = Some(r.to_owned());
        self
    }
    fn mentions(mut self, m: &str) -> Self {
        self.mentions = Some(m.to_owned());
        self
    }
    fn matches(&self, f: &Finding) -> bool {
        let h = f.header();
        f.code == self.code
            && self
                .commit
                .as_ref()
                .is_none_or(|c| h.contains(&format!("commit {c}")))
            && self
                .path
                .as_ref()
                .is_none_or(|p| h.ends_with(&format!(", {p}")) || h.ends_with(&format!(": {p}")))
            && self
                .refname
                .as_ref()
                .is_none_or(|r| h.ends_with(&format!(": {r}")))
            && self
                .mentions
                .as_ref()
                .is_none_or(|m| f.text().contains(m.as_str()))
    }
}

/// Pushes `refspecs` under the watchdog and asserts: the hook rejected the push with a finding
/// matching `want` (and a hint), without crashing or failing internally, without flooding the
/// pusher's terminal, inside the hook budget, and no server ref moved.
#[track_caller]
fn rejected(w: &World, refspecs: &[&str], want: Want) -> Vec<Finding> {
    let before = w.server_refs();
    let ran = push_bounded(w, refspecs);
    let out = &ran.out;
    eprintln!("{out}\n(push took {:?})", ran.elapsed);
    assert!(!out.status.success(), "the push was accepted:\n{out}");
    assert!(
        out.stderr.contains("aiaudit: push rejected")
            && out.stderr.contains("pre-receive hook declined"),
        "the push failed, but not through the hook:\n{out}"
    );
    assert_no_panic(out);
    assert!(
        want.code == "internal-error" || !out.stderr.contains("error[internal-error]"),
        "the hook failed internally instead of naming the rule:\n{out}"
    );
    let findings = parse_findings(&out.stderr);
    let Some(f) = findings.iter().find(|f| want.matches(f)) else {
        panic!("no finding matches {want:?}; the hook said:\n{out}");
    };
    assert!(
        f.lines.iter().any(|l| l
            .strip_prefix("  hint: ")
            .is_some_and(|h| !h.trim().is_empty())),
        "the finding has no hint:\n{}",
        f.text()
    );
    assert!(
        out.stderr.len() < MAX_REPORT_BYTES,
        "the rejection printed {} bytes",
        out.stderr.len()
    );
    assert_eq!(
        w.server_refs(),
        before,
        "a rejected push moved a server ref"
    );
    assert!(
        ran.elapsed < WATCHDOG / 2,
        "the push took {:?}",
        ran.elapsed
    );
    findings
}

/// Runs the hook directly on one update of main to `new` and asserts it rejects with `code`
/// inside the hook budget and the memory bound; returns the run for its figures.
#[track_caller]
fn hook_rejects_within_bounds(w: &World, new: &str, code: &str) -> Ran {
    let main = w.server_ref(MAIN).expect("main");
    let (ran, rss) = hook_direct_measured(w, format!("{main} {new} {MAIN}\n").as_bytes());
    eprintln!(
        "{}\n(hook: {:?}, peak RSS {rss:?} KiB)",
        ran.out, ran.elapsed
    );
    assert_eq!(ran.out.status.code(), Some(1), "{}", ran.out);
    assert_no_panic(&ran.out);
    assert!(
        codes(&parse_hook_findings(&ran.out.stderr)).contains(&code),
        "no {code} finding:\n{}",
        ran.out
    );
    assert!(
        rss.is_none_or(|kib| kib < HOOK_MAX_RSS_KIB),
        "the hook peaked at {rss:?} KiB (bound {HOOK_MAX_RSS_KIB} KiB)"
    );
    ran
}

/// Findings printed by the hook itself (no `remote: ` prefix).
fn parse_hook_findings(stderr: &str) -> Vec<Finding> {
    let relayed: String = stderr.lines().map(|l| format!("remote: {l}\n")).collect();
    parse_findings(&relayed)
}

// ---- crafting ---------------------------------------------------------------------------------

/// A tree: `base`'s tree with entries `(mode, oid, path)` put in place, through a scratch
/// index fed in one `update-index --index-info` call (fast for thousands of entries).
fn tree_with(w: &World, base: &str, entries: &[(&str, &str, &str)]) -> String {
    let index = w.work.parent().unwrap().join("hostile-index");
    let idx = index.to_str().unwrap();
    let env = [("GIT_INDEX_FILE", idx)];
    let _ = std::fs::remove_file(&index);
    git_env(w, &["read-tree", base], b"", &env).ok();
    let mut info = String::new();
    for (mode, oid, path) in entries {
        info.push_str(&format!("{mode} {oid}\t{path}\n"));
    }
    git_env(w, &["update-index", "--index-info"], info.as_bytes(), &env).ok();
    let tree = git_env(w, &["write-tree"], b"", &env).ok();
    let _ = std::fs::remove_file(&index);
    tree
}

/// `git mktree` from `ls-tree`-style lines (allows names `git update-index` refuses).
fn mktree(w: &World, lines: &[String]) -> String {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    w.git_stdin(&["mktree"], input.as_bytes()).ok()
}

fn blob(w: &World, bytes: &[u8]) -> String {
    w.git_stdin(&["hash-object", "-w", "--stdin"], bytes).ok()
}

/// A commit of `tree` with `parents` and `message`, authored by `author`.
fn commit_with_parents(w: &World, author: &str, tree: &str, parents: &[&str], msg: &str) -> String {
    let email = w.key(author).email.clone();
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.extend(["-p", p]);
    }
    args.extend(["-F", "-"]);
    git_env(
        w,
        &args,
        msg.as_bytes(),
        &[("GIT_AUTHOR_NAME", author), ("GIT_AUTHOR_EMAIL", &email)],
    )
    .ok()
}

/// `p`'s record with `field_line` (a whole line of the file) replaced by `replacement`.
fn with_line(p: &Decision, field_line: &str, replacement: &str) -> String {
    replace_once(&p.text, field_line, replacement)
}

/// The summary line of a record made by [`World::record`].
const SUMMARY: &str = "  summary: \"Grant read access to billing-db\"\n";

// ---- YAML -------------------------------------------------------------------------------------

/// "Billion laughs" inside the 256 KiB cap, in the two shapes YAML allows: nested sequences of
/// aliases (10 levels of 10, 10^10 nodes) and one 16 KiB string aliased 12,000 times (about
/// 190 MiB once expanded into the record's `identities` list, whose type accepts it).
#[test]
fn rejects_yaml_alias_bomb() {
    let w = World::new();
    let p = w.record(BOB);
    let action_line = "action:\n";

    // Nested: l0 = [x * 10], ln = [*l(n-1) * 10].
    let mut nested = String::from("  identities: [[&l0 [\"lol\"");
    nested.push_str(&", \"lol\"".repeat(9));
    nested.push(']');
    for n in 1..10 {
        nested.push_str(&format!(", &l{n} [*l{}", n - 1));
        nested.push_str(&format!(", *l{}", n - 1).repeat(9));
        nested.push(']');
    }
    nested.push_str("]]\n");
    let text = replace_once(&p.text, action_line, &format!("{action_line}{nested}"));
    assert!(text.len() < 256 * 1024);
    let c = w.decision_commit(&p, &text, &[CAROL]);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("record-not-canonical")
            .commit(&c)
            .path(&p.path)
            .mentions("anchors and aliases expand the file"),
    );
    hook_rejects_within_bounds(&w, &c, "record-not-canonical");

    // Flat: one big string, aliased until the file is nearly at the cap.
    let big = "x".repeat(16 * 1024);
    let mut flat = format!("  identities: [&s \"{big}\"");
    flat.push_str(&", *s".repeat(12_000));
    flat.push_str("]\n");
    let text = replace_once(&p.text, action_line, &format!("{action_line}{flat}"));
    assert!(text.len() < 256 * 1024, "{}", text.len());
    let c = w.decision_commit(&p, &text, &[CAROL]);
    let findings = rejected(
        &w,
        &[&onto_main(&c)],
        want("record-not-canonical")
            .commit(&c)
            .path(&p.path)
            .mentions("anchors and aliases expand the file"),
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    hook_rejects_within_bounds(&w, &c, "record-not-canonical");
}

/// Deep flow nesting costs the YAML scanner depth × tokens (40,000 `[` took it 4 s, a whole
/// 256 KiB record of them would take over a minute): 10,000 nested flow sequences and flow
/// mappings in a typed field, a record that is nothing but `[` up to the size cap, and the
/// worst the bound still lets through (256 levels, then 250 KB of tokens at that depth).
#[test]
fn rejects_deeply_nested_yaml() {
    let w = World::new();
    let p = w.record(BOB);
    for (open, close) in [("[", "]"), ("{a: ", "}")] {
        let deep = format!("{}\"x\"{}", open.repeat(10_000), close.repeat(10_000));
        let text = with_line(&p, SUMMARY, &format!("  summary: {deep}\n"));
        let c = w.decision_commit(&p, &text, &[CAROL]);
        rejected(
            &w,
            &[&onto_main(&c)],
            want("record-malformed")
                .commit(&c)
                .path(&p.path)
                .mentions("10000 `[`/`{` characters, more than the 256"),
        );
        hook_rejects_within_bounds(&w, &c, "record-malformed");
    }
    let c = w.decision_commit(&p, &"[".repeat(256 * 1024 - 1), &[CAROL]);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("record-malformed").commit(&c).path(&p.path),
    );
    hook_rejects_within_bounds(&w, &c, "record-malformed");

    let mut worst = format!("  summary: {}", "[".repeat(256));
    while worst.len() < 250_000 {
        worst.push_str("1,");
    }
    worst.push_str(&format!("1{}\n", "]".repeat(256)));
    let text = with_line(&p, SUMMARY, &worst);
    let c = w.decision_commit(&p, &text, &[CAROL]);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("record-malformed").commit(&c).path(&p.path),
    );
    hook_rejects_within_bounds(&w, &c, "record-malformed");
}

/// The same attacks on an unsigned governance change: the hook parses the pushed policy (to
/// name what is wrong with it) before it looks for admin signatures, so the bounds must hold
/// there too. An alias bomb, and 1 MiB of flow nesting (which the YAML scanner would take tens
/// of minutes over).
#[test]
fn rejects_hostile_yaml_in_policy() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let policy = w.file_at(&main, ".aiaudit/policy.yaml");
    let first = "  - id: \"alice\"\n";
    let big = "x".repeat(16 * 1024);
    let bomb = format!(
        "{first}    forge_logins: [&s \"{big}\"{}]\n",
        ", *s".repeat(12_000)
    );
    let deep = format!("{first}    forge_logins: {}\n", "[".repeat(1000 * 1000));
    for (text, says) in [
        (replace_once(&policy, first, &bomb), "anchors and aliases"),
        (
            replace_once(&policy, first, &deep),
            "write lists in block style",
        ),
    ] {
        let c = w.commit(
            &main,
            &[Edit::File(".aiaudit/policy.yaml", text.as_bytes())],
            "policy: hostile\n",
        );
        rejected(
            &w,
            &[&onto_main(&c)],
            want("policy-invalid").commit(&c).mentions(says),
        );
        hook_rejects_within_bounds(&w, &c, "policy-invalid");
    }
}

/// A record that breaks one rule 25,000 times (25,000 empty `identities`): the push is
/// rejected with the first findings and a count of the rest, not 25,000 findings relayed to the
/// pusher's terminal.
#[test]
fn rejects_a_flood_of_findings_briefly() {
    let w = World::new();
    let p = w.record(BOB);
    let list = format!("action:\n  identities:\n{}", "    - \"\"\n".repeat(25_000));
    let text = replace_once(&p.text, "action:\n", &list);
    assert!(text.len() < 256 * 1024, "{}", text.len());
    let c = w.decision_commit(&p, &text, &[CAROL]);
    let findings = rejected(
        &w,
        &[&onto_main(&c)],
        want("field-missing")
            .commit(&c)
            .path(&p.path)
            .mentions("action.identities[0]: must not be empty"),
    );
    assert_eq!(findings.len(), 100, "{findings:?}");
    let out = push_bounded(&w, &[&onto_main(&c)]).out;
    assert!(
        out.stderr
            .contains("more violation(s) not shown; run `aiaudit verify`"),
        "{out}"
    );
}

// ---- bytes ------------------------------------------------------------------------------------

/// A 100 MB record: rejected from the blob's header alone. The hook's peak memory stays far
/// below the file's size, so it never loaded it.
#[test]
fn rejects_100_mb_file_without_reading_it() {
    let w = World::new();
    let p = w.record(BOB);
    let size: u64 = 100 * 1000 * 1000;
    let big = w.work.parent().unwrap().join("files").join("big.yaml");
    // A sparse file: created instantly, hashed at disk-read speed.
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(size))
        .expect("sparse file");
    let t = Instant::now();
    let oid = w.git(&["hash-object", "-w", s(&big)]).ok();
    eprintln!("hash-object of 100 MB: {:?}", t.elapsed());
    let main = w.server_ref(MAIN).expect("main");
    let tree = tree_with(&w, &main, &[("100644", &oid, &p.path)]);
    let c = commit_with_parents(&w, BOB, &tree, &[&main], &p.message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("file-too-large")
            .commit(&c)
            .path(&p.path)
            .mentions("100000000 bytes"),
    );
    // The memory bound of hook_rejects_within_bounds shows the 100 MB were never read.
    hook_rejects_within_bounds(&w, &c, "file-too-large");
}

#[test]
fn rejects_non_utf8_bytes() {
    let w = World::new();
    let p = w.record(BOB);
    let mut bytes = p.text.clone().into_bytes();
    let at = p.text.find("billing-db\"").expect("summary");
    bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
    let mut message = p.message.clone();
    message.push_str(&w.approved_by(CAROL, &bytes));
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File(&p.path, &bytes)], &message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("not-utf8")
            .commit(&c)
            .path(&p.path)
            .mentions(&format!("invalid UTF-8 at byte {at}")),
    );
}

#[test]
fn rejects_nul_bytes() {
    let w = World::new();
    let p = w.record(BOB);
    let at = p.text.find("billing-db\"").expect("summary");
    let text = format!("{}\0{}", &p.text[..at], &p.text[at..]);
    let c = w.decision_commit(&p, &text, &[CAROL]);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("not-utf8")
            .commit(&c)
            .path(&p.path)
            .mentions(&format!("NUL byte at byte {at}")),
    );
}

/// 1 MB trailer values: an `Approved-by` (next to carol's genuine one) and a `Decision-Id`.
/// Rejected as malformed or mismatched, without echoing the megabyte back to the pusher.
#[test]
fn rejects_huge_trailer_values() {
    let w = World::new();
    let p = w.record(BOB);
    let huge = "A".repeat(1024 * 1024);

    let mut message = p.message.clone();
    message.push_str(&w.approved_by(CAROL, p.text.as_bytes()));
    message.push_str(&format!(
        "Approved-by: carol <carol@example.com> key={huge}\n"
    ));
    let main = w.server_ref(MAIN).expect("main");
    let c = w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("trailer-mismatch")
            .commit(&c)
            .path(&p.path)
            .mentions("longer than 8192 bytes"),
    );
    hook_rejects_within_bounds(&w, &c, "trailer-mismatch");

    let d = Decision {
        message: replace_trailer(&p.message, "Decision-Id", &huge),
        ..p.clone()
    };
    let c = w.decision_commit(&d, &p.text, &[CAROL]);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("trailer-mismatch").commit(&c).path(&p.path),
    );
}

// ---- trees ------------------------------------------------------------------------------------

/// 20,000 files in one commit (one shared blob, so the push itself stays small): the diff stops
/// at the limit and the finding names it.
#[test]
fn rejects_thousands_of_files_in_one_commit() {
    let w = World::new();
    let p = w.record(BOB);
    let oid = blob(&w, p.text.as_bytes());
    let paths: Vec<String> = (0..20_000)
        .map(|i| format!("decisions/2026/01/f{i:05}.yaml"))
        .collect();
    let entries: Vec<(&str, &str, &str)> = paths
        .iter()
        .map(|path| ("100644", oid.as_str(), path.as_str()))
        .collect();
    let main = w.server_ref(MAIN).expect("main");
    let tree = tree_with(&w, &main, &entries);
    let c = commit_with_parents(&w, BOB, &tree, &[&main], &p.message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("commit-multiple-records")
            .commit(&c)
            .mentions("more than 10000 changed files in one commit"),
    );
    hook_rejects_within_bounds(&w, &c, "commit-multiple-records");
}

/// An `id` holding path separators and `..` never reaches a path lookup: it is not a ULID.
#[test]
fn rejects_ids_with_path_separators() {
    let w = World::new();
    let p = w.record(BOB);
    for bad in [
        "../../.aiaudit/policy",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV/../../README",
        "..",
        "a\\\\b",
    ] {
        let text = replace_once(
            &p.text,
            &format!("id: \"{}\"", p.id),
            &format!("id: \"{bad}\""),
        );
        let d = Decision {
            message: replace_trailer(&p.message, "Decision-Id", bad),
            ..p.clone()
        };
        let c = w.decision_commit(&d, &text, &[CAROL]);
        rejected(
            &w,
            &[&onto_main(&c)],
            want("id-invalid").commit(&c).path(&p.path),
        );
    }
}

/// Tree entry names no checkout could produce: `..`, `.`, and backslash-separated paths (a
/// `/` inside a name is refused by git itself: `git mktree` says "path contains slash").
#[test]
fn rejects_dot_dot_and_backslash_entry_names() {
    let w = World::new();
    let p = w.record(BOB);
    let main = w.server_ref(MAIN).expect("main");
    let root = w.git(&["ls-tree", &main]).ok();
    let rec = blob(&w, p.text.as_bytes());
    let mut message = p.message.clone();
    message.push_str(&w.approved_by(CAROL, p.text.as_bytes()));
    let (year, month) = (&p.path[10..14], &p.path[15..17]);

    // decisions/YYYY/MM/.. and decisions/YYYY/MM/. holding the record: trees git's fsck
    // flags (hasDotdot, hasDot). git itself refuses them, as `hook install` set
    // receive.fsckObjects; on a server without that setting the hook refuses them, naming the
    // tree and git's message id.
    for (name, id) in [("..", "hasDotdot"), (".", "hasDot")] {
        let m = mktree(&w, &[format!("100644 blob {rec}\t{name}")]);
        let y = mktree(&w, &[format!("040000 tree {m}\t{month}")]);
        let d = mktree(&w, &[format!("040000 tree {y}\t{year}")]);
        let mut top: Vec<String> = root.lines().map(str::to_owned).collect();
        top.push(format!("040000 tree {d}\tdecisions"));
        let tree = mktree(&w, &top);
        let c = commit_with_parents(&w, BOB, &tree, &[&main], &message);
        let out = w.push(&[&onto_main(&c)]);
        assert!(!out.status.success() && out.stderr.contains(id), "{out}");
        w.git_in(&w.server, &["config", "receive.fsckObjects", "false"])
            .ok();
        let path = format!("decisions/{year}/{month}/");
        rejected(
            &w,
            &[&onto_main(&c)],
            want("object-malformed").commit(&c).path(&path).mentions(id),
        );
        w.git_in(&w.server, &["config", "receive.fsckObjects", "true"])
            .ok();
    }

    // A `..` directory at the root, holding a record path under it.
    let m = mktree(&w, &[format!("100644 blob {rec}\t{}.yaml", p.id)]);
    let y = mktree(&w, &[format!("040000 tree {m}\t{month}")]);
    let d = mktree(&w, &[format!("040000 tree {y}\t{year}")]);
    let dd = mktree(&w, &[format!("040000 tree {d}\tdecisions")]);
    let mut top: Vec<String> = root.lines().map(str::to_owned).collect();
    top.push(format!("040000 tree {dd}\t.."));
    let c = commit_with_parents(&w, BOB, &mktree(&w, &top), &[&main], &message);
    w.git_in(&w.server, &["config", "receive.fsckObjects", "false"])
        .ok();
    rejected(
        &w,
        &[&onto_main(&c)],
        want("object-malformed").commit(&c).mentions("hasDotdot"),
    );
    w.git_in(&w.server, &["config", "receive.fsckObjects", "true"])
        .ok();

    // The record's path with backslashes, as one file name at the root.
    let name = p.path.replace('/', "\\");
    let mut top: Vec<String> = root.lines().map(str::to_owned).collect();
    top.push(format!("100644 blob {rec}\t{name}"));
    let c = commit_with_parents(&w, BOB, &mktree(&w, &top), &[&main], &message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("path-not-allowed").commit(&c).path(&name),
    );
}

// ---- history shapes ---------------------------------------------------------------------------

/// A commit on main with 10,000 parents (main first, then 9,999 distinct side commits, all
/// written by one `git fast-import`).
#[test]
fn rejects_commit_with_10000_parents() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let n = 10_000;
    let mut stream = String::new();
    for i in 1..n {
        let msg = format!("side {i}\n");
        stream.push_str(&format!(
            "commit refs/hostile/side\nmark :{i}\ncommitter E2E <e2e@example.com> 1768471200 +0000\ndata {}\n{msg}from {main}\n\n",
            msg.len()
        ));
    }
    let msg = "octopus of ten thousand\n";
    stream.push_str(&format!(
        "commit refs/hostile/octopus\nmark :{n}\ncommitter E2E <e2e@example.com> 1768471200 +0000\ndata {}\n{msg}from {main}\n",
        msg.len()
    ));
    for i in 1..n {
        stream.push_str(&format!("merge :{i}\n"));
    }
    stream.push('\n');
    git_env(&w, &["fast-import", "--quiet"], stream.as_bytes(), &[]).ok();
    let c = w.rev_parse("refs/hostile/octopus");
    let parents = w.git(&["rev-list", "--parents", "-n1", &c]).ok();
    assert_eq!(
        parents.split_whitespace().count(),
        n + 1,
        "{c} has 10,000 parents"
    );
    rejected(
        &w,
        &[&onto_main(&c)],
        want("merge-commit")
            .commit(&c)
            .mentions("the commit has 10000 parents"),
    );
    hook_rejects_within_bounds(&w, &c, "merge-commit");
}

/// Octopus merges (three parents) on main: with main as first parent, and with main as the
/// last parent behind a proposal commit.
#[test]
fn rejects_octopus_merges() {
    let w = World::new();
    let a = w.record(BOB);
    let b = w.record_with(BOB, "Rotate the deploy key", "rotate it");
    let main = w.server_ref(MAIN).expect("main");
    let tree = w.rev_parse(&format!("{}^{{tree}}", a.commit));

    let c = commit_with_parents(&w, BOB, &tree, &[&main, &a.commit, &b.commit], &a.message);
    rejected(
        &w,
        &[&onto_main(&c)],
        want("merge-commit")
            .commit(&c)
            .mentions("the commit has 3 parents"),
    );

    let c = commit_with_parents(&w, BOB, &tree, &[&a.commit, &b.commit, &main], &a.message);
    rejected(&w, &[&onto_main(&c)], want("merge-commit").commit(&c));
}

// ---- objects that are not commits -------------------------------------------------------------

/// An annotated tag object: pushed as main, to an ordinary tag ref, to a proposal ref and as a
/// checkpoint (unsigned).
#[test]
fn rejects_tag_objects() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let tag = |name: &str| {
        let obj = format!(
            "object {main}\ntype commit\ntag {name}\ntagger E2E <e2e@example.com> 1768471200 +0000\n\nhostile\n"
        );
        w.git_stdin(
            &["hash-object", "-t", "tag", "-w", "--stdin"],
            obj.as_bytes(),
        )
        .ok()
    };

    let t = tag("main");
    rejected(
        &w,
        &[&format!("+{t}:{MAIN}")],
        want("ref-not-allowed")
            .commit(&t)
            .mentions("main must point to a commit, not a Tag"),
    );

    let t = tag("x");
    rejected(
        &w,
        &[&format!("{t}:refs/tags/x")],
        want("ref-not-allowed").refname("refs/tags/x"),
    );

    let p = w.record(BOB);
    let t = tag("p");
    let r = proposal_ref(&p.id);
    rejected(
        &w,
        &[&format!("{t}:{r}")],
        want("proposal-invalid").commit(&t),
    );

    let t = tag("checkpoint/x");
    rejected(
        &w,
        &[&format!("{t}:refs/tags/checkpoint/x")],
        want("checkpoint-invalid").commit(&t).mentions("not signed"),
    );
    // A lightweight checkpoint: the ref names a commit, not a tag object.
    rejected(
        &w,
        &[&format!("{main}:refs/tags/checkpoint/y")],
        want("checkpoint-invalid").mentions("annotated tag"),
    );
}

/// A blob and a tree pushed as main (git 2.47's client sends them with `+`, so they reach the
/// hook through a real push), to a proposal ref, and to a governance proposal ref.
#[test]
fn rejects_blob_and_tree_as_main() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let b = blob(&w, b"not a commit\n");
    let t = w.rev_parse(&format!("{main}^{{tree}}"));
    for (oid, kind) in [(&b, "Blob"), (&t, "Tree")] {
        rejected(
            &w,
            &[&format!("+{oid}:{MAIN}")],
            want("ref-not-allowed")
                .commit(oid)
                .mentions(&format!("main must point to a commit, not a {kind}")),
        );
        let proposal = proposal_ref("01ARZ3NDEKTSV4RRFFQ69G5FAV");
        rejected(
            &w,
            &[&format!("{oid}:{proposal}")],
            want("proposal-invalid")
                .commit(oid)
                .mentions("a proposal ref must point to a commit"),
        );
        rejected(
            &w,
            &[&format!("{oid}:refs/heads/governance/x")],
            want("proposal-invalid")
                .commit(oid)
                .mentions("must point to a commit"),
        );
    }
}

// ---- the hook's input -------------------------------------------------------------------------

/// Garbage on the hook's standard input: every case exits non-zero with a one-line reason
/// (`error[internal-error]`: the hook fails closed on input git never writes), in bounded time,
/// and never accepts.
#[test]
fn hook_refuses_garbage_input() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let zero = "0".repeat(40);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty input", Vec::new(), "no ref update"),
        ("blank lines", b"\n\n\n".to_vec(), "no ref update"),
        (
            "one field",
            b"hello\n".to_vec(),
            "expected `<old> <new> <ref>`",
        ),
        (
            "four fields",
            format!("{main} {main} {MAIN} extra\n").into_bytes(),
            "expected `<old> <new> <ref>`",
        ),
        (
            "tabs for spaces",
            format!("{main}\t{main}\t{MAIN}\n").into_bytes(),
            "expected `<old> <new> <ref>`",
        ),
        (
            "non-hex id",
            format!("{} {main} {MAIN}\n", "g".repeat(40)).into_bytes(),
            "is not an object id",
        ),
        (
            "short id",
            format!("{} {main} {MAIN}\n", &main[..12]).into_bytes(),
            "is not an object id",
        ),
        (
            "a SHA-256 id in a SHA-1 repository",
            format!("{main} {} {MAIN}\n", "ab".repeat(32)).into_bytes(),
            "object id",
        ),
        (
            "non-UTF-8",
            [main.as_bytes(), b" \xff\xfe ", MAIN.as_bytes(), b"\n"].concat(),
            "not UTF-8",
        ),
        (
            "a NUL byte in the ref name",
            format!("{zero} {main} refs/heads/ma\0in\n").into_bytes(),
            "`refs/heads/ma\\0in` is not a ref name",
        ),
        (
            "a short ref name",
            format!("{zero} {main} main\n").into_bytes(),
            "`main` is not a ref name",
        ),
        (
            "a ref name with `..`",
            format!("{zero} {main} refs/heads/../main\n").into_bytes(),
            "is not a ref name",
        ),
        (
            "an id of 1 MiB",
            format!("{} {main} {MAIN}\n", "f".repeat(1 << 20)).into_bytes(),
            "is not an object id",
        ),
        (
            "an object that does not exist",
            format!("{main} {} {MAIN}\n", "1".repeat(40)).into_bytes(),
            "is missing",
        ),
        (
            "17 MiB",
            format!("{zero} {main} {MAIN}\n")
                .repeat(17 * 1024 * 1024 / 83 + 1)
                .into_bytes(),
            "larger than 16 MiB",
        ),
    ];
    for (what, input, says) in cases {
        let ran = hook_direct(&w, &input);
        eprintln!("{what}: {:?}\n{}", ran.elapsed, ran.out);
        assert_no_panic(&ran.out);
        assert!(
            !ran.out.status.success(),
            "{what}: the hook accepted:\n{}",
            ran.out
        );
        // 3: the input is not what git writes. A well-formed update naming an object that is
        // not there is judged (and fails closed as an internal-error finding, exit 1).
        let exit = if what.contains("does not exist") {
            1
        } else {
            3
        };
        assert_eq!(ran.out.status.code(), Some(exit), "{what}:\n{}", ran.out);
        assert!(
            ran.out.stderr.contains("error[internal-error]"),
            "{}",
            ran.out
        );
        assert!(
            ran.out.stderr.contains("push rejected") && ran.out.stderr.contains(says),
            "{what}: expected a message saying `{says}`:\n{}",
            ran.out
        );
        assert!(ran.out.stderr.len() < 4096, "{what}: {}", ran.out);
    }
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(main.as_str()));
}
