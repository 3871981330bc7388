//! `aiaudit show`: the chain of one decision, in order.

use super::outln;
use super::util::{self, main_base};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::{Checker, CommitView, Link, LinkStatus};
use crate::ledger::trailers::{self, Approval};
use crate::ledger::MAIN_REF;
use crate::record::{self, Decision, Event};
use crate::store::{CommitData, Oid, Store};
use anyhow::anyhow;
use serde_json::json;
use std::path::Path;

/// Show one decision's chain, from initiator to outcome, with live signature status
///
/// Initiator → context → model and agents → recommendation → approvals with live signature
/// status → the commit that carries it → outcomes.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The decision id (or a unique prefix of a pending one).
    pub id: String,
    /// Print stored context content in full (by default the first lines of each).
    #[arg(long)]
    pub full: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the detached signature (ASCII-armored) that principal WHO made over the record —
    /// an approval, or the initiator's signature — for checking with stock GnuPG; the recipe
    /// goes to standard error (docs/verify-by-hand.md).
    #[arg(long, value_name = "WHO", conflicts_with = "json")]
    pub signature: Option<String>,
}

/// Lines of stored content shown per input without --full.
const PREVIEW_LINES: usize = 6;

/// The content of one digest: where it is kept and its text.
struct Stored {
    /// `context/<xx>/<sha256>` in the ledger (`record --store-context`), or the content
    /// store's `refs/aiaudit/content/<sha256>`.
    path: String,
    text: String,
}

/// Where the content a decision names is looked for: the tree that carries the decision
/// (stored context, immutable), the clone's content store, and the server's (fetched, checked
/// against the signed digest, never kept as a ref).
struct Contents {
    tree: Oid,
    /// Blobs the server's content store has, by digest.
    remote: std::collections::HashMap<String, Oid>,
    /// Whether a content store was consulted (a local ref or a remote to ask).
    consulted: bool,
    /// Why the server's content store could not be asked, or what did not match.
    notes: Vec<String>,
}

impl Contents {
    fn find(store: &Store, tree: Oid, digests: &[&str]) -> CliResult<Contents> {
        let mut c = Contents {
            tree,
            remote: Default::default(),
            consulted: false,
            notes: Vec::new(),
        };
        let mut missing = Vec::new();
        for d in digests {
            if store.lookup(tree, &record::context_path(d))?.is_some() {
                continue;
            }
            if store
                .ref_target(&crate::engine::content::content_ref(d))?
                .is_some()
            {
                c.consulted = true;
                continue;
            }
            if !missing.contains(d) {
                missing.push(*d);
            }
        }
        if !missing.is_empty() && store.config_string("remote.origin.url").is_some() {
            c.consulted = true;
            match util::fetch_content(store, "origin", &missing) {
                Ok(found) => c.remote = found,
                Err(e) => c.notes.push(format!(
                    "the content store on origin could not be read, so content not in this clone is not shown: {e}"
                )),
            }
        }
        Ok(c)
    }

    /// The content with digest `sha256`, checked against it.
    fn get(&mut self, store: &Store, sha256: &str) -> CliResult<Option<Stored>> {
        let path = record::context_path(sha256);
        if let Some(entry) = store.lookup(self.tree, &path)? {
            let bytes =
                store.read_blob_capped(entry.oid, record::MAX_STORED_CONTEXT_BYTES as u64)?;
            return Ok(Some(Stored {
                path,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }));
        }
        let name = crate::engine::content::content_ref(sha256);
        let Some(oid) = store
            .ref_target(&name)?
            .or_else(|| self.remote.get(sha256).copied())
        else {
            return Ok(None);
        };
        let bytes = match store.read_blob_capped(oid, record::MAX_STORED_CONTEXT_BYTES as u64) {
            Ok(b) => b,
            Err(e) => {
                self.notes.push(format!("{name}: cannot be read: {e}"));
                return Ok(None);
            }
        };
        let actual = record::digest::sha256_hex(&bytes);
        if actual != sha256 {
            self.notes.push(format!(
                "{name}: its content hashes to {actual}, not to the signed digest: not shown"
            ));
            return Ok(None);
        }
        Ok(Some(Stored {
            path: name,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }))
    }
}

