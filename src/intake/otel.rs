//! OpenTelemetry GenAI traces (OTLP JSON) as decision material.
//!
//! Reads a trace export in the OTLP JSON encoding — `{"resourceSpans": [{"resource": …,
//! "scopeSpans": [{"spans": [...]}]}]}`, one document or JSON Lines of documents, as the
//! collector's file exporter writes them — and maps the GenAI semantic conventions onto a
//! decision (the mapping table is in `docs/intake.md`):
//!
//! - the model: `gen_ai.provider.name` (or the older `gen_ai.system`), `gen_ai.request.model`
//!   and `gen_ai.response.model` (the pinned version) of the last model call;
//! - the agents: spans with `gen_ai.agent.id` / `gen_ai.agent.name`, each with the model its
//!   own calls ran;
//! - context entries, in time order: `gen_ai.system_instructions` and `gen_ai.input.messages`
//!   (or the older `gen_ai.prompt`), and one `tool-call` entry per `execute_tool` span with the
//!   digests of `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`;
//! - the recommendation's digest: `gen_ai.output.messages` (or the older `gen_ai.completion`) of
//!   the span that ended last.
//!
//! Content attributes are hashed, scanned for credentials and dropped. A string attribute is
//! hashed as its UTF-8 bytes, a bytes attribute as its bytes, any other (structured) value as
//! its compact JSON form. The trace cannot say who initiated the action or what it does: the
//! `record` command takes those from its flags.

use super::secrets::Scan;
use super::{Digested, Input, IntakeError};
use crate::record::{self, Agent, ContextEntry, ContextKind, Model};
use base64::Engine as _;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// An OTLP attribute value (`AnyValue`), decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Any {
    Null,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Any>),
    Kv(Vec<(String, Any)>),
}

