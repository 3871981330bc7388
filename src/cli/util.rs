//! Pieces shared by the commands: opening the repository, the clock, the base of new commits,
//! signer options, proposals, pushing.

use super::errln;
use super::{CliError, CliResult};
use crate::diag::Diagnostic;
use crate::ledger::governance::Governance;
use crate::ledger::write::WriteError;
use crate::ledger::{MAIN_REF, PROPOSALS_PREFIX};
use crate::pgp::Signer;
use crate::policy::Policy;
use crate::store::{Change, ChangeKind, CommitData, Oid, Person, Store};
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// The clock. `AIAUDIT_NOW` (RFC 3339) pins it for reproducible demos and tests.
pub fn now() -> CliResult<SystemTime> {
    match std::env::var("AIAUDIT_NOW") {
        Ok(s) => {
            let ts: jiff::Timestamp = s
                .parse()
                .map_err(|e| CliError::usage(anyhow!("AIAUDIT_NOW=`{s}` is not RFC 3339: {e}")))?;
            let secs = u64::try_from(ts.as_second())
                .map_err(|_| CliError::usage(anyhow!("AIAUDIT_NOW=`{s}` is before 1970")))?;
            Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        }
        Err(_) => Ok(SystemTime::now()),
    }
}

/// Opens the audit repository a command run in `dir` works on (the repository `dir` is in,
/// or the one its `aiaudit.auditRepo` names) and reads the `aiaudit.*` settings
/// (`super::settings`).
pub fn open(dir: &Path) -> CliResult<Store> {
    super::settings::open_audit(dir)
}

/// The main commit new work builds on: the local main, or the remote-tracking main when it is
/// ahead of (or instead of) the local one.
pub fn main_base(store: &Store) -> CliResult<CommitData> {
    let local = store.ref_target(MAIN_REF)?;
    let remote = store.ref_target("refs/remotes/origin/main")?;
    let pick = match (local, remote) {
        (Some(l), Some(r)) if l != r => newer_of(store, l, r)?,
        (Some(l), _) => l,
        (None, Some(r)) => r,
        (None, None) => {
            return Err(
                CliError::usage(anyhow!("this repository has no main branch"))
                    .hint("create an audit repository with `aiaudit init`, or clone one"),
            )
        }
    };
    Ok(store.commit(pick)?)
}

/// Of two commits on main's first-parent line, the one that descends from the other; `l` when
/// neither does. Both chains are walked in step, so the cost is the distance between them, not
/// the length of history (a local main a few commits ahead of the remote's must not walk a
/// 100,000-commit history to the root looking for the remote's).
fn newer_of(store: &Store, l: Oid, r: Oid) -> CliResult<Oid> {
    let parent =
        |c: Oid| -> CliResult<Option<Oid>> { Ok(store.commit(c)?.parents.first().copied()) };
    let (mut x, mut y) = (Some(l), Some(r));
    while x.is_some() || y.is_some() {
        if let Some(c) = x {
            if c == r {
                return Ok(l);
            }
            x = parent(c)?;
        }
        if let Some(c) = y {
            if c == l {
                return Ok(r);
            }
            y = parent(c)?;
        }
    }
    Ok(l)
}

/// The policy at `tree`, for a command that needs nothing else of the governance state.
pub fn policy_at(store: &Store, tree: Oid) -> CliResult<Arc<Policy>> {
    Ok(Governance::new(store).policy_at(tree)?)
}

/// A write the engine refused: its findings, then `what` (what was not done).
pub fn refused(what: &'static str) -> impl FnOnce(WriteError) -> CliError {
    move |e| match e {
        WriteError::Rejected(d) => CliError::violations(anyhow!(what)).with_diagnostics(d),
        WriteError::Store(e) => e.into(),
    }
}

