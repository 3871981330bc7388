//! Real git servers on loopback, started and stopped by the tests that use them: gitolite
//! behind its own `sshd`, and `git http-backend` behind nginx and fcgiwrap. Each serves the
//! world's audit repository, moved into the server's own layout and owned by the server's Unix
//! account, with aiaudit's hook installed as docs/deploy.md says.
//!
//! Nothing on the machine is changed but one thing: when the tests run as root, the servers
//! run as a dedicated account, `aiaudit-git` (created once, no password, no login but by the
//! test's keys), so the hook runs under another user than the pushers, as on a real server.
//! Otherwise they run as the current user. `scripts/test.sh` installs the packages.

use crate::harness::*;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The Unix account the servers run as.
pub struct ServerUser {
    pub name: String,
    /// Whether the tests run as root (and so switch to `name` to act as the server).
    root: bool,
}

/// The account, created on first use when running as root.
pub fn server_user() -> &'static ServerUser {
    static USER: OnceLock<ServerUser> = OnceLock::new();
    USER.get_or_init(|| {
        let uid = output("id", &["-u"]);
        if uid.trim() != "0" {
            return ServerUser {
                name: output("id", &["-un"]).trim().to_owned(),
                root: false,
            };
        }
        let name = "aiaudit-git";
        if !Command::new("id")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("id")
            .success()
        {
            run_ok(
                "useradd",
                &[
                    "--system",
                    "--create-home",
                    "--home-dir",
                    "/var/lib/aiaudit-git",
                    "--shell",
                    "/bin/sh",
                    name,
                ],
            );
        }
        // A locked account (`!` in /etc/shadow) cannot log in over SSH even with a key.
        run_ok("usermod", &["-p", "*", name]);
        ServerUser {
            name: name.to_owned(),
            root: true,
        }
    })
}

