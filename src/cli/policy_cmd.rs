//! `aiaudit policy`: replace the policy file, signed by an admin of the current policy.

use super::util::{self, main_base, SignerArgs};
use super::{CliError, CliResult};
use crate::engine::Checker;
use crate::policy::{Policy, POLICY_PATH};
use anyhow::anyhow;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    Set(SetArgs),
    Sign(SignArgs),
    Show(ShowArgs),
}

/// Add your admin signature to a governance change waiting for more admins
/// (`refs/heads/governance/NAME`); it lands on main once the policy's admin threshold is met.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The change's name (or a unique prefix), as printed when it was proposed.
    pub name: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Replace `.aiaudit/policy.yaml` on main with FILE (comments and layout are kept), as a
/// policy change signed by an admin of the current policy (it waits for more admins' `policy
/// sign` when the admin threshold is above one). The new policy is validated first;
/// every key it lists must already be in `.aiaudit/keys/` (add keys with `principal add`).
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The new policy file.
    pub file: PathBuf,
    /// A one-line description of the change (the commit's subject).
    #[arg(long, short = 'm', default_value = "policy: update rules")]
    pub message: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Print the policy in force on main.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

pub fn run(cwd: &Path, cmd: PolicyCommand) -> CliResult {
    let store = util::open(cwd)?;
    let now = util::now()?;
    let base = main_base(&store)?;
    match cmd {
        PolicyCommand::Show(_) => {
            let entry = store
                .lookup(base.tree, POLICY_PATH)?
                .ok_or_else(|| CliError::usage(anyhow!("{POLICY_PATH} is missing on main")))?;
            let bytes =
                store.read_blob_capped(entry.oid, crate::policy::MAX_POLICY_BYTES as u64)?;
            util::write_stdout(&bytes)?;
            Ok(super::EXIT_OK)
        }
        PolicyCommand::Sign(a) => super::governance::sign_proposal(
            &store,
            &a.name,
            &a.signer,
            a.push.remote()?.as_deref(),
        ),
        PolicyCommand::Set(a) => {
            let bytes = util::read_input(&a.file)?;
            Policy::parse(&bytes).map_err(|e| {
                let file = a.file.display();
                let each: Vec<String> = e
                    .problems
                    .iter()
                    .map(|p| format!("  {file}: {p}"))
                    .collect();
                CliError::usage(anyhow!(
                    "{file} is not a valid policy ({} problem(s)):\n{}",
                    e.problems.len(),
                    each.join("\n")
                ))
            })?;
            let mut checker = Checker::new(&store, now);
            super::governance::sign_change(
                &store,
                &mut checker,
                &base,
                &[(POLICY_PATH.to_owned(), bytes)],
                &a.signer,
                &a.message,
                a.push.remote()?.as_deref(),
                now,
            )
        }
    }
}
