//! Git trailers: the `Key: value` lines at the end of a commit message that mirror a record,
//! so that `git log` alone tells the story (SPEC §4).
//!
//! aiaudit writes the trailer block as the message's last paragraph, one trailer per line,
//! which `git interpret-trailers --parse` reads back unchanged. Reading is strict: the last
//! paragraph counts as a trailer block only when every line in it is a trailer.

use crate::record::{Decision, Event};

pub const DECISION_ID: &str = "Decision-Id";
pub const INITIATOR: &str = "Initiator";
pub const CONTEXT_DIGEST: &str = "Context-Digest";
pub const MODEL: &str = "Model";
pub const AI_ROLE: &str = "AI-Role";
pub const ACTION: &str = "Action";
pub const RISK: &str = "Risk";
pub const INITIATED_BY: &str = "Initiated-by";
pub const APPROVED_BY: &str = "Approved-by";
pub const POLICY_SIGNED_BY: &str = "Policy-Signed-by";
pub const POLICY_BASE: &str = "Policy-Base";
pub const EVENT_ID: &str = "Event-Id";
pub const EVENT_KIND: &str = "Event-Kind";
pub const ACTOR: &str = "Actor";
pub const REVIEWED_BY: &str = "Reviewed-by";
pub const EXECUTED_BY: &str = "Executed-by";

/// The trailer an event's actor signs it with: `Executed-by` for an outcome, `Reviewed-by`
/// for a review; an annotation carries none.
pub fn event_signature_key(kind: crate::record::EventKind) -> Option<&'static str> {
    use crate::record::EventKind;
    match kind {
        EventKind::Outcome => Some(EXECUTED_BY),
        EventKind::Review => Some(REVIEWED_BY),
        EventKind::Annotation => None,
    }
}

/// Longest trailer value accepted when reading (an RSA-4096 signature in base64 is ~750).
pub const MAX_VALUE: usize = 8192;

/// Trailers in message order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers(pub Vec<(String, String)>);

impl Trailers {
    /// Every value of `key` (case-insensitive, as git compares trailer keys).
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_owned(), value.into()));
    }

    /// Every signature trailer `key` (`Initiated-by`, `Approved-by`, `Executed-by`,
    /// `Reviewed-by`, `Policy-Signed-by`),
    /// parsed; a malformed one is an error saying what is wrong with it. The one reader of
    /// signature trailers: the engine judges these, the ledger lists them.
    pub fn signatures<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = Result<Approval, SignatureTrailerError>> + 'a {
        self.all(key).map(Approval::parse)
    }

    /// The well-formed signature trailers `key` (not yet verified).
    pub fn well_formed_signatures(&self, key: &str) -> Vec<Approval> {
        self.signatures(key).filter_map(Result::ok).collect()
    }

    /// The first value of `key`, if any.
    pub fn first<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).next()
    }
}

/// Reads the trailer block of `message`.
pub fn parse(message: &str) -> Trailers {
    let trimmed = message.trim_end();
    let last = match trimmed.rfind("\n\n") {
        Some(i) => &trimmed[i + 2..],
        None => return Trailers::default(),
    };
    let mut out = Vec::new();
    for line in last.lines() {
        match split_trailer(line) {
            Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
            None => return Trailers::default(),
        }
    }
    Trailers(out)
}

