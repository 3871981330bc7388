//! Faults: the hook killed mid-run, `record` and `approve` killed at any point, a read-only
//! repository and a full disk. Each must leave either the old state or the complete new one —
//! never a half-written commit, a dangling lock or a moved ref — and say clearly what failed.

use crate::harness::*;
use crate::hostile::{assert_no_panic, run_bounded, Ran};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Every `*.lock` file under `dir` (git's and gix's lock files share the suffix).
fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "lock") {
                out.push(p);
            }
        }
    }
    out
}

#[track_caller]
fn assert_no_locks(dir: &Path) {
    let locks = lock_files(dir);
    assert!(locks.is_empty(), "lock files left behind: {locks:?}");
}

/// `git fsck` of `dir` finds nothing wrong (dangling objects from an interrupted write are not
/// wrong: nothing refers to them).
#[track_caller]
fn assert_fsck_clean(w: &World, dir: &Path) {
    let out = w.git_in(dir, &["fsck", "--no-dangling", "--no-progress", "--strict"]);
    assert!(out.status.success(), "git fsck failed:\n{out}");
    let problems: Vec<&str> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(problems.is_empty(), "git fsck complains:\n{out}");
}

/// The hook script installed in the server, replaced by `script` for the duration of a test.
fn replace_hook(w: &World, script: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let hook = w.server.join("hooks").join("pre-receive");
    let tmp = w.server.join("hooks").join(".pre-receive.test");
    std::fs::write(&tmp, script).expect("write hook");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod hook");
    std::fs::rename(&tmp, &hook).expect("install hook");
}

/// What the server looks like after a push that must not have changed it: same refs, no lock
/// file, no quarantine directory left by receive-pack.
#[track_caller]
fn assert_server_untouched(w: &World, refs_before: &str) {
    assert_eq!(w.server_refs(), refs_before, "the server's refs moved");
    assert_no_locks(&w.server);
    let objects = std::fs::read_dir(w.server.join("objects")).expect("objects");
    let leftovers: Vec<_> = objects
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp_objdir") || n.starts_with("incoming-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "quarantine left behind: {leftovers:?}"
    );
}

/// A decision approved by carol and ready to land: its landing commit, not yet pushed.
fn landing(w: &World, summary: &str) -> Decision {
    let p = w.record_with(BOB, summary, "do it");
    w.approve_unpushed(&p, CAROL)
}

/// The hook killed with SIGKILL: at a range of moments while it checks a valid push (through
/// `timeout -s KILL`, which only ever signals its own child), and after it has accepted (the
/// hook process then dies by SIGKILL instead of exiting 0). Git rejects every such push and the
/// server is left exactly as it was; with the real hook back, the same push lands.
#[test]
fn hook_killed_mid_run_rejects_and_leaves_the_server_unchanged() {
    let w = World::new();
    let good = landing(&w, "Grant read access to billing-db");
    let real = std::fs::read_to_string(w.server.join("hooks/pre-receive")).expect("hook");
    let refs = w.server_refs();

    // Killed after a complete, accepting run.
    replace_hook(
        &w,
        &format!("#!/bin/sh\n'{AIAUDIT}' hook pre-receive\nkill -KILL $$\n"),
    );
    let out = w.push(&[&onto_main(&good.commit)]);
    eprintln!("{out}");
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("aiaudit: accepted"), "{out}");
    assert!(out.stderr.contains("pre-receive hook declined"), "{out}");
    assert_server_untouched(&w, &refs);

    // Killed while it works, at growing delays; stops once the hook outruns the kill. The
    // hook's private temporary directory (alternates to the quarantine) lives in a TMPDIR of
    // our own, to see what a SIGKILL leaves there.
    let hook_tmp = w.work.parent().unwrap().join("hook-tmp");
    std::fs::create_dir(&hook_tmp).expect("hook tmp");
    let mut killed = 0;
    let mut landed = false;
    // (`timeout` treats 0 as "no timeout": the shortest delay is 1 ms.)
    for ms in [1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 130, 200, 400, 1000, 3000] {
        let delay = format!("{}.{:03}", ms / 1000, ms % 1000);
        replace_hook(
            &w,
            &format!(
                "#!/bin/sh\nTMPDIR='{}' exec timeout -s KILL {delay} '{AIAUDIT}' hook pre-receive\n",
                s(&hook_tmp)
            ),
        );
        let out = w.push(&[&onto_main(&good.commit)]);
        eprintln!("kill after {delay}s:\n{out}");
        assert_no_panic(&out);
        if out.status.success() {
            assert_eq!(w.server_ref(MAIN).as_deref(), Some(good.commit.as_str()));
            assert!(out.stderr.contains("aiaudit: accepted"), "{out}");
            landed = true;
            break;
        }
        assert!(out.stderr.contains("pre-receive hook declined"), "{out}");
        assert_server_untouched(&w, &refs);
        killed += 1;
    }
    assert!(
        killed >= 3,
        "the hook was killed mid-run only {killed} time(s)"
    );
    // A SIGKILL gives the hook no chance to remove its temporary directory (a few bytes: an
    // `alternates` file); it is outside the repository, which is what must stay unchanged.
    let stale = std::fs::read_dir(&hook_tmp).expect("hook tmp").count();
    eprintln!(
        "hook killed mid-run {killed} time(s); landed under the kill timer: {landed}; \
         {stale} temporary dir(s) left in TMPDIR"
    );

    // The real hook back: the very push that was killed lands, and the server is sound.
    std::fs::write(w.server.join("hooks/pre-receive"), real).expect("restore hook");
    if !landed {
        w.push_accepted(&[&onto_main(&good.commit)]);
    }
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(good.commit.as_str()));
    assert_no_locks(&w.server);
    assert_fsck_clean(&w, &w.server);
    let next = landing(&w, "Rotate the deploy key");
    w.push_accepted(&[&onto_main(&next.commit)]);
}

