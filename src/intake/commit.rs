//! A product commit as decision material (`record --from-commit REV`): its subject, and the
//! model its `Assisted-by` trailer names.
//!
//! The trailer's form is the Linux kernel's (Documentation/process/coding-assistants.rst,
//! torvalds/linux at 41362886881f, "Attribution"): `Assisted-by: AGENT_NAME:MODEL_VERSION
//! [TOOL1] [TOOL2]`, e.g. `Assisted-by: Claude:claude-3-opus coccinelle sparse`. The
//! `MODEL_VERSION` is turned into a pinned `provider/name@version`:
//! - `PROVIDER/NAME@VERSION` as `record --model` takes it is used as written;
//! - a model id ending in a dated snapshot (`claude-sonnet-4-20250514`, `gpt-4o-2024-08-06`)
//!   is that name at that date, the provider told by the id's family (`claude-` → `anthropic`,
//!   `gpt-`/`o1`/`o3`/`o4`/`codex-` → `openai`, `gemini-` → `gcp.gemini`: the values of
//!   OpenTelemetry's `gen_ai.provider.name`, open-telemetry/semantic-conventions-genai
//!   `model/gen-ai/registry.yaml`);
//! - anything else (`claude-sonnet-4`, `claude-3-opus`) is an alias that does not say which
//!   snapshot ran: it is floating, as on every other path, and a pinned model must come from
//!   `--model` or `aiaudit.model` (docs/config.md).

use crate::ledger::trailers;
use crate::record::Model;

/// One `Assisted-by` trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistedBy {
    /// `AGENT_NAME`: the tool or framework (`Claude`, `Cursor`, `Claude Code`).
    pub agent: String,
    /// `MODEL_VERSION` as written.
    pub model: String,
    /// The specialised analysis tools listed after it.
    pub tools: Vec<String>,
}

/// The `Assisted-by` trailers of a commit message, in order. A value without `:` names an
/// agent and no model.
pub fn assisted_by(message: &str) -> Vec<AssistedBy> {
    trailers::parse_lenient(message)
        .0
        .into_iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Assisted-by"))
        .map(|(_, v)| {
            let v = v.trim();
            // AGENT_NAME may hold blanks (`Claude Code`); MODEL_VERSION and tools do not.
            match v.split_once(':') {
                Some((agent, rest)) => {
                    let mut words = rest.split_whitespace();
                    AssistedBy {
                        agent: agent.trim().to_owned(),
                        model: words.next().unwrap_or_default().to_owned(),
                        tools: words.map(str::to_owned).collect(),
                    }
                }
                None => AssistedBy {
                    agent: v.to_owned(),
                    model: String::new(),
                    tools: Vec::new(),
                },
            }
        })
        .collect()
}

/// Why a `MODEL_VERSION` does not give a pinned model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPinned {
    /// No model named at all.
    Missing,
    /// An alias: the name of a model family or a moving pointer, not a snapshot.
    Alias(String),
    /// A model id whose provider cannot be told from its name.
    UnknownProvider(String),
}

/// The provider a model id's family belongs to, as OpenTelemetry names providers.
fn provider_of(id: &str) -> Option<&'static str> {
    let id = id.to_ascii_lowercase();
    let starts = |p: &str| id.starts_with(p);
    if starts("claude-") {
        Some("anthropic")
    } else if starts("gpt-")
        || starts("codex-")
        || ["o1", "o3", "o4"]
            .iter()
            .any(|p| id == *p || id.starts_with(&format!("{p}-")))
    {
        Some("openai")
    } else if starts("gemini-") {
        Some("gcp.gemini")
    } else {
        None
    }
}

/// `name` and the dated snapshot it ends in (`-YYYYMMDD` or `-YYYY-MM-DD`), if it does.
fn dated(id: &str) -> Option<(&str, &str)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((name, date)) = id.rsplit_once('-') {
        if date.len() == 8 && digits(date) && date.starts_with("20") && !name.is_empty() {
            return Some((name, date));
        }
    }
    // -YYYY-MM-DD: the last 11 bytes.
    if id.len() > 11 && id.is_char_boundary(id.len() - 11) {
        let (name, tail) = id.split_at(id.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && digits(&tail[1..5])
            && digits(&tail[6..8])
            && digits(&tail[9..11])
        {
            return Some((name, &tail[1..]));
        }
    }
    None
}

