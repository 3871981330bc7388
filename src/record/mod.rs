//! Records: the decision model, its canonical bytes, its validation and its context digest.
//!
//! This module knows nothing of git or signatures. [`check_decision`] takes a path and the bytes
//! found there and returns the parsed decision together with every finding; it never panics on
//! input and reads nothing larger than [`MAX_RECORD_BYTES`].

pub mod canonical;
pub mod decision;
pub mod digest;
pub mod event;
pub mod yaml_bounds;

pub use decision::*;
pub use event::{check_event, event_path, path_for_id, Event, EventKind};

use crate::diag::{Code, Diagnostic};
use jiff::Timestamp;

/// Size cap for a record file, checked before parsing.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// Longest free-text field (summaries).
const MAX_TEXT: usize = 4096;
/// Longest single-line field (names, ids, URIs).
/// Most words in `action.command`.
pub const MAX_COMMAND_WORDS: usize = 256;
const MAX_LINE: usize = 1024;
/// Most context entries in one decision.
const MAX_ENTRIES: usize = 1000;

/// Model versions that float: refused so that a record always pins what actually ran.
pub const FLOATING_VERSIONS: &[&str] = &[
    "latest", "stable", "current", "default", "preview", "beta", "alpha", "newest", "*", "auto",
];

/// Parses and fully checks the bytes of a decision file found at `path`.
///
/// Returns the decision when it could be parsed (even if other checks failed) and all findings.
/// The findings carry `path`; the caller adds commit and ref.
pub fn check_decision(path: &str, bytes: &[u8]) -> (Option<Decision>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let text = match check_text(bytes) {
        Ok(t) => t,
        Err(d) => return (None, vec![d.at_path(path)]),
    };
    if let Err(d) = check_yaml_bounds(text) {
        return (None, vec![d.at_path(path)]);
    }
    let decision: Decision = match read_canonical(text, bytes) {
        Ok((d, found)) => {
            diags.extend(found);
            d
        }
        Err(e) => return (None, vec![yaml_error(e).at_path(path)]),
    };
    diags.extend(validate(&decision));
    if let Some(expected) = decision_path(&decision) {
        if expected != path {
            diags.push(Diagnostic::new(
                Code::PathMismatch,
                format!("decision {} belongs at {expected}", decision.id),
            ));
        }
    }
    for d in &mut diags {
        d.path = Some(path.to_owned());
    }
    (Some(decision), diags)
}

