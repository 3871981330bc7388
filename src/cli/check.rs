//! `aiaudit check`: run in a product repository's CI, over a range of its commits. Every
//! commit that says it is AI-assisted, or that names a decision, must map to an approved
//! decision on the audit repository's main whose target is this repository (SPEC §8).
//!
//! What counts as AI-assisted (trailers of the commit message's last paragraph, keys compared
//! case-insensitively):
//! - `Decision-Id: <id>`: the commit claims a decision; it is checked whatever else it says;
//! - `Assisted-by:` and `Generated-by:`, whatever their value: by convention these name AI
//!   tools (e.g. the Linux kernel's `Assisted-by: AGENT:MODEL`);
//! - `Co-authored-by:` and `Co-developed-by:` naming a known AI tool ([`AI_TOOLS`], extended
//!   with `--ai-tool`), matched case-insensitively by whole words of the trailer's name or
//!   email local part. Tool names that are also common first names (Claude, Devin, Cody,
//!   Jules, …) count only when they are the whole name (`Claude <noreply@anthropic.com>`,
//!   `Claude Code`), so `Claude Dupont <claude@corp.example>` stays a human co-author.
//!
//! A compliant commit's `Decision-Id` names a decision that is on the audit repository's main
//! (not only proposed), whose `action.target.repo` or `action.target.system` names this
//! repository, and that was approved (at least one `Approved-by`, or landed under an
//! `approval: post` rule, which is then said). A decision landed after the commit was made is a
//! warning, as is a post-action review still missing; a review that rejected it is a gap.
//!
//! The audit repository is read with gitoxide like everywhere else. A URL given to
//! `--audit-repo` is cloned (bare, into a temporary directory) with `git clone`: with `--push`,
//! the only places aiaudit runs the git binary, for transport gitoxide lacks here.

use super::outln;
use super::util::{self, main_base};
use super::{CliError, CliResult, EXIT_OK, EXIT_VIOLATIONS};
use crate::diag::Code;
use crate::engine::Checker;
use crate::ledger::read::{read_ledger, LedgerDecision};
use crate::policy;
use crate::record::event::ReviewVerdict;
use crate::record::EventKind;
use crate::store::{CommitData, ObjectKind, Oid, Store};
use anyhow::anyhow;
use serde::Serialize;
use serde_json::json;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;

/// Check a product repository's commits against the audit repository: every commit with a
/// `Decision-Id` trailer, or AI-assisted (`Assisted-by:`, `Generated-by:`, or a
/// `Co-authored-by:` naming a known AI tool), must map to an approved decision on the audit
/// repository's main whose target names this repository.
///
/// Run it in the product repository (or pass -C DIR). Exit 0 when every such commit is
/// covered (warnings allowed), 1 on gaps, 2 on usage errors.
///
/// Example, in a pull request's CI: `aiaudit check --audit-repo
/// https://git.example.com/sec/audit.git "$BASE_SHA..$HEAD_SHA"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audit repository: a local clone or bare repository, or a URL, which is cloned
    /// (bare, to a temporary directory) with `git clone`.
    #[arg(long, value_name = "PATH|URL", env = "AIAUDIT_AUDIT_REPO")]
    pub audit_repo: String,
    /// The commits to check: `BASE..HEAD` (reachable from HEAD, not from BASE; either side
    /// defaults to HEAD) or one revision (that commit alone). Revisions: full or abbreviated
    /// commit ids, HEAD, branch, tag and remote-tracking names, with `~N` / `^N` suffixes.
    #[arg(value_name = "REV-RANGE")]
    pub range: String,
    /// This repository's name as decisions name it in `action.target.repo` or `.system`,
    /// e.g. `github.com/acme/payments`. Default: `remote.origin.url`, normalized to
    /// host/owner/name. A name without a host matches that owner/name on any host.
    #[arg(long, value_name = "NAME", env = "AIAUDIT_TARGET_REPO")]
    pub target_repo: Option<String>,
    /// Also recognize this AI tool in `Co-authored-by` trailers (repeatable).
    #[arg(long = "ai-tool", value_name = "NAME")]
    pub ai_tools: Vec<String>,
    /// First verify the audit repository's whole main, as `aiaudit verify --trust-root
    /// COMMIT` does, and fail if it does not verify (for audit repositories on forges without
    /// server hooks).
    #[arg(long, value_name = "COMMIT")]
    pub trust_root: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

// ---- AI-assistance trailers ----------------------------------------------------------------