/// After a SIGKILL: the lock files the killed process held, if it died inside a ref
/// transaction. A SIGKILL cannot be cleaned up after — git leaves its locks the same way — so
/// what must hold is that (1) only ref-transaction locks remain (`packed-refs.lock`, a
/// `refs/**.lock`), never a half-written ref: every ref still reads; (2) while
/// `packed-refs.lock` remains, the next `aiaudit` write fails clearly, naming the lock, and
/// changes nothing (checked the first time only); (3) once the user removes the stale locks, work goes on. Returns whether
/// locks were left.
fn stale_locks_after_kill(w: &World, next: &[&str], shown: &mut bool) -> bool {
    let git = w.work.join(".git");
    let locks = lock_files(&git);
    if locks.is_empty() {
        return false;
    }
    for l in &locks {
        let rel = l.strip_prefix(&git).unwrap();
        // `index.lock`: killed while bringing the checkout along after the ref moved (git's
        // own checkout leaves it the same way); the next command notes it and goes on.
        assert!(
            rel == Path::new("packed-refs.lock")
                || rel.starts_with("refs")
                || rel == Path::new("index.lock"),
            "a lock outside the ref transaction was left: {}",
            l.display()
        );
    }
    let refs = w.git(&["for-each-ref"]).ok();
    // (Once per test: each try waits out gix's one-second lock timeout.)
    if !*shown && locks.iter().any(|l| l.ends_with("packed-refs.lock")) {
        *shown = true;
        let out = w.aiaudit(next);
        eprintln!("with a stale lock:\n{out}");
        assert_no_panic(&out);
        assert!(
            !out.status.success(),
            "a write went through a held lock:\n{out}"
        );
        assert!(
            out.stderr.contains("packed-refs.lock"),
            "the error names no lock:\n{out}"
        );
        assert_eq!(
            w.git(&["for-each-ref"]).ok(),
            refs,
            "a failed write moved a ref"
        );
    }
    for l in &locks {
        std::fs::remove_file(l).expect("remove stale lock");
    }
    eprintln!("stale lock(s) after SIGKILL, removed: {locks:?}");
    true
}

/// `aiaudit ARGS` in `dir`, killed with SIGKILL after `secs` seconds if still running.
fn aiaudit_killed_after(w: &World, dir: &Path, secs: f64, args: &[&str]) -> Ran {
    let mut c = w.command("timeout", dir);
    c.args(["-s", "KILL", &format!("{secs:.3}"), AIAUDIT])
        .args(args);
    run_bounded(c, None, WATCHDOG)
}