/// The pinned model a `MODEL_VERSION` names.
pub fn pinned_model(model_version: &str) -> Result<Model, NotPinned> {
    let v = model_version.trim();
    if v.is_empty() {
        return Err(NotPinned::Missing);
    }
    if let (Some((pn, version)), true) = (v.rsplit_once('@'), v.contains('/')) {
        if let Some((provider, name)) = pn.split_once('/') {
            let m = Model {
                provider: provider.into(),
                name: name.into(),
                version: version.into(),
            };
            if provider.is_empty() || name.is_empty() || version.is_empty() || m.version_floats() {
                return Err(NotPinned::Alias(v.to_owned()));
            }
            return Ok(m.normalized());
        }
    }
    let Some((name, date)) = dated(v) else {
        return Err(NotPinned::Alias(v.to_owned()));
    };
    let provider = provider_of(v).ok_or_else(|| NotPinned::UnknownProvider(v.to_owned()))?;
    Ok(Model {
        provider: provider.into(),
        name: name.into(),
        version: date.into(),
    })
}

/// The model name an alias stands for (the family: `claude-sonnet-4`), for matching it with a
/// configured pinned model.
pub fn alias_name(model_version: &str) -> &str {
    let v = model_version.trim();
    match v.rsplit_once('@') {
        Some((pn, _)) => pn.split_once('/').map(|(_, n)| n).unwrap_or(pn),
        None => v,
    }
}

/// The first line of a commit message.
pub fn subject(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_form_is_read() {
        let msg = "Fix the parser\n\nBody.\n\nSigned-off-by: A <a@x>\nAssisted-by: Claude:claude-3-opus coccinelle sparse\nAssisted-by: Claude Code:claude-sonnet-4-20250514\n";
        let a = assisted_by(msg);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].agent, "Claude");
        assert_eq!(a[0].model, "claude-3-opus");
        assert_eq!(a[0].tools, vec!["coccinelle", "sparse"]);
        assert_eq!(a[1].agent, "Claude Code");
        assert_eq!(a[1].model, "claude-sonnet-4-20250514");
        // Only the last paragraph holds trailers: prose in the body is not one.
        assert!(
            assisted_by("Fix\n\nAssisted-by: x:y, said the body.\n\nSigned-off-by: A <a@x>\n")
                .is_empty()
        );
    }

    #[test]
    fn dated_snapshots_are_pinned_and_aliases_float() {
        let m = pinned_model("claude-sonnet-4-20250514").unwrap();
        assert_eq!(m.trailer(), "anthropic/claude-sonnet-4@20250514");
        let m = pinned_model("gpt-4o-2024-08-06").unwrap();
        assert_eq!(m.trailer(), "openai/gpt-4o@2024-08-06");
        let m = pinned_model("anthropic/claude-sonnet-4@20250514").unwrap();
        assert_eq!(m.trailer(), "anthropic/claude-sonnet-4@20250514");
        for alias in [
            "claude-sonnet-4",
            "claude-3-opus",
            "gpt-4o",
            "anthropic/claude-sonnet-4@latest",
            "anthropic/claude-sonnet-4@claude-sonnet-4",
            "claude-sonnet-4-2025",
        ] {
            assert!(
                matches!(pinned_model(alias), Err(NotPinned::Alias(_))),
                "{alias}"
            );
        }
        assert_eq!(pinned_model(" "), Err(NotPinned::Missing));
        assert!(matches!(
            pinned_model("grok-4-20250709"),
            Err(NotPinned::UnknownProvider(_))
        ));
        assert_eq!(alias_name("anthropic/claude-sonnet-4@x"), "claude-sonnet-4");
        assert_eq!(alias_name("claude-sonnet-4"), "claude-sonnet-4");
    }
}
