//! `aiaudit export`: the ledger on main as machine-readable lines, for SIEMs and attestation
//! stores.
//!
//! Two formats:
//!
//! - `jsonl` (default): one JSON object per line, one line per decision and one per event,
//!   oldest first. Every line has a stable `type` (`aiaudit.decision` or `aiaudit.event`), a
//!   `time` (the record's `created`, RFC 3339 UTC) and flat, dotted keys in the style of
//!   OpenTelemetry/ECS; model fields use the OpenTelemetry GenAI attribute names
//!   (`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`). Optional
//!   fields are present as `null`, so every line of a type has the same keys. Each line names
//!   the commit and path of its record and the SHA-256 of the record file's bytes, so a SIEM
//!   event can be traced back to, and checked against, the audit repository. Governance has
//!   lines of its own, in ledger order with the records (`type: aiaudit.governance`, `time`:
//!   the commit's committer time): the root of trust (`governance.kind: root-of-trust`) and
//!   every admin-signed change (`change`) to the policy, the certificates or the catalogs,
//!   with `governance.changes` — what changed in the policy, one object per change:
//!   `principal-added` (with its kind, owner, groups and keys), `principal-removed`,
//!   `groups-changed` (who was made an approver or an admin: the groups added and removed),
//!   `keys-changed`, `principal-changed`, `admins-changed` (group and threshold, before and
//!   after), `rules-changed`, `default-changed`, `pushers-changed`, `separation-changed`,
//!   `shared-accounts-changed` — the certificate and catalog files it changed, and the admins
//!   who signed it (`signers`: principal, key, signing time).
//! - `in-toto`: one [in-toto Statement v1] per decision, whose single subject is the decision
//!   file (`name`: its path; `digest`: `sha256` of its bytes and `gitBlob`, its git blob id),
//!   with predicate type [`PREDICATE_TYPE`]. The predicate is:
//!
//!   ```text
//!   {
//!     "decision":  the decision record, as in the YAML file (schema aiaudit/decision/v1),
//!     "initiated_by": [ the initiator's signature over the subject, same shape as approvals;
//!                      empty when the record is unsigned ],
//!     "approvals": [ { "principal", "email" (or null), "key" (primary-key fingerprint),
//!                      "signed_at" (RFC 3339, from the signature), "signature" (base64 of
//!                      the binary OpenPGP detached signature over the subject's bytes) } ],
//!     "events":    [ { "event" (the event record, schema aiaudit/event/v1), "path",
//!                      "digest": { "sha256", "gitBlob" }, "commit", "landed_at",
//!                      "signatures": [ same shape as approvals, over the event file: the
//!                                      executor's (outcome) or reviewer's (review) ] } ],
//!     "ledger":    { "commit" (the commit that landed the decision on main),
//!                    "landed_at" (its committer time), "landed_by" (its committer) }
//!   }
//!   ```
//!
//!   The statement itself is not wrapped in a signed envelope: its evidence is the approvals'
//!   OpenPGP signatures, which cover exactly the bytes the subject's `sha256` names, so anyone
//!   can check them with the approvers' certificates (`gpg --verify sig decision.yaml`).
//!
//! [in-toto Statement v1]: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
//!
//! Export reads what is on main; it does not judge it. `aiaudit verify` does.

use super::errln;
use super::log::time_bounds;
use super::util::{self, main_base};
use super::{CliError, CliResult, EXIT_OK};
use crate::ledger::read::{read_ledger, LedgerDecision, LedgerEvent};
use crate::ledger::trailers::{self, Approval};
use crate::record::{self, Decision};
use crate::store::{Oid, Store};
use anyhow::anyhow;
use serde_json::{json, Value};
use sha2::Digest as _;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The in-toto predicate type of an exported decision.
pub const PREDICATE_TYPE: &str = "https://aiaudit.dev/decision/v1";
/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line: a line per decision (`type: aiaudit.decision`) and a line per
    /// event (`type: aiaudit.event`), oldest first.
    Jsonl,
    /// One in-toto Statement v1 per decision (subject: the decision file; predicate type
    /// https://aiaudit.dev/decision/v1).
    InToto,
}