fn killed(r: &Ran) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    // timeout exits 137 (128 + SIGKILL) when it killed its child.
    r.out.status.code() == Some(137) || r.out.status.signal() == Some(9)
}

/// The arguments of a `record` of a config change (approved by carol alone under the
/// fixture's policy), not pushed.
fn record_args(w: &World, summary: &str) -> Vec<String> {
    let files = w.work.parent().unwrap().join("files");
    RecordFlags {
        initiator: BOB,
        action: "config-change",
        system: "github.com/acme/payments",
        summary,
        model: MODEL,
        prompt: &files.join("prompt.txt"),
        output: &files.join("output.txt"),
        recommendation: "raise it to 200/s",
    }
    .args()
    .into_iter()
    .chain(w.signer_args(BOB))
    .collect()
}

/// The proposal refs of the work clone, with their commits.
fn proposals(w: &World) -> Vec<(String, String)> {
    w.git(&[
        "for-each-ref",
        "--format=%(refname) %(objectname)",
        "refs/heads/proposals/",
    ])
    .ok()
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(r, o)| (r.to_owned(), o.to_owned()))
    .collect()
}

/// Kill delays that home in on the interesting moments, whatever the machine's load: each
/// killed run waits a step (a tenth of an uninterrupted run) longer next time, each completed
/// run retreats to 60% of its delay, so the runs saw back and forth across the moment the
/// command writes its objects and refs.
struct Delays {
    next: f64,
    step: f64,
}

impl Delays {
    fn new(full: Duration) -> Self {
        Delays {
            next: 0.001,
            step: (full.as_secs_f64() / 10.0).max(0.001),
        }
    }
    fn after(&mut self, killed: bool) {
        self.next = if killed {
            self.next + self.step
        } else {
            (self.next * 0.6).max(0.001)
        };
    }
}

/// `record`, killed at 30 moments across its run: afterwards every proposal ref names a
/// complete commit holding a valid record (`aiaudit show` reads it; the hook accepts it), a
/// killed run created no ref at all, nothing is locked and `git fsck` is clean.
#[test]
fn record_interrupted_leaves_no_half_written_state() {
    let w = World::new();
    let main = w.rev_parse(MAIN);
    let args = record_args(&w, "Raise the rate limit");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = std::time::Instant::now();
    w.aiaudit(&argv).ok();
    let full = t.elapsed();
    let mut before = proposals(&w);
    let (mut interrupted, mut completed, mut stale) = (0, 0, 0);
    let mut shown = false;
    let mut delays = Delays::new(full);
    for _ in 0..30 {
        let secs = delays.next;
        let r = aiaudit_killed_after(&w, &w.work, secs, &argv);
        delays.after(killed(&r));
        assert_no_panic(&r.out);
        let after = proposals(&w);
        if killed(&r) {
            interrupted += 1;
            // Killed: either nothing, or exactly one new, complete proposal (the kill came
            // after the ref was written, before the id was printed).
            assert!(after.len() <= before.len() + 1, "{after:?}");
        } else {
            r.out.ok();
            completed += 1;
            assert_eq!(after.len(), before.len() + 1, "{after:?}");
        }
        for (name, commit) in after.iter().filter(|p| !before.contains(p)) {
            let id = name.rsplit('/').next().unwrap();
            w.git(&["cat-file", "-e", &format!("{commit}^{{tree}}")])
                .ok();
            w.aiaudit(&["show", id]).ok();
        }
        assert_eq!(w.rev_parse(MAIN), main, "record moved main");
        let locked = stale_locks_after_kill(&w, &argv, &mut shown);
        assert!(!locked || killed(&r), "a completed record left a lock");
        stale += usize::from(locked);
        before = after;
        eprintln!("record killed after {secs:.3}s: killed={}", killed(&r));
    }
    assert_fsck_clean(&w, &w.work);
    assert_no_locks(&w.work.join(".git"));
    eprintln!(
        "record: {interrupted} interrupted, {completed} completed, {stale} left stale ref locks \
         (uninterrupted run: {full:?})"
    );
    assert!(
        interrupted >= 10,
        "only {interrupted} runs were interrupted"
    );
    assert!(completed >= 1, "no run completed");
    // Every proposal that exists is one the hook accepts.
    let refspecs: Vec<String> = proposals(&w)
        .into_iter()
        .map(|(r, _)| format!("{r}:{r}"))
        .collect();
    let refspecs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
    w.push_accepted(&refspecs);
}

