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
    /// Its home directory.
    pub home: PathBuf,
    /// Whether the tests run as root (and so switch to `name` to act as the server).
    root: bool,
    /// Its uid and gid, when the tests run as root.
    ids: Option<(u32, u32)>,
}

/// The account, created on first use when running as root.
pub fn server_user() -> &'static ServerUser {
    static USER: OnceLock<ServerUser> = OnceLock::new();
    USER.get_or_init(|| {
        let uid = output("id", &["-u"]);
        if uid.trim() != "0" {
            return ServerUser {
                name: output("id", &["-un"]).trim().to_owned(),
                home: std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default(),
                root: false,
                ids: None,
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
        let id = |flag: &str| -> u32 {
            output("id", &[flag, name])
                .trim()
                .parse()
                .expect("a numeric id")
        };
        let home = output("getent", &["passwd", name])
            .trim()
            .split(':')
            .nth(5)
            .map(PathBuf::from)
            .expect("the account's home");
        ServerUser {
            name: name.to_owned(),
            home,
            root: true,
            ids: Some((id("-u"), id("-g"))),
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
        let mut sshd = own_group(&mut Command::new(&sshd_bin))
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
        stop(&mut self.sshd);
    }
}

/// `git http-backend` behind nginx (basic authentication) and fcgiwrap, on a loopback port:
/// smart HTTP as docs/deploy.md describes it. The web server authenticates each user and
/// passes `REMOTE_USER` on; git runs the hook as fcgiwrap's account.
pub struct SmartHttp {
    dir: tempfile::TempDir,
    nginx: Child,
    fcgiwrap: Child,
    pub port: u16,
}

impl SmartHttp {
    /// Serves the world's server repository as `audit.git` to `users` (each with the password
    /// `<user>-pw`); the world's server then is the served repository.
    pub fn start(w: &mut World, users: &[&str]) -> SmartHttp {
        let nginx_bin = require("nginx", "nginx");
        let fcgiwrap_bin = require("fcgiwrap", "fcgiwrap");
        let user = server_user();
        let dir = shared_dir("aiaudit-http-");
        let root = dir.path();
        let repos = root.join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        for t in ["body", "fastcgi", "proxy", "uwsgi", "scgi"] {
            std::fs::create_dir_all(root.join("tmp").join(t)).unwrap();
        }
        let repo = repos.join("audit.git");
        run_ok("cp", &["-a", s(&w.server), s(&repo)]);
        user.own(&repos);
        user.own(&root.join("tmp"));
        // The hook, installed by the account the web server runs git as.
        user.sh(&format!(
            "{} hook install --force {}",
            sh_quote(AIAUDIT),
            sh_quote(s(&repo))
        ));
        // nginx reads `{PLAIN}` entries (test passwords only: give real users `htpasswd -B`).
        let htpasswd: String = users
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{u}-pw\n"))
            .collect();
        std::fs::write(root.join("htpasswd"), htpasswd).unwrap();

        let exec_path = w.git_in(&w.files, &["--exec-path"]).ok();
        let backend = Path::new(exec_path.trim()).join("git-http-backend");
        let run = root.join("run");
        std::fs::create_dir_all(&run).unwrap();
        user.own(&run);
        let socket = run.join("fcgiwrap.sock");
        let fcgi_log = root.join("fcgiwrap.log");
        let mut fcgi = Command::new(&fcgiwrap_bin);
        fcgi.args(["-c", "2", "-s", &format!("unix:{}", s(&socket))])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &user.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&fcgi_log).unwrap());
        if let Some((uid, gid)) = user.ids {
            use std::os::unix::process::CommandExt as _;
            fcgi.uid(uid).gid(gid);
        }
        let mut fcgiwrap = own_group(&mut fcgi).spawn().expect("start fcgiwrap");
        let start = Instant::now();
        while !socket.exists() {
            if start.elapsed() > Duration::from_secs(10)
                || fcgiwrap.try_wait().ok().flatten().is_some()
            {
                panic!(
                    "fcgiwrap did not create its socket:\n{}",
                    std::fs::read_to_string(&fcgi_log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        let port = free_port();
        let conf = root.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                r#"daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user_line}
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    fastcgi_temp_path {root}/tmp/fastcgi;
    proxy_temp_path {root}/tmp/proxy;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_basic "audit";
            auth_basic_user_file {root}/htpasswd;
            client_max_body_size 0;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {root}/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_pass unix:{socket};
        }}
    }}
}}
"#,
                root = s(root),
                user_line = if user.root {
                    format!("user {};", user.name)
                } else {
                    String::new()
                },
                backend = s(&backend),
                socket = s(&socket),
            ),
        )
        .unwrap();
        let log = root.join("nginx.log");
        let mut nginx = own_group(&mut Command::new(&nginx_bin))
            .args([
                "-c",
                s(&conf),
                "-p",
                s(root),
                "-e",
                s(&root.join("error.log")),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start nginx");
        wait_listening(port, &mut nginx, &log);
        w.server = repo;
        SmartHttp {
            dir,
            nginx,
            fcgiwrap,
            port,
        }
    }

    /// The audit repository's URL for `user` (password in the URL: a test's shortcut).
    pub fn url(&self, user: &str) -> String {
        format!("http://{user}:{user}-pw@127.0.0.1:{}/audit.git", self.port)
    }

    /// Makes `clone` push and fetch over HTTP as `user`.
    pub fn use_as(&self, w: &World, clone: &Path, user: &str) {
        w.git_in(clone, &["remote", "set-url", "origin", &self.url(user)])
            .ok();
    }

    /// nginx's error log (fcgiwrap relays the CGI's stderr there).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for SmartHttp {
    fn drop(&mut self) {
        // nginx's master ends its workers on SIGTERM, fcgiwrap's parent its children.
        stop(&mut self.nginx);
        stop(&mut self.fcgiwrap);
    }
}

/// Ends a server started in its own process group ([`own_group`]): SIGTERM to the whole
/// group (fcgiwrap's parent leaves its children running otherwise), then SIGKILL after 5 s.
fn stop(child: &mut Child) {
    let group = -(child.id() as libc::pid_t);
    // SAFETY: kill(2) on the process group our own child leads; no memory is involved.
    unsafe {
        libc::kill(group, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(group, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Starts `c` as the leader of a new process group, so [`stop`] reaches all it starts.
fn own_group(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    c.process_group(0)
}