/// Known AI coding tools: `(name, words)`. A tool matches a `Co-authored-by` value when
/// `words` (lowercase, split on anything not alphanumeric) occur in a row among the words of
/// the value's name or of its email's local part. Extend with `--ai-tool`.
pub const AI_TOOLS: &[(&str, &str)] = &[
    ("Claude", "claude code"),
    ("Claude", "claude sonnet"),
    ("Claude", "claude opus"),
    ("Claude", "claude haiku"),
    ("Claude", "anthropic"),
    ("GitHub Copilot", "copilot"),
    ("ChatGPT", "chatgpt"),
    ("GPT", "gpt"),
    ("OpenAI Codex", "codex"),
    ("OpenAI", "openai"),
    ("Gemini", "gemini"),
    ("Cursor", "cursor"),
    ("Cursor", "cursoragent"),
    ("Devin", "devin ai"),
    ("Amazon Q", "amazon q"),
    ("Amazon CodeWhisperer", "codewhisperer"),
    ("Aider", "aider"),
    ("Sourcegraph Cody", "sourcegraph"),
    ("Tabnine", "tabnine"),
    ("Windsurf", "windsurf"),
    ("Codeium", "codeium"),
    ("Google Jules", "google labs jules"),
    ("OpenHands", "openhands"),
    ("Roo Code", "roo code"),
    ("Kiro", "kiro"),
    ("Replit Agent", "replit"),
    ("Qodo", "qodo"),
    ("DeepSeek", "deepseek"),
    ("Qwen", "qwen"),
    ("Mistral", "mistral"),
    ("Grok", "grok"),
];

/// AI tools whose name is also a common first name: they count only when they are the whole
/// display name (generic words such as `code`, `agent`, `ai`, `bot` and a parenthesized model
/// aside).
pub const AI_FIRST_NAMES: &[(&str, &str)] = &[
    ("Claude", "claude"),
    ("Devin", "devin"),
    ("Sourcegraph Cody", "cody"),
    ("Google Jules", "jules"),
    ("JetBrains Junie", "junie"),
    ("Cline", "cline"),
];

/// Email addresses AI tools commit with.
const AI_ADDRESSES: &[(&str, &str)] = &[
    ("Claude", "noreply@anthropic.com"),
    ("Cursor", "cursoragent@cursor.com"),
    ("Aider", "noreply@aider.chat"),
];

/// Trailers that always mean AI assistance.
const AI_TRAILERS: &[&str] = &["Assisted-by", "Generated-by"];
/// Trailers that mean AI assistance when they name an AI tool.
const COAUTHOR_TRAILERS: &[&str] = &["Co-authored-by", "Co-developed-by"];
const DECISION_ID: &str = "Decision-Id";
const GENERIC_WORDS: &[&str] = &["code", "agent", "ai", "bot", "assistant", "app"];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

fn contains_run(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The AI tool a `Name <email>` trailer value names, if any.
pub fn ai_tool(value: &str, extra: &[String]) -> Option<String> {
    let (name, email) = match value.split_once('<') {
        Some((n, rest)) => (n.trim(), rest.split('>').next().unwrap_or("").trim()),
        None => (value.trim(), ""),
    };
    let email = email.to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    // The display name before any parenthesized model names the tool first.
    let bare = name.split('(').next().unwrap_or("");
    for hay in [words(bare), words(local), words(name)] {
        for t in extra {
            if contains_run(&hay, &words(t)) {
                return Some(t.clone());
            }
        }
        for (tool, pattern) in AI_TOOLS {
            if contains_run(&hay, &words(pattern)) {
                return Some((*tool).to_owned());
            }
        }
    }
    if let Some((tool, _)) = AI_ADDRESSES.iter().find(|(_, a)| *a == email) {
        return Some((*tool).to_owned());
    }
    // The whole display name, without a parenthesized model and generic words.
    let core: Vec<String> = words(bare)
        .into_iter()
        .filter(|w| !GENERIC_WORDS.contains(&w.as_str()))
        .collect();
    AI_FIRST_NAMES
        .iter()
        .find(|(_, n)| core.len() == 1 && core[0] == *n)
        .map(|(tool, _)| (*tool).to_owned())
}

/// The trailer-like lines (`Key: value`) of a message's last paragraph. Lenient where
/// aiaudit's own reader is strict: a stray non-trailer line does not hide the others.
fn trailer_lines(message: &str) -> Vec<(String, String)> {
    let text = message.replace("\r\n", "\n");
    let trimmed = text.trim_end();
    let Some(i) = trimmed.rfind("\n\n") else {
        return Vec::new();
    };
    trimmed[i + 2..]
        .lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            let ok = !k.is_empty()
                && k.as_bytes()[0].is_ascii_alphanumeric()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            ok.then(|| (k.to_owned(), printable(v.trim())))
        })
        .collect()
}

/// What a commit's trailers say: the decisions it names, and why it counts as AI-assisted.
#[derive(Debug, Default)]
struct Claims {
    decisions: Vec<String>,
    /// `Key: value` of each AI-assistance trailer, with the tool it names.
    ai: Vec<(String, Option<String>)>,
}

