//! The end-to-end harness: a real audit server (a bare repository with aiaudit's pre-receive
//! hook installed), a clone to work in, real keys, and every child process in a sealed
//! environment.
//!
//! Invariants every test can rely on:
//! - each [`World`] lives in its own temporary directory; nothing outside it is read or written
//!   (private `HOME` and `GNUPGHOME`, no global or system git config, pinned identities and
//!   dates), so tests run in parallel threads without seeing each other;
//! - the server is only ever changed through `git push`, so every rule is exercised by the hook
//!   exactly as a git server runs it;
//! - [`World::push_rejected`] checks the hook's finding (code, commit, file, hint) *and* that no
//!   ref on the server moved.
//!
//! Bad pushes are crafted with git plumbing (`hash-object`, `update-index` on a scratch index,
//! `write-tree`, `commit-tree`) so a test states exactly which bytes, modes and trailers go in.
//! Signatures over crafted bytes are made by GnuPG with the principal's secret key imported into
//! the test's private keyring: a second, independent OpenPGP implementation.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use base64::Engine as _;

use crate::sealed::Sealed;

pub const AIAUDIT: &str = env!("CARGO_BIN_EXE_aiaudit");
pub const MAIN: &str = "refs/heads/main";
/// The dates git is pinned to. The aiaudit clock is deliberately *not* pinned (no
/// `AIAUDIT_NOW`): GnuPG signs at the real clock, and signatures from the future are refused.
const GIT_DATE: &str = "2026-01-15T10:00:00Z";
/// The model every recorded decision names (pinned version).
pub const MODEL: &str = "anthropic/claude@2025-01-01";

/// The principals of the fixture.
pub const ALICE: &str = "alice"; // admin
pub const BOB: &str = "bob"; // human, the usual initiator
pub const CAROL: &str = "carol"; // human, the usual approver
pub const SVC: &str = "svc"; // service principal owned by alice, with a key
pub const DAVE: &str = "dave"; // human whose key lives in GnuPG
pub const MALLORY: &str = "mallory"; // a key that is not in the policy

/// A captured child process.
#[derive(Debug)]
pub struct Out {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with the whole output unless the command succeeded; returns trimmed stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(self.status.success(), "{} failed:\n{self}", self.what);
        self.stdout.trim().to_owned()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n[{}]\n--- stdout\n{}--- stderr\n{}---",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// A principal's key material.
#[derive(Debug, Clone)]
pub struct Key {
    pub email: String,
    pub fpr: String,
    /// The secret key file (`None` for a key that lives only in GnuPG).
    pub secret: Option<PathBuf>,
    pub cert: PathBuf,
}

/// A decision as `aiaudit record` wrote it: on a proposal ref, or landed on main.
#[derive(Debug, Clone)]
pub struct Decision {
    pub id: String,
    pub path: String,
    /// The exact bytes of the record file.
    pub text: String,
    /// The commit carrying it (the proposal commit, or the landed commit).
    pub commit: String,
    /// That commit's message (subject and trailers).
    pub message: String,
}

/// One change to a tree, for [`World::commit`].
pub enum Edit<'a> {
    /// A regular file (mode 100644).
    File(&'a str, &'a [u8]),
    /// A symbolic link pointing at the given target.
    Symlink(&'a str, &'a str),
    Remove(&'a str),
}

/// One finding of the hook, as relayed by git (`remote: error[code]: ...`).
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: String,
    /// Every line of the finding: header, message, hint.
    pub lines: Vec<String>,
}

impl Finding {
    pub fn header(&self) -> &str {
        &self.lines[0]
    }
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// What a rejection must say.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    code: String,
    commit: Option<String>,
    path: Option<String>,
    refname: Option<String>,
    mentions: Option<String>,
    alone: bool,
}

/// A finding with this code is expected; narrow it with [`Expect::commit`] and friends.
pub fn finding(code: &str) -> Expect {
    Expect {
        code: code.to_owned(),
        ..Default::default()
    }
}

impl Expect {
    /// The finding names this commit (by its 12-hex prefix, as the hook prints it).
    pub fn commit(mut self, oid: &str) -> Self {
        self.commit = Some(oid[..12].to_owned());
        self
    }
    /// The finding's header names this file (`error[code]: commit <12 hex>, <path>`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }
    /// The finding is the hook's only one: nothing but the rule under test failed.
    pub fn alone(mut self) -> Self {
        self.alone = true;
        self
    }
    /// The finding mentions this text anywhere (header or message): for findings about
    /// several files at once, which name them in the message.
    pub fn mentions(mut self, text: &str) -> Self {
        self.mentions = Some(text.to_owned());
        self
    }
    /// The finding names this ref (findings about a ref as a whole, with no commit or file).
    pub fn refname(mut self, name: &str) -> Self {
        self.refname = Some(name.to_owned());
        self
    }

