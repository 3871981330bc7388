//! The policy (`.aiaudit/policy.yaml`): principals, admins, and the rules that decide a
//! decision's risk and the approvals it needs (SPEC §6).
//!
//! Parsing goes raw text → typed [`Policy`] (unknown fields refused) → [`Policy::validate`]
//! ([`validate`]), which reports every problem of the file, each at the line the YAML parser
//! places the field it concerns. Certificates live beside the
//! policy as `.aiaudit/keys/<FINGERPRINT>.asc`, one per primary key, so a verifier loads only
//! the certificate a signature names.

pub mod diff;
mod validate;

pub use validate::{PolicyError, PolicyProblem};

use crate::record::{ActionKind, Decision, PrincipalKind, Risk};
use serde::{Deserialize, Serialize};

pub const POLICY_SCHEMA: &str = "aiaudit/policy/v1";
pub const POLICY_PATH: &str = ".aiaudit/policy.yaml";
pub const KEYS_DIR: &str = ".aiaudit/keys";
/// Size cap for the policy file, checked before parsing.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub schema: String,
    /// Who may change the policy, and how many of them must sign a change.
    pub admins: Admins,
    pub principals: Vec<Principal>,
    /// Evaluated in order; the first rule that matches a decision applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Applies when no rule matches.
    pub default: Outcome,
    /// Pusher binding: who may push commits onto main, by forge login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushers: Option<Pushers>,
    /// Pairs of roles one identity may not hold together in a decision (`initiator` and the
    /// agents' roles, e.g. `["proposer", "validator"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub separate_roles: Vec<[String; 2]>,
    /// A service or workflow account used as a shared identity (the initiator of a decision
    /// also recording its outcome): `warn` (the default) or `reject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_accounts: Option<SharedAccounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedAccounts {
    Warn,
    Reject,
}

/// Pusher binding (SPEC §7): the server reports who pushed (a forge's `GITHUB_USER_LOGIN`,
/// `GL_USERNAME`, `GITEA_PUSHER_NAME`; gitolite's `GL_USER`; a web server's `REMOTE_USER`), or
/// a push certificate proves it; with `bind: true`, a commit lands on main only when pushed by
/// one of its approvers (or reviewers, signing admins, the event's actor), or by a landing
/// account. A change to the policy is never refused for who pushed it: its admin signatures
/// are its authority, and a policy must not be able to lock out the change that relaxes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pushers {
    pub bind: bool,
    /// Every push must carry a push certificate (`git push --signed`) signed by a valid key of
    /// a principal; the certified principal is then the pusher. Policy changes are exempt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed: bool,
    /// Forge logins allowed to land any valid commit (e.g. a merge bot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landing_accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admins {
    pub group: String,
    pub threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// For service and workflow principals: the accountable human principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forge_logins: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Primary-key fingerprints (uppercase hex) of the principal's OpenPGP certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Approvals must be on the decision when it lands on main.
    Pre,
    /// The decision may land first; a review follows within the deadline.
    Post,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Pre => "pre",
            Approval::Post => "post",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: Match,
    pub risk: Risk,
    pub approval: Approval,
    /// An AND of groups, each N of M.
    pub require: Vec<Requirement>,
    /// For `post` approval: the review deadline, e.g. `72h` or `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_within: Option<String>,
    /// Which links of the chain must be signed by their actor; a link the rule leaves out
    /// follows the default's.
    #[serde(default, skip_serializing_if = "Signatures::is_empty")]
    pub signatures: Signatures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub risk: Risk,
    pub approval: Approval,
    pub require: Vec<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_within: Option<String>,
    /// Which links of the chain must be signed by their actor (absent: none beyond the
    /// approvals and reviews, which are always signed).
    #[serde(default, skip_serializing_if = "Signatures::is_empty")]
    pub signatures: Signatures,
}

/// Which links of a decision's chain must carry their actor's signature (SPEC §6). Approvals
/// and reviews are signatures by nature; these are the links that can exist unsigned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signatures {
    /// The initiator signs the record (`Initiated-by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Need>,
    /// The executor signs the outcome event (`Executed-by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Need>,
}

impl Signatures {
    pub fn is_empty(&self) -> bool {
        self.initiator.is_none() && self.outcome.is_none()
    }

    /// Every link required: what `aiaudit init` writes.
    pub fn all_required() -> Self {
        Signatures {
            initiator: Some(Need::Required),
            outcome: Some(Need::Required),
        }
    }
}

/// Whether a link's signature is required. A signature that is present is verified either
/// way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    Required,
    Optional,
}

