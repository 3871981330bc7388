//! `aiaudit content`: the content store beside the ledger (`refs/aiaudit/content/<sha256>`,
//! `crate::engine::content`): erasing content without touching the ledger.

use super::util::{self, main_base};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::content::content_ref;
use crate::record;
use anyhow::anyhow;
use std::path::Path;

/// The content store: what informed the model, kept beside the ledger and erasable
#[derive(Debug, clap::Subcommand)]
pub enum ContentCommand {
    Erase(EraseArgs),
}

/// Erase content from the content store (a GDPR erasure request, a leaked prompt)
///
/// Deletes `refs/aiaudit/content/<sha256>` in this clone and on the server (an admin's push:
/// the hook refuses anyone else). The ledger is not touched: the decision keeps the signed
/// digest, and `aiaudit show` then says the content was erased. On the server, `git gc
/// --prune=now` removes the objects; docs/record.md gives the whole procedure.
#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    /// A content digest (64 hex digits, as `show` and the record name it), or a decision id:
    /// all the content it names (repeatable).
    #[arg(value_name = "SHA256|ID", required = true)]
    pub what: Vec<String>,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

pub fn run(cwd: &Path, c: ContentCommand) -> CliResult {
    match c {
        ContentCommand::Erase(a) => erase(cwd, a),
    }
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The content digests `what` names: itself, or the content of decision `what`.
fn digests_of(store: &crate::store::Store, what: &str) -> CliResult<Vec<String>> {
    if is_digest(what) {
        return Ok(vec![what.to_ascii_lowercase()]);
    }
    let base = main_base(store)?;
    let bytes = match record::path_for_id("decisions", what)
        .map(|p| store.lookup(base.tree, &p).map(|e| (p, e)))
        .transpose()?
    {
        Some((_, Some(entry))) => {
            store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?
        }
        _ => util::find_proposal(store, what)
            .map_err(|_| {
                CliError::usage(anyhow!(
                    "`{what}` is neither a content digest (64 hex digits) nor a decision on main or a proposal"
                ))
            })?
            .bytes,
    };
    let path = record::path_for_id("decisions", what).unwrap_or_default();
    let (Some(d), _) = record::check_decision(&path, &bytes) else {
        return Err(CliError::usage(anyhow!(
            "decision {what} cannot be read, so the content it names is unknown"
        )));
    };
    Ok(record::content_digests(&d)
        .into_iter()
        .map(str::to_owned)
        .collect())
}

fn erase(cwd: &Path, a: EraseArgs) -> CliResult {
    let store = util::open(cwd)?;
    let remote = a.push.remote()?;
    let mut digests: Vec<String> = Vec::new();
    for w in &a.what {
        for d in digests_of(&store, w)? {
            if !digests.contains(&d) {
                digests.push(d);
            }
        }
    }
    // On the server first: a refused erasure changes nothing here either.
    let mut on_server = Vec::new();
    if let Some(remote) = &remote {
        let refs: Vec<&str> = digests.iter().map(String::as_str).collect();
        let found = util::list_remote_content(&store, remote, &refs)
            .map_err(|e| CliError::usage(anyhow!("cannot read {remote}'s content store: {e}")))?;
        on_server = digests
            .iter()
            .filter(|d| found.contains_key(*d))
            .cloned()
            .collect();
        if !on_server.is_empty() {
            let specs: Vec<String> = on_server
                .iter()
                .map(|d| format!(":{}", content_ref(d)))
                .collect();
            util::git_push(&store, remote, &specs).map_err(|e| {
                e.hint("only an admin erases content, on a server that says who pushes or with `git push --signed` (docs/record.md)")
            })?;
        }
    }
    let mut here = 0;
    for d in &digests {
        let name = content_ref(d);
        if let Some(oid) = store.ref_target(&name)? {
            store.delete_ref(&name, oid)?;
            here += 1;
        }
    }
    for d in &digests {
        outln!("{d}");
    }
    match &remote {
        Some(r) => errln!(
            "erased {} content(s) from {r}'s content store and {here} from this clone ({} named); the ledger keeps their signed digests",
            on_server.len(),
            digests.len()
        ),
        None => errln!(
            "erased {here} content(s) from this clone ({} named); nothing was pushed",
            digests.len()
        ),
    }
    errln!("next: on the server, `git gc --prune=now` removes the objects; clones that fetched them drop them at their next `git gc --prune=now` (docs/record.md, \"Erasing content\")");
    Ok(EXIT_OK)
}