/// Export the decisions and events on main as JSON Lines or in-toto statements
///
/// JSON Lines for SIEMs, or in-toto attestation statements (one per decision, subject = the
/// decision file's digest).
///
/// JSON Lines: every line has a stable `type` (`aiaudit.decision` / `aiaudit.event`), `time`
/// (the record's creation), the ids, initiator, action kind and target, risk, the model under
/// OpenTelemetry GenAI names (`gen_ai.provider.name`, `gen_ai.request.model`,
/// `gen_ai.response.model`), approvers, and the commit, path and SHA-256 of the record file.
///
/// in-toto: `_type` https://in-toto.io/Statement/v1, `subject` [{name: <path>, digest:
/// {sha256, gitBlob}}], `predicateType` https://aiaudit.dev/decision/v1, `predicate`
/// {decision, approvals (with base64 OpenPGP signatures), events, ledger}.
///
/// Export reads what is on main; `aiaudit verify` judges it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Print one JSON array instead of one JSON document per line.
    #[arg(long)]
    pub array: bool,
    /// Only records created at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records created before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Write to this file (replaced atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A record file as stored: its bytes' digests and the commit that carries it.
struct Stored {
    sha256: String,
    blob: String,
    message: String,
}

fn stored(store: &Store, commit: &str, path: &str) -> CliResult<Stored> {
    let oid = Oid::from_hex(commit.as_bytes()).map_err(CliError::internal)?;
    let c = store.commit(oid)?;
    let entry = store
        .lookup(c.tree, path)?
        .ok_or_else(|| CliError::internal(anyhow!("{path} is not in commit {commit} any more")))?;
    let bytes = store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?;
    Ok(Stored {
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        blob: entry.oid.to_string(),
        message: c.message,
    })
}

/// RFC 3339 UTC of seconds since the epoch.
pub fn rfc3339(secs: i64) -> String {
    crate::record::format_unix(secs)
}

/// The signatures a commit carries under `key`, with the signature bytes in base64.
fn signatures(message: &str, key: &str) -> Vec<Value> {
    use base64::Engine as _;
    trailers::parse(message)
        .all(key)
        .filter_map(|v| Approval::parse(v).ok())
        .map(|a| {
            let signed_at = crate::pgp::signature_time(&a.signature).map(|t| {
                rfc3339(
                    t.duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0),
                )
            });
            json!({
                "principal": a.principal,
                "email": a.email,
                "key": a.key,
                "signed_at": signed_at,
                "signature": base64::engine::general_purpose::STANDARD.encode(&a.signature),
            })
        })
        .collect()
}

/// The fields every line about a decision carries (the decision's own line and its events');
/// `full` adds those only the decision's own line carries.
fn decision_fields(d: &Decision, full: bool, out: &mut serde_json::Map<String, Value>) {
    let t = &d.action.target;
    let m = &d.ai.model;
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_owned(), v);
    };
    put("decision.id", json!(d.id));
    put("initiator.id", json!(d.initiator.id));
    put("initiator.kind", json!(d.initiator.kind.as_str()));
    if full {
        put("initiator.name", json!(d.initiator.name));
    }
    put("initiator.owner", json!(d.initiator.owner));
    if full {
        put("initiator.forge_login", json!(d.initiator.forge_login));
    }
    put("action.kind", json!(d.action.kind.as_str()));
    put("action.target.system", json!(t.system));
    put("action.target.repo", json!(t.repo));
    put("action.target.change", json!(t.change));
    put("action.target.resource", json!(t.resource));
    if full {
        put("action.summary", json!(d.action.summary));
        put("action.identities", json!(d.action.identities));
        put("action.secrets", json!(d.action.secrets));
        put("action.datasets", json!(d.action.datasets));
    }
    put("risk", json!(d.risk.as_str()));
    put("ai.role", json!(d.ai.role.as_str()));
    put("ai.model", json!(m.trailer()));
    put("gen_ai.provider.name", json!(m.provider));
    put("gen_ai.request.model", json!(m.name));
    put("gen_ai.response.model", json!(m.version));
    if full {
        put("ai.framework", json!(d.ai.framework));
        put(
            "ai.agents",
            serde_json::to_value(&d.ai.agents).unwrap_or(Value::Null),
        );
        put("context.digest", json!(d.context.digest));
        put("context.entries", json!(d.context.entries.len()));
        put("recommendation.summary", json!(d.recommendation.summary));
        put("recommendation.sha256", json!(d.recommendation.sha256));
    }
}

