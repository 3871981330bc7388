//! The command-line front end: one file per command, each with an `XxxArgs` struct (its doc
//! comments are the `--help` text) and one `run` function. This is the only module that prints.

mod agent_hook;
mod approve;
mod catalog_cmd;
mod check;
mod checkpoint;
mod content;
mod docs;
mod event;
mod exec;
mod export;
mod governance;
pub(crate) mod hook;
mod init;
mod key;
mod log;
mod mcp;
mod pending;
mod policy_cmd;
mod principal;
mod progress;
mod record;
mod report;
mod sample;
mod settings;
mod show;
mod status;
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
    /// Generate and revoke Ed25519 signing keys (key files)
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Add principals and their keys to the policy (admin-signed changes)
    #[command(subcommand)]
    Principal(principal::PrincipalCommand),
    /// Show, check and change the policy (admin-signed changes)
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// List, show and set the control catalogs reports map gaps to
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogCommand),
    Record(Box<record::RecordArgs>),
    Pending(pending::PendingArgs),
    Show(show::ShowArgs),
    Log(log::LogArgs),
    Report(report::Args),
    Export(export::Args),
    Sample(sample::SampleArgs),
    Check(check::Args),
    ChangeDigest(check::ChangeDigestArgs),
    Approve(approve::ApproveArgs),
    Outcome(event::OutcomeArgs),
    Review(event::ReviewArgs),
    Exec(exec::ExecArgs),
    Await(exec::AwaitArgs),
    Status(status::StatusArgs),
    Mcp(mcp::McpArgs),
    AgentHook(agent_hook::AgentHookArgs),
    Verify(verify::VerifyArgs),
    Checkpoint(checkpoint::CheckpointArgs),
    /// Erase content from the content store beside the ledger (admins)
    #[command(subcommand)]
    Content(content::ContentCommand),
    /// Install and run the git server's pre-receive hook
    #[command(subcommand)]
    Hook(hook::HookCommand),
    Completions(docs::CompletionsArgs),
    Man(docs::ManArgs),
}

/// What kind of failure a command ended in; the kind alone decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input breaks the rules: a rejected record, a failed verification (exit 1).
    Violations,
    /// The command was used wrongly or the configuration is unusable (exit 2).
    Usage,
    /// Something failed that the user did not cause: I/O, an unreadable object (exit 3).
    Internal,
    /// Standard output was closed by its reader (`aiaudit log | head`): the command stops
    /// quietly and succeeds, as any Unix tool does.
    BrokenPipe,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Violations => EXIT_VIOLATIONS,
            ErrorKind::Usage => EXIT_USAGE,
            ErrorKind::Internal => EXIT_INTERNAL,
            ErrorKind::BrokenPipe => EXIT_OK,
        }
    }
}

/// An error at the CLI edge: its kind, the error, the findings behind it (printed first), and
/// hints on what to do.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub error: anyhow::Error,
    pub diagnostics: Vec<crate::diag::Diagnostic>,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn new(kind: ErrorKind, e: impl Into<anyhow::Error>) -> Self {
        CliError {
            kind,
            error: e.into(),
            diagnostics: Vec::new(),
            hints: Vec::new(),
        }
    }
    pub fn usage(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Usage, e)
    }
    pub fn violations(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Violations, e)
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Internal, e)
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hints.push(h.into());
        self
    }
    /// The findings that caused the error, printed before it.
    pub fn with_diagnostics(mut self, d: Vec<crate::diag::Diagnostic>) -> Self {
        self.diagnostics = d;
        self
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::internal(e)
    }
}

impl From<crate::ledger::governance::GovernanceError> for CliError {
    /// The governance files on main are unusable: nothing the command can do.
    fn from(e: crate::ledger::governance::GovernanceError) -> Self {
        CliError::usage(anyhow::anyhow!("the policy on main is unusable: {e}"))
    }
}

