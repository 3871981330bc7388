//! aiaudit: the accountability chain of AI-assisted privileged work, kept in a git audit
//! repository.
//!
//! Modules by domain, each with one reason to change:
//! - [`record`]: the decision model, its canonical bytes, validation and context digest;
//! - [`policy`]: principals, rules and what a decision needs to land;
//! - [`pgp`]: OpenPGP signing and verification (the only module that touches sequoia);
//! - [`trailers`]: the git trailers that mirror a record in its commit;
//! - [`store`]: the git store (the only module that touches git, through gix);
//! - [`engine`]: the rule engine, shared by the hook, `verify` and CI checks;
//! - [`history`]: the ledger as data (decisions, approvals, events) for auditors' commands;
//! - [`report`]: the audit report (gaps mapped to framework controls, statistics);
//! - [`intake`]: decisions from automation (intake documents, OpenTelemetry traces) and the
//!   credential rules that keep secrets out;
//! - [`diag`]: diagnostics and their stable codes.
//!
//! The command-line front end lives in `cli` and is the only place that prints.

pub mod cli;
pub mod diag;
pub mod engine;
pub mod history;
pub mod intake;
pub mod pgp;
pub mod policy;
pub mod record;
pub mod report;
pub mod store;
pub mod trailers;

#[cfg(test)]
mod proptests;