fn claims(message: &str, extra: &[String]) -> Claims {
    let mut c = Claims::default();
    for (k, v) in trailer_lines(message) {
        let is = |keys: &[&str]| keys.iter().any(|x| x.eq_ignore_ascii_case(&k));
        if k.eq_ignore_ascii_case(DECISION_ID) {
            if !v.is_empty() {
                c.decisions.push(v);
            }
        } else if is(AI_TRAILERS) {
            let tool = ai_tool(&v, extra);
            c.ai.push((format!("{k}: {v}"), tool));
        } else if is(COAUTHOR_TRAILERS) {
            if let Some(tool) = ai_tool(&v, extra) {
                c.ai.push((format!("{k}: {v}"), Some(tool)));
            }
        }
    }
    c
}

// ---- repository names -----------------------------------------------------------------------

/// `https://user@github.com/Acme/Payments.git`, `git@github.com:acme/payments`,
/// `ssh://git@github.com:22/acme/payments.git/` → `github.com/acme/payments`.
pub fn normalize_repo(s: &str) -> String {
    let mut s = s.trim().to_lowercase();
    if let Some((_, rest)) = s.split_once("://") {
        s = rest.to_owned();
    } else if let Some((host, path)) = s.split_once(':') {
        // scp-like `[user@]host:path`
        if !host.contains('/') {
            s = format!("{host}/{path}");
        }
    }
    let slash = s.find('/').unwrap_or(s.len());
    if let Some(at) = s[..slash].rfind('@') {
        s = s[at + 1..].to_owned();
    }
    let slash = s.find('/').unwrap_or(s.len());
    if let Some(colon) = s[..slash].find(':') {
        if s[colon + 1..slash].bytes().all(|b| b.is_ascii_digit()) {
            s = format!("{}{}", &s[..colon], &s[slash..]);
        }
    }
    let mut s = s.trim_end_matches('/').to_owned();
    if let Some(x) = s.strip_suffix(".git") {
        s = x.trim_end_matches('/').to_owned();
    }
    s
}

/// The part after the host, when the first segment looks like a host.
fn without_host(n: &str) -> Option<&str> {
    let (first, rest) = n.split_once('/')?;
    (first.contains('.') || first == "localhost").then_some(rest)
}

/// Whether a decision's target `candidate` names the repository `expected` (both normalized).
fn names_match(expected: &str, candidate: &str) -> bool {
    if expected.is_empty() || candidate.is_empty() {
        return false;
    }
    expected == candidate
        || (without_host(expected).is_none() && without_host(candidate) == Some(expected))
        || (without_host(candidate).is_none() && without_host(expected) == Some(candidate))
}

// ---- revisions ----------------------------------------------------------------------------

fn usage(m: String) -> CliError {
    CliError::usage(anyhow!(m))
}

fn peel_to_commit(store: &Store, mut oid: Oid, spec: &str) -> CliResult<Oid> {
    for _ in 0..16 {
        match store.object_kind(oid)? {
            Some(ObjectKind::Commit) => return Ok(oid),
            Some(ObjectKind::Tag) => oid = store.tag(oid)?.target,
            Some(k) => return Err(usage(format!("`{spec}` names a {k:?}, not a commit"))),
            None => return Err(missing_rev(spec)),
        }
    }
    Err(usage(format!("`{spec}`: too many nested tags")))
}

fn missing_rev(spec: &str) -> CliError {
    usage(format!("unknown revision `{spec}` in this repository")).hint(
        "fetch it first; in CI, clone the whole history (GitHub Actions: actions/checkout \
         with fetch-depth: 0; GitLab CI: GIT_DEPTH: \"0\")",
    )
}

fn resolve_base(store: &Store, repo: &gix::Repository, name: &str) -> CliResult<Oid> {
    let hex = name.len() >= 4 && name.bytes().all(|b| b.is_ascii_hexdigit());
    let full = store.object_hash().len_in_hex();
    if hex && name.len() == full {
        let oid = Oid::from_hex(name.as_bytes()).map_err(|e| usage(e.to_string()))?;
        return peel_to_commit(store, oid, name);
    }
    let name = if name == "@" { "HEAD" } else { name };
    let candidates = [
        name.to_owned(),
        format!("refs/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/heads/{name}"),
        format!("refs/remotes/{name}"),
        format!("refs/remotes/{name}/HEAD"),
    ];
    for c in &candidates {
        if let Ok(Some(oid)) = store.ref_target(c) {
            return peel_to_commit(store, oid, name);
        }
    }
    if hex && name.len() < full {
        let prefix = gix::hash::Prefix::from_hex(name).map_err(|e| usage(e.to_string()))?;
        match repo.objects.lookup_prefix(prefix, None) {
            Ok(Some(Ok(oid))) => return peel_to_commit(store, oid, name),
            Ok(Some(Err(()))) => {
                return Err(usage(format!(
                    "`{name}` is ambiguous: give more of the commit id"
                )))
            }
            Ok(None) => {}
            Err(e) => return Err(CliError::internal(anyhow!("looking up `{name}`: {e}"))),
        }
    }
    Err(missing_rev(name))
}

