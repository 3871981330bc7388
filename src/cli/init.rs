//! `aiaudit init`: a new audit repository with its root of trust.

use super::outln;
use super::util::{committer, person, unix};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::Checker;
use crate::ledger::write::{self, Draft, Expected, Judgement, RefMove, TreeSpec, WriteError};
use crate::ledger::{MAIN_REF, README_PATH};
use crate::pgp;
use crate::policy::{key_path, Policy, Principal, POLICY_PATH};
use crate::record::{canonical::to_canonical_yaml, is_ident, PrincipalKind};
use crate::store::Store;
use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};

const AUDIT_README: &str = include_str!("audit_readme.md");

/// Create a new audit repository (bare) with a default policy and its first admin.
///
/// The default policy: access changes, secret retrieval and production changes are high risk;
/// every action needs one pre-approval from a human principal other than the initiator. The
/// first commit holds only the policy, the admin's certificate and an auditor-facing README:
/// it is the root of trust. Refuses to write into an existing, non-empty directory.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to create the repository.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The first admin's principal id.
    #[arg(long, value_name = "ID")]
    pub admin: String,
    /// The first admin's OpenPGP certificate (`gpg --export --armor` or `aiaudit key generate`).
    #[arg(long, value_name = "CERT.asc")]
    pub admin_key: PathBuf,
    /// The first admin's display name.
    #[arg(long)]
    pub admin_name: Option<String>,
    /// The first admin's email.
    #[arg(long)]
    pub admin_email: Option<String>,
}

pub fn run(cwd: &Path, args: InitArgs) -> CliResult {
    let dir = cwd.join(&args.dir);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::usage(anyhow!(
            "{} exists and is not empty; refusing to overwrite",
            dir.display()
        )));
    }
    if !is_ident(&args.admin) {
        return Err(CliError::usage(anyhow!(
            "--admin `{}` is not a valid principal id",
            args.admin
        )));
    }
    let cert_bytes = std::fs::read(&args.admin_key)
        .with_context(|| format!("cannot read {}", args.admin_key.display()))
        .map_err(CliError::usage)?;
    let cert = pgp::parse_cert(&cert_bytes)
        .map_err(|e| CliError::usage(anyhow!("{}: {e}", args.admin_key.display())))?;
    let fpr = pgp::fingerprint(&cert);
    let email = args.admin_email.clone().or_else(|| first_email(&cert));
    let admin = Principal {
        id: args.admin.clone(),
        kind: PrincipalKind::Human,
        name: args.admin_name.clone(),
        email: email.clone(),
        owner: None,
        forge_logins: vec![],
        groups: vec!["admins".into()],
        keys: vec![fpr.clone()],
    };
    let policy = Policy::default_for(admin);
    let policy_text = to_canonical_yaml(&policy).map_err(CliError::internal)?;
    Policy::parse(policy_text.as_bytes()).map_err(CliError::internal)?;

    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))
        .map_err(CliError::usage)?;
    let store = Store::init_bare(&dir)?;
    let files = vec![
        (POLICY_PATH.to_owned(), policy_text.into_bytes()),
        (
            key_path(&fpr),
            pgp::armor_cert(&cert)
                .map_err(CliError::internal)?
                .into_bytes(),
        ),
        (README_PATH.to_owned(), AUDIT_README.as_bytes().to_vec()),
    ];
    let now = super::util::now()?;
    let author = person(
        args.admin_name.as_deref().unwrap_or(&args.admin),
        email.as_deref().unwrap_or("admin@aiaudit.invalid"),
        unix(now),
    );
    let committer = committer(&store, &author);
    let message = crate::ledger::trailers::genesis_message(&args.admin, &fpr);
    // The root commit passes the same rules the server applies to a pushed genesis.
    let commit = write::write(
        &mut Checker::new(&store, now),
        Draft {
            parent: None,
            tree: TreeSpec::files(files),
            author,
            committer,
            message,
        },
        Judgement::Main,
        &RefMove::new(MAIN_REF, Expected::Absent, "init"),
    )
    .map_err(|e| match e {
        WriteError::Rejected(d) => {
            CliError::internal(anyhow!("the genesis commit does not pass the rules"))
                .with_diagnostics(d)
        }
        WriteError::Store(e) => e.into(),
    })?
    .staged
    .id();
    outln!("created audit repository {}", dir.display());
    outln!("  root of trust: {commit}");
    outln!("  admin: {} (key {fpr})", args.admin);
    outln!(
        "next: install the hook on the server: aiaudit hook install {}",
        dir.display()
    );
    outln!("      add principals: aiaudit principal add ID --kind human --cert CERT.asc --key ADMIN.key");
    Ok(EXIT_OK)
}

fn first_email(cert: &pgp::Cert) -> Option<String> {
    cert.userids()
        .filter_map(|u| u.userid().email().ok().flatten())
        .next()
        .map(|s| s.to_string())
}
