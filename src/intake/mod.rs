//! Intake from automation: documents and traces that become decisions (SPEC §8).
//!
//! - [`parse_intake`] reads an intake document, schema `aiaudit/intake/v1`
//!   (`schemas/intake.v1.schema.json`, `docs/intake.md`): what a pipeline or an agent knows
//!   about a decision — initiator, action, model and agents, context inputs as digests or as
//!   inline content that is hashed and dropped, and the recommendation.
//! - [`otel::parse_trace`] reads an OpenTelemetry GenAI trace export (OTLP JSON) and finds the
//!   model, the agents, the prompts and tool calls, and the model output.
//! - [`secrets`] refuses credentials: every text the record would store, and every content that
//!   is hashed, is scanned before anything is written.
//!
//! This module reads no files and prints nothing: the `record` command does the I/O and fills in
//! what the sources cannot say (id, creation time, risk, the initiator's kind and owner).

pub mod commit;
pub mod otel;
pub mod secrets;

use crate::record::{
    self, digest, Action, ActionKind, Agent, Ai, AiRole, ContextEntry, ContextKind, Model,
    Recommendation, Target,
};
use secrets::Scan;
use serde_json::{Map, Value};
use std::fmt;

/// The schema of intake documents.
pub const INTAKE_SCHEMA: &str = "aiaudit/intake/v1";

/// The fields of each mapping of an intake document, in documentation order (a test keeps
/// `schemas/intake.v1.schema.json` in step).
pub mod fields {
    pub const TOP: &[&str] = &[
        "schema",
        "initiator",
        "created",
        "action",
        "ai",
        "context",
        "recommendation",
    ];
    pub const INITIATOR: &[&str] = &["id", "forge_login"];
    pub const ACTION: &[&str] = &[
        "kind",
        "target",
        "summary",
        "identities",
        "secrets",
        "datasets",
        "command",
        "changes",
        "payload",
    ];
    pub const PAYLOAD: &[&str] = &["sha256", "size"];
    pub const TARGET: &[&str] = &["system", "repo", "change", "resource"];
    pub const AI: &[&str] = &["role", "model", "framework", "agents"];
    pub const MODEL: &[&str] = &["provider", "name", "version"];
    pub const AGENT: &[&str] = &["id", "role", "model"];
    pub const INPUT: &[&str] = &[
        "kind",
        "name",
        "uri",
        "content",
        "size",
        "sha256",
        "arguments",
        "arguments_sha256",
        "digest_only",
    ];
    pub const RECOMMENDATION: &[&str] = &["summary", "output", "sha256", "size", "digest_only"];
}

/// Largest intake document `record --from` reads (inline content makes them larger than
/// records).
pub const MAX_INTAKE_BYTES: usize = 16 * 1024 * 1024;

/// Longest free-text field (summaries), as in decision records.
const MAX_TEXT: usize = 4096;
/// Longest single-line field, as in decision records.
const MAX_LINE: usize = 1024;

/// A refused intake document or trace: the field (or span) and what is wrong with it. The
/// caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeError {
    /// Where: a field path such as `context[2].sha256`, or a span.
    pub field: String,
    pub message: String,
}

impl IntakeError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        IntakeError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for IntakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for IntakeError {}

/// One context input, hashed, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub entry: ContextEntry,
    /// Where it came from, for messages: `intake.json: context[0]`, `--prompt prompt.txt`,
    /// `trace.json: span 5b8aa5a2d2c872e8 (execute_tool db.query)`.
    pub origin: String,
    /// The input is recorded by digest only, never stored, even where content is kept
    /// (`--digest-only NAME`, or `"digest_only": true` in an intake document).
    pub digest_only: bool,
}

/// A size and SHA-256 over some content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digested {
    pub size: u64,
    pub sha256: String,
}

impl Digested {
    pub fn of(data: &[u8]) -> Self {
        Digested {
            size: data.len() as u64,
            sha256: digest::sha256_hex(data),
        }
    }
}

/// An intake document, checked and hashed: everything of the decision except what aiaudit
/// derives (schema, id, risk, context digest) and what the policy says about the initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub initiator: String,
    pub forge_login: Option<String>,
    pub created: Option<String>,
    pub action: Action,
    pub ai: Ai,
    pub inputs: Vec<Input>,
    pub recommendation: Recommendation,
    /// The model output is digest-only (see [`Input::digest_only`]).
    pub output_digest_only: bool,
}