/// How a command signs: a key file (in-process, Ed25519) or GnuPG.
#[derive(Debug, Clone, clap::Args)]
pub struct SignerArgs {
    /// Sign in-process with this OpenPGP secret key file (Ed25519).
    #[arg(
        long,
        value_name = "FILE",
        env = "AIAUDIT_KEY",
        conflicts_with = "gpg_key"
    )]
    pub key: Option<PathBuf>,
    /// Sign through GnuPG with this key (fingerprint, key id or user id); for RSA and
    /// smartcard keys.
    #[arg(long, value_name = "KEY", env = "AIAUDIT_GPG_KEY")]
    pub gpg_key: Option<String>,
    /// The gpg program to use with --gpg-key.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "gpg",
        env = "AIAUDIT_GPG"
    )]
    pub gpg_program: PathBuf,
}

impl SignerArgs {
    /// The signer, when a key was given (or configured: `aiaudit.key`, `aiaudit.gpgKey`);
    /// `None` when none was.
    pub fn optional(&self) -> CliResult<Option<Signer>> {
        let this = self.configured();
        match (&this.key, &this.gpg_key) {
            (None, None) => Ok(None),
            _ => this.signer().map(Some),
        }
    }

    /// These options, with the configured key when neither --key nor --gpg-key (nor their
    /// variables) was given.
    fn configured(&self) -> SignerArgs {
        let mut this = self.clone();
        if this.key.is_none() && this.gpg_key.is_none() {
            let s = super::settings::settings();
            this.key = s.key;
            if this.key.is_none() {
                this.gpg_key = s.gpg_key;
            }
        }
        this
    }

    pub fn signer(&self) -> CliResult<Signer> {
        let this = self.configured();
        match (&this.key, &this.gpg_key) {
            (Some(path), _) => Ok(Signer::KeyFile {
                path: path.clone(),
                passphrase: std::env::var("AIAUDIT_KEY_PASSPHRASE").ok(),
            }),
            (None, Some(k)) => Ok(Signer::Gpg {
                program: this.gpg_program.clone(),
                key: k.clone(),
            }),
            (None, None) => Err(CliError::usage(anyhow!("no signing key given")).hint(
                "pass --key FILE (an Ed25519 key file) or --gpg-key KEY (a key held by GnuPG), or configure one once: git config --global aiaudit.key FILE (or aiaudit.gpgKey KEY)",
            )),
        }
    }
}

/// A decision waiting on a proposal ref.
pub struct Proposal {
    pub refname: String,
    pub commit: CommitData,
    pub parent: CommitData,
    pub path: String,
    pub bytes: Vec<u8>,
    /// The context content it stores (`record --store-context`): `context/<xx>/<sha256>` files.
    pub stored: Vec<Change>,
}

/// Every proposal ref, local and remote-tracking; a local ref wins over a remote one.
pub fn proposal_refs(store: &Store) -> CliResult<Vec<(String, String, Oid)>> {
    let mut out: Vec<(String, String, Oid)> = Vec::new();
    for (name, oid) in store.refs_with_prefix(PROPOSALS_PREFIX)? {
        let id = name[PROPOSALS_PREFIX.len()..].to_owned();
        out.push((id, name, oid));
    }
    for (name, oid) in store.refs_with_prefix("refs/remotes/")? {
        let Some(pos) = name.find("/proposals/") else {
            continue;
        };
        let id = name[pos + "/proposals/".len()..].to_owned();
        if !out.iter().any(|(i, _, _)| *i == id) {
            out.push((id, name, oid));
        }
    }
    out.sort();
    Ok(out)
}

/// Loads the proposal for `id` (a full id or a unique prefix).
pub fn find_proposal(store: &Store, id: &str) -> CliResult<Proposal> {
    let refs = proposal_refs(store)?;
    let matches: Vec<_> = refs.iter().filter(|(i, _, _)| i.starts_with(id)).collect();
    let (_, refname, oid) = match matches.as_slice() {
        [one] => *one,
        [] => return Err(
            CliError::usage(anyhow!("no proposal for decision `{id}`")).hint(
                "`aiaudit pending` lists proposals; fetch first if it was pushed by someone else",
            ),
        ),
        many => {
            return Err(CliError::usage(anyhow!(
                "`{id}` matches {} proposals; give more of the id",
                many.len()
            )))
        }
    };
    load_proposal(store, refname, *oid)
}

