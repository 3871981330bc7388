//! Rule family: the content store. Content a decision names by digest (a prompt, a retrieved
//! document, a tool call, the model output) is kept outside the immutable history, at
//! `refs/aiaudit/content/<sha256>`, a ref pointing straight at the content's blob, so approvers
//! can read it and an admin can erase it without touching the ledger (docs/record.md, "The
//! content store"). A push may:
//! - create such a ref: its name is 64 lowercase hex digits, it points at a blob whose
//!   SHA-256 is that name, UTF-8 text within the cap, without anything that looks like a
//!   credential, and a decision this same push adds (on a proposal or on main) names it;
//! - delete one, when the pusher is an admin the server names or a signed push proves
//!   (erasure; the ledger keeps the signed digest);
//! - nothing else: a content ref never moves.

use super::push::RefUpdate;
use crate::diag::{Code, Diagnostic};
use crate::ledger::{CONTENT_PREFIX, MAIN_REF, PROPOSALS_PREFIX};
use crate::record;
use crate::store::{ChangeKind, ObjectKind, Oid};
use std::collections::HashSet;

/// The digest a content-store ref names, when its name has the right shape.
pub fn content_ref_digest(refname: &str) -> Option<&str> {
    let d = refname.strip_prefix(CONTENT_PREFIX)?;
    (d.len() == 64
        && d.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(d)
}

/// The content-store ref of a digest.
pub fn content_ref(sha256: &str) -> String {
    format!("{CONTENT_PREFIX}{sha256}")
}

impl super::Checker<'_> {
    /// Judges the push's content-store updates (`updates` is the whole push).
    pub(super) fn check_content_updates(&mut self, updates: &[RefUpdate]) -> Vec<Diagnostic> {
        let content: Vec<&RefUpdate> = updates
            .iter()
            .filter(|u| u.name.starts_with(CONTENT_PREFIX))
            .collect();
        if content.is_empty() {
            return Vec::new();
        }
        let mut diags = Vec::new();
        let mut named: Option<HashSet<String>> = None;
        for u in content {
            let mut found = self.check_content_update(u, updates, &mut named);
            for d in &mut found {
                d.refname.get_or_insert_with(|| u.name.clone());
            }
            diags.extend(found);
        }
        diags
    }

    fn check_content_update(
        &mut self,
        u: &RefUpdate,
        updates: &[RefUpdate],
        named: &mut Option<HashSet<String>>,
    ) -> Vec<Diagnostic> {
        let Some(digest) = content_ref_digest(&u.name) else {
            return vec![Diagnostic::new(
                Code::ContentRefInvalid,
                format!(
                    "{} is not {CONTENT_PREFIX}<sha256> (64 lowercase hex digits)",
                    u.name
                ),
            )];
        };
        match (u.old, u.new) {
            (Some(_), Some(_)) => vec![Diagnostic::new(
                Code::ContentRefInvalid,
                "the push moves a content ref: content is added once and erased, never changed",
            )],
            (_, None) => self.check_erasure(digest).into_iter().collect(),
            (None, Some(new)) => {
                match self.store.object_kind(new) {
                    Ok(Some(ObjectKind::Blob)) => {}
                    Ok(_) => {
                        return vec![Diagnostic::new(
                            Code::ContentRefInvalid,
                            format!(
                                "{new} is not a blob: a content ref points at the content itself"
                            ),
                        )]
                    }
                    Err(e) => return vec![super::internal(e)],
                }
                let at = u.name.clone();
                let mut diags = self.check_content_blob(new, digest, &at);
                let named = named.get_or_insert_with(|| self.digests_added(updates));
                if !named.contains(digest) {
                    diags.push(
                        Diagnostic::new(
                            Code::StoredContextUnreferenced,
                            "no decision this push adds names this content (an input, tool call or model output); content is pushed with its decision",
                        )
                        .at_path(at),
                    );
                }
                diags
            }
        }
    }

    /// Erasure: only an admin, identified by the server's login or a signed push, under the
    /// policy on main.
    fn check_erasure(&mut self, digest: &str) -> Option<Diagnostic> {
        let main = match self.store.ref_target(MAIN_REF) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Some(Diagnostic::new(
                    Code::ContentEraseDenied,
                    "there is no main, so no admin to erase content",
                ))
            }
            Err(e) => return Some(super::internal(e)),
        };
        let tree = match self.store.commit(main) {
            Ok(c) => c.tree,
            Err(e) => return Some(super::internal(e)),
        };
        let policy = match self.gov.policy_at(tree) {
            Ok(p) => p,
            Err(e) => return Some(super::internal(e)),
        };
        let admins: Vec<String> = policy
            .principals
            .iter()
            .filter(|p| p.groups.contains(&policy.admins.group))
            .map(|p| p.id.clone())
            .collect();
        let short = &digest[..12];
        match &self.pusher {
            Some(p) if p.is_accountable(&policy, &admins, &[]) => None,
            Some(p) => Some(Diagnostic::new(
                Code::ContentEraseDenied,
                format!(
                    "{p} erases content {short}…, and is no admin ({})",
                    admins.join(", ")
                ),
            )),
            None => Some(Diagnostic::new(
                Code::ContentEraseDenied,
                format!(
                    "the push erases content {short}…, and the server did not say who pushed (no login variable, no push certificate): only an admin may erase content"
                ),
            )),
        }
    }

    /// Every content digest named by a decision that `updates` adds: the decision of each
    /// proposal created or updated, and of each commit the push adds to main.
    fn digests_added(&self, updates: &[RefUpdate]) -> HashSet<String> {
        let mut out = HashSet::new();
        for u in updates {
            let Some(new) = u.new else { continue };
            let commits = if u.name.starts_with(PROPOSALS_PREFIX) {
                vec![new]
            } else if u.name == MAIN_REF {
                match self
                    .store
                    .first_parent_chain(new, u.old, super::MAX_PUSH_COMMITS)
                {
                    Ok(chain) => chain.iter().map(|c| c.id).collect(),
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            for c in commits {
                self.decision_digests(c, &mut out);
            }
        }
        out
    }

    /// The content digests of the decision commit `c` adds, if it adds one.
    fn decision_digests(&self, c: Oid, out: &mut HashSet<String>) {
        let Ok(commit) = self.store.commit(c) else {
            return;
        };
        let parent = commit
            .parents
            .first()
            .and_then(|p| self.store.commit(*p).ok())
            .map(|p| p.tree);
        let Ok(changes) = self
            .store
            .diff_trees(parent, commit.tree, crate::ledger::MAX_CHANGES)
        else {
            return;
        };
        for ch in changes {
            if ch.kind != ChangeKind::Added || !crate::ledger::is_record_path("decisions", &ch.path)
            {
                continue;
            }
            let Some(entry) = ch.new else { continue };
            let Ok(bytes) = self
                .store
                .read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)
            else {
                continue;
            };
            if let (Some(d), _) = record::check_decision(&ch.path, &bytes) {
                out.extend(record::content_digests(&d).into_iter().map(str::to_owned));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_refs_are_named_by_a_lowercase_sha256() {
        let d = "ab".repeat(32);
        assert_eq!(content_ref_digest(&content_ref(&d)), Some(d.as_str()));
        for bad in [
            format!("{CONTENT_PREFIX}{}", "AB".repeat(32)),
            format!("{CONTENT_PREFIX}{}", "ab".repeat(31)),
            format!("{CONTENT_PREFIX}ab/{}", "ab".repeat(32)),
            format!("refs/heads/{}", "ab".repeat(32)),
        ] {
            assert_eq!(content_ref_digest(&bad), None, "{bad}");
        }
    }
}
