//! What makes a product commit AI-assisted, and the decisions it names: trailers of the commit
//! message's last paragraph (keys compared case-insensitively).
//!
//! - `Decision-Id: <id>`: the commit claims a decision; it is checked whatever else it says;
//! - `Assisted-by:` and `Generated-by:`, whatever their value: by convention these name AI
//!   tools (e.g. the Linux kernel's `Assisted-by: AGENT:MODEL`);
//! - `Co-authored-by:` and `Co-developed-by:` naming a known AI tool ([`AI_TOOLS`], extended
//!   with `--ai-tool`), matched case-insensitively by whole words of the trailer's name or
//!   email local part. Tool names that are also common first names (Claude, Devin, Cody,
//!   Jules, …) count only when they are the whole name (`Claude <noreply@anthropic.com>`,
//!   `Claude Code`), so `Claude Dupont <claude@corp.example>` stays a human co-author.

use super::printable;
use crate::ledger::trailers;

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
const DECISION_ID: &str = trailers::DECISION_ID;
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

/// What a commit's trailers say: the decisions it names, and why it counts as AI-assisted.
#[derive(Debug, Default)]
pub struct Claims {
    pub decisions: Vec<String>,
    /// `Key: value` of each AI-assistance trailer, with the tool it names.
    pub ai: Vec<(String, Option<String>)>,
}

/// What `message` claims: the decisions it names and its AI-assistance trailers.
pub fn claims(message: &str, extra: &[String]) -> Claims {
    let mut c = Claims::default();
    for (k, v) in trailers::parse_lenient(message).0 {
        let v = printable(&v);
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

#[cfg(test)]
mod tests {
    use super::*;

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