/// The links a decision's rule requires signed, resolved against the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureNeeds {
    pub initiator: bool,
    pub outcome: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Action kinds; empty matches every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionKind>,
    /// Target systems; `*` matches any run of characters. Empty matches every system.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
}

/// `count` distinct human principals from `group` (any human principal when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub count: u32,
}

impl Requirement {
    pub fn describe(&self) -> String {
        match &self.group {
            Some(g) => format!("{} from group `{g}`", self.count),
            None => format!("{} from any human principal", self.count),
        }
    }
}

/// What the policy says about one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The rule's name, `default` when none matched.
    pub rule: String,
    pub risk: Risk,
    pub approval: Approval,
    pub require: Vec<Requirement>,
    /// For `post` approval: the review deadline.
    pub review_within: Option<String>,
    /// The links that must be signed by their actor.
    pub signatures: SignatureNeeds,
}

impl Policy {
    pub(crate) fn members_with_keys(&self, group: &str) -> usize {
        self.principals
            .iter()
            .filter(|p| {
                p.kind == PrincipalKind::Human
                    && !p.keys.is_empty()
                    && p.groups.iter().any(|g| g == group)
            })
            .count()
    }

    pub fn principal(&self, id: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| p.id == id)
    }

    /// The principal that lists the primary fingerprint `fpr`.
    pub fn principal_by_key(&self, fpr: &str) -> Option<&Principal> {
        self.principals
            .iter()
            .find(|p| p.keys.iter().any(|k| k == fpr))
    }

    /// The verdict for a decision: the first matching rule, else the default.
    pub fn verdict(&self, d: &Decision) -> Verdict {
        for r in &self.rules {
            if r.matches.matches(d) {
                return Verdict {
                    rule: r.name.clone(),
                    risk: r.risk,
                    approval: r.approval,
                    require: r.require.clone(),
                    review_within: r.review_within.clone(),
                    signatures: self.signature_needs(Some(&r.signatures)),
                };
            }
        }
        Verdict {
            rule: "default".into(),
            risk: self.default.risk,
            approval: self.default.approval,
            require: self.default.require.clone(),
            review_within: self.default.review_within.clone(),
            signatures: self.signature_needs(None),
        }
    }

    /// The links `rule` requires signed: its own setting, else the default's, else optional.
    fn signature_needs(&self, rule: Option<&Signatures>) -> SignatureNeeds {
        let d = &self.default.signatures;
        let need =
            |own: Option<Need>, default: Option<Need>| own.or(default) == Some(Need::Required);
        SignatureNeeds {
            initiator: need(rule.and_then(|r| r.initiator), d.initiator),
            outcome: need(rule.and_then(|r| r.outcome), d.outcome),
        }
    }

    /// The policy `aiaudit init` writes: access changes, secret retrieval and production
    /// changes are high risk; every action needs one pre-approval from a human principal
    /// other than the initiator; every link is signed by its actor (the initiator signs the
    /// record, the executor the outcome).
    pub fn default_for(admin: Principal) -> Policy {
        Policy {
            schema: POLICY_SCHEMA.into(),
            admins: Admins {
                group: "admins".into(),
                threshold: 1,
            },
            principals: vec![admin],
            rules: vec![Rule {
                name: "high-impact".into(),
                matches: Match {
                    actions: vec![
                        ActionKind::AccessChange,
                        ActionKind::SecretRetrieval,
                        ActionKind::ProductionChange,
                    ],
                    systems: vec![],
                },
                risk: Risk::High,
                approval: Approval::Pre,
                require: vec![Requirement {
                    group: None,
                    count: 1,
                }],
                review_within: None,
                signatures: Signatures::default(),
            }],
            default: Outcome {
                risk: Risk::Medium,
                approval: Approval::Pre,
                require: vec![Requirement {
                    group: None,
                    count: 1,
                }],
                review_within: None,
                signatures: Signatures::all_required(),
            },
            pushers: None,
            separate_roles: vec![],
            shared_accounts: None,
        }
    }
}

