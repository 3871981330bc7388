//! Control catalogs: the frameworks an audit is held against, as data (`aiaudit/catalog/v1`).
//!
//! Each catalog is one YAML file naming a framework, where its text comes from and as of when,
//! and the controls of it that aiaudit's evidence bears on: for each control its identifier
//! and title as the framework publishes them, the kinds of evidence the ledger holds for it
//! ([`Evidence`]) and the report's gap kinds that count against it. aiaudit ships one file per
//! framework (`catalogs/`, compiled in); an audit repository may add its own under
//! `.aiaudit/catalogs/<key>.yaml`, governed like the policy (admin-signed): a repository
//! catalog with the key of a shipped one replaces it (a re-mapping), any other key adds a
//! framework. `aiaudit report --framework KEY` selects.
//!
//! The report cites nothing that is not in a catalog: every control it prints comes from here,
//! and every catalog's sources are documented in `docs/report.md`.

use serde::{Deserialize, Serialize};

pub const CATALOG_SCHEMA: &str = "aiaudit/catalog/v1";
/// Where an audit repository keeps its own catalogs.
pub const REPO_CATALOGS_DIR: &str = ".aiaudit/catalogs";
/// Size cap for a catalog file, checked before parsing.
pub const MAX_CATALOG_BYTES: usize = 256 * 1024;

/// The catalogs shipped with aiaudit, in the order the report prints them.
const SHIPPED: &[(&str, &str)] = &[
    (
        "catalogs/nist-csf-2.0.yaml",
        include_str!("../catalogs/nist-csf-2.0.yaml"),
    ),
    (
        "catalogs/nist-ai-rmf-1.0.yaml",
        include_str!("../catalogs/nist-ai-rmf-1.0.yaml"),
    ),
    (
        "catalogs/owasp-agentic-2026.yaml",
        include_str!("../catalogs/owasp-agentic-2026.yaml"),
    ),
    (
        "catalogs/csa-maestro.yaml",
        include_str!("../catalogs/csa-maestro.yaml"),
    ),
    (
        "catalogs/eu-ai-act.yaml",
        include_str!("../catalogs/eu-ai-act.yaml"),
    ),
    (
        "catalogs/iso-27001-2022.yaml",
        include_str!("../catalogs/iso-27001-2022.yaml"),
    ),
    (
        "catalogs/iso-42001-2023.yaml",
        include_str!("../catalogs/iso-42001-2023.yaml"),
    ),
    (
        "catalogs/soc2-tsc-2017.yaml",
        include_str!("../catalogs/soc2-tsc-2017.yaml"),
    ),
];

/// One framework and the controls of it aiaudit's evidence bears on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Always `aiaudit/catalog/v1`.
    pub schema: String,
    /// Short stable key (`nist_csf`), used by `report --framework` and in the JSON report.
    pub key: String,
    /// The framework's name as printed.
    pub name: String,
    /// Where the ids and titles come from: the publication, and the copy that was read.
    pub source: String,
    /// The version or publication date of the framework text (`YYYY`, `YYYY-MM` or
    /// `YYYY-MM-DD`).
    pub as_of: String,
    pub controls: Vec<Control>,
}

/// A control (subcategory, criterion, article, layer) of a framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The identifier exactly as the framework writes it (`PR.AA-03`, `GOVERN 2.1`, `ASI03`,
    /// `Art. 12(1)`, `A.6.2.8`, `CC6.1`; a layer's name where the framework has no ids).
    pub id: String,
    /// Its title or statement, verbatim where the framework has one.
    pub title: String,
    /// The evidence the ledger holds for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// The report's gap kinds that count against it (`report::GAP_KINDS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
}

/// A kind of evidence the report computes from the ledger and `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// `verify` over the whole history: every rule of the hook holds from the root.
    HistoryVerified,
    /// Decisions recorded, each with its initiator, action, model and context digest.
    DecisionsRecorded,
    /// Context inputs recorded by digest (prompts, documents, tool calls).
    ContextRecorded,
    /// Decisions whose model is pinned to a version.
    ModelsPinned,
    /// Decisions naming the agents of a multi-agent flow, each with its own identity.
    AgentsRecorded,
    /// Records signed by their initiator.
    InitiatorSigned,
    /// Decisions approved by signature before they landed.
    ApprovalsSigned,
    /// Approvals by humans other than the initiator, its owner and the agents (the hook's
    /// rule), one count per principal.
    SeparationOfDuties,
    /// Decisions with a recorded outcome.
    OutcomesRecorded,
    /// Outcomes signed by their executor.
    OutcomesSigned,
    /// Signed post-action reviews.
    ReviewsSigned,
}