/// Reads an intake document (already parsed from JSON or YAML) named `label` in messages.
///
/// Checks every field (errors name the field path), hashes inline content and drops it, and
/// scans for credentials: stored texts with [`Scan::stored`], inline content with
/// [`Scan::hashed`]. Refusals from the scan are left in `scan` for the caller to report.
pub fn parse_intake(label: &str, doc: &Value, scan: &mut Scan) -> Result<Intake, IntakeError> {
    let mut r = Reader { label, scan };
    let top = r.object(doc, "")?;
    top.only(fields::TOP)?;
    let schema = top.string_req("schema")?;
    if schema != INTAKE_SCHEMA {
        return Err(IntakeError::new(
            "schema",
            format!("must be `{INTAKE_SCHEMA}`"),
        ));
    }

    let ini = r.object(top.req("initiator")?, "initiator")?;
    ini.only(fields::INITIATOR)?;
    let initiator = r.ident(&ini, "id")?;
    let forge_login = r.line_opt(&ini, "forge_login")?;

    let created = top.string_opt("created")?;
    if let Some(c) = &created {
        if record::parse_created(c).is_none() {
            return Err(IntakeError::new(
                "created",
                "must be RFC 3339 UTC with second precision, `YYYY-MM-DDTHH:MM:SSZ`",
            ));
        }
    }

    let act = r.object(top.req("action")?, "action")?;
    act.only(fields::ACTION)?;
    let kind = enum_value(&act, "kind", ActionKind::parse, || {
        ActionKind::ALL.iter().map(|k| k.as_str()).collect()
    })?;
    let tgt = r.object(act.req("target")?, "action.target")?;
    tgt.only(fields::TARGET)?;
    let target = Target {
        system: r.line(&tgt, "system")?,
        repo: r.line_opt(&tgt, "repo")?,
        change: r.line_opt(&tgt, "change")?,
        resource: r.line_opt(&tgt, "resource")?,
    };
    let action = Action {
        kind,
        target,
        summary: r.text(&act, "summary")?,
        identities: r.lines(&act, "identities")?,
        secrets: r.lines(&act, "secrets")?,
        datasets: r.lines(&act, "datasets")?,
        command: r.words(&act, "command")?,
        changes: act
            .list("changes")?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let path = format!("action.changes[{i}]");
                v.as_str()
                    .filter(|s| digest::is_sha256_hex(s))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        IntakeError::new(
                            path,
                            "must be a change digest: 64 lowercase hex digits (`aiaudit change-digest REV`)",
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
        payload: match act.get("payload") {
            None => None,
            Some(v) => {
                let p = r.object(v, "action.payload")?;
                p.only(fields::PAYLOAD)?;
                let size = p.u64_opt("size")?.ok_or_else(|| {
                    IntakeError::new("action.payload.size", "missing: the size in bytes")
                })?;
                Some(record::ContentDigest {
                    sha256: sha256_field(&p, "sha256")?,
                    size,
                })
            }
        },
    };

    let ai_obj = r.object(top.req("ai")?, "ai")?;
    ai_obj.only(fields::AI)?;
    let role = enum_value(&ai_obj, "role", AiRole::parse, || {
        vec!["suggested", "changed", "initiated"]
    })?;
    let model = r.model(ai_obj.req("model")?, "ai.model")?;
    let framework = r.line_opt(&ai_obj, "framework")?;
    let mut agents = Vec::new();
    for (i, v) in ai_obj.list("agents")?.iter().enumerate() {
        let path = format!("ai.agents[{i}]");
        let a = r.object(v, &path)?;
        a.only(fields::AGENT)?;
        agents.push(Agent {
            id: r.ident(&a, "id")?,
            role: r.ident(&a, "role")?,
            model: match a.get("model") {
                Some(m) => Some(r.model(m, &format!("{path}.model"))?),
                None => None,
            },
        });
    }
    let ai = Ai {
        role,
        model,
        framework,
        agents,
    };

    let context = top.req("context")?;
    let items = context
        .as_array()
        .ok_or_else(|| IntakeError::new("context", "must be a list of inputs"))?;
    if items.is_empty() {
        return Err(IntakeError::new(
            "context",
            "at least one input (the prompt) must be given",
        ));
    }
    if items.len() > 1000 {
        return Err(IntakeError::new("context", "more than 1000 inputs"));
    }
    let mut inputs = Vec::new();
    for (i, v) in items.iter().enumerate() {
        inputs.push(r.input(v, i)?);
    }

    let rec = r.object(top.req("recommendation")?, "recommendation")?;
    rec.only(fields::RECOMMENDATION)?;
    let summary = r.text(&rec, "summary")?;
    let output_digest_only = rec.bool_opt("digest_only")?.unwrap_or(false);
    let out = r.content_or_digest(
        &rec,
        ("output", "sha256", "size"),
        "the model's full output",
        ContentScan {
            what: "recommendation.output".into(),
            selectors: vec!["output".into()],
            marked: output_digest_only,
            alternative: "\"digest_only\": true in recommendation",
        },
    )?;
    Ok(Intake {
        initiator,
        forge_login,
        created,
        action,
        ai,
        inputs,
        recommendation: Recommendation {
            summary,
            sha256: out.sha256,
            size: out.size,
        },
        output_digest_only,
    })
}

/// The allowed values of an enum, for messages.
fn one_of(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn enum_value<T>(
    o: &Obj<'_>,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    values: impl Fn() -> Vec<&'static str>,
) -> Result<T, IntakeError> {
    let s = o.string_req(key)?;
    parse(&s).ok_or_else(|| {
        IntakeError::new(
            o.path(key),
            format!("unknown value `{s}`; one of {}", one_of(&values())),
        )
    })
}

/// How to scan one content field.
struct ContentScan {
    /// The field, for messages.
    what: String,
    /// `--digest-only` selectors for it.
    selectors: Vec<String>,
    /// Marked digest-only in the document.
    marked: bool,
    /// The document's own way to mark it.
    alternative: &'static str,
}

/// A JSON object being read, with its path for messages.
struct Obj<'v> {
    map: &'v Map<String, Value>,
    path: String,
}

impl<'v> Obj<'v> {
    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Refuses fields outside `allowed`.
    fn only(&self, allowed: &[&str]) -> Result<(), IntakeError> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(IntakeError::new(
                    self.path(k),
                    format!("unknown field; expected one of {}", one_of(allowed)),
                ));
            }
        }
        Ok(())
    }

    /// A field's value; `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req(&self, key: &str) -> Result<&'v Value, IntakeError> {
        self.get(key)
            .ok_or_else(|| IntakeError::new(self.path(key), "missing (required)"))
    }

    fn string_opt(&self, key: &str) -> Result<Option<String>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(IntakeError::new(
                self.path(key),
                format!("must be a string, not {}", type_name(other)),
            )),
        }
    }

    fn string_req(&self, key: &str) -> Result<String, IntakeError> {
        self.string_opt(key)?
            .ok_or_else(|| IntakeError::new(self.path(key), "missing (required)"))
    }

    fn bool_opt(&self, key: &str) -> Result<Option<bool>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(IntakeError::new(
                self.path(key),
                format!("must be true or false, not {}", type_name(other)),
            )),
        }
    }

    fn u64_opt(&self, key: &str) -> Result<Option<u64>, IntakeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                IntakeError::new(
                    self.path(key),
                    "must be a whole number of bytes, 0 to 2^64-1",
                )
            }),
            Some(other) => Err(IntakeError::new(
                self.path(key),
                format!("must be a number of bytes, not {}", type_name(other)),
            )),
        }
    }

    fn list(&self, key: &str) -> Result<&'v [Value], IntakeError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(IntakeError::new(
                self.path(key),
                format!("must be a list, not {}", type_name(other)),
            )),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Reads fields with the record's value rules, scanning every stored text.
