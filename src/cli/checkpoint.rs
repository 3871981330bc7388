//! `aiaudit checkpoint`: an admin-signed tag of main that the server never lets move.

use super::util::{self, main_base, person, unix, SignerArgs};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::ledger::CHECKPOINTS_PREFIX;
use crate::pgp;
use anyhow::anyhow;
use std::path::Path;

/// Tag the current main as a checkpoint, signed by an admin
///
/// The tag is `refs/tags/checkpoint/NAME`.
///
/// The server's hook refuses to move or delete checkpoints, and `aiaudit verify` fails when a
/// checkpoint is no longer on main: a rewritten history cannot hide. `git verify-tag` checks
/// the signature with stock GnuPG.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// The checkpoint's name (default: the date and main's short id).
    pub name: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

pub fn run(cwd: &Path, a: CheckpointArgs) -> CliResult {
    let store = util::open(cwd)?;
    let now = util::now()?;
    let base = main_base(&store)?;
    let policy = util::policy_at(&store, base.tree)?;
    let signer = a.signer.signer()?;
    let fpr = pgp::signer_fingerprint(&signer).map_err(CliError::usage)?;
    let admin = policy
        .principal_by_key(&fpr)
        .filter(|p| p.groups.contains(&policy.admins.group))
        .ok_or_else(|| CliError::usage(anyhow!("key {fpr} is not an admin's key in the policy")))?;
    let date = jiff::Timestamp::try_from(now)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .map_err(CliError::internal)?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("{date}-{}", &base.id.to_string()[..12]));
    let tag_name = format!("checkpoint/{name}");
    let refname = format!("refs/tags/{tag_name}");
    if !refname.starts_with(CHECKPOINTS_PREFIX) || name.contains("..") || name.is_empty() {
        return Err(CliError::usage(anyhow!(
            "`{name}` is not a valid checkpoint name"
        )));
    }
    if store.ref_target(&refname)?.is_some() {
        return Err(CliError::usage(anyhow!(
            "{refname} exists; checkpoints are never moved"
        )));
    }
    let tagger = person(
        admin.name.as_deref().unwrap_or(&admin.id),
        admin.email.as_deref().unwrap_or("admin@principals.invalid"),
        unix(now),
    );
    let message = format!(
        "aiaudit checkpoint of main at {}\n\nmain: {}\n",
        date, base.id
    );
    let payload = store.tag_payload(base.id, &tag_name, &tagger, &message)?;
    let sig = pgp::sign_detached(&signer, &payload, now).map_err(CliError::usage)?;
    let armored = pgp::armor_signature(&sig).map_err(CliError::internal)?;
    let tag = store.write_tag(base.id, &tag_name, &tagger, &message, Some(&armored))?;
    store.update_ref(&refname, tag, None, "checkpoint")?;
    outln!("{refname}");
    errln!(
        "checkpoint {tag_name} of main {} signed by `{}`",
        base.id,
        admin.id
    );
    if let Some(remote) = &a.push.remote()? {
        util::git_push(&store, remote, &[format!("{refname}:{refname}")])?;
        errln!("  pushed to {remote}");
    } else {
        errln!("next: git push origin {refname}   (or pass --push)");
    }
    Ok(EXIT_OK)
}