/// `approve` (which lands: carol's approval is enough for a config change), killed at 30
/// moments across its run: afterwards main is either where it was or one complete, valid
/// landing commit further (`aiaudit verify` is clean, the hook accepts it), the proposal ref is
/// gone only if its decision landed, nothing is locked and `git fsck` is clean.
#[test]
fn approve_interrupted_leaves_no_half_written_state() {
    let w = World::new();
    let args = record_args(&w, "Raise the rate limit");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let key = w.signer_args(CAROL);
    let approve = |id: &str, secs: Option<f64>| -> Ran {
        let mut a = vec!["approve", id, "--yes"];
        a.extend(key.iter().map(String::as_str));
        match secs {
            Some(secs) => aiaudit_killed_after(&w, &w.work, secs, &a),
            None => {
                let mut c = w.command(AIAUDIT, &w.work);
                c.args(&a);
                run_bounded(c, None, WATCHDOG)
            }
        }
    };
    // Time one uninterrupted approval.
    let first = w.aiaudit(&argv).ok();
    let full = approve(&first, None);
    full.out.ok();
    let full = full.elapsed;

    let mut pending: Option<String> = None;
    let (mut interrupted, mut completed, mut stray, mut locks) = (0, 0, 0, 0);
    let mut shown = false;
    let mut delays = Delays::new(full);
    for _ in 0..30 {
        let secs = delays.next;
        let id = pending.take().unwrap_or_else(|| w.aiaudit(&argv).ok());
        let pref = proposal_ref(&id);
        let main_before = w.rev_parse(MAIN);
        let r = approve(&id, Some(secs));
        delays.after(killed(&r));
        assert_no_panic(&r.out);
        let main_after = w.rev_parse(MAIN);
        let proposal_after = w.git(&["rev-parse", "-q", "--verify", &pref]);
        if killed(&r) {
            interrupted += 1;
        } else {
            r.out.ok();
            completed += 1;
        }
        let locked = stale_locks_after_kill(&w, &argv, &mut shown);
        assert!(!locked || killed(&r), "a completed approve left a lock");
        locks += usize::from(locked);
        if main_after == main_before {
            // Not landed: the proposal is untouched, and approving again later must work.
            proposal_after.ok();
            pending = Some(id);
        } else {
            let parent = w.rev_parse(&format!("{main_after}^"));
            assert_eq!(parent, main_before, "main moved by more than one commit");
            let landed = w.message(&main_after);
            assert_eq!(trailer(&landed, "Decision-Id"), id);
            assert!(landed.contains("Approved-by: carol"), "{landed}");
            if proposal_after.status.success() {
                // Killed inside the ref transaction (main renamed into place, the proposal
                // ref not yet deleted): both refs are
                // complete, the leftover proposal names a decision already on main.
                stray += 1;
                // Approving it again refuses, naming the decision already on main.
                let again = approve(&id, None);
                eprintln!("approving the leftover proposal again:\n{}", again.out);
                assert!(!again.out.status.success(), "{}", again.out);
                assert!(
                    again.out.stderr.contains("error[duplicate-id]")
                        && again.out.stderr.contains("is already on main"),
                    "{}",
                    again.out
                );
                assert_eq!(w.rev_parse(MAIN), main_after, "approved twice");
                w.git(&["update-ref", "-d", &pref]).ok();
            }
        }
        eprintln!(
            "approve killed after {secs:.3}s: killed={} landed={}",
            killed(&r),
            main_after != main_before
        );
    }
    eprintln!(
        "approve: {interrupted} interrupted, {completed} completed, {stray} stray proposal \
         ref(s), {locks} left stale ref locks (uninterrupted run: {full:?})"
    );
    assert_no_locks(&w.work.join(".git"));
    assert!(
        interrupted >= 10,
        "only {interrupted} runs were interrupted"
    );
    assert!(completed >= 1, "no run completed");
    assert_fsck_clean(&w, &w.work);
    w.aiaudit(&["verify"]).ok();
    // The pending proposal, if any, still approves.
    if let Some(id) = pending {
        approve(&id, None).out.ok();
    }
    w.push_accepted(&[&format!("{MAIN}:{MAIN}")]);
}

