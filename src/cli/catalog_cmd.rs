//! `aiaudit catalog`: the control catalogs the report holds the ledger against — those shipped
//! with aiaudit and the audit repository's own (`.aiaudit/catalogs/<key>.yaml`, changed only by
//! admin-signed governance changes, like the policy).

use super::util::{self, main_base, SignerArgs};
use super::{outln, CliError, CliResult, EXIT_OK};
use crate::catalog::{self, Catalog};
use crate::engine::Checker;
use crate::ledger::governance::Governance;
use crate::report::gap_kind_ids;
use anyhow::anyhow;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    List(ListArgs),
    Show(ShowArgs),
    Set(SetArgs),
}

/// List the catalogs `aiaudit report` uses: key, framework, controls, where it comes from.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Print a catalog (YAML, schema aiaudit/catalog/v1): the shipped one, or the repository's own
/// when it has one with that key.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The catalog's key (`aiaudit catalog list`).
    pub key: String,
}

/// Add or replace one of the audit repository's own catalogs (`.aiaudit/catalogs/<key>.yaml`)
/// with FILE, as a governance change signed by an admin of the current policy. A catalog with
/// the key of a shipped one replaces it in reports (re-mapping its controls); another key adds a
/// framework (`report --framework KEY`). See docs/report.md for the format.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The catalog file (YAML, schema aiaudit/catalog/v1).
    pub file: PathBuf,
    /// A one-line description of the change (the commit's subject).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

/// Where a catalog in force comes from.
fn origin(shipped: &[Catalog], c: &Catalog, own: &[Catalog]) -> &'static str {
    match (
        own.iter().any(|o| o.key == c.key),
        shipped.iter().any(|s| s.key == c.key),
    ) {
        (true, true) => "repository (replaces the shipped one)",
        (true, false) => "repository",
        _ => "shipped",
    }
}

pub fn run(cwd: &Path, cmd: CatalogCommand) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let kinds = gap_kind_ids();
    let shipped = catalog::shipped(&kinds).map_err(CliError::internal)?;
    let own = Governance::new(&store).catalogs_at(base.tree)?;
    let all = catalog::merged(shipped.clone(), own.clone());
    match cmd {
        CatalogCommand::List(a) => {
            if a.json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "key": c.key,
                            "name": c.name,
                            "controls": c.controls.len(),
                            "as_of": c.as_of,
                            "source": c.source,
                            "origin": origin(&shipped, c, &own),
                        })
                    })
                    .collect();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(CliError::internal)?
                );
            } else {
                for c in &all {
                    outln!(
                        "{:<12} {} — {} control(s), as of {}, {}",
                        c.key,
                        c.name,
                        c.controls.len(),
                        c.as_of,
                        origin(&shipped, c, &own)
                    );
                    outln!("             source: {}", c.source);
                }
            }
            Ok(EXIT_OK)
        }
        CatalogCommand::Show(a) => {
            let c = all.iter().find(|c| c.key == a.key).ok_or_else(|| {
                CliError::usage(anyhow!("no catalog has the key `{}`", a.key))
                    .hint("`aiaudit catalog list` names them")
            })?;
            let text =
                crate::record::canonical::to_canonical_yaml(c).map_err(CliError::internal)?;
            util::write_stdout(text.as_bytes())?;
            Ok(EXIT_OK)
        }
        CatalogCommand::Set(a) => {
            let bytes = util::read_input(&a.file)?;
            let file = a.file.display().to_string();
            let c = catalog::parse(&file, &bytes, &kinds).map_err(|e| {
                CliError::usage(anyhow!(
                    "{file} is not a valid catalog ({} problem(s)):\n{}",
                    e.problems.len(),
                    e.problems
                        .iter()
                        .map(|p| format!("  {file}: {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ))
            })?;
            let message = a
                .message
                .clone()
                .unwrap_or_else(|| format!("catalog: set `{}` ({})", c.key, c.name));
            let now = util::now()?;
            let mut checker = Checker::new(&store, now);
            super::governance::sign_change(
                &store,
                &mut checker,
                &base,
                &[(catalog::repo_path(&c.key), bytes)],
                &a.signer,
                &message,
                a.push.remote()?.as_deref(),
                now,
            )
        }
    }
}