pub fn load_proposal(store: &Store, refname: &str, oid: Oid) -> CliResult<Proposal> {
    let commit = store.commit(oid)?;
    let bad = |m: String| CliError::violations(anyhow!("{refname} ({oid}): {m}"));
    let [p] = commit.parents.as_slice() else {
        return Err(bad("a proposal is one commit with one parent".into()));
    };
    let parent = store.commit(*p)?;
    let changes = store.diff_trees(Some(parent.tree), commit.tree, crate::ledger::MAX_CHANGES)?;
    let (stored, rest): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|ch| {
        ch.kind == ChangeKind::Added && crate::record::context_path_digest(&ch.path).is_some()
    });
    let [ch] = rest.as_slice() else {
        return Err(bad(format!(
            "expected one added decision (and stored context), found {} other changes",
            rest.len()
        )));
    };
    let (Some(e), ChangeKind::Added) = (ch.new, ch.kind) else {
        return Err(bad(format!("{} is not an added file", ch.path)));
    };
    let bytes = store.read_blob_capped(e.oid, crate::record::MAX_RECORD_BYTES as u64)?;
    Ok(Proposal {
        refname: refname.to_owned(),
        path: ch.path.clone(),
        commit,
        parent,
        bytes,
        stored,
    })
}

/// Puts `content` (`(sha256, bytes)`) into the local content store: a blob and its ref
/// `refs/aiaudit/content/<sha256>` each (`crate::engine::content`). Returns every ref with its
/// blob, those already there included (the server may still lack them).
pub fn keep_content(store: &Store, content: &[(String, Vec<u8>)]) -> CliResult<Vec<(String, Oid)>> {
    let mut out = Vec::new();
    for (sha, data) in content {
        let oid = store.write_blob(data)?;
        let name = crate::engine::content::content_ref(sha);
        match store.ref_target(&name)? {
            Some(o) if o == oid => {}
            Some(other) => {
                return Err(CliError::internal(anyhow!(
                    "{name} points at {other}, not at the blob {oid} of that content"
                )))
            }
            None => store.update_ref(&name, oid, None, "record: content")?,
        }
        out.push((name, oid));
    }
    Ok(out)
}

/// Runs `git ARGS REMOTE REFS` for transport (as [`git_push`] does); its stdout, or its
/// message.
fn git_transport(
    store: &Store,
    args: &[&str],
    remote: &str,
    refs: &[String],
) -> Result<String, String> {
    std::process::Command::new("git")
        .arg("--git-dir")
        .arg(store.git_dir())
        .args(args)
        .arg(remote)
        .args(refs)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))
        .and_then(|o| {
            if o.status.success() {
                Ok(String::from_utf8_lossy(&o.stdout).into_owned())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).trim().to_owned())
            }
        })
}

/// The blobs `remote`'s content store holds for `digests` (`git ls-remote`, which asks for
/// exactly these refs).
pub fn list_remote_content(
    store: &Store,
    remote: &str,
    digests: &[&str],
) -> Result<std::collections::HashMap<String, Oid>, String> {
    let refs: Vec<String> = digests
        .iter()
        .map(|d| crate::engine::content::content_ref(d))
        .collect();
    let listed = git_transport(store, &["ls-remote", "--refs"], remote, &refs)?;
    let mut found = std::collections::HashMap::new();
    for line in listed.lines() {
        let Some((oid, name)) = line.split_once('\t') else {
            continue;
        };
        let (Some(digest), Ok(oid)) = (
            crate::engine::content::content_ref_digest(name),
            Oid::from_hex(oid.as_bytes()),
        ) else {
            continue;
        };
        if digests.contains(&digest) {
            found.insert(digest.to_owned(), oid);
        }
    }
    Ok(found)
}

