//! Credential detection: secrets never enter the audit repository (SPEC §8).
//!
//! [`scan`] looks through text (or any bytes) for the shapes credentials take — private keys,
//! cloud access keys, API tokens of well-known services, JSON Web Tokens, bearer and basic
//! credentials, passwords in URLs and connection strings, and high-entropy values assigned to
//! keys that name a secret — and returns one [`Hit`] per rule and line. A hit never carries the
//! matched text: messages name the input, the line and the rule, never the value.
//!
//! [`Scan`] collects hits for one `aiaudit record` run. Texts that the audit repository would
//! *store* (summaries, names, URIs, identities, agent ids, …) are refused outright. Content that
//! is only *hashed* (a prompt file, a tool call's arguments, the model output) is refused too,
//! unless its input is marked digest-only (`--digest-only NAME`, or `"digest_only": true` in an
//! intake document): the user then states that the content may hold a credential and must only
//! ever be recorded by its digest. `docs/intake.md` documents every rule.

use regex::bytes::{Regex, RegexBuilder};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

/// One detection rule: a stable id, what it finds (for messages), and an example of the shape.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Stable kebab-case id, printed as `(rule <id>)`.
    pub id: &'static str,
    /// What a hit looks like, completing "looks like …".
    pub what: &'static str,
}

/// Every rule, in priority order (a more specific rule wins where two match the same text).
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "private-key",
        what: "a private key",
    },
    RuleInfo {
        id: "aws-access-key-id",
        what: "an AWS access key id",
    },
    RuleInfo {
        id: "aws-secret-access-key",
        what: "an AWS secret access key",
    },
    RuleInfo {
        id: "github-token",
        what: "a GitHub token",
    },
    RuleInfo {
        id: "gitlab-token",
        what: "a GitLab token",
    },
    RuleInfo {
        id: "slack-token",
        what: "a Slack token",
    },
    RuleInfo {
        id: "slack-webhook",
        what: "a Slack webhook URL",
    },
    RuleInfo {
        id: "stripe-key",
        what: "a Stripe secret key",
    },
    RuleInfo {
        id: "google-api-key",
        what: "a Google API key",
    },
    RuleInfo {
        id: "google-oauth",
        what: "a Google OAuth client secret or access token",
    },
    RuleInfo {
        id: "openai-api-key",
        what: "an OpenAI API key",
    },
    RuleInfo {
        id: "anthropic-api-key",
        what: "an Anthropic API key",
    },
    RuleInfo {
        id: "huggingface-token",
        what: "a Hugging Face token",
    },
    RuleInfo {
        id: "npm-token",
        what: "an npm token",
    },
    RuleInfo {
        id: "pypi-token",
        what: "a PyPI token",
    },
    RuleInfo {
        id: "jwt",
        what: "a JSON Web Token",
    },
    RuleInfo {
        id: "bearer-token",
        what: "a bearer token",
    },
    RuleInfo {
        id: "basic-auth",
        what: "HTTP basic credentials",
    },
    RuleInfo {
        id: "url-password",
        what: "a password in a URL",
    },
    RuleInfo {
        id: "connection-string-password",
        what: "a password in a connection string",
    },
    RuleInfo {
        id: "secret-assignment",
        what: "a secret value assigned to a secret-looking key",
    },
];

/// Where a rule looks, and what a match must also satisfy.
#[derive(Clone, Copy)]
enum Check {
    /// The match is enough.
    Match,
    /// Capture group 1 must look like a real value, not a placeholder (`${VAR}`, `****`, …).
    NotPlaceholder,
    /// Capture group 1 must mix letters and digits (prose such as "bearer tokens" never does).
    Token,
    /// Group 1 is the key, group 2 the value: the value must look like a secret.
    Assignment,
}

/// One rule's pattern: the rule, the regular expression, what a match must also satisfy, and
/// needles — lower-case literals of which every match contains at least one. A text without
/// any of a rule's needles is not searched with its pattern, which is compiled only when first
/// needed: most texts (a summary, a name) cost one literal search.
struct Pattern {
    id: &'static str,
    pattern: &'static str,
    check: Check,
    needles: &'static [&'static str],
}

struct Compiled {
    rule: usize,
    re: Regex,
    check: Check,
}

/// The pattern at `i` of [`patterns`], compiled on first use.
fn compiled(i: usize) -> &'static Compiled {
    static C: OnceLock<Vec<OnceLock<Compiled>>> = OnceLock::new();
    let all = C.get_or_init(|| patterns().iter().map(|_| OnceLock::new()).collect());
    all[i].get_or_init(|| {
        let p = &patterns()[i];
        let rule = RULES
            .iter()
            .position(|r| r.id == p.id)
            .expect("every pattern's rule is listed in RULES");
        let re = RegexBuilder::new(p.pattern)
            .unicode(false)
            .build()
            .expect("the secret patterns compile");
        Compiled {
            rule,
            re,
            check: p.check,
        }
    })
}

