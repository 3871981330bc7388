//! `aiaudit key`: OpenPGP keys for principals that sign in-process.

use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::pgp;
use anyhow::anyhow;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    Generate(GenerateArgs),
    Revoke(RevokeArgs),
}

/// Make a revocation certificate for a key file's key (in-process, Ed25519). An admin then
/// publishes it with `aiaudit principal update-key FPR FILE`. `superseded` and `retired` keep
/// approvals made before the revocation valid; `compromised` invalidates every approval the
/// key ever made, and `aiaudit verify` names each affected decision.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The secret key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[arg(long, value_enum)]
    pub reason: ReasonArg,
    /// A note kept in the revocation.
    #[arg(long, default_value = "")]
    pub message: String,
    /// Where to write the revocation certificate. Refuses to overwrite.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReasonArg {
    Superseded,
    Retired,
    Compromised,
}

/// Generate an Ed25519 OpenPGP key: PREFIX.key (secret, mode 0600) and PREFIX.asc
/// (the public certificate to add to the policy).
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The user id's name, e.g. "Alice Example".
    #[arg(long)]
    pub name: String,
    /// The user id's email.
    #[arg(long)]
    pub email: String,
    /// Output path prefix: writes PREFIX.key and PREFIX.asc. Refuses to overwrite.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Encrypt the secret key with the passphrase in AIAUDIT_KEY_PASSPHRASE (the variable every
    /// command that signs with --key reads to unlock it). Without it the key file is protected
    /// by its mode (0600) only.
    #[arg(long)]
    pub passphrase_from_env: bool,
}

pub fn run(cmd: KeyCommand) -> CliResult {
    let a = match cmd {
        KeyCommand::Generate(a) => a,
        KeyCommand::Revoke(r) => return revoke(r),
    };
    let secret_path = a.out.with_extension("key");
    let cert_path = a.out.with_extension("asc");
    for p in [&secret_path, &cert_path] {
        if p.exists() {
            return Err(CliError::usage(anyhow!(
                "{} exists; refusing to overwrite",
                p.display()
            )));
        }
    }
    let userid = format!("{} <{}>", a.name, a.email);
    let passphrase = if a.passphrase_from_env {
        Some(
            std::env::var("AIAUDIT_KEY_PASSPHRASE")
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    CliError::usage(anyhow!(
                        "--passphrase-from-env: AIAUDIT_KEY_PASSPHRASE is not set or empty"
                    ))
                })?,
        )
    } else {
        None
    };
    let (secret, cert, fpr) =
        pgp::generate_key(&userid, super::util::now()?, None, passphrase.as_deref())
            .map_err(CliError::usage)?;
    write_private(&secret_path, secret.as_bytes())?;
    std::fs::write(&cert_path, cert)
        .map_err(|e| CliError::usage(anyhow!("cannot write {}: {e}", cert_path.display())))?;
    outln!("{fpr}");
    errln!(
        "secret key: {} (keep it private{})",
        secret_path.display(),
        if passphrase.is_some() {
            "; encrypted with the passphrase: set AIAUDIT_KEY_PASSPHRASE to sign with it"
        } else {
            "; not passphrase-protected: --passphrase-from-env encrypts it"
        }
    );
    errln!(
        "certificate: {} (add it to the policy)",
        cert_path.display()
    );
    Ok(EXIT_OK)
}

fn write_private(path: &std::path::Path, data: &[u8]) -> CliResult<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| CliError::usage(anyhow!("cannot create {}: {e}", path.display())))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| CliError::internal(anyhow!("cannot write {}: {e}", path.display())))
}

fn revoke(a: RevokeArgs) -> CliResult {
    if a.out.exists() {
        return Err(CliError::usage(anyhow!(
            "{} exists; refusing to overwrite",
            a.out.display()
        )));
    }
    let kind = match a.reason {
        ReasonArg::Superseded => pgp::RevocationKind::Superseded,
        ReasonArg::Retired => pgp::RevocationKind::Retired,
        ReasonArg::Compromised => pgp::RevocationKind::Compromised,
    };
    let passphrase = std::env::var("AIAUDIT_KEY_PASSPHRASE").ok();
    let rev = pgp::make_revocation(
        &a.key,
        passphrase.as_deref(),
        kind,
        &a.message,
        super::util::now()?,
    )
    .map_err(CliError::usage)?;
    std::fs::write(&a.out, rev)
        .map_err(|e| CliError::usage(anyhow!("cannot write {}: {e}", a.out.display())))?;
    errln!("revocation certificate: {}", a.out.display());
    errln!(
        "next: an admin runs `aiaudit principal update-key <FPR> {}`",
        a.out.display()
    );
    Ok(EXIT_OK)
}
