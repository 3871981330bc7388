//! The command-line front end: one file per command, each with an `XxxArgs` struct (its doc
//! comments are the `--help` text) and one `run` function. This is the only module that prints.

mod approve;
mod check;
mod checkpoint;
mod docs;
mod event;
mod export;
mod governance;
pub(crate) mod hook;
mod init;
mod key;
mod log;
mod pending;
mod policy_cmd;
mod principal;
mod progress;
mod record;
mod report;
mod show;
mod util;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes: 0 ok, 1 violations or rejection, 2 usage or configuration error, 3 internal error.
pub const EXIT_OK: i32 = 0;
pub const EXIT_VIOLATIONS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERNAL: i32 = 3;

/// The accountability chain of AI-assisted privileged work, kept in a git audit repository.
///
/// Initiators `record` decisions, approvers `approve` them with their OpenPGP key, the git
/// server's `hook` rejects anything incomplete or forged, and auditors `verify` the history.
#[derive(Debug, Parser)]
#[command(name = "aiaudit", version, max_term_width = 100)]
pub struct Cli {
    /// Run as if started in this directory (the audit repository; for `check`, the product
    /// repository).
    #[arg(short = 'C', long = "repo", global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    #[command(subcommand)]
    Key(key::KeyCommand),
    #[command(subcommand)]
    Principal(principal::PrincipalCommand),
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    Record(Box<record::RecordArgs>),
    Pending(pending::PendingArgs),
    Show(show::ShowArgs),
    Log(log::LogArgs),
    Report(report::Args),
    Export(export::Args),
    Check(check::Args),
    Approve(approve::ApproveArgs),
    Outcome(event::OutcomeArgs),
    Review(event::ReviewArgs),
    Verify(verify::VerifyArgs),
    Checkpoint(checkpoint::CheckpointArgs),
    #[command(subcommand)]
    Hook(hook::HookCommand),
    Completions(docs::CompletionsArgs),
    Man(docs::ManArgs),
}

/// An error at the CLI edge; its kind decides the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub error: anyhow::Error,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn usage(e: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: EXIT_USAGE,
            error: e.into(),
            hints: Vec::new(),
        }
    }
    pub fn violations(e: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: EXIT_VIOLATIONS,
            error: e.into(),
            hints: Vec::new(),
        }
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: EXIT_INTERNAL,
            error: e.into(),
            hints: Vec::new(),
        }
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hints.push(h.into());
        self
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::internal(e)
    }
}

pub type CliResult<T = i32> = Result<T, CliError>;

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> CliResult {
    let cwd = match &cli.repo {
        Some(p) => p.clone(),
        None => std::env::current_dir().map_err(CliError::internal)?,
    };
    match cli.command {
        Command::Init(a) => init::run(&cwd, a),
        Command::Key(k) => key::run(k),
        Command::Principal(p) => principal::run(&cwd, p),
        Command::Policy(p) => policy_cmd::run(&cwd, p),
        Command::Record(a) => record::run(&cwd, *a),
        Command::Pending(a) => pending::run(&cwd, a),
        Command::Show(a) => show::run(&cwd, a),
        Command::Log(a) => log::run(&cwd, a),
        Command::Report(a) => report::run(&cwd, a),
        Command::Export(a) => export::run(&cwd, a),
        Command::Check(a) => check::run(&cwd, a),
        Command::Approve(a) => approve::run(&cwd, a),
        Command::Outcome(a) => event::run_outcome(&cwd, a),
        Command::Review(a) => event::run_review(&cwd, a),
        Command::Verify(a) => verify::run(&cwd, a),
        Command::Checkpoint(a) => checkpoint::run(&cwd, a),
        Command::Hook(h) => hook::run(h),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}

/// The binary's entry point: parses, runs, prints errors with hints, maps exit codes.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    if !matches!(cli.command, Command::Hook(_)) {
        quiet_on_broken_pipe();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            for h in &e.hints {
                eprintln!("hint: {h}");
            }
            e.code
        }
    }
}

/// A closed pipe (`aiaudit log | head`) ends output quietly, as in any Unix tool, instead of the
/// panic `println!` raises on EPIPE. Never for the hook: it must fail closed, whatever happens.
fn quiet_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(EXIT_OK);
        }
        default_hook(info)
    }));
}