/// Resolves a revision: a base (id, ref name, HEAD) with `~N` and `^N` suffixes.
fn resolve(store: &Store, repo: &gix::Repository, spec: &str) -> CliResult<Oid> {
    let cut = spec.find(['~', '^']).unwrap_or(spec.len());
    let mut oid = resolve_base(store, repo, &spec[..cut])?;
    let ops = &spec.as_bytes()[cut..];
    let mut i = 0;
    while i < ops.len() {
        let op = ops[i];
        i += 1;
        let start = i;
        while i < ops.len() && ops[i].is_ascii_digit() {
            i += 1;
        }
        let n: usize = if start == i {
            1
        } else {
            std::str::from_utf8(&ops[start..i])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| usage(format!("`{spec}`: bad number")))?
        };
        let parent = |oid: Oid, k: usize| -> CliResult<Oid> {
            let c = store.commit(oid).map_err(|_| missing_rev(spec))?;
            c.parents.get(k).copied().ok_or_else(|| {
                usage(format!(
                    "`{spec}`: commit {oid} has no parent number {}",
                    k + 1
                ))
            })
        };
        match op {
            b'~' => {
                for _ in 0..n {
                    oid = parent(oid, 0)?;
                }
            }
            b'^' if n > 0 => oid = parent(oid, n - 1)?,
            b'^' => {}
            _ => return Err(usage(format!("`{spec}`: unsupported revision syntax"))),
        }
    }
    Ok(oid)
}

const UNINTERESTING: u8 = 1;
const QUEUED: u8 = 2;
const POPPED: u8 = 4;

/// Commits reachable from `include` and not from `exclude`: a walk by committer date that stops
/// once only excluded commits remain (git's `A..B`). Oldest first.
struct Walk<'s> {
    store: &'s Store,
    flags: HashMap<Oid, u8>,
    /// `None`: the commit is not in the repository (a shallow clone's boundary).
    loaded: HashMap<Oid, Option<CommitData>>,
    heap: BinaryHeap<(i64, Reverse<u64>, Oid)>,
    seq: u64,
}