/// Fetches the content-store refs of `digests` that `remote` has, as objects only: no local
/// ref is made, so content an admin erases on the server is not kept alive by clones (their
/// next `git gc --prune=now` drops it). Returns the blob of each digest the server has.
pub fn fetch_content(
    store: &Store,
    remote: &str,
    digests: &[&str],
) -> Result<std::collections::HashMap<String, Oid>, String> {
    let found = list_remote_content(store, remote, digests)?;
    let absent: Vec<String> = found
        .iter()
        .filter(|(_, oid)| !matches!(store.object_kind(**oid), Ok(Some(_))))
        .map(|(d, _)| crate::engine::content::content_ref(d))
        .collect();
    if !absent.is_empty() {
        git_transport(
            store,
            &["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"],
            remote,
            &absent,
        )?;
    }
    Ok(found)
}

/// The committer: configured identity, else `fallback`; time from `GIT_COMMITTER_DATE` or now.
pub fn committer(store: &Store, fallback: &Person) -> Person {
    store.committer().unwrap_or_else(|_| fallback.clone())
}

/// A person for a principal at `time`.
pub fn person(name: &str, email: &str, time: i64) -> Person {
    Person {
        name: name.to_owned(),
        email: email.to_owned(),
        time,
        offset: 0,
    }
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A judgement's findings: an error when any is an error (carrying them all, with `what`
/// was not done), else the warnings printed.
pub fn judged(diags: Vec<Diagnostic>, what: &'static str) -> CliResult<()> {
    if diags.iter().any(Diagnostic::is_error) {
        return Err(CliError::violations(anyhow!(what)).with_diagnostics(diags));
    }
    print_diagnostics(&diags);
    Ok(())
}

/// Prints diagnostics the way every command does.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        errln!("{d}");
    }
}

/// Pushes refspecs to `remote` with the git binary. gix has no push support; this is the
/// only place aiaudit runs git, and it moves no object or ref locally.
pub fn git_push(store: &Store, remote: &str, refspecs: &[String]) -> CliResult<()> {
    push_judged(store, remote, refspecs).map_err(|(_, e)| e)
}

