//! `aiaudit hook`: the server side. `pre-receive` judges pushes; `install` puts the shim in
//! place.

use super::{errln, outln};
use super::{CliError, CliResult, EXIT_INTERNAL, EXIT_OK, EXIT_VIOLATIONS};
use crate::engine::{Checker, RefUpdate};
use crate::store::{Oid, Store};
use anyhow::anyhow;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The hook script template; `@AIAUDIT@` becomes the binary's path.
const PRE_RECEIVE: &str = include_str!("../../hooks/pre-receive");
/// Most input read from git (each line is ~100 bytes; a push of this size is refused).
const MAX_STDIN: usize = 16 * 1024 * 1024;
/// Most findings printed for one push: enough to fix a push, and a hostile one (a record that
/// breaks a rule 30,000 times) cannot flood the pusher's terminal through git's side band.
const MAX_SHOWN: usize = 100;

#[derive(Debug, clap::Subcommand)]
pub enum HookCommand {
    PreReceive(PreReceiveArgs),
    Install(InstallArgs),
    Index(IndexArgs),
}

/// Build (or bring up to main) the server repository's index of main, which the hook reads to
/// find where an old decision landed (`hook install` builds it; the hook keeps it). For servers
/// whose hook is installed by other means (GitLab, Gitea, GitHub Enterprise Server): run it
/// once as the repository's owner, so that no push waits for it.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// The repository's git directory.
    pub git_dir: PathBuf,
}

/// Run as git's pre-receive hook: read `<old> <new> <ref>` lines on standard input and reject
/// the whole push (exit 1) on any violation. Fails closed: any internal error rejects (exit 3).
#[derive(Debug, clap::Args)]
pub struct PreReceiveArgs {
    /// Reject the push when the check takes longer than this (a deadline, not a budget: a
    /// normal push takes milliseconds): seconds (`4.5`) or with a unit (`500ms`, `5s`, `2m`).
    /// Keep it under the forge's own hook limit (GitHub Enterprise Server: 5 s).
    #[arg(long, value_name = "SECONDS", env = "AIAUDIT_HOOK_TIMEOUT", default_value = "60",
          value_parser = parse_timeout)]
    pub timeout: f64,
}

/// Seconds, or a number with a unit: `ms`, `s`, `m`, `h`.
fn parse_timeout(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (number, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
        .iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n.trim(), *scale)))
        .unwrap_or((t, 1.0));
    match number.parse::<f64>().map(|v| v * scale) {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(
            "a deadline greater than 0 and at most a day: seconds (`4.5`) or with a unit (`500ms`, `5s`, `2m`)"
                .into(),
        ),
    }
}

/// The hook's private object directory (the quarantine made visible), removed by the watchdog
/// when it ends the process: `process::exit` runs no destructor.
static HOOK_TMP: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Who gives the push its verdict: the check, or the watchdog when the deadline passes first.
/// Exactly one of them claims it; the other says nothing and never exits with its own code.
static VERDICT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const BY_CHECK: u8 = 1;
const BY_WATCHDOG: u8 = 2;