impl Any {
    /// Decodes the OTLP JSON form: `{"stringValue": "…"}`, `{"intValue": "42"}`, …
    pub fn from_otlp(v: &Value) -> Result<Any, String> {
        let Some(o) = v.as_object() else {
            return Err("an attribute value must be an AnyValue mapping".into());
        };
        let Some((k, x)) = o.iter().next() else {
            return Ok(Any::Null);
        };
        if o.len() > 1 {
            return Err(format!(
                "an AnyValue has one field, this one has {}",
                o.len()
            ));
        }
        let bad = || format!("`{k}` has the wrong type");
        Ok(match k.as_str() {
            "stringValue" => Any::Str(x.as_str().ok_or_else(bad)?.to_owned()),
            "boolValue" => Any::Bool(x.as_bool().ok_or_else(bad)?),
            // int64 is a JSON string in the OTLP JSON encoding; numbers are accepted too.
            "intValue" => Any::Int(match x {
                Value::String(s) => s.parse().map_err(|_| bad())?,
                Value::Number(n) => n.as_i64().ok_or_else(bad)?,
                _ => return Err(bad()),
            }),
            "doubleValue" => Any::Double(match x {
                Value::Number(n) => n.as_f64().ok_or_else(bad)?,
                Value::String(s) => s.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }),
            "bytesValue" => Any::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(x.as_str().ok_or_else(bad)?)
                    .map_err(|_| bad())?,
            ),
            "arrayValue" => Any::Array(
                values(x)
                    .ok_or_else(bad)?
                    .iter()
                    .map(Any::from_otlp)
                    .collect::<Result<_, _>>()?,
            ),
            "kvlistValue" => Any::Kv(key_values(values(x).ok_or_else(bad)?)?),
            other => return Err(format!("unknown AnyValue field `{other}`")),
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Any::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON: mappings keep their key order, bytes become base64.
    pub fn to_json(&self) -> Value {
        match self {
            Any::Null => Value::Null,
            Any::Str(s) => Value::String(s.clone()),
            Any::Bool(b) => Value::Bool(*b),
            Any::Int(i) => Value::from(*i),
            Any::Double(d) => serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Any::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Any::Array(a) => Value::Array(a.iter().map(Any::to_json).collect()),
            Any::Kv(kv) => {
                Value::Object(kv.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// The bytes that are hashed: a string's UTF-8 bytes, a bytes value's bytes, any other value
    /// as compact JSON.
    pub fn content(&self) -> Vec<u8> {
        match self {
            Any::Str(s) => s.as_bytes().to_vec(),
            Any::Bytes(b) => b.clone(),
            other => other.to_json().to_string().into_bytes(),
        }
    }
}

/// `{"values": [...]}` of an arrayValue or kvlistValue.
fn values(v: &Value) -> Option<&[Value]> {
    match v.get("values") {
        None => Some(&[]),
        Some(Value::Array(a)) => Some(a),
        Some(_) => None,
    }
}

/// A list of OTLP `KeyValue`s.
fn key_values(list: &[Value]) -> Result<Vec<(String, Any)>, String> {
    list.iter()
        .map(|kv| {
            let key = kv
                .get("key")
                .and_then(Value::as_str)
                .ok_or("an attribute has no `key`")?;
            let value = match kv.get("value") {
                None | Some(Value::Null) => Any::Null,
                Some(v) => Any::from_otlp(v).map_err(|e| format!("attribute `{key}`: {e}"))?,
            };
            Ok((key.to_owned(), value))
        })
        .collect()
}

/// One span of the trace.
#[derive(Debug, Clone)]
pub struct Span {
    /// Position in the file, the tie-breaker for equal times.
    pub index: usize,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub start: u64,
    pub end: u64,
    pub attributes: Vec<(String, Any)>,
    /// Events: name and attributes.
    pub events: Vec<(String, Vec<(String, Any)>)>,
    /// The span's status is ERROR.
    pub error: bool,
    /// Index of its resource's attributes in [`Export::resources`].
    pub resource: usize,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&Any> {
        self.attributes
            .iter()
            .find(|(k, v)| k == key && *v != Any::Null)
            .map(|(_, v)| v)
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key)
            .and_then(Any::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// A content attribute: on the span, else on one of its events (older instrumentations
    /// put `gen_ai.prompt` on a `gen_ai.content.prompt` event; newer ones may put the messages
    /// on a `gen_ai.client.inference.operation.details` event). The first key found wins.
    fn content(&self, keys: &[&'static str]) -> Option<(&'static str, &Any)> {
        for k in keys {
            if let Some(v) = self.attr(k) {
                return Some((k, v));
            }
            for (_, attrs) in &self.events {
                if let Some((_, v)) = attrs.iter().find(|(ak, v)| ak == k && *v != Any::Null) {
                    return Some((k, v));
                }
            }
        }
        None
    }

    fn operation(&self) -> Option<&str> {
        self.attr_str("gen_ai.operation.name")
    }

    pub fn is_tool_call(&self) -> bool {
        self.operation() == Some("execute_tool")
            || self.name == "execute_tool"
            || self.name.starts_with("execute_tool ")
    }

    /// A span naming a model that is not a tool call.
    pub fn names_a_model(&self) -> bool {
        !self.is_tool_call()
            && (self.attr_str("gen_ai.request.model").is_some()
                || self.attr_str("gen_ai.response.model").is_some())
    }

    /// An inference span: `gen_ai.operation.name` is `chat`, `text_completion` or
    /// `generate_content` — the spans where a model ran. Agent, workflow, embeddings,
    /// retrieval and other spans may name a model too (since semantic conventions v1.41 and in
    /// semantic-conventions-genai, `gen_ai.request.model` on an in-process agent span is "the
    /// model configured for the agent"), but no model output came from them.
    pub fn is_inference(&self) -> bool {
        matches!(
            self.operation(),
            Some("chat" | "text_completion" | "generate_content")
        ) && self.names_a_model()
    }

    /// The agent a span belongs to, as `(attribute, value)`: `gen_ai.agent.id`, else
    /// `gen_ai.agent.name` — the only agent identity on in-process agent spans since the GenAI
    /// conventions moved to their own repository (`gen_ai.agent.id` now names hosted agents,
    /// e.g. an ARN), and also on `execute_tool` spans.
    fn agent_attr(&self) -> Option<(&'static str, &str)> {
        self.attr_str("gen_ai.agent.id")
            .map(|v| ("gen_ai.agent.id", v))
            .or_else(|| {
                self.attr_str("gen_ai.agent.name")
                    .map(|v| ("gen_ai.agent.name", v))
            })
    }

    /// The agent's id in the record: [`Span::agent_attr`]'s value as an identifier
    /// ([`agent_ident`]).
    fn agent_id(&self) -> Option<String> {
        self.agent_attr().and_then(|(_, v)| agent_ident(v))
    }

    /// `span 00f067aa0ba902b7 (chat claude-sonnet-4)`, for messages.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("span {}", self.span_id)
        } else {
            format!("span {} ({})", self.span_id, self.name)
        }
    }

    /// Where the span can be found again in a tracing backend.
    fn uri(&self) -> Option<String> {
        (!self.trace_id.is_empty() && !self.span_id.is_empty())
            .then(|| format!("otel://trace/{}/span/{}", self.trace_id, self.span_id))
    }
}

/// The spans of an export and their resources' attributes.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub spans: Vec<Span>,
    pub resources: Vec<Vec<(String, Any)>>,
}

/// Reads OTLP JSON: one `ExportTraceServiceRequest` document, or JSON Lines of them.
pub fn read_export(bytes: &[u8]) -> Result<Export, IntakeError> {
    let docs: Vec<(String, Value)> = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => vec![(String::new(), v)],
        Err(whole) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| IntakeError::new("", format!("not UTF-8 JSON: {e}")))?;
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .collect();
            if lines.len() < 2 {
                return Err(IntakeError::new("", format!("not OTLP JSON: {whole}")));
            }
            let mut docs = Vec::new();
            for (n, l) in lines {
                let v = serde_json::from_str(l).map_err(|e| {
                    IntakeError::new(
                        format!("line {}", n + 1),
                        format!("not OTLP JSON (as one document: {whole}; as JSON Lines: {e})"),
                    )
                })?;
                docs.push((format!("line {}: ", n + 1), v));
            }
            docs
        }
    };
    let mut export = Export::default();
    for (at, doc) in &docs {
        let Some(resource_spans) = doc.get("resourceSpans").and_then(Value::as_array) else {
            return Err(IntakeError::new(
                format!("{at}resourceSpans"),
                "missing: an OTLP JSON trace export has a `resourceSpans` list",
            ));
        };
        for (ri, rs) in resource_spans.iter().enumerate() {
            let path = format!("{at}resourceSpans[{ri}]");
            let attrs = match rs.pointer("/resource/attributes") {
                Some(Value::Array(a)) => {
                    key_values(a).map_err(|e| IntakeError::new(format!("{path}.resource"), e))?
                }
                _ => Vec::new(),
            };
            export.resources.push(attrs);
            let resource = export.resources.len() - 1;
            // `instrumentationLibrarySpans`: the name before OTLP 0.15.
            let scopes = rs
                .get("scopeSpans")
                .or_else(|| rs.get("instrumentationLibrarySpans"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (si, ss) in scopes.iter().enumerate() {
                let spans = ss
                    .get("spans")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for (pi, s) in spans.iter().enumerate() {
                    let path = format!("{path}.scopeSpans[{si}].spans[{pi}]");
                    let span = read_span(s, export.spans.len(), resource)
                        .map_err(|e| IntakeError::new(path, e))?;
                    export.spans.push(span);
                }
            }
        }
    }
    Ok(export)
}

fn read_span(s: &Value, index: usize, resource: usize) -> Result<Span, String> {
    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let time = |k: &str| -> Result<u64, String> {
        match s.get(k) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::String(t)) => t.parse().map_err(|_| format!("`{k}` is not a number")),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("`{k}` is not a number")),
            Some(_) => Err(format!("`{k}` is not a number")),
        }
    };
    let attributes = match s.get("attributes") {
        Some(Value::Array(a)) => key_values(a)?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("`attributes` must be a list".into()),
    };
    let mut events = Vec::new();
    if let Some(Value::Array(evs)) = s.get("events") {
        for e in evs {
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let attrs = match e.get("attributes") {
                Some(Value::Array(a)) => {
                    key_values(a).map_err(|m| format!("event `{name}`: {m}"))?
                }
                _ => Vec::new(),
            };
            events.push((name, attrs));
        }
    }
    // STATUS_CODE_ERROR is 2; the JSON encoding may carry the enum's number or its name.
    let error = match s.pointer("/status/code") {
        Some(Value::Number(n)) => n.as_u64() == Some(2),
        Some(Value::String(c)) => c == "STATUS_CODE_ERROR" || c == "2",
        _ => false,
    };
    Ok(Span {
        index,
        trace_id: text("traceId"),
        span_id: text("spanId"),
        parent_span_id: text("parentSpanId"),
        name: text("name"),
        start: time("startTimeUnixNano")?,
        end: time("endTimeUnixNano")?,
        attributes,
        events,
        error,
        resource,
    })
}

/// The model of the trace's last model call, as far as the trace says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceModel {
    /// The span, for messages.
    pub span: String,
    pub provider: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
}