// ---- read-only and full disks ---------------------------------------------------------------

/// A tmpfs mounted for one test, unmounted when dropped (before the World removes its
/// directory). `None` where this sandbox cannot mount.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| Mount(dir.to_owned()))
            .or_else(|| {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}): the disk fault is not exercised",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            })
    }

    /// A read-only view of `src` at `dst` (a bind mount, remounted read-only): writes through
    /// it fail with EROFS whatever the permissions, for root too.
    fn read_only_view(src: &Path, dst: &Path) -> Option<Mount> {
        std::fs::create_dir_all(dst).expect("mount point");
        let run = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .arg(src)
                .arg(dst)
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        if run(&["--bind"]).is_none() {
            eprintln!("SKIPPED: cannot bind-mount here: the read-only fault uses the fallback");
            return None;
        }
        let view = Mount(dst.to_owned());
        let ro = std::process::Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dst)
            .output()
            .expect("mount");
        assert!(ro.status.success(), "remount read-only: {ro:?}");
        Some(view)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A copy of the work clone at `dir`.
fn copy_clone(w: &World, dir: &Path) -> PathBuf {
    let to = dir.join("work");
    w.git_in(dir, &["clone", "-q", s(&w.server), s(&to)]).ok();
    to
}

/// A failed write: non-zero exit, the OS's reason and a path under `repo` in the message, no
/// panic.
#[track_caller]
fn assert_clear_write_error(out: &Out, repo: &Path, reason: &str) {
    assert_no_panic(out);
    assert!(!out.status.success(), "it succeeded:\n{out}");
    assert!(
        out.status.code().is_some_and(|c| c != 101),
        "not a clean exit:\n{out}"
    );
    assert!(out.stderr.contains(reason), "no `{reason}` in:\n{out}");
    assert!(
        out.stderr.contains(s(repo)),
        "the error names no path under {}:\n{out}",
        repo.display()
    );
}

/// `record` and `approve` in a repository on a read-only file system fail with the OS's
/// reason and the path, and change nothing; reading still works. (chmod cannot make a
/// read-only repository here: the tests run as root, and root ignores permission bits; a
/// read-only mount stops root too.)
#[test]
fn read_only_repository_gives_a_clear_error() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let repo = w.work.parent().unwrap().join("ro-view");
    let Some(view) = Mount::read_only_view(&w.work, &repo) else {
        return ref_dir_in_the_way(&w);
    };
    let refs_before = w.git_in(&repo, &["for-each-ref"]).ok();

    let args = record_args(&w, "Raise the rate limit");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.aiaudit_in(&repo, &argv);
    eprintln!("{out}");
    assert_clear_write_error(&out, &repo, "Read-only file system");

    let mut a = vec!["approve", p.id.as_str(), "--yes"];
    let key = w.signer_args(CAROL);
    a.extend(key.iter().map(String::as_str));
    let out = w.aiaudit_in(&repo, &a);
    eprintln!("{out}");
    assert_clear_write_error(&out, &repo, "Read-only file system");

    assert_eq!(w.git_in(&repo, &["for-each-ref"]).ok(), refs_before);
    // Reading still works.
    w.aiaudit_in(&repo, &["show", &p.id]).ok();
    w.aiaudit_in(&repo, &["verify"]).ok();
    drop(view);
    ref_dir_in_the_way(&w);
}

/// A repository a write cannot go into without mounts: the proposals ref directory replaced
/// by a file, so the new ref's directory cannot be created. `record` fails naming the ref and
/// leaves no ref and no lock.
fn ref_dir_in_the_way(w: &World) {
    let dir = w.work.join(".git/refs/heads/proposals");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::write(&dir, b"").expect("a file in the way");
    let refs_before = w.git(&["for-each-ref"]).ok();
    let args = record_args(w, "Raise the rate limit");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.aiaudit(&argv);
    eprintln!("{out}");
    assert_no_panic(&out);
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("refs/heads/proposals/"), "{out}");
    // gix reports the directory it cannot create ("File exists"), with the OS's error.
    assert!(out.stderr.contains("(os error"), "{out}");
    assert_eq!(w.git(&["for-each-ref"]).ok(), refs_before);
    assert_no_locks(&w.work.join(".git"));
}