struct Reader<'a> {
    label: &'a str,
    scan: &'a mut Scan,
}

impl Reader<'_> {
    fn object<'v>(&self, v: &'v Value, path: &str) -> Result<Obj<'v>, IntakeError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_owned(),
            }),
            other => Err(IntakeError::new(
                if path.is_empty() { "(document)" } else { path },
                format!("must be a mapping, not {}", type_name(other)),
            )),
        }
    }

    fn stored(&mut self, path: &str, s: &str) {
        self.scan.stored(format!("{}: {path}", self.label), s);
    }

    /// A single-line text that the record stores.
    fn line(&mut self, o: &Obj<'_>, key: &str) -> Result<String, IntakeError> {
        let s = o.string_req(key)?;
        let path = o.path(key);
        check_line(&path, &s)?;
        self.stored(&path, &s);
        Ok(s)
    }

    fn line_opt(&mut self, o: &Obj<'_>, key: &str) -> Result<Option<String>, IntakeError> {
        if o.get(key).is_none() {
            return Ok(None);
        }
        self.line(o, key).map(Some)
    }

    /// A list of single-line texts.
    fn lines(&mut self, o: &Obj<'_>, key: &str) -> Result<Vec<String>, IntakeError> {
        let mut out = Vec::new();
        for (i, v) in o.list(key)?.iter().enumerate() {
            let path = format!("{}[{i}]", o.path(key));
            let s = v.as_str().ok_or_else(|| {
                IntakeError::new(&path, format!("must be a string, not {}", type_name(v)))
            })?;
            check_line(&path, s)?;
            self.stored(&path, s);
            out.push(s.to_owned());
        }
        Ok(out)
    }

    /// The words of a command line, as they are: strings, judged by the record's rules
    /// (`action.command`) and scanned for credentials with the record's stored texts, as one
    /// line (`secrets::stored_texts`).
    fn words(&self, o: &Obj<'_>, key: &str) -> Result<Vec<String>, IntakeError> {
        let mut out = Vec::new();
        for (i, v) in o.list(key)?.iter().enumerate() {
            let s = v.as_str().ok_or_else(|| {
                IntakeError::new(
                    format!("{}[{i}]", o.path(key)),
                    format!("must be a string, not {}", type_name(v)),
                )
            })?;
            out.push(s.to_owned());
        }
        Ok(out)
    }

    /// Free text that the record stores (line feeds allowed).
    fn text(&mut self, o: &Obj<'_>, key: &str) -> Result<String, IntakeError> {
        let s = o.string_req(key)?;
        let path = o.path(key);
        if s.trim().is_empty() {
            return Err(IntakeError::new(path, "must not be blank"));
        }
        if s.len() > MAX_TEXT {
            return Err(IntakeError::new(
                path,
                format!("longer than {MAX_TEXT} bytes"),
            ));
        }
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(IntakeError::new(
                path,
                "contains a control character other than a line feed",
            ));
        }
        self.stored(&path, &s);
        Ok(s)
    }

    /// An identifier (principal id, agent id or role).
    fn ident(&mut self, o: &Obj<'_>, key: &str) -> Result<String, IntakeError> {
        let s = o.string_req(key)?;
        let path = o.path(key);
        if !record::is_ident(&s) {
            return Err(IntakeError::new(
                path,
                "must be an identifier: a letter or digit, then letters, digits and `._@+-`, at most 128 characters",
            ));
        }
        self.stored(&path, &s);
        Ok(s)
    }

    fn model(&mut self, v: &Value, path: &str) -> Result<Model, IntakeError> {
        let o = self.object(v, path)?;
        o.only(fields::MODEL)?;
        let m = Model {
            provider: self.line(&o, "provider")?,
            name: self.line(&o, "name")?,
            version: self.line(&o, "version")?,
        };
        if m.version_floats() {
            return Err(IntakeError::new(
                o.path("version"),
                format!(
                    "`{}` is a floating alias; pin the exact version that ran (e.g. a dated snapshot)",
                    m.version
                ),
            ));
        }
        Ok(m.normalized())
    }

    /// One context input.
    fn input(&mut self, v: &Value, i: usize) -> Result<Input, IntakeError> {
        let path = format!("context[{i}]");
        let o = self.object(v, &path)?;
        o.only(fields::INPUT)?;
        let kind = enum_value(&o, "kind", ContextKind::parse, || {
            ContextKind::ALL.iter().map(|k| k.as_str()).collect()
        })?;
        let name = self.line(&o, "name")?;
        let uri = self.line_opt(&o, "uri")?;
        let marked = o.bool_opt("digest_only")?.unwrap_or(false);
        let what = if kind == ContextKind::ToolCall {
            "the tool call's result"
        } else {
            "the input's content"
        };
        let scan_for = |field: &str| ContentScan {
            what: format!("{path}.{field}"),
            selectors: vec![name.clone()],
            marked,
            alternative: "\"digest_only\": true on the entry",
        };
        let content =
            self.content_or_digest(&o, ("content", "sha256", "size"), what, scan_for("content"))?;
        let arguments_sha256 = if kind == ContextKind::ToolCall {
            if o.get("arguments").is_some() == o.get("arguments_sha256").is_some() {
                return Err(IntakeError::new(
                    o.path("arguments"),
                    "a tool call gives either `arguments` (the arguments as text, hashed here) or `arguments_sha256`, not both and not neither",
                ));
            }
            Some(match o.string_opt("arguments")? {
                Some(args) => {
                    let c = scan_for("arguments");
                    self.hashed(&c, args.as_bytes());
                    digest::sha256_hex(args.as_bytes())
                }
                None => sha256_field(&o, "arguments_sha256")?,
            })
        } else {
            for k in ["arguments", "arguments_sha256"] {
                if o.get(k).is_some() {
                    return Err(IntakeError::new(
                        o.path(k),
                        format!(
                            "only `tool-call` inputs have arguments, not `{}`",
                            kind.as_str()
                        ),
                    ));
                }
            }
            None
        };
        // Also for inputs given as digests: `--digest-only NAME` then names a real input.
        let digest_only = self.scan.is_digest_only(&[name.as_str()], marked);
        Ok(Input {
            entry: ContextEntry {
                kind,
                name,
                uri,
                size: content.size,
                sha256: content.sha256,
                arguments_sha256,
            },
            origin: format!("{}: {path}", self.label),
            digest_only,
        })
    }

    /// Inline content (hashed, scanned, dropped) or its `sha256` and `size`: exactly one form.
    fn content_or_digest(
        &mut self,
        o: &Obj<'_>,
        (content_key, sha_key, size_key): (&str, &str, &str),
        what: &str,
        scan: ContentScan,
    ) -> Result<Digested, IntakeError> {
        let has_content = o.get(content_key).is_some();
        let has_sha = o.get(sha_key).is_some();
        let has_size = o.get(size_key).is_some();
        match (has_content, has_sha, has_size) {
            (true, false, false) => {
                let c = o.string_req(content_key)?;
                self.hashed(&scan, c.as_bytes());
                Ok(Digested::of(c.as_bytes()))
            }
            (false, true, true) => Ok(Digested {
                sha256: sha256_field(o, sha_key)?,
                size: o.u64_opt(size_key)?.unwrap_or_default(),
            }),
            (true, _, _) => Err(IntakeError::new(
                o.path(content_key),
                format!("give {what} either as `{content_key}` or as `{sha_key}` and `{size_key}`, not both"),
            )),
            (false, false, false) => Err(IntakeError::new(
                o.path(content_key),
                format!("missing: give {what} as `{content_key}` (text, hashed here and not stored) or as `{sha_key}` and `{size_key}`"),
            )),
            (false, true, false) => Err(IntakeError::new(
                o.path(size_key),
                format!("missing: `{sha_key}` needs `{size_key}`, the size in bytes"),
            )),
            (false, false, true) => Err(IntakeError::new(
                o.path(sha_key),
                format!("missing: `{size_key}` needs `{sha_key}`, the SHA-256 of {what}"),
            )),
        }
    }

    fn hashed(&mut self, c: &ContentScan, data: &[u8]) {
        let selectors: Vec<&str> = c.selectors.iter().map(String::as_str).collect();
        self.scan.hashed(
            format!("{}: {}", self.label, c.what),
            data,
            &selectors,
            c.marked,
            Some(c.alternative),
        );
    }
}

fn sha256_field(o: &Obj<'_>, key: &str) -> Result<String, IntakeError> {
    let s = o.string_req(key)?;
    if !digest::is_sha256_hex(&s) {
        return Err(IntakeError::new(
            o.path(key),
            "must be 64 lowercase hex digits (a SHA-256)",
        ));
    }
    Ok(s)
}

/// The record's single-line rule: not blank, at most 1024 bytes, no control character.
pub fn check_line(path: &str, s: &str) -> Result<(), IntakeError> {
    if s.trim().is_empty() {
        Err(IntakeError::new(path, "must not be blank"))
    } else if s.len() > MAX_LINE {
        Err(IntakeError::new(
            path,
            format!("longer than {MAX_LINE} bytes"),
        ))
    } else if s.chars().any(char::is_control) {
        Err(IntakeError::new(
            path,
            "contains a control character (a line break, tab or NUL)",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