type Needles = (Regex, Vec<(&'static str, Vec<usize>)>);

/// Every needle, as one case-insensitive literal search, and the patterns each one selects.
fn needles() -> &'static Needles {
    static N: OnceLock<Needles> = OnceLock::new();
    N.get_or_init(|| {
        let mut by_needle: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (i, p) in patterns().iter().enumerate() {
            for n in p.needles {
                match by_needle.iter_mut().find(|(x, _)| x == n) {
                    Some((_, v)) => v.push(i),
                    None => by_needle.push((n, vec![i])),
                }
            }
        }
        let alternation = by_needle
            .iter()
            .map(|(n, _)| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|");
        let re = RegexBuilder::new(&alternation)
            .unicode(false)
            .case_insensitive(true)
            .build()
            .expect("the needles compile");
        (re, by_needle)
    })
}

/// The patterns (indices into [`patterns`]) whose needles occur in `data`.
fn candidates(data: &[u8]) -> Vec<usize> {
    let (re, by_needle) = needles();
    let mut want = vec![false; patterns().len()];
    let mut at = 0;
    // Overlapping occurrences count: step one byte past each match's start. (No needle is a
    // prefix of another, so the one found at a position is the only one there.)
    while let Some(m) = re.find_at(data, at) {
        let found = m.as_bytes().to_ascii_lowercase();
        if let Some((_, pats)) = by_needle.iter().find(|(n, _)| n.as_bytes() == found) {
            for &i in pats {
                want[i] = true;
            }
        }
        at = m.start() + 1;
        if want.iter().all(|w| *w) {
            break;
        }
    }
    (0..want.len()).filter(|&i| want[i]).collect()
}

/// Every pattern, in the order of [`RULES`]. Patterns run over bytes with ASCII semantics.
fn patterns() -> &'static [Pattern] {
    const fn p(
        id: &'static str,
        pattern: &'static str,
        check: Check,
        needles: &'static [&'static str],
    ) -> Pattern {
        Pattern {
            id,
            pattern,
            check,
            needles,
        }
    }
    static P: &[Pattern] = &[
        p(
            "private-key",
            r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-[0-9]+:",
            Check::Match,
            &["private key", "putty-user-key-file-"],
        ),
        p(
            "aws-access-key-id",
            r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
            Check::Match,
            &["akia", "asia", "abia", "acca"],
        ),
        p(
            "aws-secret-access-key",
            r#"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            Check::Match,
            &["secret"],
        ),
        p(
            "github-token",
            r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{50,}\b",
            Check::Match,
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        ),
        p(
            "gitlab-token",
            r"\b(?:glpat|gldt|glptt|glrt|glsoat|glft|glcbt|glimt|gloas)-[A-Za-z0-9_\-]{20,}",
            Check::Match,
            &[
                "glpat-", "gldt-", "glptt-", "glrt-", "glsoat-", "glft-", "glcbt-", "glimt-",
                "gloas-",
            ],
        ),
        p(
            "slack-token",
            r"\bxox[abposre]-[A-Za-z0-9\-]{10,}",
            Check::Match,
            &["xox"],
        ),
        p(
            "slack-webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,}",
            Check::Match,
            &["hooks.slack.com"],
        ),
        p(
            "stripe-key",
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9+/=]{24,}",
            Check::Match,
            &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
        ),
        p(
            "google-api-key",
            r"\bAIza[0-9A-Za-z_\-]{35}",
            Check::Match,
            &["aiza"],
        ),
        p(
            "google-oauth",
            r"\bGOCSPX-[A-Za-z0-9_\-]{28}|\bya29\.[0-9A-Za-z_\-]{20,}",
            Check::Match,
            &["gocspx-", "ya29."],
        ),
        p(
            "openai-api-key",
            r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}|\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}",
            Check::Match,
            &["sk-"],
        ),
        p(
            "anthropic-api-key",
            r"\bsk-ant-(?:api|admin|oat|sid)[0-9]{2}-[A-Za-z0-9_\-]{40,}",
            Check::Match,
            &["sk-"],
        ),
        p(
            "huggingface-token",
            r"\bhf_[A-Za-z]{34,}\b",
            Check::Match,
            &["hf_"],
        ),
        p(
            "npm-token",
            r"\bnpm_[A-Za-z0-9]{36}\b",
            Check::Match,
            &["npm_"],
        ),
        p(
            "pypi-token",
            r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",
            Check::Match,
            &["pypi-"],
        ),
        p(
            "jwt",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
            Check::Match,
            &["eyj"],
        ),
        p(
            "bearer-token",
            r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)",
            Check::Token,
            &["bearer"],
        ),
        p(
            "basic-auth",
            r#"(?i)\bauthorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{8,}=*)"#,
            Check::Match,
            &["basic"],
        ),
        p(
            "url-password",
            r#"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@"'<>]*:([^\s/?#@"'<>]+)@[A-Za-z0-9\[]"#,
            Check::NotPlaceholder,
            &["://"],
        ),
        p(
            "connection-string-password",
            r#"(?i)\b(?:server|host|hostaddr|data source|address|addr)\s*=[^\n]*?\b(?:password|pwd)\s*=\s*("[^"\n]*"|'[^'\n]*'|[^;\s"']+)"#,
            Check::NotPlaceholder,
            &["pass", "pwd"],
        ),
        p(
            "secret-assignment",
            r#"(?i)([A-Za-z0-9_.\-]*(?:password|passwd|passphrase|pwd|secret|token|api[_.\-]?key|apikey|access[_.\-]?key|secret[_.\-]?key|private[_.\-]?key|client[_.\-]?secret|credentials?))["']?\s*(?::=|=>|=|:)\s*("[^"\n]+"|'[^'\n]+'|[^\s"',;}\])<>]+)"#,
            Check::Assignment,
            &["pass", "pwd", "secret", "token", "key", "credential"],
        ),
    ];
    P
}