/// Claims the verdict for `who`; false when the other side already has it.
fn claim_verdict(who: u8) -> bool {
    use std::sync::atomic::Ordering;
    VERDICT
        .compare_exchange(UNDECIDED, who, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

/// The check finished after the deadline claimed the verdict: the watchdog is ending the
/// process with a rejection, so this thread waits for it instead of answering git.
fn yield_to_watchdog() -> ! {
    loop {
        std::thread::park();
    }
}

/// When the check must have answered: set once, before the watchdog starts.
static DEADLINE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Whether the deadline has passed. The check asks before it claims the verdict: a watchdog
/// thread the scheduler has not run yet cannot let an overrunning check answer.
fn past_deadline() -> bool {
    DEADLINE
        .get()
        .is_some_and(|d| std::time::Instant::now() >= *d)
}

/// Fails the push closed when the check overruns `seconds`, counted from now: the process
/// exits from another thread, rejecting whatever it was doing (the hook writes only its index
/// of main, a cache whose interrupted write the next update repairs: `ledger::index`).
fn watchdog(seconds: f64) {
    let deadline = *DEADLINE
        .get_or_init(|| std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds));
    std::thread::spawn(move || {
        std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
        if !claim_verdict(BY_WATCHDOG) {
            // The check answered first; the process is exiting with its verdict.
            return;
        }
        refuse(&format!(
            "aiaudit: push rejected: error[internal-error]: the check did not finish within {seconds} s; failing closed"
        ));
        // The main thread creates and registers the directory under this lock: wait for it
        // briefly (never past two more seconds: the deadline must hold), and exit holding it,
        // so no directory is made after it was looked for.
        let start = std::time::Instant::now();
        let guard = loop {
            match HOOK_TMP.try_lock() {
                Ok(g) => break Some(g),
                Err(_) if start.elapsed() < std::time::Duration::from_secs(2) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(_) => break None,
            }
        };
        if let Some(dir) = guard.as_ref().and_then(|g| g.as_ref()) {
            let _ = std::fs::remove_dir_all(dir);
        }
        std::process::exit(EXIT_INTERNAL);
    });
}

/// Install the pre-receive hook into a (bare) repository on the git server.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The repository's git directory.
    pub git_dir: PathBuf,
    /// Replace an existing pre-receive hook.
    #[arg(long)]
    pub force: bool,
    /// The aiaudit program the hook runs (default: the one running this command). Give a
    /// stable installed path, e.g. /usr/local/bin/aiaudit: the hook runs it on every push.
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
}

pub fn run(cmd: HookCommand) -> CliResult {
    match cmd {
        HookCommand::PreReceive(a) => {
            watchdog(a.timeout);
            Ok(pre_receive())
        }
        HookCommand::Install(a) => install(a),
        HookCommand::Index(a) => {
            let store = Store::open_isolated(&a.git_dir).map_err(|e| {
                CliError::usage(e)
                    .hint("give the server repository's git directory, e.g. audit.git")
            })?;
            match index_main(&store)? {
                Some(n) => outln!("indexed main: {n} new commit(s)"),
                None => outln!("nothing to index: the repository has no main"),
            }
            Ok(EXIT_OK)
        }
    }
}

/// Brings the repository's index of main up to its main (`ledger::index::extend`); `None`
/// when there is no main yet.
fn index_main(store: &Store) -> Result<Option<usize>, CliError> {
    let Some(main) = store.ref_target(crate::ledger::MAIN_REF)? else {
        return Ok(None);
    };
    let dir = store.git_dir().join("aiaudit");
    crate::ledger::index::extend(store, &dir, main)
        .map(Some)
        .map_err(|e| CliError::internal(anyhow!("cannot index main in {}: {e}", dir.display())))
}

fn pre_receive() -> i32 {
    let outcome = std::panic::catch_unwind(judge_push);
    // Whatever the check concluded, it speaks only if the deadline has not passed: a push
    // past the deadline is rejected even when its check would have accepted it.
    if past_deadline() || !claim_verdict(BY_CHECK) {
        yield_to_watchdog();
    }
    match outcome {
        Ok(Ok((code, report))) => {
            for line in report {
                if code == EXIT_OK {
                    errln!("{line}");
                } else {
                    refuse(&line);
                }
            }
            code
        }
        Ok(Err(msg)) => {
            refuse(&format!(
                "aiaudit: push rejected: error[internal-error]: {msg}"
            ));
            EXIT_INTERNAL
        }
        Err(_) => {
            refuse("aiaudit: push rejected: error[internal-error]: the checker crashed; failing closed");
            EXIT_INTERNAL
        }
    }
}

/// Prints what rejects a push. Under GitLab, each line carries `GL-HOOK-ERR: ` first: GitLab
/// shows a server hook's lines with that prefix in its web interface when it declines a push
/// or a merge (GitLab's doc/administration/server_hooks.md, "Custom error messages"; GitLab,
/// unlike gitolite, sets `GL_PROTOCOL` and `GL_ID` for server hooks).
fn refuse(text: &str) {
    static GITLAB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let gitlab = *GITLAB.get_or_init(|| {
        ["GL_PROTOCOL", "GL_ID"]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
    });
    for line in text.split('\n') {
        if gitlab {
            errln!("GL-HOOK-ERR: {line}");
        } else {
            errln!("{line}");
        }
    }
}