/// [`git_push`] of new refs that nobody else moves (a proposal and the content it names),
/// pushed again when the push lost a race: content refs are named by their content, so two
/// clients recording decisions with the same prompt at once both create
/// `refs/aiaudit/content/<sha256>`, and the second's atomic push fails ("reference already
/// exists"). On the next attempt git sees the server has that ref and sends only the rest.
pub fn git_push_new_refs(store: &Store, remote: &str, refspecs: &[String]) -> CliResult<()> {
    let started = std::time::Instant::now();
    for attempt in 0.. {
        match push_judged(store, remote, refspecs) {
            Ok(()) => return Ok(()),
            Err((PushRejection::ServerMovedOn, _)) if started.elapsed() < LANDING_BUDGET => {
                std::thread::sleep(backoff(attempt));
            }
            Err((_, e)) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// [`git_push`], also saying why the server refused.
fn push_judged(
    store: &Store,
    remote: &str,
    refspecs: &[String],
) -> Result<(), (PushRejection, CliError)> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(store.git_dir())
        .args(["push", "--atomic", "--porcelain", remote])
        .args(refspecs)
        // git's porcelain report is read here and then shown on stderr: stdout is the
        // command's own result (an id, a commit, JSON) and must stay parseable. The server's
        // messages (`remote:` lines) go straight to stderr.
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| {
            (
                PushRejection::Other,
                CliError::internal(anyhow!("cannot run git push: {e}")),
            )
        })?;
    let report = String::from_utf8_lossy(&out.stdout);
    errln!("{}", report.trim_end());
    if out.status.success() {
        return Ok(());
    }
    let rejected = PushRejection::of(&report);
    let err = CliError::violations(anyhow!(
        "git push to {remote} was rejected{}; nothing was changed there",
        rejected.why()
    ));
    let err = match &rejected {
        PushRejection::ServerMovedOn => err.hint(format!(
            "the server moved on: git fetch {remote} '+refs/heads/*:refs/remotes/{remote}/*' and run the command again"
        )),
        PushRejection::ServerRules(_) => err.hint(
            "aiaudit's hook accepted it: the server's own access rules (gitolite's, a forge's branch protection) must let you push and delete the refs aiaudit's commands push; docs/deploy.md gives the rules — ask the server's administrator",
        ),
        PushRejection::Hook | PushRejection::Other => err,
    };
    Err((rejected, err))
}

/// Why the server refused a push, from git's `--porcelain` report (git-push(1), OUTPUT).
#[derive(Debug, PartialEq, Eq)]
enum PushRejection {
    /// aiaudit's pre-receive hook refused it; its findings are above.
    Hook,
    /// The server's refs are ahead of the clone's (`fetch first`, `non-fast-forward`,
    /// `stale info`).
    ServerMovedOn,
    /// Something after the hook refused it (the `update` hook, as gitolite's access rules are
    /// enforced, a forge's branch protection); its reason.
    ServerRules(String),
    /// No report (the connection failed, the server could not be reached).
    Other,
}

impl PushRejection {
    fn of(report: &str) -> Self {
        let reasons: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with('!'))
            .filter_map(|l| l.rsplit_once('\t').map(|(_, summary)| summary))
            .collect();
        let reason = |r: &str| {
            r.rsplit_once('(')
                .map(|(_, why)| why.trim_end_matches(')').to_owned())
                .unwrap_or_default()
        };
        if reasons
            .iter()
            .any(|r| r.contains("pre-receive hook declined"))
        {
            return PushRejection::Hook;
        }
        if reasons.iter().any(|r| {
            r.starts_with("[rejected]")
                && ["fetch first", "non-fast-forward", "stale info"]
                    .iter()
                    .any(|w| r.contains(w))
        }) {
            return PushRejection::ServerMovedOn;
        }
        // Another push moved main between the hook's check and the ref update: receive-pack's
        // compare-and-swap fails ("cannot lock ref … is at … but expected …") and reports the
        // whole atomic transaction as failed.
        if reasons.iter().any(|r| {
            r.starts_with("[remote rejected]")
                && [
                    "atomic transaction failed",
                    "failed to update ref",
                    "failed to lock",
                ]
                .iter()
                .any(|w| r.contains(w))
        }) {
            return PushRejection::ServerMovedOn;
        }
        match reasons
            .iter()
            .find(|r| r.starts_with("[remote rejected]") && !r.contains("atomic push failure"))
        {
            Some(r) => PushRejection::ServerRules(reason(r)),
            None => PushRejection::Other,
        }
    }

    fn why(&self) -> String {
        match self {
            PushRejection::Hook => " by the audit server's hook (its findings are above)".into(),
            PushRejection::ServerMovedOn => {
                ": the server's main moved on (commits this clone has not fetched, or another push at the same moment)".into()
            }
            PushRejection::ServerRules(r) => format!(
                " by the server after aiaudit's hook accepted it (`{r}`: the server's own rules, see its message above)"
            ),
            PushRejection::Other => " (see git's message above)".into(),
        }
    }
}

/// `git fetch` of every branch of `remote` into `refs/remotes/<remote>/`, quietly (git's
/// messages go to stderr).
pub fn git_fetch(store: &Store, remote: &str) -> CliResult<()> {
    fetch_refspec(
        store,
        remote,
        &format!("+refs/heads/*:refs/remotes/{remote}/*"),
        "",
    )
}

/// `git fetch` of `remote`'s main alone into `refs/remotes/<remote>/main` (what a landing
/// rebuilds on), quietly.
fn git_fetch_main(store: &Store, remote: &str) -> CliResult<()> {
    fetch_refspec(
        store,
        remote,
        &format!("+{MAIN_REF}:refs/remotes/{remote}/main"),
        " of main",
    )
}