/// The trailer-like lines (`Key: value`) of a message's last paragraph, for reading commits
/// aiaudit did not write (a product repository's): lenient where [`parse`] is strict, a stray
/// non-trailer line does not hide the others. Never used to judge the ledger.
pub fn parse_lenient(message: &str) -> Trailers {
    let text = message.replace("\r\n", "\n");
    let trimmed = text.trim_end();
    let Some(i) = trimmed.rfind("\n\n") else {
        return Trailers::default();
    };
    Trailers(
        trimmed[i + 2..]
            .lines()
            .filter_map(split_trailer)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

fn split_trailer(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once(':')?;
    let key_ok = !k.is_empty()
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && k.as_bytes()[0].is_ascii_alphanumeric();
    key_ok.then(|| (k, v.trim()))
}

/// The trailers that mirror `d`, in the order aiaudit writes them (approvals excluded).
pub fn decision_trailers(d: &Decision) -> Trailers {
    let mut t = Trailers::default();
    t.push(DECISION_ID, d.id.clone());
    t.push(INITIATOR, initiator_value(d));
    t.push(CONTEXT_DIGEST, d.context.digest.clone());
    t.push(MODEL, d.ai.model.trailer());
    t.push(AI_ROLE, d.ai.role.as_str());
    t.push(ACTION, d.action.kind.as_str());
    t.push(RISK, d.risk.as_str());
    t
}

/// The trailers that mirror an event (signatures excluded).
pub fn event_trailers(e: &Event) -> Trailers {
    let mut t = Trailers::default();
    t.push(EVENT_ID, e.id.clone());
    t.push(DECISION_ID, e.decision.clone());
    t.push(EVENT_KIND, e.kind.as_str());
    t.push(ACTOR, format!("{} ({})", e.actor.id, e.actor.kind.as_str()));
    t
}

/// A commit message as aiaudit writes every one: the subject line, a blank line, then the
/// trailer block, one `Key: value` line each.
pub fn message(subject: &str, trailers: &Trailers) -> String {
    let mut msg = format!("{subject}\n\n");
    for (k, v) in &trailers.0 {
        msg.push_str(&format!("{k}: {v}\n"));
    }
    msg
}

/// The first line of `text`, trimmed, at most 60 characters (`…` when cut).
fn subject_text(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let mut subject: String = first.chars().take(60).collect();
    if first.chars().count() > 60 {
        subject.push('…');
    }
    subject
}

/// An event's subject line, from the event itself: `outcome: executed merged PR #42`,
/// `review: accepted by carol`, `annotation: <note>`.
pub fn event_subject(e: &Event) -> String {
    let what = match (&e.outcome, &e.review) {
        (Some(o), _) => format!("{} {}", o.status.as_str(), subject_text(&o.action)),
        (None, Some(r)) => format!("{} by {}", r.verdict.as_str(), e.actor.id),
        (None, None) => subject_text(e.note.as_deref().unwrap_or("")),
    };
    format!("{}: {}", e.kind.as_str(), what.trim_end())
}

/// The commit message for an event: its subject, then the trailer block with the actor's
/// signatures (`Executed-by` on an outcome, `Reviewed-by` on a review; an annotation has
/// none, and signatures given for one are not written).
pub fn event_message(e: &Event, signatures: &[Approval]) -> String {
    let mut t = event_trailers(e);
    if let Some(key) = event_signature_key(e.kind) {
        for a in signatures {
            t.push(key, a.to_value());
        }
    }
    message(&event_subject(e), &t)
}

/// The root commit's message: the root of trust and its first admin.
pub fn genesis_message(admin: &str, fingerprint: &str) -> String {
    format!(
        "genesis: the root of trust of this audit log\n\nFirst admin `{admin}` with key {fingerprint}.\n"
    )
}

/// The commit message for a governance change signed against `base`.
pub fn policy_change_message(subject: &str, base: &str, signatures: &[Approval]) -> String {
    let mut t = Trailers::default();
    t.push(POLICY_BASE, base);
    for a in signatures {
        t.push(POLICY_SIGNED_BY, a.to_value());
    }
    message(subject, &t)
}

fn initiator_value(d: &Decision) -> String {
    match &d.initiator.owner {
        Some(o) => format!(
            "{} ({}, owner {o})",
            d.initiator.id,
            d.initiator.kind.as_str()
        ),
        None => format!("{} ({})", d.initiator.id, d.initiator.kind.as_str()),
    }
}

/// The commit message for a decision: a subject, then the trailer block: the trailers that
/// mirror the record, the initiator's signature, the approvals.
pub fn decision_message(
    d: &Decision,
    initiated: Option<&Approval>,
    approvals: &[Approval],
) -> String {
    let subject = subject_text(&d.action.summary);
    let mut t = decision_trailers(d);
    if let Some(i) = initiated {
        t.push(INITIATED_BY, i.to_value());
    }
    for a in approvals {
        t.push(APPROVED_BY, a.to_value());
    }
    message(&format!("{}: {subject}", d.action.kind.as_str()), &t)
}

/// What is wrong with a signature trailer's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureTrailerError {
    #[error("longer than {MAX_VALUE} bytes")]
    TooLong,
    #[error("empty")]
    Empty,
    #[error("unexpected `{0}`")]
    Unexpected(String),
    #[error("no key=<fingerprint>")]
    NoKey,
    #[error("key `{0}` is not an uppercase hex fingerprint")]
    BadKey(String),
    #[error("no sig=<base64>")]
    NoSignature,
    #[error("sig is not base64: {0}")]
    NotBase64(String),
}

/// One signature as carried by a signature trailer (`Approved-by`, `Initiated-by`, …):
/// `<principal> <<email>> key=<primary fingerprint> sig=<base64 of the binary signature>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub principal: String,
    pub email: Option<String>,
    pub key: String,
    pub signature: Vec<u8>,
}