/// Judges the push on standard input: the exit code and the lines to show the pusher.
fn judge_push() -> Result<(i32, Vec<String>), String> {
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_STDIN as u64 + 1)
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the hook's input: {e}"))?;
    if input.len() > MAX_STDIN {
        return Err("the hook's input is larger than 16 MiB".into());
    }
    let text =
        std::str::from_utf8(&input).map_err(|_| "the hook's input is not UTF-8".to_string())?;
    let updates = parse_updates(text)?;
    if updates.is_empty() {
        // git runs pre-receive only for a push that updates at least one ref: empty input
        // means the hook is not being run by git, and a hook never accepts what it cannot
        // account for.
        return Err("the hook's input names no ref update (git passes at least one)".into());
    }
    let env = |k: &str| std::env::var(k).ok();
    let store = {
        // Created and registered under the watchdog's lock (see `watchdog`).
        let mut registered = HOOK_TMP.lock().map_err(|_| "the hook's lock is poisoned")?;
        let store = Store::open_for_hook(&env).map_err(|e| e.to_string())?;
        *registered = store.hook_dir().map(Path::to_path_buf);
        store
    };
    let now = super::util::now().map_err(|e| format!("{:#}", e.error))?;
    // Who pushes: the server's word (a forge's variable, gitolite's, the web server's) or a
    // signed push's certificate (engine/pusher.rs).
    let identity = crate::engine::pusher::PushIdentity::from_env(env);
    let mut checker = Checker::new(&store, now)
        .with_push_identity(identity)
        .with_index_upkeep(super::util::index_after());
    let diags = checker.check_push(&updates);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.is_error());
    let mut report: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    if errors.is_empty() {
        report.push(format!("aiaudit: accepted {} ref update(s)", updates.len()));
        return Ok((EXIT_OK, report));
    }
    report.push(format!(
        "aiaudit: push rejected, {} violation(s):",
        errors.len()
    ));
    report.extend(errors.iter().take(MAX_SHOWN).map(ToString::to_string));
    if errors.len() > MAX_SHOWN {
        report.push(format!(
            "aiaudit: {} more violation(s) not shown; run `aiaudit verify` on the pushed commits for all of them",
            errors.len() - MAX_SHOWN
        ));
    }
    Ok((EXIT_VIOLATIONS, report))
}

/// Parses git's `<old> <new> <ref>` lines; the all-zero id means "none".
pub fn parse_updates(text: &str) -> Result<Vec<RefUpdate>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(old), Some(new), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "input line {}: expected `<old> <new> <ref>`",
                n + 1
            ));
        };
        let oid = |s: &str| -> Result<Option<Oid>, String> {
            let o = Oid::from_hex(s.as_bytes()).map_err(|_| {
                let shown: String = s.chars().take(80).collect();
                format!(
                    "input line {}: `{}` is not an object id",
                    n + 1,
                    shown.escape_debug()
                )
            })?;
            Ok((!o.is_null()).then_some(o))
        };
        let (old, new) = (oid(old)?, oid(new)?);
        // git passes full, valid ref names only: anything else is not git talking.
        if !crate::store::is_ref_name(name) {
            return Err(format!(
                "input line {}: `{}` is not a ref name",
                n + 1,
                name.chars().take(200).collect::<String>().escape_debug()
            ));
        }
        out.push(RefUpdate {
            old,
            new,
            name: name.to_owned(),
        });
    }
    Ok(out)
}