/// What a trace says about a decision.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The last model call's model, if any span names one.
    pub model: Option<TraceModel>,
    pub agents: Vec<Agent>,
    /// Prompts, system instructions and tool calls, in time order.
    pub inputs: Vec<Input>,
    /// The digest of the last model output, when asked for and present.
    pub output: Option<(Digested, String)>,
    pub spans: usize,
    pub tool_calls: usize,
}

impl Trace {
    /// The pinned model of the last model call, or why the trace cannot say.
    pub fn model(&self, label: &str) -> Result<Model, IntakeError> {
        let hint = "pass --model PROVIDER/NAME@VERSION";
        let Some(m) = &self.model else {
            return Err(IntakeError::new(
                label,
                format!(
                    "no span names a model (gen_ai.request.model, gen_ai.response.model); {hint}"
                ),
            ));
        };
        let at = format!("{label}: {}", m.span);
        let provider = m.provider.clone().ok_or_else(|| {
            IntakeError::new(
                &at,
                format!("no gen_ai.provider.name (or gen_ai.system) on the span, its parents or its resource; {hint}"),
            )
        })?;
        let version = m.version.clone().ok_or_else(|| {
            IntakeError::new(
                &at,
                format!("no gen_ai.response.model: the trace does not say which model version ran; {hint}"),
            )
        })?;
        if record::version_floats(m.name.as_deref(), &version) {
            return Err(IntakeError::new(
                &at,
                format!("gen_ai.response.model `{version}` is a floating alias, not a pinned version; {hint}"),
            ));
        }
        Ok(Model {
            provider,
            name: m.name.clone().unwrap_or_else(|| version.clone()),
            version,
        }
        .normalized())
    }
}