    fn matches(&self, f: &Finding) -> bool {
        let header = f.header();
        f.code == self.code
            && self
                .commit
                .as_ref()
                .is_none_or(|c| header.contains(&format!("commit {c}")))
            && self.path.as_ref().is_none_or(|p| {
                header.ends_with(&format!(", {p}")) || header.ends_with(&format!(": {p}"))
            })
            && self
                .refname
                .as_ref()
                .is_none_or(|r| header.ends_with(&format!(": {r}")))
            && self
                .mentions
                .as_ref()
                .is_none_or(|m| f.text().contains(m.as_str()))
    }
}

/// A decision recorded from flags: who asks for what, which model suggested it, and the files
/// holding its prompt and full output. [`RecordFlags::args`] gives `aiaudit record` with these
/// flags, for the caller to extend (`--push`, `--land`, context flags, …).
pub struct RecordFlags<'a> {
    pub initiator: &'a str,
    pub action: &'a str,
    pub system: &'a str,
    pub summary: &'a str,
    pub model: &'a str,
    pub prompt: &'a Path,
    pub output: &'a Path,
    pub recommendation: &'a str,
}

impl RecordFlags<'_> {
    /// `record` and the flags, the AI role `suggested`.
    pub fn args(&self) -> Vec<String> {
        [
            "record",
            "--initiator",
            self.initiator,
            "--action",
            self.action,
            "--system",
            self.system,
            "--summary",
            self.summary,
            "--ai-role",
            "suggested",
            "--model",
            self.model,
            "--prompt",
            s(self.prompt),
            "--output",
            s(self.output),
            "--recommendation",
            self.recommendation,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    }
}

