//! `aiaudit principal`: change who is in the policy, signed by an admin.

use super::util::{self, main_base, SignerArgs};
use super::{CliError, CliResult};
use crate::engine::Checker;
use crate::pgp;
use crate::policy::{is_fingerprint, key_path, Policy, Principal, POLICY_PATH};
use crate::record::{canonical::to_canonical_yaml, PrincipalKind};
use crate::store::CommitData;
use anyhow::anyhow;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum PrincipalCommand {
    Add(AddArgs),
    AddKey(AddKeyArgs),
    UpdateKey(UpdateKeyArgs),
}

/// Add a certificate to an existing principal (a second key, or a key rotation), as an
/// admin-signed policy change. A principal counts once however many keys it signs with.
#[derive(Debug, clap::Args)]
pub struct AddKeyArgs {
    /// The principal id.
    pub id: String,
    /// The certificate to add.
    #[arg(long = "cert", value_name = "CERT.asc")]
    pub cert: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Publish an update of a principal's certificate — a new expiry, a new subkey, or a
/// revocation (`aiaudit key revoke`, `gpg --gen-revoke`, or an export with the revocation
/// merged) — as an admin-signed policy change.
#[derive(Debug, clap::Args)]
pub struct UpdateKeyArgs {
    /// The certificate's primary fingerprint (as listed in the policy).
    pub fingerprint: String,
    /// The update: a certificate export or a revocation certificate.
    pub file: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Add a principal (and its certificates) to the policy on main, signed by an admin of the
/// current policy. The change lands on the local main; `--push` sends it to the server.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The principal id (e.g. a username or service account name).
    pub id: String,
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// The display name; defaults to the name in the first certificate's user id.
    #[arg(long)]
    pub name: Option<String>,
    /// The e-mail address commits and approvals use; defaults to the e-mail in the first
    /// certificate's user id.
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
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Human,
    Service,
    Workflow,
}

pub fn run(cwd: &Path, cmd: PrincipalCommand) -> CliResult {
    match cmd {
        PrincipalCommand::Add(a) => add(cwd, a),
        PrincipalCommand::UpdateKey(u) => update_key(cwd, u),
        PrincipalCommand::AddKey(k) => add_key(cwd, k),
    }
}

/// The files and the summary line of a governance change.
type ChangeSet = (Vec<(String, Vec<u8>)>, String);

/// A governance change against the local main: `build` sees the policy checker and main's
/// tip and returns the files to write and the summary; the change is then signed (and pushed)
/// by `sign_change`.
fn governed(
    cwd: &Path,
    signer: &SignerArgs,
    push: Option<&str>,
    build: impl FnOnce(&mut Checker<'_>, &CommitData) -> CliResult<ChangeSet>,
) -> CliResult {
    let store = util::open(cwd)?;
    let now = util::now()?;
    let base = main_base(&store)?;
    let mut checker = Checker::new(&store, now);
    let (files, summary) = build(&mut checker, &base)?;
    super::governance::sign_change(
        &store,
        &mut checker,
        &base,
        &files,
        signer,
        &summary,
        push,
        now,
    )
}

/// A certificate file (as `gpg --export --armor` writes it): its fingerprint, and the file the
/// policy keeps for it.
fn read_cert(path: &Path) -> CliResult<(String, (String, Vec<u8>))> {
    let bytes = util::read_input(path)?;
    let cert =
        pgp::parse_cert(&bytes).map_err(|e| CliError::usage(anyhow!("{}: {e}", path.display())))?;
    let fpr = pgp::fingerprint(&cert);
    debug_assert!(is_fingerprint(&fpr));
    let armored = pgp::armor_cert(&cert).map_err(CliError::internal)?;
    Ok((fpr.clone(), (key_path(&fpr), armored.into_bytes())))
}

/// The policy file after a change, canonical and checked to parse.
fn policy_file(policy: &Policy) -> CliResult<(String, Vec<u8>)> {
    let text = to_canonical_yaml(policy).map_err(CliError::internal)?;
    Policy::parse(text.as_bytes())
        .map_err(|e| CliError::usage(anyhow!("the new policy would be invalid: {e}")))?;
    Ok((POLICY_PATH.to_owned(), text.into_bytes()))
}

fn add(cwd: &Path, a: AddArgs) -> CliResult {
    governed(
        cwd,
        &a.signer,
        a.push.remote()?.as_deref(),
        |checker, base| {
            let old = checker.governance().policy_at(base.tree)?;
            if old.principal(&a.id).is_some() {
                return Err(CliError::usage(anyhow!(
                    "principal `{}` already exists",
                    a.id
                )));
            }
            let mut files = Vec::new();
            let mut keys = Vec::new();
            // Name and e-mail default to the first certificate's user id: commits are authored
            // with them, and approvals are matched to them.
            let (mut name, mut email) = (a.name.clone(), a.email.clone());
            for path in &a.certs {
                if name.is_none() || email.is_none() {
                    let bytes = util::read_input(path)?;
                    if let Ok(cert) = pgp::parse_cert(&bytes) {
                        let (n, e) = pgp::user_id(&cert);
                        name = name.or(n);
                        email = email.or(e);
                    }
                }
                let (fpr, file) = read_cert(path)?;
                if let Some(owner) = old.principal_by_key(&fpr) {
                    return Err(CliError::usage(anyhow!(
                        "{}: key {fpr} already belongs to `{}`",
                        path.display(),
                        owner.id
                    )));
                }
                files.push(file);
                keys.push(fpr);
            }
            let kind = match a.kind {
                KindArg::Human => PrincipalKind::Human,
                KindArg::Service => PrincipalKind::Service,
                KindArg::Workflow => PrincipalKind::Workflow,
            };
            let mut policy: Policy = (*old).clone();
            policy.principals.push(Principal {
                id: a.id.clone(),
                kind,
                name,
                email,
                owner: a.owner.clone(),
                forge_logins: a.forge_logins.clone(),
                groups: a.groups.clone(),
                keys,
            });
            files.push(policy_file(&policy)?);
            let summary = format!("policy: add {} principal `{}`", kind.as_str(), a.id);
            Ok((files, summary))
        },
    )
}

fn update_key(cwd: &Path, a: UpdateKeyArgs) -> CliResult {
    governed(
        cwd,
        &a.signer,
        a.push.remote()?.as_deref(),
        |checker, base| {
            let fpr = a.fingerprint.to_ascii_uppercase();
            let cert = checker
                .governance()
                .cert_at(base.tree, &fpr)
                .map_err(|e| CliError::usage(anyhow!("no certificate {fpr} in the policy: {e}")))?;
            let update = util::read_input(&a.file)?;
            let merged = pgp::merge_update(&cert, &update)
                .map_err(|e| CliError::usage(anyhow!("{}: {e}", a.file.display())))?;
            let armored = pgp::armor_cert(&merged).map_err(CliError::internal)?;
            let owner = checker
                .governance()
                .policy_at(base.tree)?
                .principal_by_key(&fpr)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            Ok((
                vec![(key_path(&fpr), armored.into_bytes())],
                format!("policy: update key {fpr} of `{owner}`"),
            ))
        },
    )
}

fn add_key(cwd: &Path, a: AddKeyArgs) -> CliResult {
    governed(
        cwd,
        &a.signer,
        a.push.remote()?.as_deref(),
        |checker, base| {
            let mut policy: Policy = (*checker.governance().policy_at(base.tree)?).clone();
            let (fpr, file) = read_cert(&a.cert)?;
            if let Some(owner) = policy.principal_by_key(&fpr) {
                return Err(CliError::usage(anyhow!(
                    "key {fpr} already belongs to `{}`",
                    owner.id
                )));
            }
            let p = policy
                .principals
                .iter_mut()
                .find(|p| p.id == a.id)
                .ok_or_else(|| CliError::usage(anyhow!("no principal `{}` in the policy", a.id)))?;
            p.keys.push(fpr.clone());
            let files = vec![file, policy_file(&policy)?];
            Ok((files, format!("policy: add key {fpr} to `{}`", a.id)))
        },
    )
}