impl Approval {
    pub fn to_value(&self) -> String {
        use base64::Engine as _;
        let sig = base64::engine::general_purpose::STANDARD.encode(&self.signature);
        match &self.email {
            Some(e) => format!("{} <{e}> key={} sig={sig}", self.principal, self.key),
            None => format!("{} key={} sig={sig}", self.principal, self.key),
        }
    }

    /// Parses a trailer value; the error says what is wrong with it.
    pub fn parse(value: &str) -> Result<Approval, SignatureTrailerError> {
        use base64::Engine as _;
        use SignatureTrailerError as E;
        if value.len() > MAX_VALUE {
            return Err(E::TooLong);
        }
        let mut words = value.split_whitespace();
        let principal = words.next().ok_or(E::Empty)?.to_owned();
        let (mut email, mut key, mut sig) = (None, None, None);
        for w in words {
            if let Some(k) = w.strip_prefix("key=") {
                key = Some(k.to_owned());
            } else if let Some(s) = w.strip_prefix("sig=") {
                sig = Some(s.to_owned());
            } else if w.starts_with('<') && w.ends_with('>') && w.len() > 2 {
                email = Some(w[1..w.len() - 1].to_owned());
            } else {
                return Err(E::Unexpected(w.chars().take(64).collect()));
            }
        }
        let key = key.ok_or(E::NoKey)?;
        if !(key.len() == 40 || key.len() == 64)
            || !key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(E::BadKey(key.chars().take(80).collect()));
        }
        let sig = sig.ok_or(E::NoSignature)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(sig.as_bytes())
            .map_err(|e| E::NotBase64(e.to_string()))?;
        Ok(Approval {
            principal,
            email,
            key,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_a_pure_trailer_block() {
        let t = parse("subject\n\nbody text\n\nDecision-Id: X\nRisk: high\n");
        assert_eq!(
            t.0,
            vec![
                ("Decision-Id".into(), "X".into()),
                ("Risk".into(), "high".into())
            ]
        );
        assert!(parse("subject\n\nnot a trailer\nRisk: high\n").0.is_empty());
        assert!(parse("Risk: high\n").0.is_empty());
        assert_eq!(
            parse("s\n\nrisk: low").all("Risk").collect::<Vec<_>>(),
            ["low"]
        );
    }

    #[test]
    fn approval_round_trips_and_rejects_garbage() {
        let a = Approval {
            principal: "bob".into(),
            email: Some("bob@example.com".into()),
            key: "A".repeat(40),
            signature: vec![1, 2, 3, 255],
        };
        assert_eq!(Approval::parse(&a.to_value()).unwrap(), a);
        assert!(Approval::parse("bob key=abc sig=AAAA").is_err());
        assert!(Approval::parse(&format!("bob key={} sig=!!", "A".repeat(40))).is_err());
        assert!(Approval::parse(&format!("bob key={}", "A".repeat(40))).is_err());
        assert!(Approval::parse("").is_err());
        assert!(Approval::parse(&"x".repeat(MAX_VALUE + 1)).is_err());
    }
}