impl Walk<'_> {
    fn enqueue(&mut self, oid: Oid, unint: bool) {
        let mut stack = vec![(oid, unint)];
        while let Some((oid, unint)) = stack.pop() {
            let f = self.flags.entry(oid).or_insert(0);
            let mut newly_unint = false;
            if unint && *f & UNINTERESTING == 0 {
                *f |= UNINTERESTING;
                newly_unint = *f & POPPED != 0;
            }
            if *f & QUEUED == 0 {
                *f |= QUEUED;
                let c = self.store.commit(oid).ok();
                let t = c.as_ref().map(|c| c.committer.time).unwrap_or(i64::MIN);
                self.loaded.insert(oid, c);
                self.seq += 1;
                self.heap.push((t, Reverse(self.seq), oid));
            }
            if newly_unint {
                // Already walked as wanted (clock skew): its ancestors are excluded too.
                if let Some(Some(c)) = self.loaded.get(&oid) {
                    stack.extend(c.parents.iter().map(|p| (*p, true)));
                }
            }
        }
    }

    fn unint(&self, oid: &Oid) -> bool {
        self.flags.get(oid).is_some_and(|f| f & UNINTERESTING != 0)
    }

    fn run(mut self, include: Oid, exclude: Option<Oid>) -> CliResult<Vec<CommitData>> {
        self.enqueue(include, false);
        if let Some(x) = exclude {
            self.enqueue(x, true);
        }
        let mut order = Vec::new();
        let mut missing = Vec::new();
        let mut slop = 5;
        while let Some((_, _, oid)) = self.heap.pop() {
            *self.flags.entry(oid).or_insert(0) |= POPPED;
            let unint = self.unint(&oid);
            let parents = match self.loaded.get(&oid) {
                Some(Some(c)) => c.parents.clone(),
                _ => {
                    if !unint {
                        missing.push(oid);
                    }
                    continue;
                }
            };
            for p in parents {
                self.enqueue(p, unint);
            }
            if !unint {
                order.push(oid);
            }
            if self.heap.iter().all(|(_, _, o)| self.unint(o)) {
                if slop == 0 {
                    break;
                }
                slop -= 1;
            } else {
                slop = 5;
            }
        }
        if let Some(m) = missing.iter().find(|m| !self.unint(m)) {
            return Err(usage(format!(
                "the history of the range is incomplete: commit {m} is missing (a shallow clone?)"
            ))
            .hint(
                "clone the whole history (GitHub Actions: actions/checkout with fetch-depth: 0; \
                 GitLab CI: GIT_DEPTH: \"0\")",
            ));
        }
        let mut out = Vec::new();
        for oid in order.into_iter().rev() {
            if !self.unint(&oid) {
                if let Some(Some(c)) = self.loaded.remove(&oid) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}

/// The commits of `range` (`A..B` or one revision), oldest first.
fn commits_in(store: &Store, repo: &gix::Repository, range: &str) -> CliResult<Vec<CommitData>> {
    if range.contains("...") {
        return Err(usage(format!(
            "`{range}`: symmetric ranges (A...B) are not supported; use BASE..HEAD"
        )));
    }
    match range.split_once("..") {
        Some((a, b)) => {
            let or_head = |s: &str| {
                if s.is_empty() {
                    "HEAD".to_owned()
                } else {
                    s.to_owned()
                }
            };
            let exclude = resolve(store, repo, &or_head(a))?;
            let include = resolve(store, repo, &or_head(b))?;
            Walk {
                store,
                flags: HashMap::new(),
                loaded: HashMap::new(),
                heap: BinaryHeap::new(),
                seq: 0,
            }
            .run(include, Some(exclude))
        }
        None => {
            let oid = resolve(store, repo, range)?;
            Ok(vec![store.commit(oid)?])
        }
    }
}

// ---- the audit repository -----------------------------------------------------------------

fn looks_like_url(s: &str) -> bool {
    s.contains("://")
        || s.split_once(':')
            .is_some_and(|(h, _)| !h.is_empty() && !h.contains('/') && h.len() > 1)
}

/// `spec` without the credentials a URL may carry (`https://user:token@host/...`), for printing.
fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    let slash = rest.find('/').unwrap_or(rest.len());
    match rest[..slash].rfind('@') {
        Some(at) if rest[..at].contains(':') || scheme.starts_with("http") => {
            format!("{scheme}://***@{}", &rest[at + 1..])
        }
        _ => spec.to_owned(),
    }
}

/// Opens the audit repository, cloning a URL (bare, quietly) into a temporary directory.
fn open_audit(spec: &str) -> CliResult<(Store, Option<tempfile::TempDir>)> {
    let path = Path::new(spec);
    if path.exists() || !looks_like_url(spec) {
        // Absolute: gix's discovery trips over relative paths to bare repositories (`../x.git`).
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let store = Store::discover(&path).map_err(|e| {
            CliError::usage(anyhow!("--audit-repo {}: {e}", redact(spec)))
                .hint("give a clone of the audit repository, a bare repository, or its URL")
        })?;
        return Ok((store, None));
    }
    let tmp = tempfile::Builder::new()
        .prefix("aiaudit-check-")
        .tempdir()
        .map_err(|e| CliError::internal(anyhow!("cannot create a temporary directory: {e}")))?;
    let dest = tmp.path().join("audit.git");
    // The git binary for transport only (gitoxide's clone is not built in); stdout stays ours.
    let status = std::process::Command::new("git")
        .args(["clone", "--bare", "--quiet", "--", spec])
        .arg(&dest)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| CliError::usage(anyhow!("cannot run git clone: {e}")))?;
    if !status.success() {
        return Err(CliError::usage(anyhow!(
            "cannot clone the audit repository {}",
            redact(spec)
        ))
        .hint(
            "check the URL and that this job may read it (a deploy key or token), \
                 or clone it yourself and pass the path",
        ));
    }
    let store = Store::discover(&dest).map_err(CliError::internal)?;
    Ok((store, Some(tmp)))
}

// ---- findings -----------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct Finding {
    severity: &'static str,
    code: Code,
    commit: String,
    subject: String,
    /// The trailer the finding is about (`Assisted-by: Claude`, `Decision-Id: 01J…`).
    trailer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<String>,
    message: String,
    hint: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}]: commit {} \"{}\"\n  `{}`: {}\n  hint: {}",
            self.severity,
            self.code,
            &self.commit[..self.commit.len().min(12)],
            self.subject,
            self.trailer,
            self.message,
            self.hint
        )
    }
}

/// `s` with control characters replaced, so a commit message cannot drive the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn subject_of(c: &CommitData) -> String {
    printable(c.message.lines().next().unwrap_or("").trim())
}

/// One checked commit (AI-assisted or naming a decision).
#[derive(Debug, Serialize)]
struct Checked {
    commit: String,
    subject: String,
    /// The AI-assistance trailers, with the tool each names where known.
    ai_trailers: Vec<serde_json::Value>,
    decisions: Vec<String>,
    compliant: bool,
    /// For compliant commits: what covers them.
    notes: Vec<String>,
}

struct Context<'a> {
    repo_name: &'a str,
    by_id: HashMap<String, &'a LedgerDecision>,
    proposals: HashSet<String>,
    checker: Checker<'a>,
    audit: &'a Store,
}