fn decision_line(store: &Store, ld: &LedgerDecision) -> CliResult<Value> {
    let d = &ld.decision;
    let s = stored(store, &ld.commit, &ld.path)?;
    let mut o = serde_json::Map::new();
    o.insert("type".into(), json!("aiaudit.decision"));
    o.insert("time".into(), json!(d.created));
    decision_fields(d, true, &mut o);
    let rest = [
        (
            "approvers",
            json!(ld
                .approvals
                .iter()
                .map(|a| a.principal.as_str())
                .collect::<Vec<_>>()),
        ),
        (
            "approvals",
            json!(ld
                .approvals
                .iter()
                .map(|a| json!({
                    "principal": a.principal,
                    "key": a.key,
                    "signed_at": a.signed_at.map(rfc3339),
                }))
                .collect::<Vec<_>>()),
        ),
        ("status", json!(ld.status())),
        ("landed_at", json!(rfc3339(ld.landed_at))),
        ("landed_by", json!(ld.landed_by)),
        ("commit", json!(ld.commit)),
        ("path", json!(ld.path)),
        ("sha256", json!(s.sha256)),
    ];
    for (k, v) in rest {
        o.insert(k.to_owned(), v);
    }
    Ok(Value::Object(o))
}

fn event_line(store: &Store, d: Option<&Decision>, ev: &LedgerEvent) -> CliResult<Value> {
    let e = &ev.event;
    let s = stored(store, &ev.commit, &ev.path)?;
    let mut o = serde_json::Map::new();
    o.insert("type".into(), json!("aiaudit.event"));
    o.insert("time".into(), json!(e.created));
    o.insert("event.id".into(), json!(e.id));
    o.insert("event.kind".into(), json!(e.kind.as_str()));
    match d {
        Some(d) => decision_fields(d, false, &mut o),
        None => {
            o.insert("decision.id".into(), json!(e.decision));
        }
    }
    let out = e.outcome.as_ref();
    let rev = e.review.as_ref();
    let rest = [
        ("actor.id", json!(e.actor.id)),
        ("actor.kind", json!(e.actor.kind.as_str())),
        ("outcome.status", json!(out.map(|x| x.status.as_str()))),
        ("outcome.action", json!(out.map(|x| &x.action))),
        (
            "outcome.reference",
            json!(out.and_then(|x| x.reference.as_ref())),
        ),
        ("outcome.at", json!(out.and_then(|x| x.at.as_ref()))),
        ("review.verdict", json!(rev.map(|x| x.verdict.as_str()))),
        ("review.summary", json!(rev.map(|x| &x.summary))),
        ("note", json!(e.note)),
        (
            "signers",
            json!(ev
                .signatures
                .iter()
                .map(|a| a.principal.as_str())
                .collect::<Vec<_>>()),
        ),
        ("landed_at", json!(rfc3339(ev.landed_at))),
        ("commit", json!(ev.commit)),
        ("path", json!(ev.path)),
        ("sha256", json!(s.sha256)),
    ];
    for (k, v) in rest {
        o.insert(k.to_owned(), v);
    }
    Ok(Value::Object(o))
}