/// Maps an OTLP JSON trace export (named `label` in messages) onto decision material.
///
/// `with_output`: take the recommendation's digest from the trace (false when the caller has
/// the output from elsewhere; the trace's output is then neither read nor scanned).
pub fn parse_trace(
    label: &str,
    bytes: &[u8],
    with_output: bool,
    scan: &mut Scan,
) -> Result<Trace, IntakeError> {
    let export = read_export(bytes).map_err(|e| at_file(label, e))?;
    let mut order: Vec<&Span> = export.spans.iter().collect();
    order.sort_by_key(|s| (s.start, s.index));
    let by_id: SpanIndex<'_> = export
        .spans
        .iter()
        .filter(|s| !s.span_id.is_empty())
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let provider_of = |s: &Span| -> Option<String> {
        let keys = ["gen_ai.provider.name", "gen_ai.system"];
        lineage(s, &by_id)
            .iter()
            .find_map(|a| keys.iter().find_map(|k| a.attr_str(k)))
            .or_else(|| {
                export.resources.get(s.resource).and_then(|attrs| {
                    keys.iter().find_map(|k| {
                        attrs
                            .iter()
                            .find(|(ak, _)| ak == k)
                            .and_then(|(_, v)| v.as_str())
                    })
                })
            })
            .map(str::to_owned)
    };
    let model_of = |s: &Span| TraceModel {
        span: s.label(),
        provider: provider_of(s),
        name: s.attr_str("gen_ai.request.model").map(str::to_owned),
        version: s.attr_str("gen_ai.response.model").map(str::to_owned),
    };

    let mut inputs: Vec<Input> = Vec::new();
    let mut seen_content: BTreeSet<(&str, String)> = BTreeSet::new();
    let mut output: Option<(&Span, &'static str, &Any)> = None;
    let mut tool_calls = 0;
    for s in &order {
        let at = format!("{label}: {}", s.label());
        if s.is_tool_call() {
            inputs.push(tool_call(s, &at, scan)?);
            tool_calls += 1;
            continue;
        }
        for (kind, keys) in [
            (
                ContextKind::SystemInstructions,
                &["gen_ai.system_instructions"][..],
            ),
            (
                ContextKind::Prompt,
                &["gen_ai.input.messages", "gen_ai.prompt"][..],
            ),
        ] {
            let Some((key, value)) = s.content(keys) else {
                continue;
            };
            let data = value.content();
            let d = Digested::of(&data);
            // Agent spans often repeat the prompt their first model call saw: record it once.
            if !seen_content.insert((kind.as_str(), d.sha256.clone())) {
                continue;
            }
            let name = entry_name(s);
            let digest_only = scan.is_digest_only(&[name.as_str()], false);
            scan.hashed(format!("{at}, {key}"), &data, &[name.as_str()], false, None);
            inputs.push(entry(s, &at, kind, name, d, None, digest_only, scan));
        }
        if with_output {
            if let Some((key, value)) = s.content(&["gen_ai.output.messages", "gen_ai.completion"])
            {
                let later = output.is_none_or(|(o, _, _)| (s.end, s.index) > (o.end, o.index));
                if later {
                    output = Some((s, key, value));
                }
            }
        }
    }
    let output = output.map(|(s, key, value)| {
        let data = value.content();
        let at = format!("{label}: {}, {key}", s.label());
        scan.hashed(&at, &data, &["output"], false, None);
        (Digested::of(&data), at)
    });

    // The model of the last inference span; a trace without operation names (older
    // instrumentations) falls back to the last span naming a model.
    let model_calls: Vec<&Span> = if order.iter().any(|s| s.is_inference()) {
        order.iter().copied().filter(|s| s.is_inference()).collect()
    } else {
        order
            .iter()
            .copied()
            .filter(|s| s.names_a_model())
            .collect()
    };
    let model = model_calls
        .iter()
        .max_by_key(|s| (s.end, s.index))
        .map(|s| model_of(s));

    // Agents, in order of first appearance; each with the model of its last own model call.
    let mut agents: Vec<Agent> = Vec::new();
    let mut agent_model_end: HashMap<String, (u64, usize)> = HashMap::new();
    for s in &order {
        let Some((key, value)) = s.agent_attr() else {
            continue;
        };
        let at = format!("{label}: {}", s.label());
        let Some(id) = agent_ident(value) else {
            return Err(IntakeError::new(
                at,
                format!("{key} `{value}` has no letter or digit to make an agent id of; set gen_ai.agent.id, or list the agents with --agent ID:ROLE"),
            ));
        };
        scan.stored(format!("{at}, {key}"), &id);
        if !agents.iter().any(|a| a.id == id) {
            let role = s
                .attr_str("aiaudit.agent.role")
                .filter(|r| record::is_ident(r))
                .unwrap_or("agent");
            scan.stored(format!("{at}, aiaudit.agent.role"), role);
            agents.push(Agent {
                id,
                role: role.to_owned(),
                model: None,
            });
        }
    }
    for s in model_calls.iter().copied() {
        let Some(id) = lineage(s, &by_id).into_iter().find_map(|a| a.agent_id()) else {
            continue;
        };
        let m = model_of(s);
        let (Some(provider), Some(version)) = (m.provider, m.version) else {
            continue;
        };
        if record::version_floats(m.name.as_deref(), &version) {
            return Err(IntakeError::new(
                format!("{label}: {}", s.label()),
                format!(
                    "gen_ai.response.model `{version}` is a floating alias, not a pinned version"
                ),
            ));
        }
        let key = (s.end, s.index);
        if agent_model_end.get(&id).is_some_and(|k| *k > key) {
            continue;
        }
        agent_model_end.insert(id.clone(), key);
        if let Some(a) = agents.iter_mut().find(|a| a.id == id) {
            let model = Model {
                provider,
                name: m.name.unwrap_or_else(|| version.clone()),
                version,
            }
            .normalized();
            let at = format!("{label}: {}", s.label());
            scan.stored(format!("{at}, gen_ai.provider.name"), &model.provider);
            scan.stored(format!("{at}, gen_ai.request.model"), &model.name);
            scan.stored(format!("{at}, gen_ai.response.model"), &model.version);
            a.model = Some(model);
        }
    }
    if let Some(m) = &model {
        let at = format!("{label}: {}", m.span);
        for (k, v) in [
            ("gen_ai.provider.name", &m.provider),
            ("gen_ai.request.model", &m.name),
            ("gen_ai.response.model", &m.version),
        ] {
            if let Some(v) = v {
                scan.stored(format!("{at}, {k}"), v);
            }
        }
    }
    Ok(Trace {
        model,
        agents,
        inputs,
        output,
        spans: export.spans.len(),
        tool_calls,
    })
}

type SpanIndex<'a> = HashMap<(&'a str, &'a str), &'a Span>;

/// An agent's id in the record from a trace's agent id or name: kept as it is when it is an
/// identifier (letters, digits, `._@+-`); otherwise every run of other characters becomes one
/// `-`, leading and trailing `-` dropped, at most 128 characters (`Math Tutor` → `Math-Tutor`,
/// `arn:aws:bedrock:us-east-1:123:agent/42` → `arn-aws-bedrock-us-east-1-123-agent-42`).
/// `None` when nothing is left.
pub fn agent_ident(value: &str) -> Option<String> {
    if record::is_ident(value) {
        return Some(value.to_owned());
    }
    let mut out = String::new();
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(128)
        .collect();
    let out = out
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    record::is_ident(&out).then_some(out)
}

/// The span and its ancestors, nearest first (a cycle in a broken export is cut).
fn lineage<'a>(s: &'a Span, by_id: &SpanIndex<'a>) -> Vec<&'a Span> {
    let mut out: Vec<&Span> = Vec::new();
    let mut cur = Some(s);
    while let Some(c) = cur {
        if out.iter().any(|o| o.index == c.index) {
            break;
        }
        out.push(c);
        cur = by_id
            .get(&(c.trace_id.as_str(), c.parent_span_id.as_str()))
            .copied();
    }
    out
}

fn at_file(label: &str, e: IntakeError) -> IntakeError {
    if e.field.is_empty() {
        IntakeError::new(label, e.message)
    } else {
        IntakeError::new(format!("{label}: {}", e.field), e.message)
    }
}

/// The name of a prompt or system-instructions entry: the span's name.
fn entry_name(s: &Span) -> String {
    if !s.name.trim().is_empty() {
        s.name.clone()
    } else {
        s.operation()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("span {}", s.span_id))
    }
}

