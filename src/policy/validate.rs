//! The policy file from raw text to a validated [`Policy`], as cargo-deny does for its
//! configuration: the typed parse (unknown fields refused; the YAML library gives the line of a
//! syntax or type error), then [`Policy::validate`] for what the types cannot say (references
//! between principals, groups and rules). Validation reports *every* problem of the file, each
//! at its own line: the lines come from the YAML parser's event positions ([`Positions`]), by
//! the path of the field (`principals[2].keys[0]`), never from searching the text.

use super::{is_fingerprint, parse_duration, Approval, Policy, Requirement, MAX_POLICY_BYTES};
use crate::record::{is_ident, PrincipalKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// One problem of a policy file, with the 1-based line it concerns where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem of a policy file (at least one), in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub problems: Vec<PolicyProblem>,
}

impl PolicyError {
    fn one(line: Option<usize>, message: String) -> Self {
        PolicyError {
            problems: vec![PolicyProblem { line, message }],
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Policy {
    /// Parses and validates the text of `policy.yaml`.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::one(
                None,
                format!("larger than {MAX_POLICY_BYTES} bytes"),
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| PolicyError::one(None, format!("not UTF-8: {e}")))?;
        let policy: Policy = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            let msg = e.to_string();
            // The library appends "at line N column M"; the line is reported separately.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            PolicyError::one(line, msg)
        })?;
        policy.validate(text)?;
        Ok(policy)
    }

    /// Checks what the types cannot: references between principals, groups and rules. `text`
    /// is the file the policy was parsed from; its positions are read only when a problem
    /// is found.
    pub fn validate(&self, text: &str) -> Result<(), PolicyError> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut at = |path: String, message: String| found.push((path, message));
        if self.schema != super::POLICY_SCHEMA {
            at(
                "schema".into(),
                format!("schema must be `{}`", super::POLICY_SCHEMA),
            );
        }
        let mut ids = BTreeSet::new();
        let mut fprs: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, p) in self.principals.iter().enumerate() {
            let here = format!("principals[{i}]");
            if !is_ident(&p.id) {
                at(
                    format!("{here}.id"),
                    format!("principal id `{}` is not an identifier", p.id),
                );
            }
            if !ids.insert(p.id.as_str()) {
                at(
                    format!("{here}.id"),
                    format!("principal `{}` is defined twice", p.id),
                );
            }
            for (j, k) in p.keys.iter().enumerate() {
                let key = format!("{here}.keys[{j}]");
                if !is_fingerprint(k) {
                    at(
                        key,
                        format!(
                            "principal `{}`: `{k}` is not an uppercase hex fingerprint",
                            p.id
                        ),
                    );
                } else if let Some(other) = fprs.insert(k, &p.id) {
                    at(
                        key,
                        format!("key {k} is listed for both `{other}` and `{}`", p.id),
                    );
                }
            }
            match (p.kind, &p.owner) {
                (PrincipalKind::Human, Some(_)) => at(
                    format!("{here}.owner"),
                    format!("principal `{}` is human and cannot have an owner", p.id),
                ),
                (PrincipalKind::Service | PrincipalKind::Workflow, None) => at(
                    format!("{here}.kind"),
                    format!(
                        "principal `{}` is a {} and must name its accountable human `owner`",
                        p.id,
                        p.kind.as_str()
                    ),
                ),
                (_, Some(o)) => match self.principal(o) {
                    Some(op) if op.kind == PrincipalKind::Human => {}
                    _ => at(
                        format!("{here}.owner"),
                        format!("principal `{}`: owner `{o}` is not a human principal", p.id),
                    ),
                },
                _ => {}
            }
        }
        if self.admins.threshold == 0 {
            at(
                "admins.threshold".into(),
                "admins.threshold must be at least 1".into(),
            );
        } else {
            let admins = self.members_with_keys(&self.admins.group);
            if admins < self.admins.threshold as usize {
                at(
                    "admins.threshold".into(),
                    format!(
                        "admins.threshold is {} but group `{}` has {admins} human principal(s) with keys",
                        self.admins.threshold, self.admins.group
                    ),
                );
            }
        }
        let mut names = BTreeSet::new();
        for (j, r) in self.rules.iter().enumerate() {
            let here = format!("rules[{j}]");
            if !names.insert(r.name.as_str()) {
                at(
                    format!("{here}.name"),
                    format!("rule `{}` is defined twice", r.name),
                );
            }
            self.check_rule(
                &here,
                &r.name,
                &r.require,
                r.approval,
                r.review_within.as_deref(),
                &mut at,
            );
        }
        self.check_rule(
            "default",
            "default",
            &self.default.require,
            self.default.approval,
            self.default.review_within.as_deref(),
            &mut at,
        );
        if found.is_empty() {
            return Ok(());
        }
        let positions = Positions::index(text);
        let mut problems: Vec<PolicyProblem> = found
            .into_iter()
            .map(|(path, message)| PolicyProblem {
                line: positions.line(&path),
                message,
            })
            .collect();
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        Err(PolicyError { problems })
    }

    /// A rule's (or the default's) requirements and review deadline; `here` is its path.
    fn check_rule(
        &self,
        here: &str,
        rule: &str,
        reqs: &[Requirement],
        approval: Approval,
        within: Option<&str>,
        at: &mut impl FnMut(String, String),
    ) {
        if reqs.is_empty() && approval == Approval::Pre {
            at(
                format!("{here}.require"),
                format!("rule `{rule}` requires pre-approval but names no approvers"),
            );
        }
        for (k, q) in reqs.iter().enumerate() {
            let req = format!("{here}.require[{k}]");
            if q.count == 0 {
                at(
                    format!("{req}.count"),
                    format!("rule `{rule}`: a requirement's count must be at least 1"),
                );
            } else if let Some(g) = &q.group {
                let n = self.members_with_keys(g);
                if n < q.count as usize {
                    at(
                        format!("{req}.group"),
                        format!(
                            "rule `{rule}` needs {} from group `{g}`, which has {n} human principal(s) with keys",
                            q.count
                        ),
                    );
                }
            }
        }
        match (approval, within) {
            (Approval::Post, None) => at(
                format!("{here}.approval"),
                format!(
                    "rule `{rule}` allows post-action review but sets no `review_within` deadline"
                ),
            ),
            (Approval::Pre, Some(_)) => at(
                format!("{here}.review_within"),
                format!(
                    "rule `{rule}` requires pre-approval; `review_within` applies to `approval: post` only"
                ),
            ),
            (_, Some(w)) if parse_duration(w).is_none() => at(
                format!("{here}.review_within"),
                format!(
                    "rule `{rule}`: review_within `{w}` is not a duration like `90m`, `72h`, `7d` or `2w`"
                ),
            ),
            _ => {}
        }
    }
}

