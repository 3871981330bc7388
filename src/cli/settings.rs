//! Defaults for the everyday path, from git configuration: the `aiaudit.*` keys of the
//! repository a command runs in (its `.git/config`), the user's (`~/.gitconfig`,
//! `$XDG_CONFIG_HOME/git/config`, or `GIT_CONFIG_GLOBAL`) and the system's, read as git reads
//! them (gix; `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n` honoured). A flag
//! always wins, then the environment variable the flag names, then these keys. docs/config.md
//! lists them.
//!
//! | key | default for |
//! |---|---|
//! | `aiaudit.auditRepo` | the audit repository, when a command runs in another repository (a product repository) |
//! | `aiaudit.principal` | `record --initiator` |
//! | `aiaudit.key` / `aiaudit.gpgKey` | `--key` / `--gpg-key` of every signing command |
//! | `aiaudit.system` | `record --system` |
//! | `aiaudit.model` | `record --model` |
//! | `aiaudit.push` | where writing commands push: a remote name, `true` (origin) or `false` |

use super::{CliError, CliResult};
use crate::store::Store;
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `aiaudit.*` values in effect for this run.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub principal: Option<String>,
    pub key: Option<PathBuf>,
    pub gpg_key: Option<String>,
    pub system: Option<String>,
    pub model: Option<String>,
    /// `aiaudit.push` as written.
    pub push: Option<String>,
    /// Whether the repository has a remote named `origin`.
    pub has_origin: bool,
    /// The git identity's e-mail (`user.email`, `GIT_COMMITTER_EMAIL`), to find the principal
    /// it belongs to.
    pub user_email: Option<String>,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// The settings of the repository the command opened ([`settings_from`] ran), or none.
pub fn settings() -> Settings {
    SETTINGS.get().cloned().unwrap_or_default()
}

/// A configured path: `~/` is the home directory, a relative path is taken from the top of
/// the repository whose configuration names it.
pub(super) fn config_path(store: &Store, value: &str) -> PathBuf {
    if let Some(rest) = value.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(rest);
        }
    }
    let p = Path::new(value);
    if p.is_absolute() {
        return p.to_owned();
    }
    store.top_dir().join(p)
}

/// The value of `key` in `store`'s configuration, with surrounding blanks removed; empty
/// counts as unset.
pub(super) fn set_value(store: &Store, key: &str) -> Option<String> {
    store
        .config_string(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The value of `key` in the first of `stores` that sets it.
fn value(stores: &[&Store], key: &str) -> Option<String> {
    stores.iter().find_map(|s| set_value(s, key))
}

/// Reads the settings from `stores`, the first naming a key winning, and keeps them for the
/// run. A value that cannot be used is refused here, before the command changes anything.
pub fn settings_from(stores: &[&Store]) -> CliResult<Settings> {
    let path = |key: &str| {
        stores
            .iter()
            .find_map(|s| set_value(s, key).map(|v| config_path(s, &v)))
    };
    let s = Settings {
        principal: value(stores, "aiaudit.principal"),
        key: path("aiaudit.key"),
        gpg_key: value(stores, "aiaudit.gpgKey"),
        system: value(stores, "aiaudit.system"),
        model: value(stores, "aiaudit.model"),
        push: value(stores, "aiaudit.push"),
        has_origin: stores
            .last()
            .is_some_and(|s| s.config_string("remote.origin.url").is_some()),
        user_email: stores
            .first()
            .and_then(|s| s.committer().ok())
            .map(|p| p.email)
            .filter(|e| !e.is_empty()),
    };
    if let Some(v) = &s.push {
        if parse_bool(v).is_none() && !crate::store::is_ref_name(&format!("refs/remotes/{v}/x")) {
            return Err(CliError::usage(anyhow!(
                "aiaudit.push = `{v}` is neither a remote name nor true/false"
            ))
            .hint("git config aiaudit.push origin (or false to keep results in the clone)"));
        }
    }
    let _ = SETTINGS.set(s.clone());
    Ok(s)
}

/// Whether `store` is an audit repository: its main (or its remote-tracking main) holds the
/// policy.
pub fn is_audit_repository(store: &Store) -> bool {
    ["refs/heads/main", "refs/remotes/origin/main"]
        .iter()
        .filter_map(|r| store.ref_target(r).ok().flatten())
        .filter_map(|c| store.commit(c).ok())
        .any(|c| {
            store
                .lookup(c.tree, crate::policy::POLICY_PATH)
                .ok()
                .flatten()
                .is_some()
        })
}

/// The audit repository a command run in `dir` works on: the repository containing `dir`
/// when it is one, else the one its `aiaudit.auditRepo` names. The settings are read from
/// both (the repository `dir` is in first).
pub fn open_audit(dir: &Path) -> CliResult<Store> {
    let here = Store::discover(dir).map_err(|e| {
        CliError::usage(e).hint(
            "run inside a clone of the audit repository, pass -C DIR, or set `git config aiaudit.auditRepo PATH` in the repository you work in",
        )
    })?;
    if is_audit_repository(&here) {
        settings_from(&[&here])?;
        return Ok(here);
    }
    let Some(spec) = set_value(&here, "aiaudit.auditRepo") else {
        settings_from(&[&here])?;
        return Ok(here);
    };
    let path = config_path(&here, &spec);
    let audit = Store::discover(&path).map_err(|e| {
        CliError::usage(anyhow!(
            "aiaudit.auditRepo = {}: not a repository: {e}",
            path.display()
        ))
        .hint("set it to a local clone of the audit repository: git config aiaudit.auditRepo PATH")
    })?;
    if !is_audit_repository(&audit) {
        return Err(CliError::usage(anyhow!(
            "aiaudit.auditRepo = {}: its main holds no {}, so it is not an audit repository",
            path.display(),
            crate::policy::POLICY_PATH
        ))
        .hint("point it at a clone of the audit repository (`git clone URL`), not at the product repository"));
    }
    settings_from(&[&here, &audit])?;
    Ok(audit)
}

/// Where a writing command pushes: `--push [REMOTE]`, none with `--no-push`, else
/// `aiaudit.push` (a remote name, or a boolean: `true` is origin), else origin when the
/// repository has one.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PushArgs {
    /// Push the result to this remote (default: `aiaudit.push`, else origin when the
    /// repository has one: pushing is the default; see --no-push).
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin",
        conflicts_with = "no_push")]
    pub push: Option<String>,
    /// Keep the result in this clone only: do not push (`git config aiaudit.push false` makes
    /// that the default).
    #[arg(long = "no-push")]
    pub no_push: bool,
}

impl PushArgs {
    /// The remote to push to, if any.
    pub fn remote(&self) -> CliResult<Option<String>> {
        if self.no_push {
            return Ok(None);
        }
        if let Some(r) = &self.push {
            return Ok(Some(r.clone()));
        }
        let s = settings();
        match s.push.as_deref() {
            None => Ok(s.has_origin.then(|| "origin".to_owned())),
            Some(v) => match parse_bool(v) {
                Some(true) => Ok(Some("origin".to_owned())),
                Some(false) => Ok(None),
                // Checked when the settings were read (`settings_from`).
                None => Ok(Some(v.to_owned())),
            },
        }
    }
}

/// git's booleans (git-config(1), "Values": true/yes/on/1, false/no/off/0).
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn git_booleans() {
        for t in ["true", "Yes", "ON", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "no", "Off", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("upstream"), None);
    }
}