/// `args` as the `&str`s the runners take.
pub fn argv(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// One test's world: keys, a server with the hook, and a clone of it.
pub struct World {
    tmp: tempfile::TempDir,
    sealed: Sealed,
    pub server: PathBuf,
    pub work: PathBuf,
    keys: BTreeMap<&'static str, Key>,
    /// Scratch files (prompts, outputs) live here.
    pub files: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        // SPEC §4 as a property of the whole suite: for every commit any test landed on the
        // server, git's own trailer parsers read exactly the trailers the engine verified.
        if !std::thread::panicking() && self.server.exists() {
            self.assert_git_reads_the_verified_trailers();
        }
        // Stop the gpg-agent this world's keyring started (best effort; there may be none).
        let mut c = self.command("gpgconf", self.tmp.path());
        let _ = c
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl World {
    /// Every commit on the server's main and proposal refs: `git log --format=%(trailers)` and
    /// `git interpret-trailers --parse` give exactly the trailers aiaudit's engine reads
    /// (`ledger::trailers::parse`), in order.
    pub fn assert_git_reads_the_verified_trailers(&self) {
        let server = |args: &[&str]| {
            let mut c = self.command("git", &self.server);
            c.args(args);
            self.run(c, None).ok()
        };
        let refs = server(&["for-each-ref", "--format=%(refname)", "refs/heads/"]);
        let refs: Vec<&str> = refs.lines().collect();
        if refs.is_empty() {
            return;
        }
        let mut args = vec!["rev-list"];
        args.extend(&refs);
        for commit in server(&args).lines() {
            let message = server(&["cat-file", "commit", commit]);
            let message = message.split_once("\n\n").map(|(_, m)| m).unwrap_or("");
            let engine: Vec<String> = aiaudit::ledger::trailers::parse(message)
                .0
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let from_log = server(&["log", "-1", "--format=%(trailers:only,unfold)", commit]);
            let log: Vec<&str> = from_log.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(log, engine, "git log --format=%(trailers) on {commit}");
            let mut c = self.command("git", &self.server);
            c.args(["interpret-trailers", "--parse"]);
            let parsed = self.run(c, Some(message.as_bytes())).ok();
            let parsed: Vec<&str> = parsed.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(parsed, engine, "git interpret-trailers --parse on {commit}");
        }
    }

    /// The standard fixture: alice (admin) creates the server and installs the hook; bob,
    /// carol, svc (service, owned by alice) and dave (GnuPG key) are added as principals, each
    /// policy change pushed through the hook. mallory has a key but is not in the policy.
    pub fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("aiaudit-e2e-")
            .tempdir()
            .expect("tempdir");
        let root = tmp.path().to_owned();
        for d in ["keys", "files"] {
            std::fs::create_dir(root.join(d)).expect("mkdir");
        }
        let mut w = World {
            sealed: Sealed::new(&root, "E2E", Some(GIT_DATE)),
            server: root.join("server.git"),
            work: root.join("work"),
            files: root.join("files"),
            keys: BTreeMap::new(),
            tmp,
        };
        for id in [ALICE, BOB, CAROL, SVC, MALLORY] {
            w.generate_key(id);
        }
        w.generate_gpg_key(DAVE, "Dave");
        std::fs::write(
            w.files.join("prompt.txt"),
            "Grant bob read access to the billing DB?\n",
        )
        .expect("write prompt");
        std::fs::write(
            w.files.join("output.txt"),
            "Yes: a read-only role, 24 hours.\n",
        )
        .expect("write output");

        let alice = w.key(ALICE).clone();
        let root = w.tmp.path();
        w.aiaudit_in(
            root,
            &[
                "init",
                "server.git",
                "--admin",
                ALICE,
                "--admin-key",
                s(&alice.cert),
                "--admin-email",
                &alice.email,
            ],
        )
        .ok();
        w.aiaudit_in(root, &["hook", "install", "server.git"]).ok();
        w.git_in(root, &["clone", "-q", "server.git", "work"]).ok();
        for (id, kind, owner) in [
            (BOB, "human", None),
            (CAROL, "human", None),
            (SVC, "service", Some(ALICE)),
            (DAVE, "human", None),
        ] {
            let k = w.key(id).clone();
            let mut args = vec!["principal", "add", id, "--kind", kind, "--email", &k.email];
            if let Some(o) = owner {
                args.extend(["--owner", o]);
            }
            let admin_key = s(alice.secret.as_ref().expect("alice has a key file"));
            args.extend(["--cert", s(&k.cert), "--key", admin_key, "--push"]);
            w.aiaudit(&args).ok();
        }
        w
    }

    pub fn key(&self, id: &str) -> &Key {
        self.keys
            .get(id)
            .unwrap_or_else(|| panic!("no key for `{id}`"))
    }

    fn generate_key(&mut self, id: &'static str) {
        let prefix = self.tmp.path().join("keys").join(id);
        let email = format!("{id}@example.com");
        let root = self.tmp.path().to_owned();
        let fpr = self
            .aiaudit_in(
                &root,
                &[
                    "key",
                    "generate",
                    "--name",
                    id,
                    "--email",
                    &email,
                    "--out",
                    s(&prefix),
                ],
            )
            .ok();
        assert_eq!(fpr.len(), 40, "fingerprint of {id}: {fpr:?}");
        self.keys.insert(
            id,
            Key {
                email,
                fpr,
                secret: Some(prefix.with_extension("key")),
                cert: prefix.with_extension("asc"),
            },
        );
    }

    /// A key generated and held by GnuPG (no key file), as a user with a smartcard or an
    /// existing GnuPG setup has it.
    fn generate_gpg_key(&mut self, id: &'static str, name: &str) {
        let email = format!("{id}@example.com");
        let uid = format!("{name} <{email}>");
        self.gpg(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &uid,
                "ed25519",
                "sign",
                "never",
            ],
            None,
        )
        .ok();
        let colons = self
            .gpg(&["--with-colons", "--fingerprint", &email], None)
            .ok();
        let fpr = colons
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .expect("fingerprint in gpg --with-colons output")
            .to_owned();
        let cert = self.tmp.path().join("keys").join(format!("{id}.asc"));
        let armored = self.gpg(&["--export", "--armor", &fpr], None).ok();
        std::fs::write(&cert, format!("{armored}\n")).expect("write cert");
        self.keys.insert(
            id,
            Key {
                email,
                fpr,
                secret: None,
                cert,
            },
        );
    }

    // ---- running things -----------------------------------------------------------------

    /// A command in the world's sealed environment (`tests/support/sealed.rs`), started in
    /// `dir`.
    pub fn command(&self, program: &str, dir: &Path) -> Command {
        self.sealed.command(program, dir)
    }

    /// Runs `c` (made with [`World::command`]), with `stdin` given when some.
    pub fn run_command(&self, c: Command, stdin: Option<&[u8]>) -> Out {
        self.run(c, stdin)
    }

    fn run(&self, mut c: Command, stdin: Option<&[u8]>) -> Out {
        let what = format!(
            "{} {}",
            c.get_program().to_string_lossy(),
            c.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        if let Some(data) = stdin {
            // Written from a thread so a child that writes a lot before reading cannot
            // deadlock against us.
            let mut pipe = child.stdin.take().expect("stdin");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            what,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `aiaudit ARGS` in the work clone.
    pub fn aiaudit(&self, args: &[&str]) -> Out {
        self.aiaudit_in(&self.work, args)
    }

    pub fn aiaudit_in(&self, dir: &Path, args: &[&str]) -> Out {
        self.aiaudit_in_env(dir, args, &[])
    }

    /// `aiaudit ARGS` in the work clone, signing as `who` (key file or GnuPG).
    pub fn aiaudit_signed(&self, who: &str, args: &[&str]) -> Out {
        let signer = self.signer_args(who);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(signer.iter().map(String::as_str));
        self.aiaudit(&all)
    }

    /// alice adds human principal `id` (`id@example.com`) with certificate `cert`, pushed.
    pub fn add_human(&self, id: &str, cert: &Path) {
        let email = format!("{id}@example.com");
        self.aiaudit_signed(
            ALICE,
            &[
                "principal",
                "add",
                id,
                "--kind",
                "human",
                "--email",
                &email,
                "--cert",
                s(cert),
                "--push",
            ],
        )
        .ok();
    }

    /// alice's signed policy change, pushed, giving each principal of `logins` (id, login) that
    /// forge login, with `extra` appended to the policy (e.g. a `pushers:` section).
    pub fn set_forge_logins(&self, logins: &[(&str, &str)], extra: &str) {
        let mut policy = self.aiaudit(&["policy", "show"]).ok();
        for (who, login) in logins {
            let email = format!("    email: \"{}\"\n", self.key(who).email);
            policy = replace_once(
                &policy,
                &email,
                &format!("{email}    forge_logins:\n      - \"{login}\"\n"),
            );
        }
        let file = self.files.join("forge-logins-policy.yaml");
        std::fs::write(&file, policy + extra).unwrap();
        self.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
            .ok();
    }

    /// `aiaudit ARGS` in `dir` with extra environment variables (e.g. a pinned `AIAUDIT_NOW`).
    pub fn aiaudit_in_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.command(AIAUDIT, dir);
        // The signer's flags go before a `--` (after it, words are the recorded command).
        let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        c.args(&args[..split])
            .args(self.actor_signs(args))
            .args(&args[split..])
            .envs(env.iter().copied());
        self.run(c, None)
    }

    /// Every link is signed by its actor (the policy `init` writes requires it): a `record
    /// --initiator ID` or `outcome --actor ID` given no key signs with ID's key. A test of an
    /// unsigned link names the actor another way (AIAUDIT_INITIATOR, AIAUDIT_ACTOR) or crafts
    /// the commit.
    fn actor_signs(&self, args: &[&str]) -> Vec<String> {
        let flag = match args.first() {
            Some(&"record") => "--initiator",
            Some(&"outcome") => "--actor",
            _ => return Vec::new(),
        };
        if args.iter().any(|a| *a == "--key" || *a == "--gpg-key") {
            return Vec::new();
        }
        let named = args
            .windows(2)
            .find(|w| w[0] == flag)
            .map(|w| w[1].to_owned());
        // `record --from FILE`: the document names the initiator.
        let from_document = || {
            let file = args.windows(2).find(|w| w[0] == "--from")?.get(1)?;
            let text = std::fs::read_to_string(file).ok()?;
            let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
            let i = doc.get("initiator")?;
            i.get("id").unwrap_or(i).as_str().map(str::to_owned)
        };
        named
            .or_else(from_document)
            .filter(|id| self.keys.contains_key(id.as_str()))
            .map(|id| self.signer_args(&id))
            .unwrap_or_default()
    }

    /// `aiaudit ARGS` in `dir` on a pseudo-terminal (util-linux `script`), as a person at a
    /// terminal runs it; stdout and stderr both arrive in `stdout`, with terminal control codes.
    pub fn aiaudit_on_tty(&self, dir: &Path, args: &[&str]) -> Out {
        let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
        let line = std::iter::once(AIAUDIT.to_owned())
            .chain(args.iter().map(|a| quote(a)))
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = self.command("script", dir);
        c.args(["-qefc", &line, "/dev/null"]).env("TERM", "xterm");
        self.run(c, None)
    }

    /// `aiaudit record --land --push` of a post-rule decision by `initiator` (see
    /// [`World::add_post_rule`]): lands on main at once; returns its id.
    pub fn land_post(&self, initiator: &str, action: &str, system: &str, summary: &str) -> String {
        let prompt = self.files.join("post-prompt.txt");
        std::fs::write(&prompt, format!("{summary}\n")).expect("write prompt");
        let mut args = RecordFlags {
            initiator,
            action,
            system,
            summary,
            model: MODEL,
            prompt: &prompt,
            output: &prompt,
            recommendation: "do it",
        }
        .args();
        args.extend(["--land".into(), "--push".into()]);
        self.aiaudit(&argv(&args)).ok()
    }

    /// Puts a rule first in the policy, as alice's signed and pushed policy change: decisions
    /// of `action` (on `systems`, when given) are low risk, land at once, and need one
    /// post-action review within a day.
    pub fn add_post_rule(&self, name: &str, action: &str, systems: Option<&str>) {
        let systems = systems
            .map(|g| format!("      systems: [\"{g}\"]\n"))
            .unwrap_or_default();
        let rule = format!(
            "rules:\n  - name: \"{name}\"\n    match:\n      actions: [\"{action}\"]\n{systems}    risk: \"low\"\n    approval: \"post\"\n    require:\n      - count: 1\n    review_within: \"1d\"\n"
        );
        let policy = self.aiaudit(&["policy", "show"]).ok();
        assert!(policy.contains("rules:\n"), "{policy}");
        let file = self.server.with_file_name("policy-with-post-rule.yaml");
        std::fs::write(&file, policy.replacen("rules:\n", &rule, 1)).expect("write policy");
        self.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
            .ok();
    }

    /// `git ARGS` in the work clone.
    pub fn git(&self, args: &[&str]) -> Out {
        self.git_in(&self.work, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> Out {
        let mut c = self.command("git", dir);
        if dir == self.server {
            // A server behind sshd or a web server belongs to the server's account.
            c.args(["-c", "safe.directory=*"]);
        }
        c.args(args);
        self.run(c, None)
    }

    /// `git ARGS` in the work clone, `stdin` fed to it.
    pub fn git_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        self.git_with(args, stdin, &[])
    }

    /// `git ARGS` in the work clone with `stdin` and extra environment.
    pub fn git_with(&self, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Out {
        let mut c = self.command("git", &self.work);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        self.run(c, Some(stdin))
    }

    fn gpg(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        let mut c = self.command("gpg", self.tmp.path());
        c.args(["--batch", "--no-tty"]).args(args);
        self.run(c, stdin)
    }

    // ---- the server -----------------------------------------------------------------------

    /// Where a ref points on the server.
    pub fn server_ref(&self, name: &str) -> Option<String> {
        let out = self.git_in(&self.server, &["rev-parse", "--verify", "-q", name]);
        out.status.success().then(|| out.stdout.trim().to_owned())
    }

    /// Every ref on the server with its target.
    pub fn server_refs(&self) -> String {
        self.git_in(
            &self.server,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
        .ok()
    }

    /// A new clone of the server (as an auditor would make it).
    pub fn fresh_clone(&self) -> PathBuf {
        let dir = (0..)
            .map(|n| self.tmp.path().join(format!("auditor-{n}")))
            .find(|d| !d.exists())
            .expect("a free directory name");
        self.git_in(self.tmp.path(), &["clone", "-q", s(&self.server), s(&dir)])
            .ok();
        dir
    }

    /// `git push origin REFSPECS` from the work clone.
    pub fn push(&self, refspecs: &[&str]) -> Out {
        let mut args = vec!["push", "origin"];
        args.extend_from_slice(refspecs);
        self.git(&args)
    }

    /// `git push origin REFSPECS` as the forge would run it for `login` (GitLab's
    /// `GL_USERNAME` reaches the hook).
    pub fn push_as(&self, login: &str, refspecs: &[&str]) -> Out {
        let mut args = vec!["push", "origin"];
        args.extend_from_slice(refspecs);
        self.git_with(&args, b"", &[("GL_USERNAME", login)])
    }

    /// Pushes, asserts the hook rejected the push with the expected finding, and asserts that
    /// no ref on the server moved. Returns every finding for further checks.
    #[track_caller]
    pub fn push_rejected(&self, refspecs: &[&str], expect: Expect) -> Vec<Finding> {
        let before = self.server_refs();
        let out = self.push(refspecs);
        let findings = parse_findings(&out.stderr);
        // Shown by the test runner only when the test fails.
        eprintln!("{out}");
        assert!(!out.status.success(), "the push was accepted:\n{out}");
        assert!(
            out.stderr.contains("aiaudit: push rejected")
                && out.stderr.contains("pre-receive hook declined"),
            "the push failed, but not through the hook:\n{out}"
        );
        assert!(
            expect.code == "internal-error" || !out.stderr.contains("error[internal-error]"),
            "the hook failed internally (it fails closed, but that is not the rule under test):\n{out}"
        );
        let Some(f) = findings.iter().find(|f| expect.matches(f)) else {
            panic!("no finding matches {expect:?}; the hook said:\n{out}");
        };
        assert!(
            !expect.alone || findings.len() == 1,
            "expected only {expect:?}; the hook said:\n{out}"
        );
        assert!(
            f.lines.iter().any(|l| l
                .strip_prefix("  hint: ")
                .is_some_and(|h| !h.trim().is_empty())),
            "the finding has no hint:\n{}",
            f.text()
        );
        assert_eq!(
            self.server_refs(),
            before,
            "a rejected push changed the server's refs"
        );
        findings
    }

    /// Pushes and asserts the hook accepted it.
    #[track_caller]
    pub fn push_accepted(&self, refspecs: &[&str]) {
        let out = self.push(refspecs);
        out.ok();
        assert!(
            out.stderr.contains("aiaudit: accepted"),
            "the push did not go through the hook:\n{out}"
        );
    }

    // ---- decisions ------------------------------------------------------------------------

    /// `aiaudit record` (a proposal on the local ref, not pushed), initiated by `initiator`.
    pub fn record(&self, initiator: &str) -> Decision {
        self.record_with(
            initiator,
            "Grant read access to billing-db",
            "read-only, 24h",
        )
    }

    /// `record` with the given summary and recommendation.
    pub fn record_with(&self, initiator: &str, summary: &str, recommendation: &str) -> Decision {
        let mut args = RecordFlags {
            initiator,
            action: "access-change",
            system: "postgres:billing-db",
            summary,
            model: MODEL,
            prompt: &self.files.join("prompt.txt"),
            output: &self.files.join("output.txt"),
            recommendation,
        }
        .args();
        args.push("--json".into());
        let json = self.aiaudit(&argv(&args)).ok();
        let v: serde_json::Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("record --json printed {json:?}: {e}"));
        let field = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("no {k} in {v}"))
                .to_owned()
        };
        let (id, path, commit) = (field("id"), field("path"), field("commit"));
        Decision {
            text: self.file_at(&commit, &path),
            message: self.message(&commit),
            id,
            path,
            commit,
        }
    }

    /// `aiaudit approve ID --yes` by `approver`, without pushing; returns the landing commit as a
    /// decision. The local main is put back to the server's, so the landing commit exists only
    /// as material for crafted pushes.
    pub fn approve_unpushed(&self, d: &Decision, approver: &str) -> Decision {
        let mut args = vec!["approve", d.id.as_str(), "--yes"];
        let signer = self.signer_args(approver);
        args.extend(signer.iter().map(String::as_str));
        let landing = self.aiaudit(&args).ok();
        let server_main = self.server_ref(MAIN).expect("server main");
        self.git(&["update-ref", MAIN, &server_main]).ok();
        Decision {
            commit: landing.clone(),
            message: self.message(&landing),
            ..d.clone()
        }
    }

    /// Records (initiated by `initiator`) and approves (by `approver`) a decision through the
    /// CLI, both with `--push`; returns the decision as landed on main.
    pub fn land(&self, initiator: &str, approver: &str) -> Decision {
        let p = self.land_proposal(initiator);
        let mut args = vec!["approve", p.id.as_str(), "--yes", "--push"];
        let signer = self.signer_args(approver);
        args.extend(signer.iter().map(String::as_str));
        self.aiaudit(&args).ok();
        let commit = self.server_ref(MAIN).expect("server main");
        Decision {
            message: self.message(&commit),
            commit,
            ..p
        }
    }

    /// `who`'s key revoked for `reason` (a revocation dated 10 s from now, as any real one
    /// comes after what it revokes), published by alice's signed, pushed `principal
    /// update-key`.
    pub fn revoke(&self, who: &str, reason: &str) {
        let k = self.key(who).clone();
        let later = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(10))
            .expect("a time")
            .to_string();
        let rev = self.server.with_file_name(format!("{who}-{reason}.rev"));
        self.aiaudit_in_env(
            &self.work,
            &[
                "key",
                "revoke",
                "--key",
                s(k.secret.as_ref().expect("a key file")),
                "--reason",
                reason,
                "--out",
                s(&rev),
            ],
            &[("AIAUDIT_NOW", &later)],
        )
        .ok();
        self.aiaudit_signed(
            ALICE,
            &["principal", "update-key", &k.fpr, s(&rev), "--push"],
        )
        .ok();
    }

    /// `record` and the flags of the config change `land` uses, initiated by `initiator`.
    pub fn config_change_args(&self, initiator: &str) -> Vec<String> {
        RecordFlags {
            initiator,
            action: "config-change",
            system: "github.com/acme/payments",
            summary: "Raise the rate limit",
            model: MODEL,
            prompt: &self.files.join("prompt.txt"),
            output: &self.files.join("output.txt"),
            recommendation: "raise it to 200/s",
        }
        .args()
    }

    /// Records (and pushes as a proposal) the config change `land` uses, unapproved.
    pub fn land_proposal(&self, initiator: &str) -> Decision {
        let mut args = self.config_change_args(initiator);
        args.push("--push".into());
        let id = self.aiaudit(&argv(&args)).ok();
        // Regression: git's push report used to land on stdout, after the id.
        assert_eq!(
            id.len(),
            26,
            "record --push must print only the id on stdout: {id:?}"
        );
        let commit = self.rev_parse(&proposal_ref(&id));
        let path = self
            .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &commit])
            .ok();
        Decision {
            text: self.file_at(&commit, &path),
            message: self.message(&commit),
            id,
            path,
            commit,
        }
    }

    /// A new RSA key in this world's GnuPG keyring; returns its fingerprint.
    pub fn generate_gpg_rsa_key(&self, id: &str, name: &str) -> String {
        let email = format!("{id}@example.com");
        let uid = format!("{name} <{email}>");
        self.gpg(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &uid,
                "rsa2048",
                "sign",
                "never",
            ],
            None,
        )
        .ok();
        let colons = self
            .gpg(&["--with-colons", "--fingerprint", &email], None)
            .ok();
        colons
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .expect("fingerprint in gpg --with-colons output")
            .to_owned()
    }

    /// `gpg --export --armor FPR`.
    /// Runs `gpg --batch --no-tty ARGS` in the sealed GnuPG home; panics unless it succeeds.
    pub fn gpg_cmd(&self, args: &[&str]) -> String {
        self.gpg(args, None).ok()
    }

    /// The server's installed hook program run by hand in the server repository (no push,
    /// no quarantine), with `stdin` as git's ref-update lines and extra environment `env`
    /// (e.g. a replayed `GIT_PUSH_CERT`).
    pub fn hook_with_env(&self, stdin: &[u8], env: &[(&str, &str)]) -> Out {
        let mut c = self.command(AIAUDIT, &self.server);
        c.args(["hook", "pre-receive"])
            .env("GIT_DIR", ".")
            .envs(env.iter().copied());
        self.run(c, Some(stdin))
    }

    pub fn gpg_export(&self, fpr: &str) -> String {
        self.gpg(&["--export", "--armor", fpr], None).ok() + "\n"
    }

    /// How `who` signs with aiaudit: `--key FILE`, or `--gpg-key FPR` for a GnuPG-held key.
    pub fn signer_args(&self, who: &str) -> Vec<String> {
        let k = self.key(who);
        match &k.secret {
            Some(file) => vec!["--key".into(), s(file).into()],
            None => vec!["--gpg-key".into(), k.fpr.clone()],
        }
    }

    // ---- reading objects ------------------------------------------------------------------

    /// The bytes of `path` in `commit` (as text: records are UTF-8).
    pub fn file_at(&self, commit: &str, path: &str) -> String {
        let out = self.git(&["cat-file", "blob", &format!("{commit}:{path}")]);
        out.ok();
        out.stdout
    }

    /// A commit's full message.
    pub fn message(&self, commit: &str) -> String {
        let raw = self.git(&["cat-file", "commit", commit]).ok();
        let (_, msg) = raw.split_once("\n\n").expect("commit has a message");
        format!("{msg}\n")
    }

    pub fn rev_parse(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--verify", rev]).ok()
    }

    // ---- crafting -------------------------------------------------------------------------

    /// A tree: `parent`'s tree with `edits` applied (built in a scratch index).
    pub fn tree(&self, parent: &str, edits: &[Edit]) -> String {
        let index = self.tmp.path().join("scratch-index");
        let env = [("GIT_INDEX_FILE", s(&index))];
        let _ = std::fs::remove_file(&index);
        self.git_with(&["read-tree", parent], b"", &env).ok();
        for e in edits {
            let (mode, path, content) = match e {
                Edit::File(p, c) => ("100644", *p, *c),
                Edit::Symlink(p, target) => ("120000", *p, target.as_bytes()),
                Edit::Remove(p) => {
                    self.git_with(&["update-index", "--force-remove", p], b"", &env)
                        .ok();
                    continue;
                }
            };
            let blob = self
                .git_with(&["hash-object", "-w", "--stdin"], content, &env)
                .ok();
            let info = format!("{mode},{blob},{path}");
            self.git_with(&["update-index", "--add", "--cacheinfo", &info], b"", &env)
                .ok();
        }
        let tree = self.git_with(&["write-tree"], b"", &env).ok();
        let _ = std::fs::remove_file(&index);
        tree
    }

    /// A commit of `tree` on top of `parent` with exactly `message`. A commit carrying a
    /// decision is authored by its initiator (the principal its `Initiator` trailer names), as
    /// aiaudit writes it, so that only the rule under test can fail; other commits are authored
    /// by the harness's fixed identity.
    pub fn commit_tree(&self, tree: &str, parent: &str, message: &str) -> String {
        let initiator = message
            .lines()
            .find_map(|l| l.strip_prefix("Initiator: "))
            .and_then(|v| v.split_whitespace().next())
            .filter(|id| self.keys.contains_key(id));
        match initiator {
            Some(id) => self.commit_tree_by(id, tree, parent, message),
            None => self.commit_tree_env(tree, parent, message, &[]),
        }
    }

    /// [`World::commit_tree`] with principal `author` as the git author.
    pub fn commit_tree_by(&self, author: &str, tree: &str, parent: &str, message: &str) -> String {
        let email = self.key(author).email.clone();
        let env = [("GIT_AUTHOR_NAME", author), ("GIT_AUTHOR_EMAIL", &email)];
        self.commit_tree_env(tree, parent, message, &env)
    }

    /// A commit of `tree` on `parent` with `message`, with extra environment (`GIT_AUTHOR_*`).
    pub fn commit_tree_env(
        &self,
        tree: &str,
        parent: &str,
        message: &str,
        env: &[(&str, &str)],
    ) -> String {
        let args = ["commit-tree", tree, "-p", parent, "-F", "-"];
        self.git_with(&args, message.as_bytes(), env).ok()
    }

    /// `commit` rewritten with another message (same tree, same parent).
    pub fn with_message(&self, commit: &str, message: &str) -> String {
        let tree = self.rev_parse(&format!("{commit}^{{tree}}"));
        let parent = self.rev_parse(&format!("{commit}^"));
        self.commit_tree(&tree, &parent, message)
    }

    /// A commit on top of `parent` applying `edits`, with exactly `message`.
    pub fn commit(&self, parent: &str, edits: &[Edit], message: &str) -> String {
        let tree = self.tree(parent, edits);
        self.commit_tree(&tree, parent, message)
    }

    /// A decision commit on top of the server's main: `d.path` holding `text`, the message of
    /// `d` (its trailers) with one valid `Approved-by` per approver, signed over `text`.
    /// The initiator's `Initiated-by` is signed again over `text`, so that only the rule under
    /// test can fail.
    pub fn decision_commit(&self, d: &Decision, text: &str, approvers: &[&str]) -> String {
        let mut message = self.initiated_over(&d.message, text);
        for a in approvers {
            message.push_str(&self.approved_by(a, text.as_bytes()));
        }
        let main = self.server_ref(MAIN).expect("server main");
        self.commit(&main, &[Edit::File(&d.path, text.as_bytes())], &message)
    }

    // ---- signing --------------------------------------------------------------------------

    /// A binary OpenPGP detached signature by `who` over `data`, made by GnuPG, in base64.
    /// Key-file principals have their secret key imported into this world's keyring first.
    pub fn sign(&self, who: &str, data: &[u8]) -> String {
        let k = self.key(who);
        if let Some(secret) = &k.secret {
            self.gpg(&["--import", s(secret)], None).ok();
        }
        let sig_path = self.tmp.path().join("files").join("sig.bin");
        let data_path = self.tmp.path().join("files").join("signed.bin");
        std::fs::write(&data_path, data).expect("write data");
        let _ = std::fs::remove_file(&sig_path);
        self.gpg(
            &[
                "--no-armor",
                // No `!`: gpg picks the certificate's signing subkey.
                "--local-user",
                &k.fpr,
                "--output",
                s(&sig_path),
                "--detach-sign",
                s(&data_path),
            ],
            None,
        )
        .ok();
        let sig = std::fs::read(&sig_path).expect("read signature");
        base64::engine::general_purpose::STANDARD.encode(sig)
    }

    /// The trailer value `who <email> key=FPR sig=...` for a signature over `data`.
    pub fn approval_value(&self, who: &str, data: &[u8]) -> String {
        let k = self.key(who);
        format!(
            "{who} <{}> key={} sig={}",
            k.email,
            k.fpr,
            self.sign(who, data)
        )
    }

    /// `message` with its `Initiated-by` trailer (if any) signed again, by the principal it
    /// names, over `text`.
    pub fn initiated_over(&self, message: &str, text: &str) -> String {
        let Some(who) = message
            .lines()
            .find_map(|l| l.strip_prefix("Initiated-by: "))
            .and_then(|v| v.split_whitespace().next())
        else {
            return message.to_owned();
        };
        replace_trailer(
            message,
            "Initiated-by",
            &self.approval_value(who, text.as_bytes()),
        )
    }

    /// A complete `Approved-by:` trailer line by `who` over `data`.
    pub fn approved_by(&self, who: &str, data: &[u8]) -> String {
        format!("Approved-by: {}\n", self.approval_value(who, data))
    }

    /// A `Policy-Signed-by:` trailer line by `who` for a governance change of `parent` to
    /// `tree`, over the statement aiaudit defines (parent, `.aiaudit` tree, README blob).
    pub fn policy_signed_by(&self, who: &str, parent: &str, tree: &str) -> String {
        let statement = format!(
            "aiaudit/policy-change/v1\nbase {parent}\naiaudit {}\nreadme {}\n",
            self.rev_parse(&format!("{tree}:.aiaudit")),
            self.rev_parse(&format!("{tree}:README.md")),
        );
        format!(
            "Policy-Signed-by: {}\n",
            self.approval_value(who, statement.as_bytes())
        )
    }
}