/// One credential-looking match: which rule, on which line. Never the matched text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: &'static str,
    pub what: &'static str,
    /// 1-based line of the match's start.
    pub line: usize,
    /// For `secret-assignment`: the key the value was assigned to (a key name, not a secret).
    pub key: Option<String>,
}

impl Hit {
    /// "looks like an AWS access key id (rule aws-access-key-id)".
    pub fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!("looks like {} (`{k}`) (rule {})", self.what, self.rule),
            None => format!("looks like {} (rule {})", self.what, self.rule),
        }
    }
}

/// Every credential-looking match in `data`, one per rule and line, in order of position.
/// Where two rules match overlapping text, only the more specific one (earlier in [`RULES`])
/// is reported.
pub fn scan(data: &[u8]) -> Vec<Hit> {
    let mut found: Vec<(usize, std::ops::Range<usize>, Option<String>)> = Vec::new();
    for i in candidates(data) {
        let c = compiled(i);
        for caps in c.re.captures_iter(data) {
            let m = caps.get(0).expect("group 0 always matches");
            let g = |i: usize| caps.get(i).map(|m| m.as_bytes()).unwrap_or_default();
            let (ok, key) = match c.check {
                Check::Match => (true, None),
                Check::NotPlaceholder => (!is_placeholder(&unquote(g(1))), None),
                Check::Token => (is_token(g(1)), None),
                Check::Assignment => {
                    let value = unquote(g(2));
                    let key = String::from_utf8_lossy(g(1)).into_owned();
                    (looks_secret(&value), Some(key))
                }
            };
            if !ok {
                continue;
            }
            let range = m.range();
            // A more specific rule already covers this text.
            if found
                .iter()
                .any(|(r, other, _)| *r < c.rule && overlaps(other, &range))
            {
                continue;
            }
            found.push((c.rule, range, key));
        }
    }
    found.sort_by_key(|(rule, range, _)| (range.start, *rule));
    let mut hits: Vec<Hit> = Vec::new();
    for (rule, range, key) in found {
        let line = 1 + memchr_count(b'\n', &data[..range.start]);
        let info = RULES[rule];
        if hits.iter().any(|h| h.rule == info.id && h.line == line) {
            continue;
        }
        hits.push(Hit {
            rule: info.id,
            what: info.what,
            line,
            key,
        });
    }
    hits
}

fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn memchr_count(needle: u8, hay: &[u8]) -> usize {
    hay.iter().filter(|&&b| b == needle).count()
}

fn unquote(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let t = s.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))
        .unwrap_or(t);
    t.trim().to_owned()
}

/// Values that stand for a secret without being one: template variables, masks, examples.
pub fn is_placeholder(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "",
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "changeme",
        "change-me",
        "change_me",
        "redacted",
        "masked",
        "hidden",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "empty",
        "required",
        "optional",
        "placeholder",
        "your-password",
        "yourpassword",
        "your_password",
        "mypassword",
        "example",
        "xxx",
        "...",
    ];
    if WORDS.contains(&l.as_str()) {
        return true;
    }
    let first = l.chars().next().unwrap_or(' ');
    let all_same = l.chars().all(|c| c == first);
    all_same
        || l.starts_with('$')
        || l.starts_with('%')
        || l.starts_with("{{")
        || (l.starts_with('<') && l.ends_with('>'))
        || (l.starts_with('{') && l.ends_with('}'))
        || (l.starts_with('[') && l.ends_with(']'))
        || l.starts_with("***")
        || l.contains("redacted")
}