/// Size, UTF-8 and NUL checks shared by every file the engine reads.
pub fn check_text(bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(Diagnostic::new(
            Code::FileTooLarge,
            format!(
                "{} bytes, more than the {MAX_RECORD_BYTES}-byte cap for records",
                bytes.len()
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Diagnostic::new(
            Code::NotUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    if let Some(pos) = text.find('\0') {
        return Err(Diagnostic::new(
            Code::NotUtf8,
            format!("NUL byte at byte {pos}"),
        ));
    }
    Ok(text)
}

/// Most `[`/`{` characters in a record (see [`yaml_bounds::check_flow`]). Records are block
/// style: canonical ones hold flow brackets only in `[]` and in text.
pub const MAX_RECORD_FLOW_BRACKETS: usize = 256;

/// Refuses, before the YAML parser runs, a record it could not parse in bounded time (deep
/// flow nesting) or whose anchors and aliases expand it beyond twice its size (see
/// [`yaml_bounds`]). Records have no aliases at all (they are not canonical), so the budget only
/// has to be generous to documents without them.
pub(crate) fn check_yaml_bounds(text: &str) -> Result<(), Diagnostic> {
    yaml_bounds::check_flow(text, MAX_RECORD_FLOW_BRACKETS)
        .map_err(|m| Diagnostic::new(Code::RecordMalformed, m.to_string()))?;
    yaml_bounds::check_aliases(text, 2 * text.len() + 1024).map_err(|m| {
        Diagnostic::new(
            Code::RecordNotCanonical,
            format!("{m}; records contain no anchors or aliases"),
        )
    })
}

/// The canonical-bytes rule: `value` written canonically must be exactly `bytes`.
/// A record's typed value and what the canonical-bytes rule says of it. Canonical bytes (the
/// common case: every record the tools write) are read by the canonical form's own reader and
/// accepted when they write back to themselves, which is also the canonical check; anything
/// else is parsed by the YAML library, whose errors name what is wrong, then checked.
fn read_canonical<T>(text: &str, bytes: &[u8]) -> Result<(T, Vec<Diagnostic>), serde_yaml::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if let Some(value) = canonical::parse(text) {
        if let Ok(t) = serde_json::from_value::<T>(value) {
            if canonical::to_canonical_yaml(&t).is_ok_and(|c| c.as_bytes() == bytes) {
                return Ok((t, Vec::new()));
            }
        }
    }
    let t: T = serde_yaml::from_str(text)?;
    let found = canonical_check(text, bytes, &t);
    Ok((t, found))
}

fn canonical_check<T: serde::Serialize>(text: &str, bytes: &[u8], value: &T) -> Vec<Diagnostic> {
    match canonical::to_canonical_yaml(value) {
        Ok(canon) if canon.as_bytes() == bytes => Vec::new(),
        Ok(canon) => vec![not_canonical(text, &canon)],
        Err(e) => vec![Diagnostic::new(Code::RecordNotCanonical, e.to_string())],
    }
}

fn yaml_error(e: serde_yaml::Error) -> Diagnostic {
    let msg = e.to_string();
    let code = if msg.contains("missing field") {
        Code::FieldMissing
    } else if msg.contains("unknown variant") || msg.contains("invalid value") {
        Code::FieldInvalid
    } else {
        Code::RecordMalformed
    };
    Diagnostic::new(code, msg)
}

fn not_canonical(text: &str, canon: &str) -> Diagnostic {
    let line = text
        .lines()
        .zip(canon.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| text.lines().count().min(canon.lines().count()));
    let found = text.lines().nth(line).unwrap_or("<end of file>");
    let want = canon.lines().nth(line).unwrap_or("<end of file>");
    Diagnostic::new(
        Code::RecordNotCanonical,
        format!(
            "line {} is `{}`, the canonical form has `{}`",
            line + 1,
            truncate(found, 80),
            truncate(want, 80)
        ),
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Where a decision lives in the audit repository: `decisions/YYYY/MM/DD/HH/<id>.yaml`.
pub fn decision_path(d: &Decision) -> Option<String> {
    event::record_path("decisions", &d.id, &d.created)
}

/// Size cap for one stored context file (`record --store-context`), checked before reading.
pub const MAX_STORED_CONTEXT_BYTES: usize = 1024 * 1024;

/// Where stored context content lives: `context/<first two hex digits>/<sha256>`, named by
/// its own digest, so identical content is stored once and anyone can check it.
pub fn context_path(sha256: &str) -> String {
    format!("context/{}/{sha256}", &sha256[..2.min(sha256.len())])
}

/// The digest a stored context path names, when `path` has the shape
/// `context/<xx>/<64 lowercase hex digits>` with `<xx>` the digest's first two digits.
pub fn context_path_digest(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("context/")?;
    let (fan, name) = rest.split_once('/')?;
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (name.len() == 64 && hex(name) && name.starts_with(fan) && fan.len() == 2).then_some(name)
}

/// Every digest of content a decision names: context entries (content and tool-call
/// arguments) and the model output. Stored context must be one of these.
pub fn content_digests(d: &Decision) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for e in &d.context.entries {
        out.push(&e.sha256);
        if let Some(a) = &e.arguments_sha256 {
            out.push(a);
        }
    }
    out.push(&d.recommendation.sha256);
    out
}

/// A ULID in canonical (uppercase Crockford base32) form.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
        && ulid::Ulid::from_string(s).is_ok()
}

/// Parses `created`: RFC 3339, UTC, second precision.
pub fn parse_created(s: &str) -> Option<Timestamp> {
    let ok_shape = s.len() == 20 && s.ends_with('Z') && s.as_bytes().get(10) == Some(&b'T');
    if !ok_shape {
        return None;
    }
    let ts: Timestamp = s.parse().ok()?;
    // Reject values jiff accepts leniently (e.g. leap seconds): the text must round-trip.
    (format_created(ts) == s).then_some(ts)
}

/// Formats a timestamp the way `created` is written.
pub fn format_created(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Seconds since the epoch the way `created` is written (the number itself when out of range).
pub fn format_unix(secs: i64) -> String {
    Timestamp::from_second(secs)
        .map(format_created)
        .unwrap_or_else(|_| secs.to_string())
}

/// Semantic checks beyond the types: formats, lengths, enums in strings, consistency.
pub fn validate(d: &Decision) -> Vec<Diagnostic> {
    let mut v = Validator::default();
    if d.schema != DECISION_SCHEMA {
        v.invalid("schema", format!("must be `{DECISION_SCHEMA}`"));
    }
    let created = parse_created(&d.created);
    if created.is_none() {
        v.invalid("created", "must be RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ`");
    }
    if !is_ulid(&d.id) {
        v.push(
            Code::IdInvalid,
            "id: must be a ULID (26 characters, Crockford base32, uppercase)",
        );
    } else if let (Some(ts), Ok(u)) = (created, ulid::Ulid::from_string(&d.id)) {
        let id_secs = (u.timestamp_ms() / 1000) as i64;
        if id_secs != ts.as_second() {
            v.push(
                Code::IdInvalid,
                format!(
                    "id: its timestamp ({id_secs}) does not match `created` ({})",
                    d.created
                ),
            );
        }
    }
    v.ident("initiator.id", &d.initiator.id);
    match (d.initiator.kind, &d.initiator.owner) {
        (PrincipalKind::Human, Some(_)) => {
            v.invalid("initiator.owner", "only service and workflow initiators have an owner")
        }
        (PrincipalKind::Service | PrincipalKind::Workflow, None) => v.push(
            Code::FieldMissing,
            "initiator.owner: a service or workflow initiator must name its accountable human owner",
        ),
        (_, Some(o)) => v.ident("initiator.owner", o),
        _ => {}
    }
    v.opt_line("initiator.name", d.initiator.name.as_deref());
    v.opt_line("initiator.forge_login", d.initiator.forge_login.as_deref());

    v.line("action.target.system", &d.action.target.system);
    v.opt_line("action.target.repo", d.action.target.repo.as_deref());
    v.opt_line("action.target.change", d.action.target.change.as_deref());
    v.opt_line(
        "action.target.resource",
        d.action.target.resource.as_deref(),
    );
    v.text("action.summary", &d.action.summary);
    for (i, s) in d.action.identities.iter().enumerate() {
        v.line(&format!("action.identities[{i}]"), s);
    }
    for (i, s) in d.action.secrets.iter().enumerate() {
        v.line(&format!("action.secrets[{i}]"), s);
    }
    for (i, s) in d.action.datasets.iter().enumerate() {
        v.line(&format!("action.datasets[{i}]"), s);
    }
    if d.action.command.len() > MAX_COMMAND_WORDS {
        v.invalid(
            "action.command",
            format!("more than {MAX_COMMAND_WORDS} words"),
        );
    }
    if d.action.command.first().is_some_and(|w| w.is_empty()) {
        v.push(
            Code::FieldMissing,
            "action.command[0]: the program must not be empty",
        );
    }
    for (i, w) in d.action.command.iter().enumerate() {
        // A word may be empty and may hold line breaks (a script); nothing that drives a
        // terminal or hides text from the approver who reads it.
        let field = format!("action.command[{i}]");
        if w.len() > MAX_TEXT {
            v.invalid(&field, format!("longer than {MAX_TEXT} bytes"));
        } else if let Some(c) = w.chars().find(|c| crate::text::is_unsafe(*c) && *c != '\n') {
            v.invalid(&field, unsafe_char(c, "other than a line break"));
        }
    }
    for (i, c) in d.action.changes.iter().enumerate() {
        v.sha256(&format!("action.changes[{i}]"), c);
    }
    if let Some(p) = &d.action.payload {
        v.sha256("action.payload.sha256", &p.sha256);
    }

    v.model("ai.model", &d.ai.model);
    v.opt_line("ai.framework", d.ai.framework.as_deref());
    for (i, a) in d.ai.agents.iter().enumerate() {
        v.ident(&format!("ai.agents[{i}].id"), &a.id);
        v.ident(&format!("ai.agents[{i}].role"), &a.role);
        if let Some(m) = &a.model {
            v.model(&format!("ai.agents[{i}].model"), m);
        }
    }

    if d.context.entries.is_empty() {
        v.push(
            Code::FieldMissing,
            "context.entries: at least one input (the prompt) must be recorded",
        );
    }
    if d.context.entries.len() > MAX_ENTRIES {
        v.invalid(
            "context.entries",
            format!("more than {MAX_ENTRIES} entries"),
        );
    }
    for (i, e) in d.context.entries.iter().enumerate() {
        let f = format!("context.entries[{i}]");
        v.line(&format!("{f}.name"), &e.name);
        v.opt_line(&format!("{f}.uri"), e.uri.as_deref());
        v.sha256(&format!("{f}.sha256"), &e.sha256);
        match (e.kind, &e.arguments_sha256) {
            (ContextKind::ToolCall, Some(a)) => v.sha256(&format!("{f}.arguments_sha256"), a),
            (ContextKind::ToolCall, None) => v.push(
                Code::FieldMissing,
                format!("{f}.arguments_sha256: a tool call records the digest of its arguments"),
            ),
            (_, Some(_)) => v.invalid(
                &format!("{f}.arguments_sha256"),
                "only tool-call entries have arguments",
            ),
            _ => {}
        }
    }
    match digest::parse_digest(&d.context.digest) {
        None => v.invalid(
            "context.digest",
            "must be `sha256:` and 64 lowercase hex digits",
        ),
        Some(_) => {
            let want = digest::context_digest(&d.context.entries);
            if want != d.context.digest {
                v.push(
                    Code::ContextDigestMismatch,
                    format!(
                        "context.digest is {} but the entries recompute to {want}",
                        d.context.digest
                    ),
                );
            }
        }
    }
    v.text("recommendation.summary", &d.recommendation.summary);
    v.sha256("recommendation.sha256", &d.recommendation.sha256);
    v.diags
}

#[derive(Default)]
pub(crate) struct Validator {
    diags: Vec<Diagnostic>,
}

impl Validator {
    fn push(&mut self, code: Code, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(code, msg));
    }

    /// A ULID whose timestamp is the `created` second.
    fn ulid_matches(
        &mut self,
        field: &str,
        id: &str,
        created: Option<Timestamp>,
        created_text: &str,
    ) {
        if !is_ulid(id) {
            self.push(
                Code::IdInvalid,
                format!("{field}: must be a ULID (26 characters, Crockford base32, uppercase)"),
            );
        } else if let (Some(ts), Ok(u)) = (created, ulid::Ulid::from_string(id)) {
            let id_secs = (u.timestamp_ms() / 1000) as i64;
            if id_secs != ts.as_second() {
                self.push(
                    Code::IdInvalid,
                    format!("{field}: its timestamp ({id_secs}) does not match `created` ({created_text})"),
                );
            }
        }
    }

    fn invalid(&mut self, field: &str, msg: impl std::fmt::Display) {
        self.push(Code::FieldInvalid, format!("{field}: {msg}"));
    }

    /// Non-empty single-line text without control characters.
    fn line(&mut self, field: &str, s: &str) {
        if s.trim().is_empty() {
            self.push(Code::FieldMissing, format!("{field}: must not be empty"));
        } else if s.len() > MAX_LINE {
            self.invalid(field, format!("longer than {MAX_LINE} bytes"));
        } else if let Some(c) = s.chars().find(|c| crate::text::is_unsafe(*c)) {
            self.invalid(field, unsafe_char(c, "a line break, tab or NUL"));
        }
    }

    fn opt_line(&mut self, field: &str, s: Option<&str>) {
        if let Some(s) = s {
            self.line(field, s);
        }
    }

    /// Free text: line breaks allowed, other control characters not.
    fn text(&mut self, field: &str, s: &str) {
        if s.trim().is_empty() {
            self.push(Code::FieldMissing, format!("{field}: must not be empty"));
        } else if s.len() > MAX_TEXT {
            self.invalid(field, format!("longer than {MAX_TEXT} bytes"));
        } else if let Some(c) = s.chars().find(|c| crate::text::is_unsafe(*c) && *c != '\n') {
            self.invalid(field, unsafe_char(c, "other than a line break"));
        }
    }

    /// An identifier: principal ids, agent roles.
    fn ident(&mut self, field: &str, s: &str) {
        if s.is_empty() {
            self.push(Code::FieldMissing, format!("{field}: must not be empty"));
        } else if !is_ident(s) {
            self.invalid(
                field,
                format!("`{s}` is not an identifier ([A-Za-z0-9][A-Za-z0-9._@+-]*, at most 128)"),
            );
        }
    }

    fn sha256(&mut self, field: &str, s: &str) {
        if !digest::is_sha256_hex(s) {
            self.invalid(field, "must be 64 lowercase hex digits");
        }
    }

    fn model(&mut self, field: &str, m: &Model) {
        self.line(&format!("{field}.provider"), &m.provider);
        self.line(&format!("{field}.name"), &m.name);
        if m.version.trim().is_empty() {
            self.push(
                Code::FieldMissing,
                format!("{field}.version: the model version must be pinned"),
            );
            return;
        }
        self.line(&format!("{field}.version"), &m.version);
        if is_floating_version(&m.version) {
            self.push(
                Code::ModelVersionFloating,
                format!(
                    "{field}.version: `{}` is a floating alias, not a pinned version",
                    m.version
                ),
            );
        }
    }
}

/// Why a character is refused in a text field (`what`: which controls the field refuses).
fn unsafe_char(c: char, what: &str) -> String {
    if c.is_control() {
        format!("contains a control character ({what}): U+{:04X}", c as u32)
    } else {
        format!(
            "contains U+{:04X}, a bidirectional-text control or invisible formatting character (it changes or hides how the text reads)",
            c as u32
        )
    }
}

/// Principal ids and similar names.
pub fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"._@+-".contains(&c))
}

/// Whether a version string is a floating alias: one of [`FLOATING_VERSIONS`], or ending in
/// `-latest`, `:latest`, `@latest`, `.latest` or `/latest`.
pub fn is_floating_version(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    FLOATING_VERSIONS.contains(&l.as_str())
        || ["-latest", ":latest", "@latest", ".latest", "/latest"]
            .iter()
            .any(|s| l.ends_with(s))
}

#[cfg(test)]
mod tests;