fn check_commit(
    cx: &mut Context<'_>,
    c: &CommitData,
    cl: &Claims,
    findings: &mut Vec<Finding>,
) -> CliResult<Vec<String>> {
    let commit = c.id.to_string();
    let subject = subject_of(c);
    let mut notes = Vec::new();
    let mut add = |severity, code, trailer: String, decision: Option<&str>, message, hint| {
        findings.push(Finding {
            severity,
            code,
            commit: commit.clone(),
            subject: subject.clone(),
            trailer,
            decision: decision.map(str::to_owned),
            message,
            hint,
        })
    };
    if cl.decisions.is_empty() {
        let (trailer, tool) = &cl.ai[0];
        add(
            "error",
            Code::AiCommitWithoutDecision,
            trailer.clone(),
            None,
            format!(
                "the commit is AI-assisted{} but carries no Decision-Id trailer",
                tool.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
            ),
            format!(
                "record the decision in the audit repository (`aiaudit record --action code-merge \
                 --system {0} --target-repo {0} ...`), have it approved, and add \
                 `Decision-Id: <id>` to the commit message",
                cx.repo_name
            ),
        );
        return Ok(notes);
    }
    for raw in &cl.decisions {
        let id = raw.to_ascii_uppercase();
        let trailer = format!("{DECISION_ID}: {raw}");
        let Some(ld) = cx.by_id.get(&id).copied() else {
            if cx.proposals.contains(&id) {
                add(
                    "error",
                    Code::DecisionNotApproved,
                    trailer,
                    Some(&id),
                    "the decision is only proposed: it has not been approved and landed on the \
                     audit repository's main"
                        .into(),
                    format!(
                        "an approver runs `aiaudit approve {id}`; re-run the check once it landed"
                    ),
                );
            } else {
                add(
                    "error",
                    Code::DecisionUnknown,
                    trailer,
                    Some(&id),
                    "no decision with this id is on the audit repository's main, nor proposed"
                        .into(),
                    "check the id (`aiaudit log` in the audit repository lists decisions), and \
                     that --audit-repo is the audit repository this product uses"
                        .into(),
                );
            }
            continue;
        };
        let d = &ld.decision;
        let t = &d.action.target;
        let named: Vec<&str> = t
            .repo
            .iter()
            .map(String::as_str)
            .chain([t.system.as_str()])
            .collect();
        if !named
            .iter()
            .any(|n| names_match(cx.repo_name, &normalize_repo(n)))
        {
            add(
                "error",
                Code::DecisionOtherTarget,
                trailer,
                Some(&id),
                format!(
                    "the decision targets {}, not this repository `{}`",
                    match &t.repo {
                        Some(r) => format!("repository `{r}` (system `{}`)", t.system),
                        None => format!("system `{}`", t.system),
                    },
                    cx.repo_name
                ),
                "reference a decision recorded for this repository (record one with \
                 `--target-repo`), or pass --target-repo if this repository's name is not \
                 what decisions call it"
                    .into(),
            );
            continue;
        }
        let reviews: Vec<_> = ld
            .events
            .iter()
            .filter_map(|e| match (&e.event.kind, &e.event.review) {
                (EventKind::Review, Some(r)) => Some(r),
                _ => None,
            })
            .collect();
        let mut ok = true;
        if ld.approvals.is_empty() {
            let landed = Oid::from_hex(ld.commit.as_bytes()).map_err(CliError::internal)?;
            let tree = cx.audit.commit(landed)?.tree;
            let pol = cx.checker.governance().policy_at(tree)?;
            let verdict = pol.verdict(d);
            if verdict.approval == policy::Approval::Post {
                match reviews.last() {
                    Some(r) if r.verdict == ReviewVerdict::Rejected => {
                        ok = false;
                        add(
                            "error",
                            Code::DecisionReviewRejected,
                            trailer.clone(),
                            Some(&id),
                            format!("its post-action review rejected it: {}", r.summary),
                            "revert the change, or record and approve a new decision for it".into(),
                        );
                    }
                    Some(r) => notes.push(format!(
                        "{id}: post-action review under rule `{}`, reviewed ({})",
                        verdict.rule,
                        r.verdict.as_str()
                    )),
                    None => {
                        notes.push(format!(
                            "{id}: post-action review under rule `{}`, review pending",
                            verdict.rule
                        ));
                        add(
                            "warning",
                            Code::DecisionReviewPending,
                            trailer.clone(),
                            Some(&id),
                            format!(
                                "landed without approval under rule `{}` (approval: post); its \
                                 review is not recorded yet",
                                verdict.rule
                            ),
                            format!("a reviewer runs `aiaudit review {id} ...`"),
                        )
                    }
                }
            } else {
                ok = false;
                add(
                    "error",
                    Code::DecisionUnapproved,
                    trailer.clone(),
                    Some(&id),
                    "the decision is on main without any approval, and its rule requires \
                     approval before the action"
                        .into(),
                    "run `aiaudit verify` on the audit repository: its history breaks the policy"
                        .into(),
                );
            }
        } else {
            let approvers: Vec<&str> = ld.approvals.iter().map(|a| a.principal.as_str()).collect();
            notes.push(format!(
                "{id}: {} on {}, approved by {}, landed {}",
                d.action.kind.as_str(),
                t.repo.as_deref().unwrap_or(&t.system),
                approvers.join(", "),
                super::export::rfc3339(ld.landed_at)
            ));
            if let Some(r) = reviews
                .last()
                .filter(|r| r.verdict == ReviewVerdict::Rejected)
            {
                ok = false;
                add(
                    "error",
                    Code::DecisionReviewRejected,
                    trailer.clone(),
                    Some(&id),
                    format!("a review rejected it: {}", r.summary),
                    "revert the change, or record and approve a new decision for it".into(),
                );
            }
        }
        if ok && ld.landed_at > c.committer.time {
            add(
                "warning",
                Code::DecisionLandedAfterCommit,
                trailer,
                Some(&id),
                format!(
                    "the decision landed at {}, after the commit was made ({})",
                    super::export::rfc3339(ld.landed_at),
                    super::export::rfc3339(c.committer.time)
                ),
                "record and approve decisions before the change they cover".into(),
            );
        }
    }
    Ok(notes)
}

