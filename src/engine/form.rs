//! Rule family: the commit object itself. A commit is canonical, like a record (SPEC §4): its
//! headers are exactly `tree`, `parent`, `author` and `committer` (no `encoding`, no `gpgsig`,
//! no other header), and its message is exactly the one aiaudit writes for what the commit adds
//! — subject, blank line, one trailer block — recomputed here from the record and the verified
//! signatures. So what `git log`, `%(trailers)` and `git interpret-trailers --parse` show is
//! exactly what the engine verified: no second trailer block, no continuation lines, no
//! `Key : value` spacing, no text git reads differently.
//!
//! The form is judged last, and only when the commit is otherwise valid: a commit that breaks a
//! more specific rule (a trailer that disagrees with its record, say) is rejected for that.

use super::{clip, internal, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::trailers::{self, Approval};
use crate::record::{Decision, Event};
use crate::store;

/// What a commit's message must be.
pub(super) enum Expected<'a> {
    Decision(&'a Decision),
    Event(&'a Event),
    /// A governance change: its subject line is the admins' own words.
    PolicyChange,
    Genesis {
        admin: &'a str,
        fingerprint: &'a str,
    },
}

/// The signature trailers `key` of `c` as aiaudit writes them: one per principal (the first),
/// in order. `None` when one is malformed: that is reported by the rule that reads it. A
/// commit repeating a principal's signature therefore differs from the canonical message: git
/// would show two approvals where the engine counts one.
fn signatures(c: &CommitView, key: &str) -> Option<Vec<Approval>> {
    let all: Vec<Approval> = c.trailers.signatures(key).collect::<Result<_, _>>().ok()?;
    let mut out: Vec<Approval> = Vec::with_capacity(all.len());
    for a in all {
        if !out.iter().any(|o| o.principal == a.principal) {
            out.push(a);
        }
    }
    Some(out)
}

/// `s` quoted for a finding: control characters and invisible formatting escaped, cut short.
fn shown(s: &str) -> String {
    clip(&s.escape_debug().to_string())
}

impl super::Checker<'_> {
    /// The finding for a commit whose headers or message are not the ones aiaudit writes for
    /// it, if they are not. `so_far`: the commit's other findings (any error: not judged).
    pub(super) fn check_form(
        &self,
        c: &CommitView,
        expected: Expected<'_>,
        so_far: &[Diagnostic],
    ) -> Option<Diagnostic> {
        if so_far.iter().any(Diagnostic::is_error) {
            return None;
        }
        let message = match expected {
            Expected::Decision(d) => trailers::decision_message(
                d,
                signatures(c, trailers::INITIATED_BY)?.first(),
                &signatures(c, trailers::APPROVED_BY)?,
            ),
            Expected::Event(e) => {
                let signed = match trailers::event_signature_key(e.kind) {
                    Some(key) => signatures(c, key)?,
                    None => Vec::new(),
                };
                trailers::event_message(e, &signed)
            }
            Expected::PolicyChange => {
                let subject = c.message.lines().next().unwrap_or("");
                let base = c
                    .trailers
                    .first(trailers::POLICY_BASE)
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        c.parents.first().map(|p| p.to_string()).unwrap_or_default()
                    });
                if subject.trim().is_empty() || subject.chars().any(char::is_control) {
                    return Some(Diagnostic::new(
                        Code::CommitNotCanonical,
                        format!(
                            "the subject line `{}` is empty or holds control characters",
                            shown(subject)
                        ),
                    ));
                }
                trailers::policy_change_message(
                    subject,
                    &base,
                    &signatures(c, trailers::POLICY_SIGNED_BY)?,
                )
            }
            Expected::Genesis { admin, fingerprint } => {
                trailers::genesis_message(admin, fingerprint)
            }
        };
        if let Some(d) = message_difference(&message, &c.message) {
            return Some(d);
        }
        let raw = match self.store.raw_commit(c.id) {
            Ok(r) => r,
            Err(e) => return Some(internal(e)),
        };
        let canonical = store::canonical_commit_bytes(c.data(), &message);
        (*raw != canonical[..]).then(|| header_difference(&canonical, &raw))
    }
}

/// The first line where `found` differs from the message aiaudit writes, if any.
fn message_difference(expected: &str, found: &str) -> Option<Diagnostic> {
    if expected == found {
        return None;
    }
    let (mut want, mut got) = (expected.split('\n'), found.split('\n'));
    let mut n = 0;
    loop {
        n += 1;
        match (want.next(), got.next()) {
            (Some(w), Some(g)) if w == g => continue,
            (w, g) => {
                let show = |l: Option<&str>| match l {
                    Some(l) => format!("`{}`", shown(l)),
                    None => "the end of the message".to_owned(),
                };
                return Some(Diagnostic::new(
                    Code::CommitNotCanonical,
                    format!(
                        "the message is not the one aiaudit writes for this commit: line {n} is {}, expected {}",
                        show(g),
                        show(w)
                    ),
                ));
            }
        }
    }
}

/// The first header line where the stored commit differs from the canonical one.
fn header_difference(canonical: &[u8], raw: &[u8]) -> Diagnostic {
    let lines = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .split('\n')
            .map(str::to_owned)
            .collect()
    };
    let (want, got) = (lines(canonical), lines(raw));
    let n = want
        .iter()
        .zip(&got)
        .position(|(w, g)| w != g)
        .unwrap_or(want.len().min(got.len()));
    let at = |v: &[String]| {
        v.get(n)
            .map(|l| format!("`{}`", shown(l)))
            .unwrap_or_else(|| "nothing".into())
    };
    Diagnostic::new(
        Code::CommitNotCanonical,
        format!(
            "the commit object is not the one aiaudit writes (headers tree, parent, author, committer; no encoding, signature or other header; UTF-8): line {} is {}, expected {}",
            n + 1,
            at(&got),
            at(&want)
        ),
    )
}
