//! Rule family: governance. The root commit holds only the first policy, keys and README;
//! later changes to `.aiaudit/**` and `README.md` leave a sound policy and certificates and are
//! signed by a threshold of admins of the *previous* policy, against a recent base.

use super::form::Expected;
use super::layout::entry_kind_problem;
use super::{clip, internal, CommitView, MAX_POLICY_BASE_DISTANCE};
use crate::diag::{Code, Diagnostic};
use crate::ledger::governance::statement;
use crate::ledger::{is_governance, trailers, MAX_CHANGES, README_PATH};
use crate::policy;
use crate::record::{self, PrincipalKind, MAX_RECORD_BYTES};
use crate::store::{BlobRead, Change, ChangeKind, CommitData, Oid};
use std::collections::BTreeSet;

impl super::Checker<'_> {
    /// A commit that changes governance files, made on `parent`: the new files are sound and the
    /// admin signatures verify; `landing` (onto main), they meet the admin threshold.
    pub fn check_governance_commit(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        landing: bool,
    ) -> Vec<Diagnostic> {
        let (changes, malformed) =
            match self
                .store
                .diff_trees_checked(Some(parent.tree), c.tree, MAX_CHANGES)
            {
                Ok(ch) => ch,
                Err(e) => return vec![internal(e).at_commit(c.id.to_string())],
            };
        let governance: Vec<&Change> = changes
            .iter()
            .filter(|ch| is_governance(&ch.path))
            .collect();
        let diags = if malformed.is_empty() {
            self.check_policy_change(c, parent, &governance, landing)
        } else {
            super::malformed_trees(&malformed)
        };
        diags
            .into_iter()
            .map(|d| d.at_commit(c.id.to_string()))
            .collect()
    }

    /// The root commit: the first policy, its certificates and the README, nothing else.
    pub(super) fn check_genesis(&mut self, c: &CommitView) -> Vec<Diagnostic> {
        let (changes, malformed) = match self.store.diff_trees_checked(None, c.tree, MAX_CHANGES) {
            Ok(ch) => ch,
            Err(e) => return vec![Diagnostic::new(Code::GenesisInvalid, e.to_string())],
        };
        if !malformed.is_empty() {
            return super::malformed_trees(&malformed);
        }
        let mut diags = Vec::new();
        for ch in &changes {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            } else if !is_governance(&ch.path) {
                diags.push(
                    Diagnostic::new(
                        Code::GenesisInvalid,
                        format!(
                            "the root commit may hold only .aiaudit/ and README.md, not {}",
                            ch.path
                        ),
                    )
                    .at_path(&ch.path),
                );
            }
        }
        let all: Vec<&Change> = changes.iter().collect();
        diags.extend(self.check_governance_files(c.tree, &all, Code::GenesisInvalid));
        // The first admin `aiaudit init` names in the root commit's message.
        let admin = self.gov.policy_at(c.tree).ok().and_then(|p| {
            p.principals
                .iter()
                .find(|a| {
                    a.kind == PrincipalKind::Human
                        && a.groups.contains(&p.admins.group)
                        && !a.keys.is_empty()
                })
                .map(|a| (a.id.clone(), a.keys[0].clone()))
        });
        if let Some((admin, fingerprint)) = &admin {
            let expected = Expected::Genesis { admin, fingerprint };
            diags.extend(self.check_form(c, expected, &diags));
        }
        diags
    }

    /// Checks a governance change: sound new files, and `Policy-Signed-by` signatures of admins
    /// of the previous policy over the statement. `landing`: the admin threshold must be met
    /// (on main); otherwise (a governance proposal) present signatures must merely verify.
    pub(super) fn check_policy_change(
        &mut self,
        c: &CommitView,
        parent: &CommitData,
        changes: &[&Change],
        landing: bool,
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for ch in changes {
            if let Some(d) = entry_kind_problem(ch) {
                diags.push(d);
            }
        }
        diags.extend(self.check_governance_files(c.tree, changes, Code::PolicyInvalid));
        let old_policy = match self.gov.policy_at(parent.tree) {
            Ok(p) => p,
            Err(e) => {
                diags.push(Diagnostic::new(
                    Code::PolicyInvalid,
                    format!("previous policy: {e}"),
                ));
                return diags;
            }
        };
        let base = match self.policy_base(c, parent) {
            Ok(b) => b,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        let statement = match statement(self.store, base, c.tree) {
            Ok(s) => s,
            Err(e) => {
                diags.push(internal(e));
                return diags;
            }
        };
        let mut signers = BTreeSet::new();
        for parsed in c.trailers.signatures(trailers::POLICY_SIGNED_BY) {
            let a = match parsed {
                Ok(a) => a,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        Code::TrailerMismatch,
                        format!("malformed Policy-Signed-by trailer: {e}"),
                    ));
                    continue;
                }
            };
            match self
                .verify_signature(parent.tree, &old_policy, &a, statement.as_bytes())
                .map(|(p, _)| p)
            {
                Ok(p)
                    if p.kind == PrincipalKind::Human
                        && p.groups.contains(&old_policy.admins.group) =>
                {
                    signers.insert(p.id);
                }
                Ok(p) => diags.push(Diagnostic::new(
                    Code::PolicyChangeUnsigned,
                    format!(
                        "`{}` is not an admin (group `{}`) of the previous policy",
                        p.id, old_policy.admins.group
                    ),
                )),
                Err(d) => diags.push(d),
            }
        }
        let need = old_policy.admins.threshold as usize;
        let file = changes.first().map(|c| c.path.clone()).unwrap_or_default();
        for d in diags.iter_mut().filter(|d| d.path.is_none()) {
            d.path = Some(file.clone());
        }
        if landing && signers.len() < need {
            diags.push(Diagnostic::new(
                Code::PolicyChangeUnsigned,
                format!(
                    "the change to {} needs {need} admin signature(s) from the previous policy, has {} valid",
                    changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>().join(", "),
                    signers.len()
                ),
            )
            .at_path(file.clone()));
        }
        if let Some(d) = self.check_form(c, Expected::PolicyChange, &diags) {
            diags.push(d.at_path(file));
        }
        diags
    }

    /// The commit a governance change was signed against: its `Policy-Base` trailer, or its
    /// parent. Admins sign a change once; while main moves on with records only, the signed
    /// change can still land. The base must be a recent commit of main, and no governance file
    /// may have changed between it and the parent, so a change signed for one policy can never
    /// be replayed onto another (even one whose content was later reverted to the same bytes).
    fn policy_base(&self, c: &CommitView, parent: &CommitData) -> Result<Oid, Diagnostic> {
        let bad = |m: String| Diagnostic::new(Code::PolicyChangeUnsigned, m);
        let Some(value) = c.trailers.first(trailers::POLICY_BASE).map(str::to_owned) else {
            return Ok(parent.id);
        };
        let base = Oid::from_hex(value.as_bytes())
            .map_err(|_| bad(format!("Policy-Base `{}` is not a commit id", clip(&value))))?;
        let state = |tree: Oid| -> Result<(Option<Oid>, Option<Oid>), Diagnostic> {
            let get = |p: &str| {
                self.store
                    .lookup(tree, p)
                    .map(|e| e.map(|e| e.oid))
                    .map_err(internal)
            };
            Ok((get(".aiaudit")?, get(README_PATH)?))
        };
        let want = state(parent.tree)?;
        let mut cur = parent.clone();
        for _ in 0..=MAX_POLICY_BASE_DISTANCE {
            if cur.id == base {
                return Ok(base);
            }
            let Some(p) = cur.parents.first().copied() else {
                break;
            };
            let child = cur.id;
            cur = self.store.commit(p).map_err(internal)?;
            if state(cur.tree)? != want {
                return Err(bad(format!(
                    "the change was signed against {base}, but governance files changed after it (in {child}); sign it again"
                )));
            }
        }
        Err(bad(format!(
            "the change was signed against {base}, which is not among the last {MAX_POLICY_BASE_DISTANCE} commits of main"
        )))
    }

    /// The new governance state must itself be sound: a valid policy, certificates named by
    /// their fingerprint, no secret keys, valid control catalogs named by their key, nothing
    /// else under `.aiaudit/`.
    fn check_governance_files(
        &mut self,
        tree: Oid,
        changes: &[&Change],
        code: Code,
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let policy = match self.gov.policy_at(tree) {
            Ok(p) => Some(p),
            Err(e) => {
                diags.push(Diagnostic::new(code, e.to_string()).at_path(policy::POLICY_PATH));
                None
            }
        };
        for ch in changes {
            if ch.kind == ChangeKind::Deleted || !is_governance(&ch.path) {
                continue;
            }
            if ch.path == policy::POLICY_PATH || ch.path == README_PATH {
                if ch.path == README_PATH {
                    if let Some(e) = ch.new {
                        match self.store.read_blob(e.oid, MAX_RECORD_BYTES as u64) {
                            Ok(BlobRead::Data(b)) => {
                                if let Err(d) = record::check_text(&b) {
                                    diags.push(d.at_path(&ch.path));
                                }
                            }
                            Ok(BlobRead::TooLarge(n)) => diags.push(
                                Diagnostic::new(Code::FileTooLarge, format!("{n} bytes"))
                                    .at_path(&ch.path),
                            ),
                            Err(e) => diags.push(internal(e).at_path(&ch.path)),
                        }
                    }
                }
                continue;
            }
            if ch
                .path
                .starts_with(&format!("{}/", crate::catalog::REPO_CATALOGS_DIR))
            {
                // Judged as a whole below: every catalog at the new tree must be valid.
                continue;
            }
            let fpr = ch
                .path
                .strip_prefix(&format!("{}/", policy::KEYS_DIR))
                .and_then(|f| f.strip_suffix(".asc"))
                .filter(|f| policy::is_fingerprint(f));
            let Some(fpr) = fpr else {
                diags.push(
                    Diagnostic::new(
                        Code::PathNotAllowed,
                        format!("{} is not a governance file (.aiaudit/policy.yaml, .aiaudit/keys/<FPR>.asc, .aiaudit/catalogs/<key>.yaml, README.md)", ch.path),
                    )
                    .at_path(&ch.path),
                );
                continue;
            };
            match self.gov.cert_at(tree, fpr) {
                Ok(_) => {}
                Err(e) => diags.push(Diagnostic::new(code, e.to_string()).at_path(&ch.path)),
            }
            if let Some(p) = &policy {
                if p.principal_by_key(fpr).is_none() {
                    diags.push(
                        Diagnostic::new(
                            code,
                            format!("certificate {fpr} belongs to no principal of the policy"),
                        )
                        .at_path(&ch.path),
                    );
                }
            }
        }
        if changes.iter().any(|ch| {
            ch.path
                .starts_with(&format!("{}/", crate::catalog::REPO_CATALOGS_DIR))
        }) {
            if let Err(e) = self.gov.catalogs_at(tree) {
                diags.push(Diagnostic::new(code, e.to_string()).at_path(e.path()));
            }
        }
        if let Some(p) = &policy {
            for pr in &p.principals {
                for k in &pr.keys {
                    if let Err(e) = self.gov.cert_at(tree, k) {
                        diags.push(
                            Diagnostic::new(
                                code,
                                format!("principal `{}`: certificate {k}: {e}", pr.id),
                            )
                            .at_path(policy::key_path(k)),
                        );
                    }
                }
            }
        }
        diags
    }
}
