//! The ledger: what the audit repository holds and how it is laid out, read, and written.
//!
//! - the layout (this file): the refs, the record paths and the governance files;
//! - [`trailers`]: the git trailers that mirror a record in its commit, and the one reader of
//!   the signature trailers (`Approved-by`, `Reviewed-by`, `Policy-Signed-by`);
//! - [`read`]: the ledger as data (decisions, approvals, events) for the auditor's commands;
//! - [`governance`]: the policy and certificates in force at a tree, parsed once and cached;
//! - [`index`]: the clone's index of main that `verify` keeps (where each commit sits on the
//!   chain, which commits add events), so `show` need not read history to find a decision;
//! - [`write`]: the one write path: a draft becomes blobs, a tree and a commit, is judged by
//!   the rule engine, and only then moves a ref (compare-and-swap).
//!
//! Every module here reads and writes git objects only through [`crate::store`].

pub mod governance;
pub mod index;
pub mod read;
pub mod trailers;
pub mod write;

/// The ledger ref: append-only, fully enforced.
pub const MAIN_REF: &str = "refs/heads/main";
/// Decisions waiting for approval: `refs/heads/proposals/<id>`.
pub const PROPOSALS_PREFIX: &str = "refs/heads/proposals/";
/// Admin-signed checkpoint tags of main.
pub const CHECKPOINTS_PREFIX: &str = "refs/tags/checkpoint/";
/// Governance changes collecting admin signatures (admin threshold above one).
pub const GOVERNANCE_PREFIX: &str = "refs/heads/governance/";
/// The content store: `refs/aiaudit/content/<sha256>` points at the blob of a content a
/// decision names by digest (a prompt, a tool call, the model output), outside the immutable
/// history: an admin can erase it (docs/record.md, "The content store").
pub const CONTENT_PREFIX: &str = "refs/aiaudit/content/";
/// The audit repository's README (a governance file).
pub const README_PATH: &str = "README.md";
/// Most changed files looked at in one commit.
pub const MAX_CHANGES: usize = 10_000;

/// Whether `path` is a governance file (changed only with admin signatures).
pub fn is_governance(path: &str) -> bool {
    path == README_PATH || path.starts_with(".aiaudit/")
}

/// `decisions/YYYY/MM/DD/HH/<name>.yaml`, shape only; the record check compares with the id.
pub fn is_decision_path(path: &str) -> bool {
    is_record_path("decisions", path)
}

/// `<dir>/YYYY/MM/DD/HH/<name>.yaml`, shape only.
pub fn is_record_path(dir: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 6
        && parts[0] == dir
        && digits(parts[1], 4)
        && parts[2..5].iter().all(|p| digits(p, 2))
        && parts[5].ends_with(".yaml")
}