/// Parses the hook's findings out of `git push` stderr (`remote: ` prefixes and padding
/// removed).
pub fn parse_findings(stderr: &str) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for raw in stderr.lines() {
        let Some(line) = raw.strip_prefix("remote: ") else {
            continue;
        };
        // git pads relayed lines with spaces when stderr is not a terminal.
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("error[") {
            let code = rest.split(']').next().unwrap_or_default().to_owned();
            out.push(Finding {
                code,
                lines: vec![line.to_owned()],
            });
        } else if line.starts_with("  ") {
            if let Some(f) = out.last_mut() {
                f.lines.push(line.to_owned());
            }
        }
    }
    out
}

/// The codes of `findings`, in the hook's order.
pub fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

/// The refspec that pushes `commit` to the server's main.
pub fn onto_main(commit: &str) -> String {
    format!("{commit}:{MAIN}")
}

/// The proposal ref of decision `id`.
pub fn proposal_ref(id: &str) -> String {
    format!("refs/heads/proposals/{id}")
}

/// The value of the (first) `key` trailer of `message`.
pub fn trailer<'m>(message: &'m str, key: &str) -> &'m str {
    let prefix = format!("{key}: ");
    message
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{key}` trailer in:\n{message}"))
}

/// A path as `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `message` with the value of trailer `key` replaced by `value`.
pub fn replace_trailer(message: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key}: ");
    let mut found = false;
    let lines: Vec<String> = message
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                found = true;
                format!("{prefix}{value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(found, "no `{key}` trailer in:\n{message}");
    lines.join("\n") + "\n"
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in:\n{text}"
    );
    text.replacen(from, to, 1)
}

