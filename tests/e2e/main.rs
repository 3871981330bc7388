//! End-to-end tests: the pre-receive hook on a real bare repository, driven by real `git push`
//! with real keys (aiaudit key files and a GnuPG key), in a sealed environment.
//!
//! Every test builds its own [`harness::World`]: a server created by `aiaudit init` with the
//! hook installed, a clone, and principals added through admin-signed, pushed policy changes.
//! Acceptance tests go through the CLI's own flows; rejection tests craft the bad push with git
//! plumbing and assert the hook's finding (code, commit, file, hint) and that no server ref
//! moved.

mod agents;
mod auditor_views;
mod catalogs;
mod check;
mod checkout;
mod commit_form;
mod content;
mod docs_cli;
mod events;
mod everyday;
mod exec;
mod export;
mod faults;
mod governance;
mod harness;
mod hook_accepts;
mod hook_rejects_approvals;
mod hook_rejects_governance;
mod hook_rejects_history;
mod hook_rejects_records;
mod hostile;
mod intake;
mod links;
mod load;
mod mcp;
mod objects;
mod pushers;
mod report;
mod requirements;
mod revocation;
mod roles;
mod sample;
#[path = "../support/sealed.rs"]
mod sealed;
mod servers;
mod stored_context;
mod terminal;
mod times;
mod transports;
mod trust;
mod verify;