/// `text` indented, at most `max` lines (None: all), with a note on what was left out.
fn print_block(text: &str, max: Option<usize>, indent: &str, path: &str) -> CliResult<()> {
    let lines: Vec<&str> = text.lines().collect();
    let shown = max.unwrap_or(lines.len()).min(lines.len());
    for l in &lines[..shown] {
        outln!("{indent}│ {l}");
    }
    if shown < lines.len() {
        outln!(
            "{indent}│ … {} more line(s): --full, or git show main:{path}",
            lines.len() - shown
        );
    }
    Ok(())
}

fn signed_at(ap: &Approval) -> Option<String> {
    let t = crate::pgp::signature_time(&ap.signature)?;
    let ts = jiff::Timestamp::try_from(t).ok()?;
    Some(record::format_created(ts))
}

pub fn run(cwd: &Path, a: ShowArgs) -> CliResult {
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let (commit, parent, bytes, status, events) = match find_on_main(&store, &base, &a.id)? {
        Some((c, p, b, ev)) => (c, p, b, "landed on main", ev),
        None => {
            let p = util::find_proposal(&store, &a.id)?;
            (p.commit, p.parent, p.bytes, "pending approval", Vec::new())
        }
    };
    let path = {
        let (Some(d), _) = record::check_decision("", &bytes) else {
            return Err(CliError::violations(anyhow!("the record does not parse")));
        };
        record::decision_path(&d).unwrap_or_default()
    };
    if let Some(who) = &a.signature {
        return print_signature(&commit, &path, who);
    }
    let (decision, diags) = record::check_decision(&path, &bytes);
    let d: Decision =
        decision.ok_or_else(|| CliError::violations(anyhow!("the record does not parse")))?;
    let mut checker = Checker::new(&store, util::now()?);
    // A landed decision was judged by the policy of its parent; a pending one will be judged
    // by today's main, as `approve`, `pending` and `status` judge it.
    let policy_tree = if status == "pending approval" {
        base.tree
    } else {
        parent.tree
    };
    let policy = checker.governance().policy_at(policy_tree)?;
    let mut approvals = Vec::new();
    for v in trailers::parse(&commit.message).all(trailers::APPROVED_BY) {
        match Approval::parse(v) {
            Ok(ap) => {
                let status = match checker
                    .verify_signature(policy_tree, &policy, &ap, &bytes)
                    .map(|(p, _)| p)
                {
                    Ok(_) => "valid".to_owned(),
                    Err(e) => format!("INVALID [{}]: {}", e.code, e.message),
                };
                approvals.push(json!({
                    "principal": ap.principal,
                    "email": ap.email,
                    "key": ap.key,
                    "signed_at": signed_at(&ap),
                    "status": status,
                }));
            }
            Err(e) => {
                approvals.push(json!({"principal": null, "status": format!("malformed: {e}")}))
            }
        }
    }
    let verdict = policy.verdict(&d);
    let view = CommitView::new(commit.clone());
    let initiated = checker.link_status(
        policy_tree,
        &policy,
        Link::Initiator,
        &d.initiator.id,
        &d.created,
        &bytes,
        &view,
    );
    // Each outcome's executor signature, judged against the governance of its own parent.
    let mut executed = Vec::new();
    for ev in &events {
        let status = match ev.event.kind {
            record::EventKind::Outcome => {
                let policy = checker.governance().policy_at(ev.parent_tree)?;
                Some(checker.link_status(
                    ev.parent_tree,
                    &policy,
                    Link::Outcome,
                    &ev.event.actor.id,
                    &d.created,
                    &ev.bytes,
                    &CommitView::new(ev.commit.clone()),
                ))
            }
            _ => None,
        };
        executed.push(status);
    }
    // Content: stored context in the tree that carries the decision, else the content store.
    let mut contents = Contents::find(&store, commit.tree, &record::content_digests(&d))?;
    let mut context = Vec::new();
    for e in &d.context.entries {
        let content = contents.get(&store, &e.sha256)?;
        let arguments = match &e.arguments_sha256 {
            Some(a) => contents.get(&store, a)?,
            None => None,
        };
        context.push((e, content, arguments));
    }
    let output = contents.get(&store, &d.recommendation.sha256)?;
    let stored_json = |s: &Option<Stored>| {
        s.as_ref()
            .map(|s| json!({"path": s.path, "content": s.text}))
    };
    let absent = if contents.consulted {
        "not in the content store: erased, or never kept (binary, digest-only, --no-content-store)"
    } else {
        "not kept: only its digest is recorded"
    };
    if a.json {
        let out = json!({
            "status": status,
            "path": path,
            "commit": commit.id.to_string(),
            "decision": serde_json::to_value(&d).map_err(CliError::internal)?,
            "stored_context": {
                "entries": context.iter().map(|(_, c, a)| json!({
                    "content": stored_json(c),
                    "arguments": stored_json(a),
                })).collect::<Vec<_>>(),
                "output": stored_json(&output),
                "notes": contents.notes,
            },
            "approvals": approvals,
            "links": {
                "initiator": link_json(&initiated, verdict.signatures.initiator),
                "outcomes": events.iter().zip(&executed).filter_map(|(ev, st)| {
                    st.as_ref().map(|st| json!({
                        "event": ev.event.id,
                        "signature": link_json(st, verdict.signatures.outcome),
                    }))
                }).collect::<Vec<_>>(),
            },
            "events": events.iter().map(|ev| json!({"commit": ev.commit.id.to_string(), "event": ev.event})).collect::<Vec<_>>(),
            "findings": diags,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(CliError::internal)?
        );
        return Ok(EXIT_OK);
    }
    outln!("decision {} — {status}", d.id);
    outln!("  created    {}", d.created);
    let owner = d
        .initiator
        .owner
        .as_ref()
        .map(|o| format!(", owner {o}"))
        .unwrap_or_default();
    outln!(
        "1 initiator  {} ({}{owner}){}",
        d.initiator.id,
        d.initiator.kind.as_str(),
        d.initiator
            .name
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    outln!(
        "               {}",
        link_line(&initiated, verdict.signatures.initiator)
    );
    outln!(
        "2 context    {} ({} input(s))",
        d.context.digest,
        d.context.entries.len()
    );
    let max = (!a.full).then_some(PREVIEW_LINES);
    for (e, content, arguments) in &context {
        outln!(
            "               {:<20} {:<24} {:>8} B  sha256:{}",
            e.kind.as_str(),
            e.name,
            e.size,
            &e.sha256[..16.min(e.sha256.len())]
        );
        if let Some(u) = &e.uri {
            outln!("                 uri {u}");
        }
        if let Some(s) = arguments {
            outln!("                 arguments, stored at {}", s.path);
            print_block(&s.text, max, "                 ", &s.path)?;
        }
        let what = if e.arguments_sha256.is_some() {
            "result"
        } else {
            "content"
        };
        match content {
            Some(s) => {
                outln!("                 {what}, stored at {}", s.path);
                print_block(&s.text, max, "                 ", &s.path)?;
            }
            None => outln!("                 {what} {absent}"),
        }
    }
    outln!(
        "3 model      {} — AI {} the action{}",
        d.ai.model.trailer(),
        d.ai.role.as_str(),
        d.ai.framework
            .as_ref()
            .map(|f| format!(" (framework {f})"))
            .unwrap_or_default()
    );
    for ag in &d.ai.agents {
        outln!(
            "               agent {} as {}{}",
            ag.id,
            ag.role,
            ag.model
                .as_ref()
                .map(|m| format!(" ({})", m.trailer()))
                .unwrap_or_default()
        );
    }
    outln!(
        "4 recommends {}",
        d.recommendation.summary.lines().next().unwrap_or("")
    );
    outln!(
        "  output     {} B  sha256:{}",
        d.recommendation.size,
        &d.recommendation.sha256[..16.min(d.recommendation.sha256.len())]
    );
    match &output {
        Some(s) => {
            outln!("                 stored at {}", s.path);
            print_block(&s.text, max, "                 ", &s.path)?;
        }
        None => outln!("                 output {absent}"),
    }
    for n in &contents.notes {
        outln!("  note       {n}");
    }
    outln!(
        "  action     {} on {}: {}",
        d.action.kind.as_str(),
        d.action.target.system,
        d.action.summary.lines().next().unwrap_or("")
    );
    if !d.action.command.is_empty() {
        outln!(
            "  command    {}",
            crate::text::shell_words(&d.action.command)
        );
    }
    if let Some(p) = &d.action.payload {
        outln!("  payload    {} B  sha256:{}", p.size, p.sha256);
    }
    let t = &d.action.target;
    for (label, v) in [
        ("repo", &t.repo),
        ("change", &t.change),
        ("resource", &t.resource),
    ] {
        if let Some(v) = v {
            outln!("  {label:<10} {v}");
        }
    }
    for (label, list) in [
        ("identity", &d.action.identities),
        ("secret ref", &d.action.secrets),
        ("dataset", &d.action.datasets),
    ] {
        for v in list {
            outln!("  {label:<10} {v}");
        }
    }
    outln!(
        "  risk       {} (policy rule `{}`: {}-approval, {})",
        d.risk.as_str(),
        verdict.rule,
        verdict.approval.as_str(),
        verdict
            .require
            .iter()
            .map(|q| q.describe())
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    if approvals.is_empty() {
        outln!("5 approvals  none yet");
    }
    for (i, ap) in approvals.iter().enumerate() {
        outln!(
            "{} approved   by {}{} at {} — {}",
            if i == 0 { "5" } else { " " },
            ap["principal"].as_str().unwrap_or("?"),
            ap["email"]
                .as_str()
                .map(|e| format!(" <{e}>"))
                .unwrap_or_default(),
            ap["signed_at"].as_str().unwrap_or("?"),
            ap["status"].as_str().unwrap_or("?")
        );
        outln!("               key {}", ap["key"].as_str().unwrap_or("?"));
    }
    let mut any = false;
    for (ev, link) in events.iter().zip(&executed) {
        let (c, e) = (ev.commit.id.to_string(), &ev.event);
        any = true;
        match (&e.outcome, &e.review) {
            (Some(o), _) => outln!(
                "6 outcome    {} — {}{} by {} at {} (commit {})",
                o.status.as_str(),
                o.action,
                o.reference
                    .as_ref()
                    .map(|r| format!(" [{r}]"))
                    .unwrap_or_default(),
                e.actor.id,
                o.at.as_deref().unwrap_or(&e.created),
                &c[..12]
            ),
            (_, Some(r)) => outln!(
                "  review     {} by {} at {}: {} (commit {})",
                r.verdict.as_str(),
                e.actor.id,
                e.created,
                r.summary.lines().next().unwrap_or(""),
                &c[..12]
            ),
            _ => outln!(
                "  note       by {} at {}: {}",
                e.actor.id,
                e.created,
                e.note.as_deref().unwrap_or("").lines().next().unwrap_or("")
            ),
        }
        if let Some(link) = link {
            outln!(
                "               {}",
                link_line(link, verdict.signatures.outcome)
            );
        }
        if let (Some(n), true) = (&e.note, e.outcome.is_some() || e.review.is_some()) {
            outln!("               note: {}", n.lines().next().unwrap_or(""));
        }
    }
    if !any || !events.iter().any(|ev| ev.event.outcome.is_some()) {
        outln!("6 outcome    none recorded");
    }
    outln!("  commit     {} ({})", commit.id, path);
    for f in &diags {
        outln!("  finding    {f}");
    }
    Ok(EXIT_OK)
}

pub(super) type Found = (CommitData, CommitData, Vec<u8>, Vec<FoundEvent>);

/// An event about the decision: its commit, its parent's tree, the record and its bytes.
pub(super) struct FoundEvent {
    pub commit: CommitData,
    pub parent_tree: Oid,
    pub event: Event,
    pub bytes: Vec<u8>,
}

/// `--signature WHO`: the armored detached signature WHO made over the record at `path` in
/// `commit`, and (on standard error) how to check it with git and GnuPG alone.
fn print_signature(commit: &CommitData, path: &str, who: &str) -> CliResult {
    let t = trailers::parse(&commit.message);
    let mut found = Vec::new();
    for key in [trailers::APPROVED_BY, trailers::INITIATED_BY] {
        for sig in t.well_formed_signatures(key) {
            found.push((key, sig));
        }
    }
    let Some((key, sig)) = found.iter().find(|(_, s)| s.principal == who) else {
        let signers: Vec<String> = found
            .iter()
            .map(|(k, s)| format!("{} ({k})", s.principal))
            .collect();
        return Err(CliError::usage(anyhow!(
            "no signature by `{who}` on commit {}; it carries {}",
            commit.id,
            if signers.is_empty() {
                "none".into()
            } else {
                signers.join(", ")
            }
        )));
    };
    let armored = crate::pgp::armor_signature(&sig.signature).map_err(CliError::internal)?;
    crate::cli::util::write_stdout(armored.as_bytes())?;
    let c = commit.id;
    crate::cli::errln!(
        "{key} `{who}` with key {fpr}. To check it with git and GnuPG alone, save this output as sig.asc, then:\n  git show {c}:{path} > record.yaml\n  git show {c}:{cert} | gpg --import\n  gpg --verify sig.asc record.yaml",
        fpr = sig.key,
        cert = crate::policy::key_path(&sig.key),
    );
    Ok(EXIT_OK)
}

/// One line on a link's signature: who signed it and when, or why it does not count.
fn link_line(status: &LinkStatus, required: bool) -> String {
    match status {
        LinkStatus::Valid(a) => format!(
            "signed by {} at {} — valid (key {})",
            a.principal,
            jiff::Timestamp::try_from(a.signed_at)
                .map(record::format_created)
                .unwrap_or_default(),
            a.key
        ),
        LinkStatus::Unsigned if required => {
            "UNSIGNED — the policy rule requires a signature".into()
        }
        LinkStatus::Unsigned => "unsigned (the policy rule does not require a signature)".into(),
        LinkStatus::Invalid(d) => format!("signature INVALID [{}]: {}", d.code, d.message),
    }
}

fn link_json(status: &LinkStatus, required: bool) -> serde_json::Value {
    let mut v = status.to_json();
    v["required"] = json!(required);
    v
}

/// The commit on main that added decision `id`, its parent, the file's bytes, and the events
/// about it landed since (oldest first).
pub(super) fn find_on_main(store: &Store, base: &CommitData, id: &str) -> CliResult<Option<Found>> {
    let Some(path) = record::path_for_id("decisions", id) else {
        return Ok(None);
    };
    let Some(entry) = store.lookup(base.tree, &path)? else {
        return Ok(None);
    };
    let bytes = store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?;
    if let Some((landing, parent, events)) = find_indexed(store, base, id, &path)? {
        return Ok(Some((landing, parent, bytes, events)));
    }
    // The commit that adds the file (`Store::commit_adding`); on the way, the commits whose
    // bytes name this decision next to an event id (only those are decoded, below).
    let named = format!("\n{}: {id}\n", trailers::DECISION_ID);
    let named = memchr::memmem::Finder::new(named.as_bytes());
    let event_key = format!("\n{}: ", trailers::EVENT_ID);
    let event_key = memchr::memmem::Finder::new(event_key.as_bytes());
    let mut walked: Vec<(Oid, bool)> = Vec::new();
    let found = store.commit_adding(base.id, &path, &mut |oid, raw| {
        walked.push((
            oid,
            named.find(raw).is_some() && event_key.find(raw).is_some(),
        ));
    })?;
    let Some((landing, Some(parent))) = found else {
        return Err(CliError::internal(anyhow!(
            "{path} is on {MAIN_REF} but no commit adds it"
        )));
    };
    let lo = walked
        .iter()
        .position(|(o, _)| *o == landing)
        .ok_or_else(|| CliError::internal(anyhow!("{landing} was not walked")))?;
    let landing = store.commit(landing)?;
    let parent = store.commit(parent)?;
    // Events come later; their commits name the decision in a trailer (read during the walk),
    // and only those commits' trees are diffed.
    let mut events = Vec::new();
    for k in (0..lo).rev().filter(|k| walked[*k].1) {
        let c = store.commit(walked[k].0)?;
        events.extend(event_about(store, c, walked[k + 1].0, id)?);
    }
    Ok(Some((landing, parent, bytes, events)))
}

/// The event commit `c` (whose parent is `parent`) adds about decision `id`, if its trailers
/// name that decision next to an event id.
fn event_about(
    store: &Store,
    c: CommitData,
    parent: Oid,
    id: &str,
) -> CliResult<Option<FoundEvent>> {
    let t = trailers::parse(&c.message);
    if t.all(trailers::EVENT_ID).next().is_none() || !t.all(trailers::DECISION_ID).any(|d| d == id)
    {
        return Ok(None);
    }
    let parent = store.commit(parent)?;
    Ok(
        event_of(store, &c, &parent)?.map(|(event, bytes)| FoundEvent {
            commit: c,
            parent_tree: parent.tree,
            event,
            bytes,
        }),
    )
}

/// [`find_on_main`] through the clone's index of main (`ledger::index::Chain`: left by a clean
/// `verify`, brought up to date by `outcome`, `review` and `exec`): the landing commit by
/// probing and bisecting the indexed chain, the events from the index and from the commits
/// main gained since. `None` when there is no index or it does not fit main (the caller walks
/// history instead). What the index points at is checked: the
/// landing commit adds the file and descends from the commit before it, an event commit names
/// the decision.
fn find_indexed(
    store: &Store,
    base: &CommitData,
    id: &str,
    path: &str,
) -> CliResult<Option<(CommitData, CommitData, Vec<FoundEvent>)>> {
    let Some(index) = crate::ledger::index::load(&store.git_dir().join("aiaudit")) else {
        return Ok(None);
    };
    let mut chain = crate::ledger::index::Chain::new(Some(index));
    let n = chain.len();
    // Where main is on the indexed chain (reading the commits it gained since).
    let Some(p) = chain.locate(store, base.id)? else {
        return Ok(None);
    };
    let Some(Some(hi)) = chain.search(store, p, path)? else {
        return Ok(None);
    };
    let (Some(landing), Some(before)) = (chain.at(hi), hi.checked_sub(1).and_then(|k| chain.at(k)))
    else {
        return Ok(None);
    };
    let landing = store.commit(landing)?;
    let parent = store.commit(before)?;
    // Events: indexed positions after the landing, then every commit main gained since.
    let key = ulid::Ulid::from_string(id).map(u128::from).ok();
    let mut positions: Vec<usize> = match (key, chain.index()) {
        (Some(k), Some(ix)) => ix.events_of(k).into_iter().filter(|q| *q > hi).collect(),
        _ => Vec::new(),
    };
    positions.extend((n.max(hi + 1))..=p);
    let mut events = Vec::new();
    for k in positions {
        let (Some(c), Some(prev)) = (chain.at(k), chain.at(k - 1)) else {
            continue;
        };
        let c = store.commit(c)?;
        if c.parents.first() == Some(&prev) {
            events.extend(event_about(store, c, prev, id)?);
        }
    }
    Ok(Some((landing, parent, events)))
}

fn event_of(
    store: &Store,
    c: &CommitData,
    parent: &CommitData,
) -> CliResult<Option<(Event, Vec<u8>)>> {
    for ch in store.diff_trees(Some(parent.tree), c.tree, 4)? {
        if let (Some(e), true) = (ch.new, ch.path.starts_with("events/")) {
            let bytes = store.read_blob_capped(e.oid, record::MAX_RECORD_BYTES as u64)?;
            return Ok(record::check_event(&ch.path, &bytes).0.map(|e| (e, bytes)));
        }
    }
    Ok(None)
}
