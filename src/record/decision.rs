//! The decision record, schema `aiaudit/decision/v1` (SPEC §5).
//!
//! Field order here is the canonical key order. Every field is documented in
//! `schemas/decision.v1.schema.json` and `docs/record.md`; keep the three in step (a test checks
//! the samples in `examples/` against both the JSON Schema and this model).

use serde::{Deserialize, Serialize};

pub const DECISION_SCHEMA: &str = "aiaudit/decision/v1";

/// One AI-assisted action and its accountability chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Always `aiaudit/decision/v1`.
    pub schema: String,
    /// A ULID: time-ordered, collision-resistant, unique across history.
    pub id: String,
    /// RFC 3339 UTC with second precision, `YYYY-MM-DDTHH:MM:SSZ`; equals the id's timestamp.
    pub created: String,
    pub initiator: Initiator,
    pub action: Action,
    pub ai: Ai,
    pub context: Context,
    pub recommendation: Recommendation,
    /// Derived from the policy's matching rule; never chosen by the initiator.
    pub risk: Risk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    Human,
    Service,
    Workflow,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Human => "human",
            PrincipalKind::Service => "service",
            PrincipalKind::Workflow => "workflow",
        }
    }
}

/// Who initiated the action: a named user, service account or workflow, never "the AI".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Initiator {
    /// The principal id in the policy.
    pub id: String,
    pub kind: PrincipalKind,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `service` and `workflow`: the accountable human principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The forge login of the person or account that pushed, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge_login: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    CodeMerge,
    AccessChange,
    SecretRetrieval,
    ProductionChange,
    ConfigChange,
    DataAccess,
    Other,
}

impl ActionKind {
    pub const ALL: &'static [ActionKind] = &[
        ActionKind::CodeMerge,
        ActionKind::AccessChange,
        ActionKind::SecretRetrieval,
        ActionKind::ProductionChange,
        ActionKind::ConfigChange,
        ActionKind::DataAccess,
        ActionKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::CodeMerge => "code-merge",
            ActionKind::AccessChange => "access-change",
            ActionKind::SecretRetrieval => "secret-retrieval",
            ActionKind::ProductionChange => "production-change",
            ActionKind::ConfigChange => "config-change",
            ActionKind::DataAccess => "data-access",
            ActionKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// What the action does and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub kind: ActionKind,
    pub target: Target,
    pub summary: String,
    /// Identities (accounts, roles) the action touches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Secrets the action touches, by reference (vault path, secret name), never by value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Datasets the action touches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// The exact action, where the decision names it: the command line, word by word (no
    /// shell), that `aiaudit exec` runs only if it is exactly this one. Approvers sign it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// For code merges: the change digests (`aiaudit change-digest`) of the product commits
    /// the decision covers; `aiaudit check` accepts only those changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The change set or API request document the action applies, by digest (`aiaudit exec
    /// --payload FILE` checks the file against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<ContentDigest>,
}

/// Content kept outside the ledger, named by its digest: the SHA-256 of its exact bytes
/// (lowercase hex) and their length. A decision's payload; an outcome's output and log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDigest {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The system acted on (e.g. `github.com/acme/payments`, `aws:prod`, `vault`).
    pub system: String,
    /// A repository, where the action is a code change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// A change reference: pull request, change ticket, merge request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// A resource inside the system (a role, a database, a secret path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AiRole {
    Suggested,
    Changed,
    Initiated,
}

impl AiRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AiRole::Suggested => "suggested",
            AiRole::Changed => "changed",
            AiRole::Initiated => "initiated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AiRole::Suggested, AiRole::Changed, AiRole::Initiated]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The model's part in the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ai {
    pub role: AiRole,
    pub model: Model,
    /// The tool or agent framework and its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Multi-agent flows: one entry per agent, each with its own identity and role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
}

/// A model, pinned. OpenTelemetry GenAI: `provider` is `gen_ai.provider.name`, `name` is
/// `gen_ai.request.model`, `version` the exact `gen_ai.response.model` snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub provider: String,
    pub name: String,
    pub version: String,
}

/// Whether a model's version is not pinned where a model enters a record: a floating alias
/// ([`super::is_floating_version`]), or the requested `name` itself
/// (`claude-sonnet-4@claude-sonnet-4`: the alias the caller asked for, not the snapshot that
/// ran). `name` is `None` where the source names no requested model.
pub fn version_floats(name: Option<&str>, version: &str) -> bool {
    super::is_floating_version(version)
        || name.is_some_and(|n| n.trim().eq_ignore_ascii_case(version.trim()))
}

impl Model {
    /// The model in one form whatever the source: a version that repeats the name in front
    /// (`claude-sonnet-4` / `claude-sonnet-4-20250514`, as OpenTelemetry's
    /// `gen_ai.response.model` reports it) keeps only what follows (`20250514`, as
    /// `--model anthropic/claude-sonnet-4@20250514` gives it), so one model is counted once.
    pub fn normalized(mut self) -> Model {
        let prefix = format!("{}-", self.name);
        if let Some(rest) = self.version.strip_prefix(&prefix) {
            if !rest.trim().is_empty() {
                self.version = rest.to_owned();
            }
        }
        self
    }

    /// Whether the version is not pinned, as a model enters a record ([`version_floats`]).
    pub fn version_floats(&self) -> bool {
        version_floats(Some(&self.name), &self.version)
    }

    /// `provider/name@version`, the form of the `Model` trailer.
    pub fn trailer(&self) -> String {
        format!("{}/{}@{}", self.provider, self.name, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The agent's own identity (a principal id where it has one).
    pub id: String,
    /// `proposer`, `validator`, `executor`, or another role name.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

/// The inputs that informed the model, each by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// `sha256:<hex>` over the entries, by the rule in `docs/context-digest.md`.
    pub digest: String,
    pub entries: Vec<ContextEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextKind {
    Prompt,
    SystemInstructions,
    RetrievedDocument,
    ToolCall,
    File,
    Ticket,
    Dataset,
    Other,
}

impl ContextKind {
    pub const ALL: &'static [ContextKind] = &[
        ContextKind::Prompt,
        ContextKind::SystemInstructions,
        ContextKind::RetrievedDocument,
        ContextKind::ToolCall,
        ContextKind::File,
        ContextKind::Ticket,
        ContextKind::Dataset,
        ContextKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Prompt => "prompt",
            ContextKind::SystemInstructions => "system-instructions",
            ContextKind::RetrievedDocument => "retrieved-document",
            ContextKind::ToolCall => "tool-call",
            ContextKind::File => "file",
            ContextKind::Ticket => "ticket",
            ContextKind::Dataset => "dataset",
            ContextKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextEntry {
    pub kind: ContextKind,
    /// A name: file name, document title, tool name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Size of the content in bytes (for a tool call: of its result).
    pub size: u64,
    /// Lowercase hex SHA-256 of the content (for a tool call: of its result).
    pub sha256: String,
    /// Tool calls only: lowercase hex SHA-256 of the call's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments_sha256: Option<String>,
}

/// What the model recommended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    pub summary: String,
    /// Lowercase hex SHA-256 of the model's full output.
    pub sha256: String,
    /// Size of the full output in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}