fn install(a: InstallArgs) -> CliResult {
    let store = Store::open_isolated(&a.git_dir).map_err(|e| {
        CliError::usage(e).hint("give the server repository's git directory, e.g. audit.git")
    })?;
    let hooks = store.git_dir().join("hooks");
    let target = hooks.join("pre-receive");
    if target.exists() && !a.force {
        return Err(CliError::usage(anyhow!(
            "{} exists; refusing to replace it",
            target.display()
        ))
        .hint("pass --force to replace it (chain other hooks from aiaudit's script by hand)"));
    }
    let exe = match &a.binary {
        Some(b) => b
            .canonicalize()
            .map_err(|e| CliError::usage(anyhow!("--binary {}: {e}", b.display())))?,
        None => std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| CliError::internal(anyhow!("cannot locate the aiaudit binary: {e}")))?,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let executable = std::fs::metadata(&exe)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if !executable {
            return Err(CliError::usage(anyhow!(
                "{} is not an executable file",
                exe.display()
            )));
        }
    }
    // A build directory goes away with `cargo clean`; every push would then be refused.
    // Cargo marks its target directory with CACHEDIR.TAG (and `.rustc_info.json`).
    let transient = exe
        .ancestors()
        .skip(1)
        .take(3)
        .any(|d| d.join("CACHEDIR.TAG").is_file() || d.join(".rustc_info.json").is_file());
    let exe = exe
        .to_str()
        .ok_or_else(|| CliError::usage(anyhow!("the aiaudit binary's path is not UTF-8")))?;
    let script = PRE_RECEIVE.replace("@AIAUDIT@", &shell_quote(exe));
    std::fs::create_dir_all(&hooks)
        .map_err(|e| CliError::usage(anyhow!("cannot create {}: {e}", hooks.display())))?;
    let tmp = hooks.join(".pre-receive.aiaudit-tmp");
    std::fs::write(&tmp, script)
        .map_err(|e| CliError::usage(anyhow!("cannot write {}: {e}", tmp.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| CliError::usage(anyhow!("cannot chmod {}: {e}", tmp.display())))?;
    }
    std::fs::rename(&tmp, &target)
        .map_err(|e| CliError::usage(anyhow!("cannot install {}: {e}", target.display())))?;
    // git itself checks every pushed object as `git fsck` does, before the hook runs: objects
    // no ref reaches are refused too (the engine judges those the refs reach).
    store.set_config("receive.fsckObjects", "true")?;
    // Signed pushes (`git push --signed`): git issues a nonce per push only with a seed, and
    // the hook accepts a certificate only with the nonce status `OK`. Over smart HTTP each
    // request is a new process, so the nonce comes back from an earlier one: the slop lets
    // git call a nonce of the last minute `OK`. An existing seed is kept (rotating it only
    // fails pushes in flight).
    let seeded = store.config_string("receive.certNonceSeed").is_some();
    if !seeded {
        store.set_config("receive.certNonceSeed", &random_seed()?)?;
    }
    if store.config_string("receive.certNonceSlop").is_none() {
        store.set_config("receive.certNonceSlop", "60")?;
    }
    // The index of main the hook reads to find where an old decision landed
    // (`ledger::index`); built here so that no push waits for it on a long history. A cache:
    // the hook keeps it up to date, and builds it on the first push that needs it if it could
    // not be built here.
    let indexed = index_main(&store).unwrap_or_else(|e| {
        errln!(
            "warning: main was not indexed ({:#}); the hook builds the index on the first push that needs it (or run `aiaudit hook index`)",
            e.error
        );
        None
    });
    outln!("installed {}", target.display());
    outln!("  runs: {exe} hook pre-receive");
    if transient {
        errln!(
            "warning: {exe} is in a build directory; if it goes away, every push is refused (the hook says why). Install aiaudit to a stable path and run `aiaudit hook install --force --binary /usr/local/bin/aiaudit`"
        );
    }
    outln!("  set receive.fsckObjects = true (git checks every pushed object as `git fsck` does)");
    outln!(
        "  {} receive.certNonceSeed (signed pushes: `git push --signed` proves who pushes)",
        if seeded { "kept" } else { "set" }
    );
    if let Some(n) = indexed {
        outln!("  indexed main ({n} new commit(s)): the hook finds where a decision landed without walking history");
    }
    Ok(EXIT_OK)
}

/// A fresh secret for git's push-certificate nonces (HMAC key, git-config(1)).
fn random_seed() -> Result<String, CliError> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            CliError::internal(anyhow!(
                "cannot read /dev/urandom for receive.certNonceSeed: {e}"
            ))
        })?;
    Ok(hex::encode(bytes))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