impl Match {
    pub fn matches(&self, d: &Decision) -> bool {
        (self.actions.is_empty() || self.actions.contains(&d.action.kind))
            && (self.systems.is_empty()
                || self
                    .systems
                    .iter()
                    .any(|p| glob(p, &d.action.target.system)))
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A review deadline such as `90m`, `72h` or `7d`, in seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let mult = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn is_fingerprint(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// The path of a principal's certificate.
pub fn key_path(fpr: &str) -> String {
    format!("{KEYS_DIR}/{fpr}.asc")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(id: &str, groups: &[&str], key: char) -> Principal {
        Principal {
            id: id.into(),
            kind: PrincipalKind::Human,
            name: None,
            email: Some(format!("{id}@example.com")),
            owner: None,
            forge_logins: vec![],
            groups: groups.iter().map(|s| s.to_string()).collect(),
            keys: vec![key.to_string().repeat(40)],
        }
    }

    #[test]
    fn default_policy_round_trips_and_validates() {
        let p = Policy::default_for(human("alice", &["admins"], 'A'));
        let text = crate::record::canonical::to_canonical_yaml(&p).unwrap();
        assert_eq!(Policy::parse(text.as_bytes()).unwrap(), p);
    }

    #[test]
    fn errors_name_the_line() {
        let p = Policy::default_for(human("alice", &["admins"], 'A'));
        let text = crate::record::canonical::to_canonical_yaml(&p).unwrap();
        let bad = text.replace("threshold: 1", "threshold: 2");
        let e = Policy::parse(bad.as_bytes()).unwrap_err();
        let [p] = e.problems.as_slice() else {
            panic!("one problem expected: {e}")
        };
        assert!(p.message.contains("threshold is 2"), "{e}");
        assert_eq!(
            p.line,
            Some(text.lines().position(|l| l.contains("threshold:")).unwrap() + 1)
        );
        let unknown = text.replace("  threshold: 1", "  threshold: 1\n  quorum: 3");
        let e = Policy::parse(unknown.as_bytes()).unwrap_err();
        assert!(
            e.problems[0].message.contains("unknown field `quorum`"),
            "{e}"
        );
        assert_eq!(e.problems[0].line, Some(5), "the line of `quorum`");
    }

    #[test]
    fn every_problem_is_reported_at_its_own_line() {
        // `bob` and `bobby`: a problem about `bob` must not point at `bobby`'s line.
        let mut p = Policy::default_for(human("alice", &["admins"], 'A'));
        p.principals.push(human("bobby", &["dev"], 'B'));
        p.principals.push(human("bob", &["dev"], 'C'));
        p.principals[2].owner = Some("alice".into());
        p.principals[1].keys = vec!["not-a-fingerprint".into()];
        p.admins.threshold = 0;
        let text = crate::record::canonical::to_canonical_yaml(&p).unwrap();
        let e = Policy::parse(text.as_bytes()).unwrap_err();
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
        let got: Vec<(Option<usize>, &str)> = e
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 3, "{e}");
        assert!(
            got.contains(&(line_of("threshold:"), "admins.threshold must be at least 1")),
            "{e}"
        );
        assert!(
            got.contains(&(
                line_of("not-a-fingerprint"),
                "principal `bobby`: `not-a-fingerprint` is not an uppercase hex fingerprint"
            )),
            "{e}"
        );
        assert!(
            got.contains(&(
                line_of("owner:"),
                "principal `bob` is human and cannot have an owner"
            )),
            "{e}"
        );
    }

    #[test]
    fn service_needs_a_human_owner_and_groups_need_members() {
        let mut p = Policy::default_for(human("alice", &["admins"], 'A'));
        p.principals.push(Principal {
            id: "bot".into(),
            kind: PrincipalKind::Service,
            name: None,
            email: None,
            owner: None,
            forge_logins: vec![],
            groups: vec![],
            keys: vec![],
        });
        let t = crate::record::canonical::to_canonical_yaml(&p).unwrap();
        assert!(Policy::parse(t.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("owner"));
        p.principals[1].owner = Some("alice".into());
        p.rules[0].require = vec![Requirement {
            group: Some("security".into()),
            count: 1,
        }];
        let t = crate::record::canonical::to_canonical_yaml(&p).unwrap();
        assert!(Policy::parse(t.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("security"));
    }

    #[test]
    fn glob_matches() {
        assert!(glob("aws:prod*", "aws:prod-eu"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(!glob("aws:prod", "aws:prod-eu"));
        assert!(!glob("ab*ba", "aba"));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_example_policy_parses_and_routes_decisions() {
        let p = Policy::parse(include_bytes!("../../examples/policy.yaml")).unwrap();
        assert_eq!(p.principals.len(), 4);
        let mut d: Decision = serde_yaml::from_slice(include_bytes!(
            "../../examples/decisions/production-change-service-agent.yaml"
        ))
        .unwrap();
        let v = p.verdict(&d);
        assert_eq!(
            (v.rule.as_str(), v.risk, v.require.len()),
            ("production", Risk::Critical, 2)
        );
        d.action.kind = ActionKind::CodeMerge;
        d.action.target.system = "github.com/acme/sandbox-web".into();
        assert_eq!(p.verdict(&d).approval, Approval::Post);
        d.action.target.system = "github.com/acme/payments".into();
        assert_eq!(p.verdict(&d).rule, "default");
    }
}