/// A line per governance change: the root of trust and every admin-signed change to the
/// policy, the certificates and the catalogs — who was made a principal, an approver or an
/// admin, and when — with what changed (`crate::policy::diff`) and the admins who signed.
fn governance_line(store: &Store, g: &crate::ledger::read::LedgerGovernance) -> CliResult<Value> {
    let policy = |tree: Oid| util::policy_at(store, tree);
    let after = policy(g.tree)?;
    let before = g.parent_tree.map(policy).transpose()?;
    let changes = crate::policy::diff::changes(before.as_deref(), &after);
    let under =
        |dir: &str| -> Vec<&String> { g.paths.iter().filter(|p| p.starts_with(dir)).collect() };
    Ok(json!({
        "type": "aiaudit.governance",
        "time": rfc3339(g.landed_at),
        "governance.kind": if g.parent_tree.is_none() { "root-of-trust" } else { "change" },
        "governance.subject": g.subject,
        "governance.changes": changes,
        "governance.certificates": under(&format!("{}/", crate::policy::KEYS_DIR)),
        "governance.catalogs": under(".aiaudit/catalogs/"),
        "signers": g.signers.iter().map(|a| json!({
            "principal": a.principal,
            "key": a.key,
            "signed_at": a.signed_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "landed_at": rfc3339(g.landed_at),
        "landed_by": g.landed_by,
        "commit": g.commit,
        "path": crate::policy::POLICY_PATH,
    }))
}

fn statement(store: &Store, ld: &LedgerDecision) -> CliResult<Value> {
    let s = stored(store, &ld.commit, &ld.path)?;
    let mut events = Vec::new();
    for ev in &ld.events {
        let es = stored(store, &ev.commit, &ev.path)?;
        events.push(json!({
            "event": ev.event,
            "path": ev.path,
            "digest": {"sha256": es.sha256, "gitBlob": es.blob},
            "commit": ev.commit,
            "landed_at": rfc3339(ev.landed_at),
            "signatures": trailers::event_signature_key(ev.event.kind)
                .map(|key| signatures(&es.message, key))
                .unwrap_or_default(),
        }));
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": ld.path,
            "digest": {"sha256": s.sha256, "gitBlob": s.blob},
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "decision": ld.decision,
            "initiated_by": signatures(&s.message, trailers::INITIATED_BY),
            "approvals": signatures(&s.message, trailers::APPROVED_BY),
            "events": events,
            "ledger": {
                "commit": ld.commit,
                "landed_at": rfc3339(ld.landed_at),
                "landed_by": ld.landed_by,
            },
        },
    }))
}

pub fn run(cwd: &Path, a: Args) -> CliResult {
    let (since, until) = time_bounds(&a.since, &a.until)?;
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let progress = super::progress::Progress::counter("export: reading main", "commits");
    let ledger = read_ledger(&store, base.id, &mut |n| progress.set(n as u64));
    drop(progress);
    let ledger = ledger?;
    let keep = |created: &str| {
        let t = record::parse_created(created)
            .map(|t| t.as_second())
            .unwrap_or(0);
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
    };

    let mut docs: Vec<Value> = Vec::new();
    match a.format {
        Format::InToto => {
            for ld in &ledger.decisions {
                if keep(&ld.decision.created) {
                    docs.push(statement(&store, ld)?);
                }
            }
        }
        Format::Jsonl => {
            // In ledger order: the position of each record's commit on main.
            let position: HashMap<String, usize> = store
                .first_parent_chain(base.id, None, usize::MAX)?
                .iter()
                .enumerate()
                .map(|(n, c)| (c.id.to_string(), n))
                .collect();
            let pos = |commit: &str| position.get(commit).copied().unwrap_or(usize::MAX);
            let mut lines: Vec<(usize, Value)> = Vec::new();
            for ld in &ledger.decisions {
                if keep(&ld.decision.created) {
                    lines.push((pos(&ld.commit), decision_line(&store, ld)?));
                }
                for ev in &ld.events {
                    if keep(&ev.event.created) {
                        let v = event_line(&store, Some(&ld.decision), ev)?;
                        lines.push((pos(&ev.commit), v));
                    }
                }
            }
            for ev in &ledger.orphan_events {
                if keep(&ev.event.created) {
                    lines.push((pos(&ev.commit), event_line(&store, None, ev)?));
                }
            }
            for g in &ledger.governance {
                let t = g.landed_at;
                if since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u) {
                    lines.push((pos(&g.commit), governance_line(&store, g)?));
                }
            }
            lines.sort_by_key(|(n, _)| *n);
            docs.extend(lines.into_iter().map(|(_, v)| v));
        }
    }

    let mut text = String::new();
    if a.array {
        text = serde_json::to_string_pretty(&docs).map_err(CliError::internal)?;
        text.push('\n');
    } else {
        for d in &docs {
            text.push_str(&serde_json::to_string(d).map_err(CliError::internal)?);
            text.push('\n');
        }
    }
    match &a.out {
        None => {
            util::write_stdout(text.as_bytes())?;
        }
        Some(path) => {
            write_atomically(path, text.as_bytes())?;
            errln!(
                "exported {} {} to {}",
                docs.len(),
                match a.format {
                    Format::Jsonl => "lines",
                    Format::InToto => "in-toto statements",
                },
                path.display()
            );
        }
    }
    Ok(EXIT_OK)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so an interrupted
/// export never leaves a truncated file behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let fail = |e: &dyn std::fmt::Display| {
        CliError::usage(anyhow!("cannot write {}: {e}", path.display()))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| fail(&e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}