/// Where each node of a YAML document starts, by its path (`admins.threshold`,
/// `principals[2].keys[0]`), read from the YAML parser's events. A mapping value is placed at
/// its key's line. Best effort: a document the parser cannot read yields no positions, and a
/// path with none falls back to its nearest ancestor.
pub(crate) struct Positions(HashMap<String, usize>);

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Positions {
    pub(crate) fn index(text: &str) -> Positions {
        use saphyr_parser::{Event, Parser};
        let mut lines: HashMap<String, usize> = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let line = span.start.line();
            let (opens, closes) = match &event {
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, false),
                Event::MappingEnd | Event::SequenceEnd => (false, true),
                Event::Scalar(..) | Event::Alias(..) => (false, false),
                _ => continue,
            };
            if closes {
                stack.pop();
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = None;
                }
                continue;
            }
            // The path of this node, or `None` when it is a mapping's key.
            let path = match stack.last_mut() {
                None => Some(String::new()),
                Some(Frame::Seq { path, next }) => {
                    *next += 1;
                    Some(format!("{path}[{}]", *next - 1))
                }
                Some(Frame::Map { path, key }) => match key.take() {
                    Some(k) => Some(child(path, &k)),
                    None => {
                        let k = match &event {
                            Event::Scalar(v, ..) => v.to_string(),
                            _ => "?".to_owned(),
                        };
                        lines.entry(child(path, &k)).or_insert(line);
                        *key = Some(k);
                        if opens {
                            // A complex key: its contents are not indexed.
                            stack.push(Frame::Seq {
                                path: "?".into(),
                                next: 0,
                            });
                        }
                        continue;
                    }
                },
            };
            let Some(path) = path else { continue };
            lines.entry(path.clone()).or_insert(line);
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                _ => {}
            }
        }
        Positions(lines)
    }

    /// The line of `path`, else of its nearest ancestor that has one.
    pub(crate) fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.0.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_parser() {
        let text = "schema: x\nadmins:\n  group: a\n  threshold: 2\nprincipals:\n  - id: bob\n    keys:\n      - K1\n      - K2\n  - id: eve\nrules: [{name: r, require: [{count: 0}]}]\n";
        let p = Positions::index(text);
        assert_eq!(p.line("schema"), Some(1));
        assert_eq!(p.line("admins.threshold"), Some(4));
        assert_eq!(p.line("principals[0].id"), Some(6));
        assert_eq!(p.line("principals[0].keys[1]"), Some(9));
        assert_eq!(p.line("principals[1].id"), Some(10));
        assert_eq!(p.line("rules[0].require[0].count"), Some(11));
        // Unknown paths fall back to their nearest ancestor.
        assert_eq!(p.line("principals[1].owner"), Some(10));
        assert_eq!(p.line("nothing.here"), None);
        assert!(Positions::index("{ unclosed").line("x").is_none());
    }
}