/// `record` and `approve` on a full disk fail with "No space left on device" and the path,
/// leave no lock, no ref and a sound repository; once space is freed they work.
#[test]
fn full_disk_gives_a_clear_error_and_changes_nothing() {
    let w = World::new();
    let p = w.land_proposal(BOB);
    let root = w.work.parent().unwrap().join("full");
    let Some(_mount) = Mount::tmpfs(&root, "8m") else {
        return;
    };
    let repo = copy_clone(&w, &root);
    w.git_in(
        &repo,
        &[
            "fetch",
            "-q",
            "origin",
            &format!("+{0}:{0}", proposal_ref(&p.id)),
        ],
    )
    .ok();
    let refs_before = w.git_in(&repo, &["for-each-ref"]).ok();
    // Fill the file system to the last byte.
    let filler = root.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {
            byte[0] = 0;
        }
        let _ = f.sync_all();
    }

    let args = record_args(&w, "Raise the rate limit");
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.aiaudit_in(&repo, &argv);
    eprintln!("{out}");
    assert_clear_write_error(&out, &repo, "No space left on device");

    let mut a = vec!["approve", p.id.as_str(), "--yes"];
    let key = w.signer_args(CAROL);
    a.extend(key.iter().map(String::as_str));
    let out = w.aiaudit_in(&repo, &a);
    eprintln!("{out}");
    assert_clear_write_error(&out, &repo, "No space left on device");

    assert_eq!(w.git_in(&repo, &["for-each-ref"]).ok(), refs_before);
    assert_no_locks(&repo.join(".git"));

    // Space again: the same commands work, and the repository is sound.
    std::fs::remove_file(&filler).expect("free space");
    assert_fsck_clean(&w, &repo);
    w.aiaudit_in(&repo, &argv).ok();
    w.aiaudit_in(&repo, &a).ok();
    w.aiaudit_in(&repo, &["verify"]).ok();
    assert_fsck_clean(&w, &repo);
}

/// The hook's own deadline (`--timeout`, `AIAUDIT_HOOK_TIMEOUT`): a check that overruns it is
/// rejected, failing closed, and nothing on the server moves; a bad value is refused and the
/// push too.
#[test]
fn hook_deadline_rejects_an_overrunning_check() {
    let w = World::new();
    let good = landing(&w, "Grant read access to billing-db");
    let refs = w.server_refs();
    for (timeout, says) in [
        (
            "0.001",
            "the check did not finish within 0.001 s; failing closed",
        ),
        (
            "1ms",
            "the check did not finish within 0.001 s; failing closed",
        ),
        ("0", "--timeout"),
        ("soon", "--timeout"),
    ] {
        // The hook's private temp dir goes in its own TMPDIR, which must be left empty.
        let tmp = w
            .files
            .join(format!("hook-tmp-{}", timeout.replace('.', "_")));
        std::fs::create_dir_all(&tmp).unwrap();
        replace_hook(
            &w,
            &format!(
                "#!/bin/sh\nTMPDIR='{}' AIAUDIT_HOOK_TIMEOUT={timeout} exec '{AIAUDIT}' hook pre-receive\n",
                tmp.display()
            ),
        );
        let out = w.push(&[&onto_main(&good.commit)]);
        assert!(!out.status.success(), "{out}");
        assert!(out.stderr.contains(says), "timeout {timeout}: {out}");
        assert!(out.stderr.contains("pre-receive hook declined"), "{out}");
        assert_no_panic(&out);
        assert_server_untouched(&w, &refs);
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "timeout {timeout} left {left:?}");
    }
    // Deadlines close to the check's own time: whichever comes first, the push gets one
    // verdict. What the pusher reads, git's exit status and the server agree: accepted, or
    // rejected by the deadline with nothing moved, never "rejected" and then landed.
    let main_before = w.server_ref("refs/heads/main").expect("main");
    for ms in [2, 5, 10, 20, 40, 80] {
        replace_hook(
            &w,
            &format!("#!/bin/sh\nAIAUDIT_HOOK_TIMEOUT={ms}ms exec '{AIAUDIT}' hook pre-receive\n"),
        );
        let out = w.push(&[&onto_main(&good.commit)]);
        let rejected = out.stderr.contains("push rejected");
        let accepted = out.stderr.contains("aiaudit: accepted");
        assert!(rejected != accepted, "{ms} ms: one verdict: {out}");
        assert_eq!(out.status.success(), accepted, "{ms} ms: {out}");
        assert_no_panic(&out);
        if accepted {
            // Put the server back for the next round (the test's own set-up, not a push).
            w.git_in(&w.server, &["update-ref", "refs/heads/main", &main_before]);
        }
        assert_server_untouched(&w, &refs);
    }
    // A generous deadline changes nothing, in seconds or with a unit.
    replace_hook(
        &w,
        &format!("#!/bin/sh\nAIAUDIT_HOOK_TIMEOUT=5s exec '{AIAUDIT}' hook pre-receive\n"),
    );
    w.push_accepted(&[&onto_main(&good.commit)]);
}