/// References to secrets (a vault path, a secret manager name, a file): fine to record.
pub fn is_reference(v: &str) -> bool {
    const SCHEMES: &[&str] = &[
        "vault:",
        "op:",
        "sm:",
        "ssm:",
        "arn:",
        "secretsmanager:",
        "gcpsm:",
        "gcp-sm:",
        "azkv:",
        "akv:",
        "keyvault:",
        "k8s:",
        "env:",
        "file:",
        "ref:",
        "secretref:",
        "projects/",
        "secret/",
        "secrets/",
        "kv/",
    ];
    let l = v.trim().to_ascii_lowercase();
    if SCHEMES.iter().any(|s| l.starts_with(s)) || l.contains("://") {
        return true;
    }
    // A path whose every segment is lower-case words and digits (`prod/db/2024`,
    // `/run/secrets/db_password`): a name, where a random secret would mix cases.
    let segments: Vec<&str> = v.trim().trim_start_matches('/').split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        })
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A value assigned to a secret-looking key that looks like a real secret: 6 to 512
/// characters, not a placeholder or a reference, mixing digits with letters or upper with lower
/// case, and of high entropy (≥ 2.5 bits per character, ≥ 3.0 from 16 characters on).
pub fn looks_secret(v: &str) -> bool {
    let n = v.chars().count();
    if !(6..=512).contains(&n)
        || v.contains(char::is_whitespace)
        || is_placeholder(v)
        || is_reference(v)
    {
        return false;
    }
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let letter = upper || lower;
    let mixed = (digit && letter) || (upper && lower);
    let threshold = if n >= 16 { 3.0 } else { 2.5 };
    mixed && entropy(v) >= threshold
}

/// A bearer token: letters and digits mixed (prose after "bearer" is words).
fn is_token(v: &[u8]) -> bool {
    v.iter().any(u8::is_ascii_digit) && v.iter().any(u8::is_ascii_alphabetic)
}

/// What to do about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// The text would be stored in the audit repository: it must go.
    Remove,
    /// The content is only hashed: mark the input digest-only, or remove the credential.
    DigestOnly {
        /// The `--digest-only` selector for this input.
        selector: String,
        /// Extra wording for the place the input came from, e.g. `"digest_only": true`.
        alternative: Option<String>,
    },
}

/// One refused (or, for digest-only inputs, noted) finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The input: `--summary`, `context file prompt.txt`, `intake.json: action.summary`, …
    pub input: String,
    /// Whether to print the line (multi-line content).
    pub show_line: bool,
    pub hit: Hit,
    pub remedy: Remedy,
}

impl Finding {
    /// Where and what, without the remedy: `context file prompt.txt, line 3: looks like an AWS
    /// access key id (rule aws-access-key-id)`.
    pub fn head(&self) -> String {
        let line = if self.show_line {
            format!(", line {}", self.hit.line)
        } else {
            String::new()
        };
        format!("{}{line}: {}", self.input, self.hit.describe())
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; ", self.head())?;
        match &self.remedy {
            Remedy::Remove => write!(
                f,
                "remove it: this text would be stored in the audit repository (name secrets by reference, e.g. a vault path, in --secret-ref / action.secrets)"
            ),
            Remedy::DigestOnly {
                selector,
                alternative,
            } => {
                write!(
                    f,
                    "record it as a digest only with --digest-only {}",
                    shell_word(selector)
                )?;
                if let Some(a) = alternative {
                    write!(f, " (or {a})")?;
                }
                write!(f, ", or remove it")
            }
        }
    }
}

/// More than one line (a single trailing line feed does not count).
fn multi_line(data: &[u8]) -> bool {
    let end = data.iter().rposition(|&b| b != b'\n').unwrap_or(0);
    data[..end].contains(&b'\n')
}

/// `s` quoted for a shell when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The findings of one `record` run.
#[derive(Debug, Default)]
pub struct Scan {
    /// Selectors from `--digest-only`.
    digest_only: BTreeSet<String>,
    /// Selectors that matched at least one input (to report unused ones).
    used: BTreeSet<String>,
    /// SHA-256 of every stored text already scanned (each is reported once).
    seen: BTreeSet<[u8; 32]>,
    /// Findings that refuse the record.
    pub refused: Vec<Finding>,
    /// Findings in digest-only inputs: allowed, reported as notes.
    pub noted: Vec<Finding>,
    /// `record --store-context`: hashed content that may be stored, by SHA-256, with the
    /// input's label. None when content is not kept.
    kept: Option<BTreeMap<String, (String, Vec<u8>)>>,
    /// SHA-256 of content that is digest-only: never kept, whatever else shares it.
    never: BTreeSet<String>,
}

impl Scan {
    /// A scan honouring these `--digest-only` selectors.
    pub fn new(digest_only: impl IntoIterator<Item = String>) -> Scan {
        Scan {
            digest_only: digest_only.into_iter().collect(),
            ..Scan::default()
        }
    }

    /// Keep the content of hashed inputs that are not digest-only and hold nothing that looks
    /// like a credential, for `record --store-context` ([`Scan::kept`]).
    pub fn keep_content(&mut self) {
        self.kept.get_or_insert_with(BTreeMap::new);
    }

    /// The kept content with this SHA-256 and the label of its input.
    pub fn kept(&self, sha256: &str) -> Option<(&str, &[u8])> {
        self.kept
            .as_ref()?
            .get(sha256)
            .map(|(l, d)| (l.as_str(), d.as_slice()))
    }

