//! The governance state at a tree: the policy and the principals' certificates, parsed once per
//! blob and cached, and the repository's own control catalogs. The rule engine judges every commit against its parent's governance; the
//! commands read the policy on main through the same cache, without a rule engine.

use crate::catalog;
use crate::ledger::README_PATH;
use crate::pgp;
use crate::policy::{self, Policy};
use crate::record;
use crate::store::{EntryKind, Oid, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// Size cap for certificate files.
pub const MAX_CERT_BYTES: u64 = 1024 * 1024;

/// Why the policy or a certificate at a tree cannot be used. The message names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    #[error("{path} is missing")]
    Missing { path: String },
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    /// The store could not read it.
    #[error("{message}")]
    Unreadable { path: String, message: String },
    /// It does not parse, or breaks the policy's rules.
    #[error("{message}")]
    Invalid { path: String, message: String },
    #[error("{path} holds certificate {got}, not {want}")]
    WrongCertificate {
        path: String,
        got: String,
        want: String,
    },
}

impl GovernanceError {
    /// The governance file the error is about.
    pub fn path(&self) -> &str {
        match self {
            GovernanceError::Missing { path }
            | GovernanceError::NotAFile { path }
            | GovernanceError::Unreadable { path, .. }
            | GovernanceError::Invalid { path, .. }
            | GovernanceError::WrongCertificate { path, .. } => path,
        }
    }
}

fn unreadable(path: &str, e: StoreError) -> GovernanceError {
    GovernanceError::Unreadable {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The policy and certificates at any tree of one repository, cached by blob id.
pub struct Governance<'s> {
    store: &'s Store,
    policies: HashMap<Oid, Result<Arc<Policy>, GovernanceError>>,
    certs: HashMap<Oid, Result<Arc<pgp::Cert>, GovernanceError>>,
}

impl<'s> Governance<'s> {
    pub fn new(store: &'s Store) -> Self {
        Governance {
            store,
            policies: HashMap::new(),
            certs: HashMap::new(),
        }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    /// The blob at `path` of `tree`, which must be a regular file.
    fn file(&self, tree: Oid, path: &str) -> Result<Oid, GovernanceError> {
        let entry = self
            .store
            .lookup(tree, path)
            .map_err(|e| unreadable(path, e))?
            .ok_or_else(|| GovernanceError::Missing {
                path: path.to_owned(),
            })?;
        if entry.kind != EntryKind::Blob {
            return Err(GovernanceError::NotAFile {
                path: path.to_owned(),
            });
        }
        Ok(entry.oid)
    }

    /// The policy in force at `tree`.
    pub fn policy_at(&mut self, tree: Oid) -> Result<Arc<Policy>, GovernanceError> {
        let path = policy::POLICY_PATH;
        let oid = self.file(tree, path)?;
        if let Some(p) = self.policies.get(&oid) {
            return p.clone();
        }
        let invalid = |message: String| GovernanceError::Invalid {
            path: path.to_owned(),
            message,
        };
        let parsed = self
            .store
            .read_blob_capped(oid, policy::MAX_POLICY_BYTES as u64)
            .map_err(|e| unreadable(path, e))
            .and_then(|b| {
                // A pushed policy is parsed before its signatures are checked: bound what it
                // may cost the YAML parser first (see `record::yaml_bounds`). Policies may use
                // flow lists and aliases, so the bounds are generous: flow brackets × size at
                // most 2^28 (a policy written in block style, as aiaudit writes it, has none;
                // the worst case parses in well under a second), aliases expanding to 16 times
                // the file.
                if let Ok(text) = std::str::from_utf8(&b) {
                    let max_brackets = (1usize << 28) / text.len().max(1);
                    record::yaml_bounds::check_flow(text, max_brackets).map_err(|m| {
                        invalid(format!(
                            "{path}: {m}; write lists in block style (`- item`)"
                        ))
                    })?;
                    record::yaml_bounds::check_aliases(text, 16 * text.len() + 64 * 1024)
                        .map_err(|m| invalid(format!("{path}: {m}")))?;
                }
                Policy::parse(&b).map_err(|e| invalid(format!("{path}: {e}")))
            })
            .map(Arc::new);
        self.policies.insert(oid, parsed.clone());
        parsed
    }

    /// The certificate `.aiaudit/keys/<fpr>.asc` at `tree`.
    pub fn cert_at(&mut self, tree: Oid, fpr: &str) -> Result<Arc<pgp::Cert>, GovernanceError> {
        let path = policy::key_path(fpr);
        let oid = self.file(tree, &path)?;
        if let Some(c) = self.certs.get(&oid) {
            return c.clone();
        }
        let parsed = self
            .store
            .read_blob_capped(oid, MAX_CERT_BYTES)
            .map_err(|e| unreadable(&path, e))
            .and_then(|b| {
                pgp::parse_cert(&b).map_err(|e| GovernanceError::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })
            })
            .and_then(|c| {
                let got = pgp::fingerprint(&c);
                if got == fpr {
                    Ok(Arc::new(c))
                } else {
                    Err(GovernanceError::WrongCertificate {
                        path: path.clone(),
                        got,
                        want: fpr.to_owned(),
                    })
                }
            });
        self.certs.insert(oid, parsed.clone());
        parsed
    }
}

impl Governance<'_> {
    /// The repository's own control catalogs at `tree` (`.aiaudit/catalogs/<key>.yaml`), in
    /// name order; a file that is not a valid catalog named by its key is an error naming it.
    pub fn catalogs_at(&self, tree: Oid) -> Result<Vec<catalog::Catalog>, GovernanceError> {
        let dir = catalog::REPO_CATALOGS_DIR;
        let entries = self
            .store
            .list_dir(tree, dir)
            .map_err(|e| unreadable(dir, e))?;
        let kinds = crate::report::gap_kind_ids();
        let mut out = Vec::new();
        for (name, entry) in entries {
            let path = format!("{dir}/{name}");
            let invalid = |message: String| GovernanceError::Invalid {
                path: path.clone(),
                message,
            };
            if entry.kind != EntryKind::Blob {
                return Err(GovernanceError::NotAFile { path });
            }
            let bytes = self
                .store
                .read_blob_capped(entry.oid, catalog::MAX_CATALOG_BYTES as u64 + 1)
                .map_err(|e| unreadable(&path, e))?;
            let c = catalog::parse(&path, &bytes, &kinds).map_err(|e| invalid(e.to_string()))?;
            if catalog::repo_path(&c.key) != path {
                return Err(invalid(format!(
                    "{path}: a catalog with key `{}` lives at {}",
                    c.key,
                    catalog::repo_path(&c.key)
                )));
            }
            out.push(c);
        }
        Ok(out)
    }
}

/// The bytes admins sign to approve a governance change: the commit of main it was made
/// against (see the engine's `policy_base`) and the exact new content of `.aiaudit/` and
/// `README.md`, so a signature cannot be replayed onto another position or another content.
pub fn statement(store: &Store, base: Oid, tree: Oid) -> Result<String, StoreError> {
    let aiaudit = store.lookup(tree, ".aiaudit")?.map(|e| e.oid.to_string());
    let readme = store.lookup(tree, README_PATH)?.map(|e| e.oid.to_string());
    Ok(format!(
        "aiaudit/policy-change/v1\nbase {base}\naiaudit {}\nreadme {}\n",
        aiaudit.as_deref().unwrap_or("none"),
        readme.as_deref().unwrap_or("none")
    ))
}