/// `git fetch --quiet --no-tags REMOTE REFSPEC` (git's messages go to stderr); `what` names
/// what was fetched in the error.
fn fetch_refspec(store: &Store, remote: &str, refspec: &str, what: &str) -> CliResult<()> {
    let status = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(store.git_dir())
        .args(["fetch", "--quiet", "--no-tags", remote, refspec])
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| CliError::internal(anyhow!("cannot run git fetch: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::usage(anyhow!(
            "git fetch{what} from {remote} failed (see git's message above)"
        )))
    }
}

/// The digest and size of a file given on the command line (`-`: standard input).
pub fn file_digest(path: &Path) -> CliResult<crate::record::ContentDigest> {
    let bytes = read_input(path)?;
    Ok(crate::record::ContentDigest {
        sha256: crate::record::digest::sha256_hex(&bytes),
        size: bytes.len() as u64,
    })
}

/// Reads a file given on the command line, `-` meaning standard input.
pub fn read_input(path: &Path) -> CliResult<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| CliError::usage(anyhow!("cannot read standard input: {e}")))?;
        Ok(buf)
    } else {
        std::fs::read(path)
            .map_err(|e| CliError::usage(anyhow!("cannot read {}: {e}", path.display())))
    }
}

/// Writes a command's whole output to standard output (a closed pipe ends the command quietly,
/// see `ErrorKind::BrokenPipe`).
pub fn write_stdout(bytes: &[u8]) -> CliResult<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush())?;
    Ok(())
}

/// Says where the checkout did not follow when the checked-out branch moved
/// (`Store::follow_checkout`).
pub fn note_left_alone(notes: &[crate::ledger::write::CheckoutNote]) {
    use crate::ledger::write::CheckoutNote;
    for n in notes {
        match n {
            CheckoutNote::LocalChanges(path) => errln!(
                "note: {path} has local changes in your checkout, so it was left as it was; `git status` shows how it differs from the branch"
            ),
            CheckoutNote::NotUpdated { reason, paths } => {
                errln!("note: the branch moved, but your checkout could not follow: {reason}");
                if !paths.is_empty() {
                    errln!(
                        "  bring it along with `git checkout HEAD -- {}` once nothing holds git's index",
                        paths.join(" ")
                    );
                }
            }
        }
    }
}

/// `--trust-root COMMIT` (or `AIAUDIT_TRUST_ROOT`) as a commit id: the root of trust pinned by
/// the auditors, for `verify`, `report`, `exec`, `status`.
pub fn parse_trust_root(arg: Option<&str>) -> CliResult<Option<Oid>> {
    arg.map(|s| {
        Oid::from_hex(s.as_bytes())
            .map_err(|_| CliError::usage(anyhow!("--trust-root `{s}` is not a full commit id")))
    })
    .transpose()
}

/// One local ref a command moved, to put back if the server refuses the push: from `after`
/// (what the command wrote; `None`: it deleted the ref) to `before` (`None`: it had no ref).
pub struct Undo {
    pub refname: String,
    pub before: Option<Oid>,
    pub after: Option<Oid>,
}

/// Pushes `refspecs`; when the server refuses (or the push fails), puts every ref in `undo`
/// back — each only if it is still where the command left it — and the checkout with `main`,
/// so the clone is where it was before the command: after a fetch the same command builds on
/// the server's newer state. The error says so.
pub fn push_or_undo(
    store: &Store,
    remote: &str,
    refspecs: &[String],
    undo: &[Undo],
) -> CliResult<()> {
    git_push(store, remote, refspecs).map_err(|e| undo_refused(store, e, undo))
}