impl Evidence {
    pub const ALL: [Evidence; 11] = [
        Evidence::HistoryVerified,
        Evidence::DecisionsRecorded,
        Evidence::ContextRecorded,
        Evidence::ModelsPinned,
        Evidence::AgentsRecorded,
        Evidence::InitiatorSigned,
        Evidence::ApprovalsSigned,
        Evidence::SeparationOfDuties,
        Evidence::OutcomesRecorded,
        Evidence::OutcomesSigned,
        Evidence::ReviewsSigned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::HistoryVerified => "history-verified",
            Evidence::DecisionsRecorded => "decisions-recorded",
            Evidence::ContextRecorded => "context-recorded",
            Evidence::ModelsPinned => "models-pinned",
            Evidence::AgentsRecorded => "agents-recorded",
            Evidence::InitiatorSigned => "initiator-signed",
            Evidence::ApprovalsSigned => "approvals-signed",
            Evidence::SeparationOfDuties => "separation-of-duties",
            Evidence::OutcomesRecorded => "outcomes-recorded",
            Evidence::OutcomesSigned => "outcomes-signed",
            Evidence::ReviewsSigned => "reviews-signed",
        }
    }
}

/// What is wrong with a catalog file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problems}", problems = .problems.join("; "))]
pub struct CatalogError {
    pub path: String,
    pub problems: Vec<String>,
}

/// Parses and checks a catalog file found at `path`. `gap_kinds`: the gap kinds a control may
/// name.
pub fn parse(path: &str, bytes: &[u8], gap_kinds: &[&str]) -> Result<Catalog, CatalogError> {
    let err = |problems: Vec<String>| CatalogError {
        path: path.to_owned(),
        problems,
    };
    if bytes.len() > MAX_CATALOG_BYTES {
        return Err(err(vec![format!(
            "{} bytes, more than the {MAX_CATALOG_BYTES}-byte cap for catalogs",
            bytes.len()
        )]));
    }
    let text = crate::record::check_text(bytes).map_err(|d| err(vec![d.message]))?;
    crate::record::check_yaml_bounds(text).map_err(|d| err(vec![d.message]))?;
    let c: Catalog = serde_yaml::from_str(text).map_err(|e| err(vec![e.to_string()]))?;
    let problems = validate(&c, gap_kinds);
    if problems.is_empty() {
        Ok(c)
    } else {
        Err(err(problems))
    }
}