impl ServerUser {
    /// `sh -c SCRIPT` as the server's account.
    pub fn sh(&self, script: &str) -> std::process::Output {
        let mut c = if self.root {
            let mut c = Command::new("su");
            c.args(["-s", "/bin/sh", &self.name, "-c", script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        };
        let out = c
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run as the server's account");
        assert!(
            out.status.success(),
            "as {}: {script}\n{}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Hands `path` (recursively) to the server's account.
    pub fn own(&self, path: &Path) {
        if self.root {
            run_ok("chown", &["-R", &self.name, s(path)]);
        }
    }
}

/// A directory the server's account can reach (the world's own is private to its user).
pub fn shared_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A free loopback port (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something listens on `port`, or panics with `log`'s content.
pub fn wait_listening(port: u16, child: &mut Child, log: &Path) {
    let start = Instant::now();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}) before listening on {port}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "nothing listens on {port} after 10 s:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Where a Debian package's program is, or a panic saying how to install it.
pub fn require(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{program}` is missing: install the `{package}` package (`bash scripts/test.sh` installs it with the rest of what the tests need)"
    );
}

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect(program);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn run_ok(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Single-quotes `s` for `sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// gitolite 3 behind its own `sshd` on a loopback port. Each user has an SSH key; gitolite
/// maps the key to the user (its `GL_USER`), as its `keydir/<user>.pub` names it.
pub struct Gitolite {
    dir: tempfile::TempDir,
    sshd: Child,
    pub port: u16,
}

impl Gitolite {
    /// Sets gitolite up with `users` (the first is gitolite's admin), `conf` as its
    /// `gitolite.conf`, and the world's server repository as `audit` with aiaudit's hook; the
    /// world's server then is that repository.
    pub fn start(w: &mut World, users: &[&str], conf: &str) -> Gitolite {
        let gitolite = require("gitolite", "gitolite3");
        let sshd_bin = require("sshd", "openssh-server");
        require("ssh", "openssh-client");
        let user = server_user();
        let dir = shared_dir("aiaudit-gitolite-");
        let root = dir.path();
        let home = root.join("git-home");
        let client = root.join("client");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&client).unwrap();
        for u in users {
            run_ok(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    u,
                    "-f",
                    s(&client.join(u)),
                ],
            );
        }
        run_ok(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "host",
                "-f",
                s(&root.join("hostkey")),
            ],
        );
        // The audit repository as an admin brings an existing one under gitolite: put it in
        // place (with its hook), then list it in gitolite.conf.
        let repos = home.join("repositories");
        std::fs::create_dir_all(&repos).unwrap();
        let repo = repos.join("audit.git");
        run_ok("cp", &["-a", s(&w.server), s(&repo)]);
        let admin_pub = root.join(format!("{}.pub", users[0]));
        std::fs::copy(client.join(format!("{}.pub", users[0])), &admin_pub).unwrap();
        user.own(&home);
        user.own(&admin_pub);
        let at_home =
            |cmd: &str| user.sh(&format!("cd {h} && HOME={h} {cmd}", h = sh_quote(s(&home))));
        at_home(&format!(
            "{} setup -pk {}",
            sh_quote(s(&gitolite)),
            sh_quote(s(&admin_pub))
        ));
        // aiaudit's hook, installed by the server's account as docs/deploy.md says.
        at_home(&format!(
            "{} hook install --force {}",
            sh_quote(AIAUDIT),
            sh_quote(s(&repo))
        ));
        let keydir = home.join(".gitolite/keydir");
        for u in &users[1..] {
            std::fs::copy(
                client.join(format!("{u}.pub")),
                keydir.join(format!("{u}.pub")),
            )
            .unwrap();
        }
        std::fs::write(home.join(".gitolite/conf/gitolite.conf"), conf).unwrap();
        user.own(&home);
        at_home(&format!("{} setup", sh_quote(s(&gitolite))));
        // gitolite's keys run `gitolite-shell <user>` with the account's HOME; the test's
        // gitolite home is not the account's, so it is given on the key's command.
        let keys = home.join(".ssh/authorized_keys");
        let text = std::fs::read_to_string(&keys).unwrap().replace(
            "command=\"/usr/share/gitolite3/gitolite-shell ",
            &format!(
                "command=\"HOME={} /usr/share/gitolite3/gitolite-shell ",
                s(&home)
            ),
        );
        std::fs::write(&keys, text).unwrap();

        let port = free_port();
        let config = root.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {host}\nPidFile none\nAuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nAllowUsers {user}\nPermitUserEnvironment no\nLogLevel ERROR\n",
                host = s(&root.join("hostkey")),
                keys = s(&keys),
                user = user.name,
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").ok(); // privilege separation needs it (root)
        let log = root.join("sshd.log");
        let mut sshd = Command::new(&sshd_bin)
            .args(["-D", "-e", "-f", s(&config)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start sshd");
        wait_listening(port, &mut sshd, &log);
        let host_pub = std::fs::read_to_string(root.join("hostkey.pub")).unwrap();
        std::fs::write(
            client.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .unwrap();
        w.server = repo;
        Gitolite { dir, sshd, port }
    }

    /// The audit repository's URL.
    pub fn url(&self) -> String {
        format!("ssh://{}@127.0.0.1:{}/audit", server_user().name, self.port)
    }

    /// An `ssh` command line that logs in with `user`'s key and nothing else.
    pub fn ssh_command(&self, user: &str) -> String {
        let client = self.dir.path().join("client");
        format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes",
            s(&client.join(user)),
            s(&client.join("known_hosts"))
        )
    }

    /// Makes `clone` push and fetch over SSH as `user`.
    pub fn use_as(&self, w: &World, clone: &Path, user: &str) {
        w.git_in(clone, &["remote", "set-url", "origin", &self.url()])
            .ok();
        w.git_in(
            clone,
            &["config", "core.sshCommand", &self.ssh_command(user)],
        )
        .ok();
    }
}

impl Drop for Gitolite {
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}