/// `hook install --binary PATH` runs that program; when it goes away, every push is refused
/// with a message naming it (fails closed, saying why), and reinstalling restores pushes. A
/// binary in a build directory gets a warning at install time.
#[test]
fn a_missing_hook_binary_refuses_pushes_and_says_why() {
    let w = World::new();
    let good = landing(&w, "Grant read access to billing-db");
    let refs = w.server_refs();
    let out = w.aiaudit_in(&w.server, &["hook", "install", ".", "--force"]);
    out.ok();
    assert!(out.stderr.contains("is in a build directory"), "{out}");

    let bin = w.files.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("aiaudit");
    std::fs::copy(AIAUDIT, &copy).unwrap();
    let out = w.aiaudit_in(
        &w.server,
        &["hook", "install", ".", "--force", "--binary", s(&copy)],
    );
    out.ok();
    assert!(!out.stderr.contains("build directory"), "{out}");
    std::fs::remove_file(&copy).unwrap();
    let out = w.push(&[&onto_main(&good.commit)]);
    assert!(!out.status.success(), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "the hook's program '{}' is missing or not executable",
            copy.display()
        )) || out.stderr.contains(&format!(
            "the hook's program {} is missing or not executable",
            copy.display()
        )),
        "{out}"
    );
    assert_server_untouched(&w, &refs);
    // --binary must name an executable file.
    let out = w.aiaudit_in(
        &w.server,
        &["hook", "install", ".", "--force", "--binary", s(&copy)],
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    std::fs::copy(AIAUDIT, &copy).unwrap();
    w.aiaudit_in(
        &w.server,
        &["hook", "install", ".", "--force", "--binary", s(&copy)],
    )
    .ok();
    w.push_accepted(&[&onto_main(&good.commit)]);
}

/// Over smart HTTP the hook's environment carries the pusher's credentials
/// (`HTTP_AUTHORIZATION`): the hook neither reads nor shows them, accepting or rejecting.
#[test]
fn the_hook_neither_reads_nor_shows_credentials_in_its_environment() {
    let w = World::new();
    let good = landing(&w, "Grant read access to billing-db");
    let secret = "Basic Ym9iOnMzY3IzdC1wYXNzd29yZC0xMjM=";
    replace_hook(
        &w,
        &format!(
            "#!/bin/sh\nHTTP_AUTHORIZATION='{secret}' REMOTE_USER=bob exec '{AIAUDIT}' hook pre-receive\n"
        ),
    );
    // Rejected (a tampered record), then accepted: the credential appears in neither.
    let bad = w.decision_commit(&good, &good.text.replace("Grant", "Grunt"), &[CAROL]);
    let out = w.push(&[&onto_main(&bad)]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stderr.contains("aiaudit: push rejected"), "{out}");
    let out2 = w.push(&[&onto_main(&good.commit)]);
    assert!(out2.status.success(), "{out2}");
    for o in [&out, &out2] {
        for needle in [secret, "Ym9iOnMzY3IzdC1wYXNzd29yZC0xMjM", "s3cr3t"] {
            assert!(
                !o.stderr.contains(needle) && !o.stdout.contains(needle),
                "{o}"
            );
        }
    }
}