pub fn run(cwd: &Path, a: Args) -> CliResult {
    let cwd = &std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_owned());
    let product = Store::discover(cwd).map_err(|e| {
        CliError::usage(e).hint("run inside the product repository, or pass -C DIR")
    })?;
    let repo = gix::discover(cwd).map_err(|e| CliError::usage(anyhow!("{e}")))?;
    let repo_name = match &a.target_repo {
        Some(n) => normalize_repo(n),
        None => {
            let url = repo
                .config_snapshot()
                .string("remote.origin.url")
                .map(|u| u.to_string());
            match url {
                Some(u) => normalize_repo(&u),
                None => {
                    return Err(usage(
                        "cannot tell this repository's name: it has no remote.origin.url".into(),
                    )
                    .hint("pass --target-repo NAME, e.g. github.com/acme/payments"))
                }
            }
        }
    };
    if repo_name.is_empty() {
        return Err(usage("--target-repo is empty".into()));
    }
    let commits = commits_in(&product, &repo, &a.range)?;
    let extra: Vec<String> = a.ai_tools.clone();

    let (audit, _tmp) = open_audit(&a.audit_repo)?;
    let base = main_base(&audit).map_err(|e| {
        let m = format!("--audit-repo {}: {:#}", redact(&a.audit_repo), e.error);
        usage(m).hint("--audit-repo must be the audit repository (with a main branch)")
    })?;
    let mut checker = Checker::new(&audit, util::now()?);
    if let Some(root) = &a.trust_root {
        let root = Oid::from_hex(root.as_bytes())
            .map_err(|_| usage(format!("--trust-root `{root}` is not a full commit id")))?;
        let report = checker.check_history_from(base.id, Some(root), None);
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            for d in &errors {
                eprintln!("{d}");
            }
            return Err(CliError::violations(anyhow!(
                "the audit repository does not verify against --trust-root: {} violation(s); its decisions cannot be relied on",
                errors.len()
            ))
            .hint("run `aiaudit verify --trust-root ...` in a clone of it, and tell its admins"));
        }
    }
    let ledger = read_ledger(&audit, base.id, &mut |_| {})?;
    let proposals: HashSet<String> = util::proposal_refs(&audit)?
        .into_iter()
        .map(|(id, _, _)| id.to_ascii_uppercase())
        .collect();
    let mut cx = Context {
        repo_name: &repo_name,
        by_id: ledger
            .decisions
            .iter()
            .map(|d| (d.decision.id.to_ascii_uppercase(), d))
            .collect(),
        proposals,
        checker,
        audit: &audit,
    };

    let mut findings = Vec::new();
    let mut checked = Vec::new();
    for c in &commits {
        let cl = claims(&c.message, &extra);
        if cl.decisions.is_empty() && cl.ai.is_empty() {
            continue;
        }
        let before = findings.len();
        let notes = check_commit(&mut cx, c, &cl, &mut findings)?;
        let compliant = !findings[before..].iter().any(|f| f.severity == "error");
        checked.push(Checked {
            commit: c.id.to_string(),
            subject: subject_of(c),
            ai_trailers: cl
                .ai
                .iter()
                .map(|(t, tool)| json!({"trailer": t, "tool": tool}))
                .collect(),
            decisions: cl.decisions.clone(),
            compliant,
            notes,
        });
    }
    let errors = findings.iter().filter(|f| f.severity == "error").count();
    let warnings = findings.len() - errors;
    let gaps = checked.iter().filter(|c| !c.compliant).count();
    let clean = errors == 0;
    if a.json {
        let out = json!({
            "ok": clean,
            "repository": repo_name,
            "range": a.range,
            "audit_repo": redact(&a.audit_repo),
            "audit_main": base.id.to_string(),
            "commits": commits.len(),
            "checked": checked.len(),
            "compliant": checked.len() - gaps,
            "gaps": gaps,
            "errors": errors,
            "warnings": warnings,
            "results": checked,
            "findings": findings,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(CliError::internal)?
        );
    } else {
        for ch in checked.iter().filter(|c| c.compliant) {
            for n in &ch.notes {
                outln!(
                    "ok: commit {} \"{}\" -> decision {n}",
                    &ch.commit[..12.min(ch.commit.len())],
                    ch.subject
                );
            }
        }
        for f in &findings {
            eprintln!("{f}");
        }
        outln!(
            "{}: {} commit(s) in {} of {}; {} AI-assisted or naming a decision: {} covered, {} gap(s); {} warning(s) (audit main {})",
            if clean { "ok" } else { "FAILED" },
            commits.len(),
            a.range,
            repo_name,
            checked.len(),
            checked.len() - gaps,
            gaps,
            warnings,
            &base.id.to_string()[..12],
        );
    }
    Ok(if clean { EXIT_OK } else { EXIT_VIOLATIONS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_repository_names() {
        for s in [
            "https://github.com/Acme/Payments.git",
            "https://x-access-token:abc@github.com/acme/payments",
            "git@github.com:acme/payments.git",
            "ssh://git@github.com:22/acme/payments.git/",
            "github.com/acme/payments",
        ] {
            assert_eq!(normalize_repo(s), "github.com/acme/payments", "{s}");
        }
        assert!(names_match("acme/payments", "github.com/acme/payments"));
        assert!(names_match("github.com/acme/payments", "acme/payments"));
        assert!(!names_match(
            "github.com/acme/payments",
            "gitlab.com/acme/payments"
        ));
        assert!(!names_match("github.com/acme/payments", "aws/prod"));
        assert_eq!(
            redact("https://x-access-token:s3cret@github.com/acme/audit.git"),
            "https://***@github.com/acme/audit.git"
        );
        assert_eq!(redact("/srv/git/audit.git"), "/srv/git/audit.git");
    }

    #[test]
    fn recognizes_ai_tools_not_people() {
        let t = |v: &str| ai_tool(v, &[]);
        assert_eq!(
            t("Claude <noreply@anthropic.com>").as_deref(),
            Some("Claude")
        );
        assert_eq!(t("Claude Code").as_deref(), Some("Claude"));
        assert_eq!(
            t("Copilot <175728472+Copilot@users.noreply.github.com>").as_deref(),
            Some("GitHub Copilot")
        );
        assert_eq!(
            t("aider (openai/gpt-4o) <noreply@aider.chat>").as_deref(),
            Some("Aider")
        );
        assert_eq!(
            t("Cursor Agent <cursoragent@cursor.com>").as_deref(),
            Some("Cursor")
        );
        assert_eq!(
            t("devin-ai-integration[bot] <158243242+devin-ai-integration[bot]@users.noreply.github.com>")
                .as_deref(),
            Some("Devin")
        );
        assert_eq!(t("Amazon Q Developer").as_deref(), Some("Amazon Q"));
        assert_eq!(t("Claude Dupont <claude@corp.example>"), None);
        assert_eq!(t("Devin Smith <devin@example.com>"), None);
        assert_eq!(t("Jane Egypt <jane@example.com>"), None);
        assert_eq!(
            ai_tool("HAL <hal@example.com>", &["hal".into()]).as_deref(),
            Some("hal")
        );
    }

    #[test]
    fn reads_ai_claims_from_the_last_paragraph() {
        let c = claims(
            "Fix\n\nBody mentions Assisted-by: nobody\n\nSigned-off-by: A <a@x>\nnot a trailer\nCo-authored-by: Claude <noreply@anthropic.com>\nDecision-Id: 01ABC\n",
            &[],
        );
        assert_eq!(c.decisions, ["01ABC"]);
        assert_eq!(c.ai.len(), 1);
        let human = claims("Fix\n\nCo-authored-by: Jane <jane@example.com>\n", &[]);
        assert!(human.ai.is_empty() && human.decisions.is_empty());
        let gen = claims("Fix\n\ngenerated-by: some tool\n", &[]);
        assert_eq!(gen.ai.len(), 1);
        assert!(claims("Assisted-by: Claude\n", &[]).ai.is_empty());
    }
}