#[allow(clippy::too_many_arguments)]
fn entry(
    s: &Span,
    at: &str,
    kind: ContextKind,
    name: String,
    d: Digested,
    arguments_sha256: Option<String>,
    digest_only: bool,
    scan: &mut Scan,
) -> Input {
    let uri = s.uri();
    scan.stored(format!("{at}, its name"), &name);
    if let Some(u) = &uri {
        scan.stored(format!("{at}, its trace and span ids"), u);
    }
    Input {
        entry: ContextEntry {
            kind,
            name,
            uri,
            size: d.size,
            sha256: d.sha256,
            arguments_sha256,
        },
        origin: at.to_owned(),
        digest_only,
    }
}

/// One `execute_tool` span as a `tool-call` entry.
fn tool_call(s: &Span, at: &str, scan: &mut Scan) -> Result<Input, IntakeError> {
    let name = s
        .attr_str("gen_ai.tool.name")
        .map(str::to_owned)
        .or_else(|| {
            s.name
                .strip_prefix("execute_tool ")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        })
        .ok_or_else(|| {
            IntakeError::new(
                at,
                "a tool call without gen_ai.tool.name (or a span name `execute_tool NAME`)",
            )
        })?;
    super::check_line(&format!("{at}, gen_ai.tool.name"), &name)?;
    let capture = "the trace was exported without tool content; enable content capture in the instrumentation (often OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true), or record the call with --tool-call NAME=ARGS_FILE,RESULT_FILE";
    let (akey, args) = s
        .content(&["gen_ai.tool.call.arguments"])
        .map(|(k, v)| (k, v.content()))
        .ok_or_else(|| {
            IntakeError::new(
                at,
                format!("tool call `{name}` has no gen_ai.tool.call.arguments, so its arguments cannot be digested: {capture}"),
            )
        })?;
    let (rkey, result) = match s.content(&["gen_ai.tool.call.result"]) {
        Some((k, v)) => (k, v.content()),
        // A call that failed returned nothing: its result is empty.
        None if s.error => ("gen_ai.tool.call.result", Vec::new()),
        None => {
            return Err(IntakeError::new(
                at,
                format!("tool call `{name}` has no gen_ai.tool.call.result (and did not fail), so its result cannot be digested: {capture}"),
            ))
        }
    };
    let digest_only = scan.is_digest_only(&[name.as_str()], false);
    scan.hashed(
        format!("{at}, {akey}"),
        &args,
        &[name.as_str()],
        false,
        None,
    );
    scan.hashed(
        format!("{at}, {rkey}"),
        &result,
        &[name.as_str()],
        false,
        None,
    );
    let mut input = entry(
        s,
        at,
        ContextKind::ToolCall,
        name,
        Digested::of(&result),
        Some(record::digest::sha256_hex(&args)),
        digest_only,
        scan,
    );
    if let Some(id) = s.attr_str("gen_ai.tool.call.id") {
        if let Some(uri) = &mut input.entry.uri {
            uri.push_str("?tool_call_id=");
            uri.push_str(&percent_encode(id));
            scan.stored(format!("{at}, gen_ai.tool.call.id"), uri);
        }
    }
    Ok(input)
}