/// Every problem of a parsed catalog.
fn validate(c: &Catalog, gap_kinds: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if c.schema != CATALOG_SCHEMA {
        out.push(format!("schema: must be `{CATALOG_SCHEMA}`"));
    }
    let key_ok = !c.key.is_empty()
        && c.key.len() <= 64
        && c.key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && c.key.as_bytes()[0].is_ascii_lowercase();
    if !key_ok {
        out.push(format!(
            "key: `{}` is not a key (lowercase letters, digits and `_`, a letter first, at most 64)",
            c.key
        ));
    }
    let as_of_ok = {
        let parts: Vec<&str> = c.as_of.split('-').collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        matches!(lens.as_slice(), [4] | [4, 2] | [4, 2, 2])
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    if !as_of_ok {
        out.push(format!(
            "as_of: `{}` is not YYYY, YYYY-MM or YYYY-MM-DD",
            c.as_of
        ));
    }
    for (field, v) in [("name", &c.name), ("source", &c.source)] {
        if let Some(p) = line_problem(v) {
            out.push(format!("{field}: {p}"));
        }
    }
    if c.controls.is_empty() {
        out.push("controls: a catalog names at least one control".into());
    }
    let mut seen = std::collections::HashSet::new();
    for (i, ctl) in c.controls.iter().enumerate() {
        let at = format!("controls[{i}] (`{}`)", ctl.id);
        if let Some(p) = line_problem(&ctl.id) {
            out.push(format!("{at}.id: {p}"));
        } else if ctl.id.len() > 64 {
            out.push(format!("{at}.id: longer than 64 bytes"));
        }
        if !seen.insert(ctl.id.as_str()) {
            out.push(format!("{at}.id: listed twice"));
        }
        if let Some(p) = line_problem(&ctl.title) {
            out.push(format!("{at}.title: {p}"));
        }
        for g in &ctl.gaps {
            if !gap_kinds.contains(&g.as_str()) {
                out.push(format!(
                    "{at}.gaps: `{g}` is not a gap kind of the report ({})",
                    gap_kinds.join(", ")
                ));
            }
        }
        if ctl.evidence.is_empty() && ctl.gaps.is_empty() {
            out.push(format!(
                "{at}: names neither evidence nor gaps; the report would have nothing to say about it"
            ));
        }
    }
    out
}

/// Why `s` is not a one-line text field (empty, too long, control or invisible characters).
fn line_problem(s: &str) -> Option<String> {
    if s.trim().is_empty() {
        return Some("empty".into());
    }
    if s.len() > 2048 {
        return Some("longer than 2048 bytes".into());
    }
    s.chars()
        .find(|c| c.is_control() || crate::text::is_hidden(*c))
        .map(|c| format!("holds the character U+{:04X}", c as u32))
}

/// The catalogs shipped with aiaudit, parsed (an error here is a bug in the shipped data, which
/// a test rules out).
pub fn shipped(gap_kinds: &[&str]) -> Result<Vec<Catalog>, CatalogError> {
    SHIPPED
        .iter()
        .map(|(path, text)| parse(path, text.as_bytes(), gap_kinds))
        .collect()
}

/// The shipped catalogs with a repository's own laid over them: one with a shipped key
/// replaces it in place, others follow in the order given.
pub fn merged(shipped: Vec<Catalog>, repo: Vec<Catalog>) -> Vec<Catalog> {
    let mut out = shipped;
    for c in repo {
        match out.iter_mut().find(|s| s.key == c.key) {
            Some(slot) => *slot = c,
            None => out.push(c),
        }
    }
    out
}

/// The repository path of a catalog with key `key`.
pub fn repo_path(key: &str) -> String {
    format!("{REPO_CATALOGS_DIR}/{key}.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<&'static str> {
        crate::report::GAP_KINDS.iter().map(|g| g.kind).collect()
    }

    #[test]
    fn shipped_catalogs_parse_with_unique_keys() {
        let all = shipped(&kinds()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), SHIPPED.len());
        let mut keys: Vec<&str> = all.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "duplicate catalog keys");
    }

    /// Every gap kind counts against at least one control of every shipped framework but
    /// MAESTRO's few layers, so no finding goes unmapped.
    #[test]
    fn every_gap_kind_maps_to_a_control() {
        let all = shipped(&kinds()).unwrap();
        for k in kinds() {
            assert!(
                all.iter()
                    .any(|c| c.controls.iter().any(|ctl| ctl.gaps.iter().any(|g| g == k))),
                "gap kind {k} maps to no control"
            );
        }
    }

    #[test]
    fn bad_catalogs_are_refused_with_every_problem() {
        let text = "schema: \"aiaudit/catalog/v1\"\nkey: \"Bad Key\"\nname: \"x\"\nsource: \"y\"\nas_of: \"2024-13\"\ncontrols:\n  - id: \"A\"\n    title: \"t\"\n    gaps: [\"no-such-gap\"]\n  - id: \"A\"\n    title: \"t\"\n    evidence: [\"history-verified\"]\n";
        let e = parse("x.yaml", text.as_bytes(), &kinds()).unwrap_err();
        let all = e.problems.join("\n");
        for want in ["key:", "no-such-gap", "listed twice"] {
            assert!(all.contains(want), "{want} in {all}");
        }
        let unknown = text.replace("as_of: \"2024-13\"", "as_of: \"2024\"\nextra: 1");
        assert!(parse("x.yaml", unknown.as_bytes(), &kinds())
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        let evidence = text.replace("history-verified", "vibes");
        assert!(parse("x.yaml", evidence.as_bytes(), &kinds()).is_err());
    }
}