    /// Scans a text the audit repository would store. A hit refuses the record.
    pub fn stored(&mut self, input: impl Into<String>, text: &str) {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if !self.seen.insert(key) {
            return;
        }
        let show_line = multi_line(text.as_bytes());
        let input = input.into();
        for hit in scan(text.as_bytes()) {
            self.refused.push(Finding {
                input: input.clone(),
                show_line,
                hit,
                remedy: Remedy::Remove,
            });
        }
    }

    /// Whether the input named `selector` is digest-only (by `--digest-only`, or `marked` in
    /// its source document). Also the special selector `output` for the model output.
    pub fn is_digest_only(&mut self, selectors: &[&str], marked: bool) -> bool {
        let mut hit = marked;
        for s in selectors {
            if self.digest_only.contains(*s) {
                self.used.insert((*s).to_owned());
                hit = true;
            }
        }
        hit
    }

    /// Scans content that is only hashed. `selectors` are the names `--digest-only` may use for
    /// it (the first is suggested in messages); `marked` says its source already marks it
    /// digest-only; `alternative` names another way to mark it.
    pub fn hashed(
        &mut self,
        input: impl Into<String>,
        data: &[u8],
        selectors: &[&str],
        marked: bool,
        alternative: Option<&str>,
    ) {
        let digest_only = self.is_digest_only(selectors, marked);
        let hits = scan(data);
        let input = input.into();
        if let Some(kept) = &mut self.kept {
            let sha = hex::encode(Sha256::digest(data));
            if digest_only {
                kept.remove(&sha);
                self.never.insert(sha);
            } else if hits.is_empty() && !self.never.contains(&sha) {
                kept.entry(sha)
                    .or_insert_with(|| (input.clone(), data.to_vec()));
            }
        }
        if hits.is_empty() {
            return;
        }
        let show_line = multi_line(data);
        for hit in hits {
            let finding = Finding {
                input: input.clone(),
                show_line,
                hit,
                remedy: Remedy::DigestOnly {
                    selector: selectors.first().copied().unwrap_or("output").to_owned(),
                    alternative: alternative.map(str::to_owned),
                },
            };
            if digest_only {
                self.noted.push(finding);
            } else {
                self.refused.push(finding);
            }
        }
    }

    /// `--digest-only` selectors that named no input (most likely a typo).
    pub fn unused_selectors(&self) -> Vec<String> {
        self.digest_only.difference(&self.used).cloned().collect()
    }

    /// Scans every stored text of a finished decision, labelled `{prefix}{field}`. Texts
    /// already scanned under a better label are skipped, so this is a safety net behind the
    /// sources' own scans: nothing the record stores escapes the check.
    pub fn decision_fields(&mut self, d: &crate::record::Decision, prefix: &str) {
        for (field, text) in stored_texts(d) {
            self.stored(format!("{prefix}{field}"), &text);
        }
    }
}

