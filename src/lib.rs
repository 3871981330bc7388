//! aiaudit: the accountability chain of AI-assisted privileged work, kept in a git audit
//! repository.
//!
//! The map — each module has one reason to change:
//!
//! | module | what it owns |
//! |---|---|
//! | [`record`] | the decision and event records: model, canonical bytes, validation, context digest |
//! | [`policy`] | principals, rules and what a decision needs to land; the policy file's validation |
//! | [`pgp`] | OpenPGP signing and verification (the only module that touches sequoia) |
//! | [`store`] | the git store: the only module that touches git objects and refs (through gix) |
//! | [`ledger`] | the audit repository's layout and trailers, reading the ledger, the governance state at a tree, and the one write path every commit goes through |
//! | [`engine`] | the rule engine shared by the hook, `verify` and every write: one file per front end (`push`, `verify`) and per rule family |
//! | [`diag`] | the one catalog of finding codes (engine, `check`, report gaps) and the diagnostic type |
//! | [`compliance`] | what `aiaudit check` judges in a product repository: AI-assistance trailers, repository names, a commit against the ledger |
//! | [`report`] | the audit report: statistics, gaps, and per control of each catalog its evidence and the gaps against it |
//! | [`catalog`] | control catalogs as data: the frameworks shipped with aiaudit and a repository's own |
//! | [`text`] | repository text made safe to print: control, bidi and invisible characters escaped |
//! | [`intake`] | decisions from automation (intake documents, OpenTelemetry traces) and the credential rules that keep secrets out |
//! | `cli` | the command-line front end: one file per command; the only place that prints |
//!
//! A command reads the ledger ([`ledger::read`], [`ledger::governance`]), builds a draft, and
//! hands it to [`ledger::write`], which writes the objects through [`store`], has [`engine`]
//! judge the commit exactly as the server's hook will, and only then moves a ref.

pub mod catalog;
pub mod cli;
pub mod compliance;
pub mod diag;
pub mod engine;
pub mod intake;
pub mod ledger;
pub mod pgp;
pub mod policy;
pub mod record;
pub mod report;
pub mod store;
pub mod text;

#[cfg(test)]
mod proptests;