/// `text` without the line that contains `needle` (exactly one).
pub fn drop_line(text: &str, needle: &str) -> String {
    let hits = text.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        hits, 1,
        "`{needle}` must be on exactly one line of:\n{text}"
    );
    text.lines()
        .filter(|l| !l.contains(needle))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` with what differs between runs replaced by names, for snapshots: first the given
/// (value, name) pairs, then any other ULID, 40-hex fingerprint or commit id, 12-hex short
/// commit id, 64-hex digest, and RFC 3339 time.
pub fn redact(text: &str, named: &[(&str, &str)]) -> String {
    let mut t = text.to_owned();
    for (value, name) in named {
        t = t.replace(value, name);
    }
    for (re, to) in [
        (r"\b01[0-9A-HJKMNP-TV-Z]{24}\b", "<ulid>"),
        (r"\b[0-9A-F]{40}\b", "<fingerprint>"),
        (r"\b[0-9a-f]{64}\b", "<sha256>"),
        (r"\b[0-9a-f]{40}\b", "<commit>"),
        (r"\b[0-9a-f]{12}\b", "<short>"),
        (
            r"\b20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
            "<time>",
        ),
    ] {
        t = regex::Regex::new(re)
            .expect("regex")
            .replace_all(&t, to)
            .into_owned();
    }
    t
}