/// Percent-encodes everything but unreserved URI characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> Value {
        json!({ "stringValue": v })
    }

    fn kv(k: &str, v: Value) -> Value {
        json!({ "key": k, "value": v })
    }

    fn span(id: &str, parent: &str, name: &str, start: u64, attrs: Vec<Value>) -> Value {
        json!({
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanId": id,
            "parentSpanId": parent,
            "name": name,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 10).to_string(),
            "attributes": attrs,
        })
    }

    fn export(spans: Vec<Value>) -> Vec<u8> {
        json!({
            "resourceSpans": [{
                "resource": { "attributes": [kv("service.name", s("agent"))] },
                "scopeSpans": [{ "scope": { "name": "test" }, "spans": spans }]
            }]
        })
        .to_string()
        .into_bytes()
    }

    fn chat(id: &str, parent: &str, start: u64) -> Value {
        span(
            id,
            parent,
            "chat claude-sonnet-4",
            start,
            vec![
                kv("gen_ai.operation.name", s("chat")),
                kv("gen_ai.provider.name", s("anthropic")),
                kv("gen_ai.request.model", s("claude-sonnet-4")),
                kv("gen_ai.response.model", s("claude-sonnet-4-20250514")),
                kv(
                    "gen_ai.input.messages",
                    s(r#"[{"role":"user","parts":[{"type":"text","content":"Grant read?"}]}]"#),
                ),
                kv(
                    "gen_ai.output.messages",
                    s(r#"[{"role":"assistant","parts":[{"type":"text","content":"Yes"}]}]"#),
                ),
            ],
        )
    }

    fn tool(id: &str, parent: &str, start: u64, name: &str, args: &str, result: &str) -> Value {
        span(
            id,
            parent,
            &format!("execute_tool {name}"),
            start,
            vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("gen_ai.tool.name", s(name)),
                kv("gen_ai.tool.call.id", s("call_1")),
                kv("gen_ai.tool.call.arguments", s(args)),
                kv("gen_ai.tool.call.result", s(result)),
            ],
        )
    }

    #[test]
    fn any_values_decode_and_hash_as_documented() {
        let v = json!({ "kvlistValue": { "values": [
            kv("b", json!({ "intValue": "2" })),
            kv("a", json!({ "arrayValue": { "values": [ { "boolValue": true }, { "doubleValue": 1.5 } ] } })),
        ]}});
        let a = Any::from_otlp(&v).unwrap();
        assert_eq!(a.content(), br#"{"b":2,"a":[true,1.5]}"#.to_vec());
        assert_eq!(
            Any::from_otlp(&s("x y")).unwrap().content(),
            b"x y".to_vec()
        );
        assert_eq!(
            Any::from_otlp(&json!({ "bytesValue": "AAEC" }))
                .unwrap()
                .content(),
            vec![0, 1, 2]
        );
        assert_eq!(Any::from_otlp(&json!({})).unwrap(), Any::Null);
        assert!(Any::from_otlp(&json!({ "intValue": "x" })).is_err());
        assert!(Any::from_otlp(&json!({ "nope": 1 })).is_err());
        assert!(Any::from_otlp(&json!("bare")).is_err());
    }

    #[test]
    fn maps_model_agents_tool_calls_and_output() {
        let agent = span(
            "a1",
            "",
            "invoke_agent planner",
            100,
            vec![
                kv("gen_ai.operation.name", s("invoke_agent")),
                kv("gen_ai.agent.id", s("svc-planner")),
                kv("aiaudit.agent.role", s("proposer")),
            ],
        );
        let mut agent = agent;
        agent["endTimeUnixNano"] = json!("1000");
        let bytes = export(vec![
            tool("t2", "a1", 300, "db.grant", "{\"role\":\"read\"}", "ok"),
            chat("c1", "a1", 110),
            agent,
            tool(
                "t1",
                "a1",
                200,
                "db.list_roles",
                "{\"db\":\"orders\"}",
                "[\"r\"]",
            ),
        ]);
        let mut scan = Scan::default();
        let t = parse_trace("trace.json", &bytes, true, &mut scan).unwrap();
        assert!(scan.refused.is_empty(), "{:?}", scan.refused);
        let m = t.model("trace.json").unwrap();
        assert_eq!(m.trailer(), "anthropic/claude-sonnet-4@20250514");
        assert_eq!(t.agents.len(), 1);
        assert_eq!(t.agents[0].id, "svc-planner");
        assert_eq!(t.agents[0].role, "proposer");
        assert_eq!(t.agents[0].model.as_ref(), Some(&m));
        let kinds: Vec<(&str, &str)> = t
            .inputs
            .iter()
            .map(|i| (i.entry.kind.as_str(), i.entry.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("prompt", "chat claude-sonnet-4"),
                ("tool-call", "db.list_roles"),
                ("tool-call", "db.grant"),
            ]
        );
        let t1 = &t.inputs[1].entry;
        assert_eq!(t1.sha256, record::digest::sha256_hex(b"[\"r\"]"));
        assert_eq!(t1.size, 5);
        assert_eq!(
            t1.arguments_sha256.as_deref(),
            Some(record::digest::sha256_hex(b"{\"db\":\"orders\"}").as_str())
        );
        assert_eq!(
            t1.uri.as_deref(),
            Some("otel://trace/4bf92f3577b34da6a3ce929d0e0e4736/span/t1?tool_call_id=call_1")
        );
        let (out, _) = t.output.unwrap();
        assert_eq!(
            out.sha256,
            record::digest::sha256_hex(
                br#"[{"role":"assistant","parts":[{"type":"text","content":"Yes"}]}]"#
            )
        );
        assert_eq!((t.spans, t.tool_calls), (4, 2));
    }

    #[test]
    fn legacy_names_and_events() {
        let mut c = span(
            "c1",
            "",
            "chat gpt-4o",
            1,
            vec![
                kv("gen_ai.system", s("openai")),
                kv("gen_ai.request.model", s("gpt-4o")),
                kv("gen_ai.response.model", s("gpt-4o-2024-08-06")),
            ],
        );
        c["events"] = json!([
            { "name": "gen_ai.content.prompt", "attributes": [kv("gen_ai.prompt", s("hello"))] },
            { "name": "gen_ai.content.completion", "attributes": [kv("gen_ai.completion", s("hi"))] },
        ]);
        let mut scan = Scan::default();
        let t = parse_trace("t.json", &export(vec![c]), true, &mut scan).unwrap();
        assert_eq!(
            t.model("t.json").unwrap().trailer(),
            "openai/gpt-4o@2024-08-06"
        );
        assert_eq!(t.inputs.len(), 1);
        assert_eq!(
            t.inputs[0].entry.sha256,
            record::digest::sha256_hex(b"hello")
        );
        assert_eq!(
            t.output.unwrap().0.sha256,
            record::digest::sha256_hex(b"hi")
        );
    }

    #[test]
    fn json_lines_are_read() {
        let a = String::from_utf8(export(vec![chat("c1", "", 1)])).unwrap();
        let b = String::from_utf8(export(vec![tool("t1", "", 2, "x", "{}", "1")])).unwrap();
        let both = format!("{a}\n{b}\n");
        let mut scan = Scan::default();
        let t = parse_trace("t.jsonl", both.as_bytes(), true, &mut scan).unwrap();
        assert_eq!(t.spans, 2);
    }

    #[test]
    fn refusals_name_the_span_and_attribute() {
        let mut scan = Scan::default();
        // No response model: the version is unknown.
        let mut c = chat("c1", "", 1);
        c["attributes"].as_array_mut().unwrap().remove(3);
        let t = parse_trace("t.json", &export(vec![c]), true, &mut scan).unwrap();
        let e = t.model("t.json").unwrap_err().to_string();
        assert!(
            e.contains("span c1 (chat claude-sonnet-4)") && e.contains("gen_ai.response.model"),
            "{e}"
        );

        // A floating version.
        let mut c = chat("c1", "", 1);
        c["attributes"][3] = kv("gen_ai.response.model", s("latest"));
        let t = parse_trace("t.json", &export(vec![c]), true, &mut scan).unwrap();
        assert!(t
            .model("t.json")
            .unwrap_err()
            .to_string()
            .contains("floating"));

        // A tool call without captured arguments.
        let mut tl = tool("t1", "", 1, "db.query", "{}", "1");
        tl["attributes"].as_array_mut().unwrap().remove(3);
        let e = parse_trace("t.json", &export(vec![tl]), true, &mut scan)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.json: span t1 (execute_tool db.query): tool call `db.query` has no gen_ai.tool.call.arguments"), "{e}");

        // A failed tool call has an empty result.
        let mut tl = tool("t1", "", 1, "db.query", "{}", "1");
        tl["attributes"].as_array_mut().unwrap().remove(4);
        tl["status"] = json!({ "code": 2 });
        let t = parse_trace("t.json", &export(vec![tl]), true, &mut scan).unwrap();
        assert_eq!(t.inputs[0].entry.size, 0);

        // Not an export at all.
        let e = parse_trace("t.json", b"{\"spans\": []}", true, &mut scan)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.json: resourceSpans: missing"), "{e}");
        let e = parse_trace("t.json", b"not json", true, &mut scan)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.json: not OTLP JSON"), "{e}");
        assert!(scan.refused.is_empty());
    }

    #[test]
    fn secrets_in_tool_content_are_refused_unless_digest_only() {
        let args = "{\"dsn\":\"postgres://app:s3cr3t-Pa55@db/orders\"}";
        let bytes = export(vec![tool("t1", "", 1, "db.query", args, "1")]);
        let mut scan = Scan::default();
        parse_trace("t.json", &bytes, true, &mut scan).unwrap();
        assert_eq!(scan.refused.len(), 1);
        let msg = scan.refused[0].to_string();
        assert!(
            msg.starts_with("t.json: span t1 (execute_tool db.query), gen_ai.tool.call.arguments: looks like a password in a URL (rule url-password); record it as a digest only with --digest-only db.query"),
            "{msg}"
        );
        let mut scan = Scan::new(["db.query".to_owned()]);
        let t = parse_trace("t.json", &bytes, true, &mut scan).unwrap();
        assert!(scan.refused.is_empty());
        assert_eq!(scan.noted.len(), 1);
        assert!(t.inputs[0].digest_only);
        assert!(scan.unused_selectors().is_empty());
    }

    #[test]
    fn agent_names_become_identifiers() {
        assert_eq!(agent_ident("svc.planner").as_deref(), Some("svc.planner"));
        assert_eq!(agent_ident("Math Tutor").as_deref(), Some("Math-Tutor"));
        assert_eq!(
            agent_ident("arn:aws:bedrock:us-east-1:123:agent/42").as_deref(),
            Some("arn-aws-bedrock-us-east-1-123-agent-42")
        );
        assert_eq!(agent_ident(" «Planner» ").as_deref(), Some("Planner"));
        assert_eq!(
            agent_ident("x".repeat(300).as_str()).map(|i| i.len()),
            Some(128)
        );
        assert_eq!(agent_ident("«»"), None);
        let a = span(
            "a1",
            "",
            "invoke_agent",
            1,
            vec![kv("gen_ai.agent.name", s("Math Tutor"))],
        );
        let mut scan = Scan::default();
        let t = parse_trace("t.json", &export(vec![a.clone()]), true, &mut scan).unwrap();
        assert_eq!(t.agents[0].id, "Math-Tutor");
        let mut b = a;
        b["attributes"] = json!([kv("gen_ai.agent.name", s("«»"))]);
        let e = parse_trace("t.json", &export(vec![b]), true, &mut scan)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("gen_ai.agent.name `«»` has no letter or digit"),
            "{e}"
        );
    }

    #[test]
    fn the_model_is_the_last_inference_not_an_agent_span_naming_its_model() {
        // semantic-conventions-genai: the in-process agent span may carry the model configured
        // for the agent (`gen_ai.request.model`), and it ends last; the model that ran is the
        // chat span's.
        let mut agent = span("a1", "", "invoke_agent", 0, vec![]);
        agent["name"] = json!("invoke_agent planner");
        agent["endTimeUnixNano"] = json!("9000");
        agent["attributes"] = json!([
            kv("gen_ai.operation.name", s("invoke_agent")),
            kv("gen_ai.agent.name", s("planner")),
            kv("gen_ai.request.model", s("claude-sonnet-4")),
        ]);
        let mut scan = Scan::default();
        let t = parse_trace(
            "t.json",
            &export(vec![agent, chat("c1", "a1", 1)]),
            true,
            &mut scan,
        )
        .unwrap();
        let m = t.model("t.json").unwrap();
        assert_eq!(m.trailer(), "anthropic/claude-sonnet-4@20250514");
        assert_eq!(t.agents[0].id, "planner");
        assert_eq!(
            t.agents[0].model.as_ref().map(|m| m.trailer()),
            Some(m.trailer())
        );
    }
}