/// Puts every ref in `undo` back after the server refused a push (see [`push_or_undo`]), and
/// says so in `e`.
fn undo_refused(store: &Store, e: CliError, undo: &[Undo]) -> CliError {
    let mut restored = Vec::new();
    for u in undo {
        let done = match (u.before, u.after) {
            (Some(b), Some(a)) => store.update_ref(&u.refname, b, Some(a), "push refused: undo"),
            (Some(b), None) => store.update_ref(&u.refname, b, None, "push refused: undo"),
            (None, Some(a)) => store.delete_ref(&u.refname, a),
            (None, None) => Ok(()),
        };
        if done.is_ok() {
            restored.push(u.refname.as_str());
            if let (Some(b), Some(a)) = (u.before, u.after) {
                if let Ok(left) = store.follow_checkout(&u.refname, Some(a), b) {
                    note_left_alone(
                        &left
                            .into_iter()
                            .map(crate::ledger::write::CheckoutNote::LocalChanges)
                            .collect::<Vec<_>>(),
                    );
                }
            }
        }
    }
    CliError {
        error: anyhow!(
            "{:#}; nothing was recorded: {} put back as before",
            e.error,
            if restored.is_empty() {
                "no local ref was".to_owned()
            } else {
                restored.join(", ")
            }
        ),
        ..e
    }
}

/// How long `land_on_remote` keeps rebuilding a commit onto a main that moves on before it
/// gives up: under heavy contention a lander may lose many races in a row, and it must not
/// give up while the others land.
const LANDING_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// A commit a command published on the local main, to land on the server's.
pub struct Landing {
    /// The draft it was built from; rebuilt on another parent when the server moved on.
    pub draft: crate::ledger::write::Draft,
    /// The rules it must pass (the same as when it was first built).
    pub how: crate::ledger::write::Judgement,
    /// The commit published on the local main.
    pub commit: Oid,
    /// Where the local main was before the command.
    pub main_before: Option<Oid>,
    /// Local refs the command deleted with it (a landed proposal), and where they were: the
    /// push deletes them on the server too, where the server has them.
    pub deleted: Vec<(String, Oid)>,
    /// Refs to delete on the server only (a landed proposal this clone knew from the server
    /// alone, by its remote-tracking ref).
    pub remote_deletes: Vec<String>,
}

/// Pushes a landing to `remote`'s main. When the server's main moved on meanwhile (another
/// approver or agent landed first), fetches, rebuilds the same change onto the server's main —
/// the same files, message and signatures: they sign the records, not the commit — judges it
/// again by the server's rules, and pushes again, with a jittered, bounded backoff. Any other
/// refusal, or a rebuilt commit the rules refuse, puts the local refs back (as
/// [`push_or_undo`]). Returns the commit that landed.
pub fn land_on_remote(
    store: &Store,
    checker: &mut crate::engine::Checker<'_>,
    remote: &str,
    l: &Landing,
) -> CliResult<Oid> {
    use crate::ledger::write::{self, Expected, RefMove};
    let mut commit = l.commit;
    let undo = |commit: Oid| -> Vec<Undo> {
        let mut v = vec![Undo {
            refname: MAIN_REF.into(),
            before: l.main_before,
            after: Some(commit),
        }];
        v.extend(l.deleted.iter().map(|(name, was)| Undo {
            refname: name.clone(),
            before: Some(*was),
            after: None,
        }));
        v
    };
    let started = std::time::Instant::now();
    for attempt in 0.. {
        let mut refspecs = vec![format!("{commit}:{MAIN_REF}")];
        let names = l
            .deleted
            .iter()
            .map(|(name, _)| name)
            .chain(&l.remote_deletes);
        for name in names {
            // An atomic push fails on deleting a ref the server does not have.
            let short = name.strip_prefix("refs/heads/").unwrap_or(name);
            if store
                .ref_target(&format!("refs/remotes/{remote}/{short}"))?
                .is_some()
            {
                refspecs.push(format!(":{name}"));
            }
        }
        let e = match push_judged(store, remote, &refspecs) {
            Ok(()) => return Ok(commit),
            Err((PushRejection::ServerMovedOn, e)) if started.elapsed() < LANDING_BUDGET => e,
            Err((_, e)) => return Err(undo_refused(store, e, &undo(commit))),
        };
        std::thread::sleep(backoff(attempt));
        if let Err(f) = git_fetch_main(store, remote) {
            return Err(undo_refused(
                store,
                f.hint(format!("{:#}", e.error)),
                &undo(commit),
            ));
        }
        let theirs = store
            .ref_target(&format!("refs/remotes/{remote}/main"))?
            .ok_or_else(|| CliError::usage(anyhow!("{remote} has no main")))?;
        let staged = write::stage(
            store,
            crate::ledger::write::Draft {
                parent: Some(store.commit(theirs)?),
                ..l.draft.clone()
            },
        )?;
        let diags = staged.judge(checker, l.how);
        let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
        if !errors.is_empty() {
            let e = CliError::violations(anyhow!(
                "the server's main moved on to {theirs}, and there the change would be rejected"
            ))
            .with_diagnostics(errors);
            return Err(undo_refused(store, e, &undo(commit)));
        }
        note_left_alone(&write::publish(
            store,
            &staged,
            &RefMove::new(
                MAIN_REF,
                Expected::At(commit),
                "rebuilt onto the server's main",
            ),
        )?);
        commit = staged.id();
        errln!(
            "the server's main moved on (to {}); rebuilt onto it as {} and pushing again",
            &theirs.to_string()[..12],
            &commit.to_string()[..12]
        );
    }
    unreachable!("the loop returns")
}