/// Every text field of a decision that the audit repository stores, with its field path.
pub fn stored_texts(d: &crate::record::Decision) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |f: String, v: &str| out.push((f, v.to_owned()));
    push("initiator.id".into(), &d.initiator.id);
    if let Some(v) = &d.initiator.name {
        push("initiator.name".into(), v);
    }
    if let Some(v) = &d.initiator.owner {
        push("initiator.owner".into(), v);
    }
    if let Some(v) = &d.initiator.forge_login {
        push("initiator.forge_login".into(), v);
    }
    let t = &d.action.target;
    push("action.target.system".into(), &t.system);
    for (k, v) in [
        ("repo", &t.repo),
        ("change", &t.change),
        ("resource", &t.resource),
    ] {
        if let Some(v) = v {
            push(format!("action.target.{k}"), v);
        }
    }
    push("action.summary".into(), &d.action.summary);
    if !d.action.command.is_empty() {
        // Judged as one line, as a shell would see it: a secret may be a flag and its value.
        push("action.command".into(), &d.action.command.join(" "));
    }
    for (list, items) in [
        ("identities", &d.action.identities),
        ("secrets", &d.action.secrets),
        ("datasets", &d.action.datasets),
    ] {
        for (i, v) in items.iter().enumerate() {
            push(format!("action.{list}[{i}]"), v);
        }
    }
    let model = |f: &str, m: &crate::record::Model| {
        vec![
            (format!("{f}.provider"), m.provider.clone()),
            (format!("{f}.name"), m.name.clone()),
            (format!("{f}.version"), m.version.clone()),
        ]
    };
    let mut rest = model("ai.model", &d.ai.model);
    if let Some(v) = &d.ai.framework {
        rest.push(("ai.framework".into(), v.clone()));
    }
    for (i, a) in d.ai.agents.iter().enumerate() {
        rest.push((format!("ai.agents[{i}].id"), a.id.clone()));
        rest.push((format!("ai.agents[{i}].role"), a.role.clone()));
        if let Some(m) = &a.model {
            rest.extend(model(&format!("ai.agents[{i}].model"), m));
        }
    }
    for (i, e) in d.context.entries.iter().enumerate() {
        rest.push((format!("context.entries[{i}].name"), e.name.clone()));
        if let Some(u) = &e.uri {
            rest.push((format!("context.entries[{i}].uri"), u.clone()));
        }
    }
    rest.push((
        "recommendation.summary".into(),
        d.recommendation.summary.clone(),
    ));
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule ids `scan` reports for `text`.
    fn rules(text: &str) -> Vec<&'static str> {
        scan(text.as_bytes()).into_iter().map(|h| h.rule).collect()
    }

    #[track_caller]
    fn hits(rule: &str, text: &str) {
        assert_eq!(rules(text), vec![rule], "in {text:?}");
    }

    #[track_caller]
    fn clean(text: &str) {
        assert_eq!(rules(text), Vec::<&str>::new(), "in {text:?}");
    }

    // Token-shaped samples are assembled at run time, so that no credential-shaped literal sits
    // in the source for other scanners to trip on. None of them is a real credential.
    fn cat(parts: &[&str]) -> String {
        parts.concat()
    }

    fn alnum(n: usize) -> String {
        "a1B2c3D4e5F6g7H8i9J0".chars().cycle().take(n).collect()
    }

    #[test]
    fn every_rule_is_compiled_and_documented() {
        let ids: Vec<&str> = (0..patterns().len())
            .map(|i| RULES[compiled(i).rule].id)
            .collect();
        assert_eq!(ids, RULES.iter().map(|r| r.id).collect::<Vec<_>>());
        let doc = include_str!("../../docs/intake.md");
        for r in RULES {
            assert!(
                doc.contains(&format!("`{}`", r.id)),
                "docs/intake.md does not document rule {}",
                r.id
            );
        }
    }

    #[test]
    fn needles_are_lower_case_and_none_is_a_prefix_of_another() {
        let all: Vec<&str> = needles().1.iter().map(|(n, _)| *n).collect();
        for a in &all {
            assert_eq!(*a, a.to_ascii_lowercase());
            for b in &all {
                assert!(a == b || !b.starts_with(a), "`{a}` is a prefix of `{b}`");
            }
        }
        // Text without any needle runs no pattern at all.
        assert!(candidates(b"Raise the rate limit of payments-api to 200/s").is_empty());
        assert_eq!(
            candidates(b"the API_KEY is set"),
            vec![patterns()
                .iter()
                .position(|p| p.id == "secret-assignment")
                .unwrap()]
        );
    }

    #[test]
    fn private_key() {
        let pem = cat(&[
            "-----BEGIN ",
            "RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n",
        ]);
        hits("private-key", &pem);
        hits(
            "private-key",
            &cat(&["-----BEGIN ", "OPENSSH PRIVATE KEY-----"]),
        );
        hits("private-key", &cat(&["-----BEGIN ", "PRIVATE KEY-----"]));
        hits(
            "private-key",
            &cat(&["-----BEGIN ", "ENCRYPTED PRIVATE KEY-----"]),
        );
        hits(
            "private-key",
            &cat(&["-----BEGIN PGP ", "PRIVATE KEY BLOCK-----"]),
        );
        hits(
            "private-key",
            &cat(&["PuTTY-User-", "Key-File-3: ssh-ed25519"]),
        );
        // In a JSON service-account file, line breaks are escaped: still found.
        hits(
            "private-key",
            &cat(&[
                r#"{"private_key": "-----BEGIN "#,
                r#"PRIVATE KEY-----\nMII..."}"#,
            ]),
        );
        clean("-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----");
        clean("-----BEGIN CERTIFICATE-----");
        clean("-----BEGIN PGP PUBLIC KEY BLOCK-----");
        clean("rotate the private key of the deploy user");
    }

    #[test]
    fn aws_access_key_id() {
        // AWS's documented example key id.
        hits("aws-access-key-id", "key id AKIAIOSFODNN7EXAMPLE in use");
        hits("aws-access-key-id", "ASIAIOSFODNN7EXAMPLE");
        hits(
            "aws-access-key-id",
            "aws_access_key_id=AKIAIOSFODNN7EXAMPLE",
        );
        clean("AKIAIOSFODNN7EXAMPL"); // one short
        clean("XAKIAIOSFODNN7EXAMPLE"); // not at a word boundary
        clean("AKIAIOSFODNN7EXAMPLE1"); // one long
        clean("AIDAIOSFODNN7EXAMPLE"); // a user's unique id, not a credential
        clean("akiaiosfodnn7example");
    }

    #[test]
    fn aws_secret_access_key() {
        // AWS's documented example secret key.
        let s = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        hits(
            "aws-secret-access-key",
            &format!("aws_secret_access_key = {s}"),
        );
        hits(
            "aws-secret-access-key",
            &format!("AWS_SECRET_ACCESS_KEY=\"{s}\""),
        );
        hits(
            "aws-secret-access-key",
            &format!("{{\"SecretAccessKey\": \"{s}\"}}"),
        );
        // The key alone names no value.
        clean("set aws_secret_access_key in the vault");
        // The same value without a key saying what it is: too generic to call.
        clean(&format!("checksum {s}"));
    }

    #[test]
    fn github_token() {
        for p in ["ghp", "gho", "ghu", "ghs", "ghr"] {
            hits("github-token", &cat(&["token ", p, "_", &alnum(36)]));
        }
        hits(
            "github-token",
            &cat(&["github_", "pat_", &alnum(22), "_", &alnum(59)]),
        );
        clean(&cat(&["ghp_", &alnum(20)])); // too short
        clean("see ghp_docs for the format");
    }

    #[test]
    fn gitlab_token() {
        hits("gitlab-token", &cat(&["glpat", "-", &alnum(20)]));
        hits("gitlab-token", &cat(&["gldt", "-", &alnum(24)]));
        clean("glpat-short");
        clean("the glpat- prefix marks personal tokens");
    }

    #[test]
    fn slack() {
        hits(
            "slack-token",
            &cat(&["xox", "b-", "1234567890-", &alnum(24)]),
        );
        hits("slack-token", &cat(&["xox", "p-", &alnum(30)]));
        hits(
            "slack-webhook",
            &cat(&[
                "https://hooks.slack.com/",
                "services/T0000000/B0000000/",
                &alnum(24),
            ]),
        );
        clean("xoxb-");
        clean("https://hooks.slack.com/");
        clean("post to #ops on slack");
    }

    #[test]
    fn stripe_key() {
        hits("stripe-key", &cat(&["sk_", "live_", &alnum(24)]));
        hits("stripe-key", &cat(&["rk_", "test_", &alnum(24)]));
        hits("stripe-key", &cat(&["whsec_", &alnum(32)]));
        clean(&cat(&["pk_", "live_", &alnum(24)])); // publishable: not a secret
        clean("sk_live_");
    }

    #[test]
    fn google() {
        hits("google-api-key", &cat(&["AIza", &alnum(35)]));
        hits("google-oauth", &cat(&["GOCSPX", "-", &alnum(28)]));
        hits("google-oauth", &cat(&["ya29", ".", &alnum(40)]));
        clean("AIza");
        clean("ya29.short");
    }

    #[test]
    fn ai_provider_keys() {
        hits(
            "openai-api-key",
            &cat(&["sk-", "proj-", &alnum(20), "T3Blbk", "FJ", &alnum(20)]),
        );
        hits("openai-api-key", &cat(&["sk-", "proj-", &alnum(48)]));
        hits(
            "anthropic-api-key",
            &cat(&["sk-", "ant-api03-", &alnum(80)]),
        );
        hits("huggingface-token", &cat(&["hf_", &"abcdefghij".repeat(4)]));
        hits("npm-token", &cat(&["npm_", &alnum(36)]));
        hits(
            "pypi-token",
            &cat(&["pypi-", "AgEIcHlwaS5vcmc", &alnum(60)]),
        );
        clean("sk-learn is a library");
        clean("sk-ant-");
        clean("hf_hub_download");
        clean("npm_config_cache");
    }

    #[test]
    fn jwt() {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890"} . signature
        let t = cat(&[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            ".",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
            ".",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ]);
        hits("jwt", &format!("session={t}"));
        hits("jwt", &format!("x-token: {t}"));
        clean("eyJhbGciOiJIUzI1NiJ9 alone is only a header");
        clean("file.eyJ.eyJ");
    }

    #[test]
    fn bearer_token() {
        hits(
            "bearer-token",
            &format!("curl -H 'Authorization: Bearer {}'", alnum(32)),
        );
        hits("bearer-token", &format!("bearer {}", alnum(20)));
        clean("bearer tokens are refused by the gateway");
        clean("the bearer authenticationschemeisdeprecated"); // words, no digits
        clean("Bearer ${TOKEN}");
    }

    #[test]
    fn basic_auth() {
        hits("basic-auth", "Authorization: Basic dXNlcjpwYXNzd29yZA==");
        hits(
            "basic-auth",
            r#"{"authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}"#,
        );
        clean("basic authorization is disabled");
        clean("Authorization: Basic");
    }

    #[test]
    fn url_password() {
        hits(
            "url-password",
            "postgres://app:s3cr3t-Pa55@db.internal:5432/orders",
        );
        hits(
            "url-password",
            "see https://deploy:hunter2x@git.example.com/repo.git",
        );
        hits("url-password", "redis://:p4ssw0rd@cache:6379");
        clean("postgres://app@db.internal:5432/orders");
        clean("postgres://app:${DB_PASSWORD}@db.internal/orders");
        clean("postgres://app:****@db.internal/orders");
        clean("postgres://app:<password>@db.internal/orders");
        clean("https://example.com:8443/path");
        clean("git@github.com:acme/payments.git");
        clean("ssh://git@github.com:22/acme/payments.git");
    }

    #[test]
    fn connection_string_password() {
        hits(
            "connection-string-password",
            "Server=db1;Database=orders;User Id=app;Password=Tr0ub4dor&3;",
        );
        hits(
            "connection-string-password",
            "host=db1 port=5432 user=app password=plain dbname=orders",
        );
        clean("Server=db1;Database=orders;Integrated Security=true;");
        clean("Server=db1;Database=orders;User Id=app;Password=;");
        clean("host=db1 user=app password=${PGPASSWORD}");
    }

    #[test]
    fn secret_assignment() {
        for text in [
            "password=Tr0ub4dor&3",
            "DB_PASSWORD=hunter2",
            "export API_KEY=0123456789abcdef0123",
            r#"{"client_secret": "q8Fz-2LmR7vPx0Ns"}"#,
            "token: 9f86d081884c7d659a2feaa0c55ad015",
            "secretKey := \"Zx81LmQw7Ty3\"",
            "x-api-key: Abc123Def456Ghi7",
            "db.password = 'Passw0rd!'",
        ] {
            let found = scan(text.as_bytes());
            assert_eq!(
                found.iter().map(|h| h.rule).collect::<Vec<_>>(),
                vec!["secret-assignment"],
                "in {text:?}"
            );
            assert!(found[0].key.is_some());
        }
        for text in [
            "password=changeme",
            "password: ${DB_PASSWORD}",
            "password: <redacted>",
            "password = \"********\"",
            "token_expiry: 2026-01-15T10:00:00Z",
            "max_tokens: 4096",
            "api_key: vault:secret/data/prod/api#key",
            "client_secret: projects/acme/secrets/oauth/versions/3",
            "secret: prod/db/2024",
            "password_file=/run/secrets/db_password",
            "token: rotated-daily",
            "password: hunter", // no digit, one case
            "secret: aaaaaa1",  // low entropy
            "the password: see the runbook",
        ] {
            clean(text);
        }
    }

    #[test]
    fn hits_carry_lines_and_never_the_value() {
        let text = "line one\nline two\nkey AKIAIOSFODNN7EXAMPLE\n";
        let h = scan(text.as_bytes());
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].line, 3);
        assert!(!format!("{h:?}").contains("AKIAIOSFODNN7EXAMPLE"));
    }

    #[test]
    fn specific_rule_wins_over_generic() {
        // The access key id inside an assignment is reported once, by its specific rule.
        assert_eq!(
            rules("aws_access_key_id=AKIAIOSFODNN7EXAMPLE"),
            vec!["aws-access-key-id"]
        );
        assert_eq!(
            rules(&cat(&["GITHUB_TOKEN=", "ghp_", &alnum(36)])),
            vec!["github-token"]
        );
    }

    #[test]
    fn binary_content_is_scanned_without_panicking() {
        let mut data = vec![0xff, 0xfe, 0x00, 0x80];
        data.extend_from_slice(b"\nAKIAIOSFODNN7EXAMPLE\n");
        data.extend_from_slice(&[0xc3, 0x28]);
        assert_eq!(scan(&data).len(), 1);
        assert!(scan(&[0xff; 1024]).is_empty());
    }

    #[test]
    fn findings_read_well() {
        let mut s = Scan::new(["notes.txt".to_owned()]);
        s.hashed(
            "context file prompt.txt",
            b"a\nb\nAKIAIOSFODNN7EXAMPLE\n",
            &["prompt.txt"],
            false,
            None,
        );
        s.hashed(
            "context file notes.txt",
            b"AKIAIOSFODNN7EXAMPLE",
            &["notes.txt"],
            false,
            None,
        );
        s.stored("--summary", "rotate AKIAIOSFODNN7EXAMPLE");
        s.stored(
            "decision field action.summary",
            "rotate AKIAIOSFODNN7EXAMPLE",
        );
        assert_eq!(
            s.refused[0].to_string(),
            "context file prompt.txt, line 3: looks like an AWS access key id (rule aws-access-key-id); record it as a digest only with --digest-only prompt.txt, or remove it"
        );
        assert!(s.refused[1].to_string().starts_with(
            "--summary: looks like an AWS access key id (rule aws-access-key-id); remove it"
        ));
        // The same stored text is reported once.
        assert_eq!(s.refused.len(), 2);
        assert_eq!(s.noted.len(), 1);
        assert!(s.unused_selectors().is_empty());
    }

    #[test]
    fn placeholders_and_references() {
        for p in [
            "${X}", "$X", "%X%", "{{ x }}", "<pw>", "****", "xxxxxx", "changeme",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for p in ["hunter2", "Tr0ub4dor&3"] {
            assert!(!is_placeholder(p), "{p}");
        }
        for r in [
            "vault:secret/x",
            "op://vault/item/field",
            "arn:aws:secretsmanager:x",
            "prod/db",
        ] {
            assert!(is_reference(r), "{r}");
        }
        assert!(!is_reference("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    }
}