impl From<std::io::Error> for CliError {
    /// A closed standard output is not an error of the command (see [`ErrorKind::BrokenPipe`]).
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::new(ErrorKind::BrokenPipe, e),
            _ => CliError::internal(e),
        }
    }
}

/// `println!` for command output. What it prints may quote repository content, so every
/// control and hidden character but the line break is escaped (`crate::text`): ledger text
/// never drives the terminal. A write error (a closed pipe above all) becomes the command's
/// error instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        writeln!(std::io::stdout().lock(), "{}", $crate::text::visible_text(&line))
            .map_err($crate::cli::CliError::from)?
    }};
}
pub(crate) use outln;

/// `eprintln!` for messages and findings, with [`outln!`]'s escaping. Writing to standard error
/// never fails a command.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", $crate::text::visible_text(&line));
    }};
}
pub(crate) use errln;

impl From<crate::ledger::write::WriteError> for CliError {
    /// A write the engine refused carries its findings; the command adds what was not done.
    fn from(e: crate::ledger::write::WriteError) -> Self {
        use crate::ledger::write::WriteError;
        match e {
            WriteError::Store(e) => e.into(),
            WriteError::Rejected(d) => {
                CliError::violations(anyhow::anyhow!("the commit breaks the server's rules"))
                    .with_diagnostics(d)
            }
        }
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
        Command::Catalog(c) => catalog_cmd::run(&cwd, c),
        Command::Record(a) => record::run(&cwd, *a),
        Command::Pending(a) => pending::run(&cwd, a),
        Command::Show(a) => show::run(&cwd, a),
        Command::Log(a) => log::run(&cwd, a),
        Command::Report(a) => report::run(&cwd, a),
        Command::Export(a) => export::run(&cwd, a),
        Command::Sample(a) => sample::run(&cwd, a),
        Command::Check(a) => check::run(&cwd, a),
        Command::ChangeDigest(a) => check::change_digest(&cwd, a),
        Command::Approve(a) => approve::run(&cwd, a),
        Command::Outcome(a) => event::run_outcome(&cwd, a),
        Command::Review(a) => event::run_review(&cwd, a),
        Command::Exec(a) => exec::run(&cwd, a),
        Command::Await(a) => exec::run_await(&cwd, a),
        Command::Status(a) => status::run(&cwd, a),
        Command::Mcp(a) => mcp::run(&cwd, a),
        Command::AgentHook(a) => agent_hook::run(&cwd, a),
        Command::Verify(a) => verify::run(&cwd, a),
        Command::Checkpoint(a) => checkpoint::run(&cwd, a),
        Command::Content(c) => content::run(&cwd, c),
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
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.kind == ErrorKind::BrokenPipe => e.exit_code(),
        Err(e) => {
            for d in &e.diagnostics {
                errln!("{d}");
            }
            errln!("error: {:#}", e.error);
            for h in &e.hints {
                errln!("hint: {h}");
            }
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory as _;

    /// `aiaudit --help` lists every command with a summary that fits its line; the details are
    /// in `aiaudit CMD --help`.
    /// clap's own consistency checks over every command (argument ids that collide with the
    /// global `--repo`, conflicting flags, …).
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_a_one_line_summary() {
        let cmd = super::Cli::command();
        let mut bad = Vec::new();
        for sub in cmd.get_subcommands() {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            if about.trim().is_empty() || about.chars().count() > 82 || about.contains('\n') {
                bad.push(format!("{}: {about:?}", sub.get_name()));
            }
            for sub2 in sub.get_subcommands() {
                let about = sub2.get_about().map(|a| a.to_string()).unwrap_or_default();
                if about.trim().is_empty() {
                    bad.push(format!(
                        "{} {}: no summary",
                        sub.get_name(),
                        sub2.get_name()
                    ));
                }
            }
        }
        assert!(bad.is_empty(), "summaries to fix:\n{}", bad.join("\n"));
    }
}
