//! Events, schema `aiaudit/event/v1`: later facts about a decision — its outcome (the final
//! system action), a signed post-action review, an annotation. Immutable like decisions, at
//! `events/YYYY/MM/DD/HH/<id>.yaml`, in the same canonical form.

use super::{
    check_text, format_created, is_ident, is_ulid, parse_created, yaml_error, ContentDigest,
    PrincipalKind, Validator,
};
use crate::diag::{Code, Diagnostic};
use serde::{Deserialize, Serialize};

pub const EVENT_SCHEMA: &str = "aiaudit/event/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Always `aiaudit/event/v1`.
    pub schema: String,
    /// A ULID, unique across decisions and events; its timestamp equals `created`.
    pub id: String,
    pub created: String,
    /// The decision this event is about (must exist on main).
    pub decision: String,
    pub kind: EventKind,
    /// Who records the event: the executor for an outcome, the reviewer for a review.
    pub actor: Actor,
    /// For `outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// For `review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// For `annotation` (and optional elsewhere): free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Outcome,
    Review,
    Annotation,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Outcome => "outcome",
            EventKind::Review => "review",
            EventKind::Annotation => "annotation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub kind: PrincipalKind,
}

/// The final system action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: OutcomeStatus,
    /// What was done, e.g. `merged`, `granted role db-read`.
    pub action: String,
    /// The system's own reference: merge commit, change id, grant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the action happened (RFC 3339 UTC), if it differs from `created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The evidence of the execution, as the executor saw it. When the execution began and
    /// ended (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// The exit code of the command that executed the action, where there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The system's result in its own words, one line (e.g. `HTTP 201`, `grant g-7 active`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The execution's output, by digest and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<ContentDigest>,
    /// The execution's log, by digest and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<ContentDigest>,
}

impl Outcome {
    /// An outcome saying only what was done: status and action (evidence fields empty).
    pub fn new(status: OutcomeStatus, action: impl Into<String>) -> Self {
        Outcome {
            status,
            action: action.into(),
            reference: None,
            at: None,
            started: None,
            finished: None,
            exit_code: None,
            result: None,
            output: None,
            log: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeStatus {
    Executed,
    Failed,
    Aborted,
    RolledBack,
}

impl OutcomeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Executed => "executed",
            OutcomeStatus::Failed => "failed",
            OutcomeStatus::Aborted => "aborted",
            OutcomeStatus::RolledBack => "rolled-back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Executed,
            Self::Failed,
            Self::Aborted,
            Self::RolledBack,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A post-action review, signed by the reviewer (a `Reviewed-by` trailer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub verdict: ReviewVerdict,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewVerdict {
    Accepted,
    Concerns,
    Rejected,
}

impl ReviewVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Accepted => "accepted",
            ReviewVerdict::Concerns => "concerns",
            ReviewVerdict::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Accepted, Self::Concerns, Self::Rejected]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// Where an event lives: `events/YYYY/MM/DD/HH/<id>.yaml`.
pub fn event_path(e: &Event) -> Option<String> {
    record_path("events", &e.id, &e.created)
}

/// `<dir>/YYYY/MM/DD/HH/<id>.yaml`, from the record's creation time (UTC): a directory per
/// hour keeps every tree a commit rewrites small however many records a day brings (SPEC §4),
/// and the path stays a pure function of the id, navigable by date.
pub(super) fn record_path(dir: &str, id: &str, created: &str) -> Option<String> {
    let y = created.get(0..4)?;
    let m = created.get(5..7)?;
    let d = created.get(8..10)?;
    let h = created.get(11..13)?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (digits(y) && digits(m) && digits(d) && digits(h) && is_ulid(id))
        .then(|| format!("{dir}/{y}/{m}/{d}/{h}/{id}.yaml"))
}

/// Where the record with ULID `id` of the kind under `dir` must live, from the id alone (its
/// timestamp is the record's creation second).
pub fn path_for_id(dir: &str, id: &str) -> Option<String> {
    let u = ulid::Ulid::from_string(id).ok()?;
    let ts = jiff::Timestamp::from_second((u.timestamp_ms() / 1000) as i64).ok()?;
    record_path(dir, id, &format_created(ts))
}

/// Parses and fully checks the bytes of an event file found at `path` (see
/// [`super::check_decision`]).
pub fn check_event(path: &str, bytes: &[u8]) -> (Option<Event>, Vec<Diagnostic>) {
    let text = match check_text(bytes) {
        Ok(t) => t,
        Err(d) => return (None, vec![d.at_path(path)]),
    };
    if let Err(d) = super::check_yaml_bounds(text) {
        return (None, vec![d.at_path(path)]);
    }
    let (event, mut diags): (Event, _) = match super::read_canonical(text, bytes) {
        Ok(x) => x,
        Err(e) => return (None, vec![yaml_error(e).at_path(path)]),
    };
    diags.extend(validate_event(&event));
    if let Some(expected) = event_path(&event) {
        if expected != path {
            diags.push(Diagnostic::new(
                Code::PathMismatch,
                format!("event {} belongs at {expected}", event.id),
            ));
        }
    }
    for d in &mut diags {
        d.path = Some(path.to_owned());
    }
    (Some(event), diags)
}

pub fn validate_event(e: &Event) -> Vec<Diagnostic> {
    let mut v = Validator::default();
    if e.schema != EVENT_SCHEMA {
        v.invalid("schema", format!("must be `{EVENT_SCHEMA}`"));
    }
    let created = parse_created(&e.created);
    if created.is_none() {
        v.invalid("created", "must be RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ`");
    }
    v.ulid_matches("id", &e.id, created, &e.created);
    if !is_ulid(&e.decision) {
        v.push(Code::IdInvalid, "decision: must be a decision id (a ULID)");
    }
    if !is_ident(&e.actor.id) {
        v.invalid("actor.id", format!("`{}` is not an identifier", e.actor.id));
    }
    let sections = (e.outcome.is_some(), e.review.is_some());
    match (e.kind, sections) {
        (EventKind::Outcome, (true, false)) => {}
        (EventKind::Review, (false, true)) => {}
        (EventKind::Annotation, (false, false)) if e.note.is_some() => {}
        (EventKind::Outcome, _) => v.push(
            Code::FieldMissing,
            "outcome: an outcome event has an `outcome` section and no `review`",
        ),
        (EventKind::Review, _) => v.push(
            Code::FieldMissing,
            "review: a review event has a `review` section and no `outcome`",
        ),
        (EventKind::Annotation, _) => v.push(
            Code::FieldMissing,
            "note: an annotation has a `note` and neither `outcome` nor `review`",
        ),
    }
    if let Some(o) = &e.outcome {
        v.line("outcome.action", &o.action);
        v.opt_line("outcome.reference", o.reference.as_deref());
        v.opt_line("outcome.result", o.result.as_deref());
        for (field, t) in [
            ("outcome.at", &o.at),
            ("outcome.started", &o.started),
            ("outcome.finished", &o.finished),
        ] {
            if t.as_deref().is_some_and(|t| parse_created(t).is_none()) {
                v.invalid(field, "must be RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ`");
            }
        }
        for (field, ev) in [("outcome.output", &o.output), ("outcome.log", &o.log)] {
            if let Some(ev) = ev {
                if !super::digest::is_sha256_hex(&ev.sha256) {
                    v.invalid(
                        &format!("{field}.sha256"),
                        "must be 64 lowercase hex digits (a SHA-256)",
                    );
                }
            }
        }
    }
    if let Some(r) = &e.review {
        v.text("review.summary", &r.summary);
    }
    if let Some(n) = &e.note {
        v.text("note", n);
    }
    v.diags
}
