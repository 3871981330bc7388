//! `aiaudit principal`: change who is in the policy, signed by an admin.

use super::util::{self, committer, main_base, person, unix, SignerArgs};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::{governance_statement, Checker, MAIN_REF};
use crate::pgp;
use crate::policy::{is_fingerprint, key_path, Policy, Principal, POLICY_PATH};
use crate::record::{canonical::to_canonical_yaml, PrincipalKind};
use crate::trailers::{Approval, POLICY_SIGNED_BY};
use anyhow::anyhow;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum PrincipalCommand {
    Add(AddArgs),
}

/// Add a principal (and its certificates) to the policy on main, signed by an admin of the
/// current policy. The change lands on the local main; `--push` sends it to the server.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The principal id (e.g. a username or service account name).
    pub id: String,
    #[arg(long, value_enum)]
    pub kind: KindArg,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// For service and workflow principals: the accountable human principal.
    #[arg(long)]
    pub owner: Option<String>,
    /// A group the principal belongs to (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// A forge login of the principal (repeatable).
    #[arg(long = "forge-login", value_name = "LOGIN")]
    pub forge_logins: Vec<String>,
    /// An OpenPGP certificate of the principal (repeatable).
    #[arg(long = "cert", value_name = "CERT.asc")]
    pub certs: Vec<PathBuf>,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Push the change to this remote's main.
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin")]
    pub push: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Human,
    Service,
    Workflow,
}

pub fn run(cwd: &Path, cmd: PrincipalCommand) -> CliResult {
    let PrincipalCommand::Add(a) = cmd;
    let store = util::open(cwd)?;
    let now = util::now()?;
    let base = main_base(&store)?;
    let mut checker = Checker::new(&store, now);
    let old = util::policy_at(&mut checker, base.tree)?;
    if old.principal(&a.id).is_some() {
        return Err(CliError::usage(anyhow!(
            "principal `{}` already exists",
            a.id
        )));
    }
    let mut files = Vec::new();
    let mut keys = Vec::new();
    for path in &a.certs {
        let bytes = util::read_input(path)?;
        let cert = pgp::parse_cert(&bytes)
            .map_err(|e| CliError::usage(anyhow!("{}: {e}", path.display())))?;
        let fpr = pgp::fingerprint(&cert);
        debug_assert!(is_fingerprint(&fpr));
        let armored = pgp::armor_cert(&cert).map_err(CliError::internal)?;
        files.push((key_path(&fpr), armored.into_bytes()));
        keys.push(fpr);
    }
    let mut policy: Policy = (*old).clone();
    policy.principals.push(Principal {
        id: a.id.clone(),
        kind: match a.kind {
            KindArg::Human => PrincipalKind::Human,
            KindArg::Service => PrincipalKind::Service,
            KindArg::Workflow => PrincipalKind::Workflow,
        },
        name: a.name.clone(),
        email: a.email.clone(),
        owner: a.owner.clone(),
        forge_logins: a.forge_logins.clone(),
        groups: a.groups.clone(),
        keys,
    });
    let text = to_canonical_yaml(&policy).map_err(CliError::internal)?;
    Policy::parse(text.as_bytes())
        .map_err(|e| CliError::usage(anyhow!("the new policy would be invalid: {e}")))?;
    files.push((POLICY_PATH.to_owned(), text.into_bytes()));
    let summary = format!(
        "policy: add {} principal `{}`",
        policy
            .principals
            .last()
            .map(|p| p.kind.as_str())
            .unwrap_or(""),
        a.id
    );
    land_governance_change(
        &store,
        &mut checker,
        &base,
        &files,
        &a.signer,
        &summary,
        a.push.as_deref(),
        now,
    )
}

/// Signs and lands a change to governance files on main (threshold 1 today).
#[allow(clippy::too_many_arguments)]
pub fn land_governance_change(
    store: &crate::store::Store,
    checker: &mut Checker<'_>,
    base: &crate::store::CommitData,
    files: &[(String, Vec<u8>)],
    signer_args: &SignerArgs,
    summary: &str,
    push: Option<&str>,
    now: std::time::SystemTime,
) -> CliResult {
    let old = util::policy_at(checker, base.tree)?;
    let signer = signer_args.signer()?;
    let fpr = pgp::signer_fingerprint(&signer).map_err(CliError::usage)?;
    let Some(admin) = old.principal_by_key(&fpr) else {
        return Err(CliError::usage(anyhow!(
            "signing key {fpr} belongs to no principal of the current policy"
        )));
    };
    if !admin.groups.contains(&old.admins.group) {
        return Err(CliError::usage(anyhow!(
            "`{}` is not in the admins group `{}`; only admins sign policy changes",
            admin.id,
            old.admins.group
        )));
    }
    if old.admins.threshold > 1 {
        return Err(CliError::usage(anyhow!(
            "the policy needs {} admin signatures; collecting several is not supported by this version",
            old.admins.threshold
        )));
    }
    let tree = store.tree_with_files(Some(base.tree), files)?;
    let statement = governance_statement(store, base.id, tree)?;
    let sig = pgp::sign_detached(&signer, statement.as_bytes(), now).map_err(CliError::usage)?;
    let approval = Approval {
        principal: admin.id.clone(),
        email: admin.email.clone(),
        key: fpr,
        signature: sig,
    };
    let message = format!("{summary}\n\n{POLICY_SIGNED_BY}: {}\n", approval.to_value());
    let author = person(
        admin.name.as_deref().unwrap_or(&admin.id),
        admin.email.as_deref().unwrap_or("admin@aiaudit.invalid"),
        unix(now),
    );
    let committer = committer(store, &author);
    let commit = store.write_commit(tree, &[base.id], &author, &committer, &message)?;
    let (_, diags) = checker.check_main_commit(&store.commit(commit)?, Some(base));
    util::refuse_on_errors(
        &diags,
        CliError::violations(anyhow!(
            "the policy change would be rejected; nothing was changed"
        )),
    )?;
    let local = store.ref_target(MAIN_REF)?;
    store.update_ref(MAIN_REF, commit, local, "policy change")?;
    println!("{summary}");
    println!("  commit: {commit} (signed by `{}`)", admin.id);
    if let Some(remote) = push {
        util::git_push(store, remote, &[format!("{commit}:{MAIN_REF}")])?;
        println!("  pushed to {remote}");
    } else {
        println!("next: git push origin main   (or pass --push)");
    }
    Ok(EXIT_OK)
}