/// How long to wait before landing attempt `attempt + 1`: 25 ms doubling to at most 0.8 s,
/// times a jitter between 0.5 and 1.5 so that landers that collided do not collide again.
fn backoff(attempt: u32) -> std::time::Duration {
    let base = 25u64 << attempt.min(5);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    std::time::Duration::from_millis((base as f64 * jitter) as u64)
}

/// How many commits a lookup of where a decision landed reads back from main before the
/// repository's index of main is brought up to date (`AIAUDIT_INDEX_AFTER`, default 1,024;
/// `Checker::with_index_upkeep`). A value that is not a number is the default.
pub fn index_after() -> usize {
    std::env::var("AIAUDIT_INDEX_AFTER")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::PushRejection;

    #[test]
    fn a_refused_push_is_told_apart_by_git_s_report() {
        let hook = "To /srv/audit.git\n!\tabc:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n";
        assert_eq!(PushRejection::of(hook), PushRejection::Hook);
        let moved = "To /srv/audit.git\n!\tabc:refs/heads/main\t[rejected] (fetch first)\nDone\n";
        assert_eq!(PushRejection::of(moved), PushRejection::ServerMovedOn);
        let stale = "!\tabc:refs/heads/main\t[rejected] (stale info)\n";
        assert_eq!(PushRejection::of(stale), PushRejection::ServerMovedOn);
        // gitolite's update hook after aiaudit's accepted: the atomic companion is not the reason.
        let rules = "To ssh://h/audit\n!\tabc:refs/heads/main\t[remote rejected] (atomic push failure)\n!\t:refs/heads/proposals/X\t[remote rejected] (hook declined)\nDone\n";
        assert_eq!(
            PushRejection::of(rules),
            PushRejection::ServerRules("hook declined".into())
        );
        assert!(PushRejection::of(rules)
            .why()
            .contains("after aiaudit's hook accepted it (`hook declined`"));
        // Lost the race for the ref after the hook accepted.
        let race = "!\tabc:refs/heads/main\t[remote rejected] (atomic transaction failed)\n!\t:refs/heads/proposals/X\t[remote rejected] (atomic transaction failed)\n";
        assert_eq!(PushRejection::of(race), PushRejection::ServerMovedOn);
        assert_eq!(PushRejection::of(""), PushRejection::Other);
    }
}
