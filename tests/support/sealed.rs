//! The sealed environment every end-to-end test and the benchmark run their commands in (one
//! definition, included by `tests/e2e/main.rs` and `benches/scale.rs`): a private `HOME` and
//! `GNUPGHOME` under a root directory, no global or system git configuration, the C locale, UTC,
//! fixed author and committer identities, and — for tests — pinned git dates. Nothing of the
//! host's configuration reaches git, GnuPG or aiaudit.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A sealed environment rooted at a private directory.
#[derive(Debug, Clone)]
pub struct Sealed {
    root: PathBuf,
    /// Who the fixed identities are (`E2E Author`, `Bench Committer`, …).
    who: &'static str,
    /// The pinned `GIT_AUTHOR_DATE` and `GIT_COMMITTER_DATE`, if any.
    date: Option<&'static str>,
}

impl Sealed {
    /// Creates `root/home` and `root/gnupg` (mode 0700, as GnuPG requires).
    pub fn new(root: &Path, who: &'static str, date: Option<&'static str>) -> Sealed {
        for d in ["home", "gnupg"] {
            std::fs::create_dir_all(root.join(d)).expect("create the sealed home");
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(root.join("gnupg"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod gnupg");
        Sealed {
            root: root.to_owned(),
            who,
            date,
        }
    }

    pub fn gnupghome(&self) -> PathBuf {
        self.root.join("gnupg")
    }

    /// `program`, started in `dir`, with nothing of the host's environment but `PATH`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("GNUPGHOME", self.gnupghome())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("GIT_AUTHOR_NAME", format!("{} Author", self.who))
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", format!("{} Committer", self.who))
            .env("GIT_COMMITTER_EMAIL", "committer@example.com");
        // aiaudit pushes by default when the clone has a remote (docs/config.md); the tests
        // push explicitly with --push, and those of the default clear this (`push_by_default`).
        c.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "aiaudit.push")
            .env("GIT_CONFIG_VALUE_0", "false");
        if let Some(date) = self.date {
            c.env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_DATE", date);
        }
        c
    }
}

/// `c` with aiaudit's own default of pushing (the sealed environment turns it off).
#[allow(dead_code)] // the benchmark includes this file and pushes explicitly
pub fn push_by_default(c: &mut Command) -> &mut Command {
    c.env_remove("GIT_CONFIG_COUNT")
        .env_remove("GIT_CONFIG_KEY_0")
        .env_remove("GIT_CONFIG_VALUE_0")
}
