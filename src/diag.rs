//! Diagnostics: what the rule engine finds, with stable codes.
//!
//! Every finding carries a [`Code`]. A code's kebab-case name never changes once released: the
//! hook's messages, `verify --json` and scripts that grep them all key on it. The table in
//! `docs/diagnostics.md` is checked against [`Code::ALL`] by a test, so the documentation cannot
//! drift from the code.

use serde::Serialize;
use std::fmt;

macro_rules! codes {
    ($( $variant:ident = $name:literal : $summary:literal ; $remedy:literal ; )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $variant, )* }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable kebab-case name.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The code with this kebab-case name.
            pub fn from_name(name: &str) -> Option<Code> {
                Self::ALL.iter().copied().find(|c| c.name() == name)
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => $summary, )* }
            }

            /// What to do about it.
            pub fn remedy(self) -> &'static str {
                match self { $( Code::$variant => $remedy, )* }
            }
        }
    };
}

codes! {
    MainDeleted = "main-deleted":
        "the push deletes the ledger ref refs/heads/main";
        "the ledger is append-only: never delete main";
    NonFastForward = "non-fast-forward":
        "the push rewrites main: the old tip is not an ancestor of the new one";
        "fetch, rebuild your commit on top of the current main (aiaudit does this) and push again";
    RefNotAllowed = "ref-not-allowed":
        "the push updates a ref outside refs/heads/main and refs/heads/proposals/<id>";
        "push decisions to refs/heads/proposals/<id> with `aiaudit record --push`, land them with `aiaudit approve`";
    MergeCommit = "merge-commit":
        "a commit on main has more than one parent (the ledger is linear)";
        "land decisions with `aiaudit approve`, which builds one commit on top of main";
    CommitEmpty = "commit-empty":
        "a commit on main adds no record";
        "every commit on main adds exactly one decision, one event, or one signed policy change";
    CommitMultipleRecords = "commit-multiple-records":
        "a commit adds more than one record, or mixes records with a policy change";
        "split it: one record per commit, policy changes in commits of their own";
    RecordModified = "record-modified":
        "a commit modifies an existing record";
        "records are immutable: add an event (outcome, review, annotation) instead of editing";
    RecordDeleted = "record-deleted":
        "a commit deletes an existing record";
        "records are immutable and kept for investigation: never delete one";
    RecordRenamed = "record-renamed":
        "a commit renames or moves an existing record";
        "records are immutable: never move one";
    PathNotAllowed = "path-not-allowed":
        "a commit adds a file outside decisions/YYYY/MM/, events/YYYY/MM/ and context/<xx>/<sha256> (or an unsigned governance file)";
        "only records go into the audit repo; policy and keys change through admin-signed commits (`aiaudit principal add`)";
    SymlinkNotAllowed = "symlink-not-allowed":
        "a commit adds a symbolic link";
        "records are regular files: commit the file itself";
    SubmoduleNotAllowed = "submodule-not-allowed":
        "a commit adds a submodule (gitlink)";
        "the audit repo holds no submodules: remove it";
    FileModeNotAllowed = "file-mode-not-allowed":
        "a record has a mode other than 100644 (for example executable)";
        "commit records as plain, non-executable files";
    FileTooLarge = "file-too-large":
        "a file exceeds the size cap for its kind";
        "keep records small: store digests of large inputs, not their content";
    NotUtf8 = "not-utf8":
        "a file is not valid UTF-8 or contains a NUL byte";
        "records are UTF-8 text written by `aiaudit record`";
    RecordMalformed = "record-malformed":
        "a record is not well-formed YAML of its schema (syntax error, unknown or duplicate field, wrong type)";
        "write records with `aiaudit record`; the message names the field and line";
    FieldMissing = "field-missing":
        "a required field is absent";
        "supply the named field (see schemas/ and docs/record.md)";
    FieldInvalid = "field-invalid":
        "a field's value breaks the schema (bad enum value, format, length, character)";
        "fix the named field (see schemas/ and docs/record.md)";
    ModelVersionFloating = "model-version-floating":
        "the model version is a floating alias such as `latest`";
        "pin the exact model version the provider reports (e.g. a dated snapshot)";
    RecordNotCanonical = "record-not-canonical":
        "the file does not re-serialize to the same bytes (key order, quoting, comments, anchors, aliases, tags, duplicates)";
        "write records with `aiaudit record`; the canonical form is described in docs/record.md";
    ContextDigestMismatch = "context-digest-mismatch":
        "the context digest does not recompute from the context entries";
        "recompute it with the rule in docs/context-digest.md, or re-record";
    StoredContextMismatch = "stored-context-mismatch":
        "a stored context file's content does not hash to its name (context/<xx>/<sha256>)";
        "store context with `aiaudit record --store-context`, which names each file by the SHA-256 of its content";
    StoredContextUnreferenced = "stored-context-unreferenced":
        "a stored context file is not the content of an input, tool call or model output of the decision its commit adds";
        "store only a decision's own inputs, in the commit that adds the decision (`aiaudit record --store-context`)";
    StoredContextSecret = "stored-context-secret":
        "stored context content looks like a credential";
        "secrets never enter the audit repo: record that input by its digest only (`--digest-only NAME`)";
    IdInvalid = "id-invalid":
        "the id is not a ULID, or its timestamp disagrees with `created`";
        "let `aiaudit record` allocate the id";
    PathMismatch = "path-mismatch":
        "the file's path does not match its id and creation date";
        "decisions live at decisions/YYYY/MM/<id>.yaml, events at events/YYYY/MM/<id>.yaml";
    DuplicateId = "duplicate-id":
        "the id is already used by another record";
        "ids are unique across history: re-record to get a fresh id";
    TrailerMissing = "trailer-missing":
        "a commit lacks a required trailer";
        "commit through aiaudit, which writes Decision-Id, Initiator, Context-Digest, Model, AI-Role, Action and Risk";
    TrailerMismatch = "trailer-mismatch":
        "a trailer disagrees with the record it describes, or is malformed";
        "commit through aiaudit so trailers mirror the file";
    AuthorMismatch = "author-mismatch":
        "a decision commit's git author is not its initiator (the email the policy gives the initiator)";
        "the git author of a decision commit is its initiator: commit through `aiaudit record`";
    InitiatorUnknown = "initiator-unknown":
        "the initiator (or its owner) is not a principal of the policy, or its kind disagrees";
        "add the principal with `aiaudit principal add`, signed by an admin";
    RiskMismatch = "risk-mismatch":
        "the record's risk differs from the risk the policy derives for its action";
        "risk is derived from the policy: let `aiaudit record` fill it in";
    ApprovalMissing = "approval-missing":
        "the approvals on a decision landing on main fall short of the policy's requirement";
        "collect approvals with `aiaudit approve ID` from the groups the policy names";
    SignatureInvalid = "signature-invalid":
        "an approval signature does not verify over this file (forged, corrupted, or copied from another decision)";
        "approve the exact file with `aiaudit approve ID`; signatures are never reusable";
    KeyUnknown = "key-unknown":
        "a signature was made by a key that is not listed for any principal of the policy";
        "add the key to the signer's principal with an admin-signed policy change first";
    KeyExpired = "key-expired":
        "the signing key was expired at signing time or is expired now";
        "extend the key's expiry, publish the updated certificate, and sign again";
    KeyRevoked = "key-revoked":
        "the signing key or its certificate is revoked";
        "sign with a valid key; a compromised key's signatures do not count";
    SelfApproval = "self-approval":
        "the approver is the initiator, the owner of the initiating account, or an agent in the chain";
        "separation of duties: another human principal must approve";
    ApproverNotHuman = "approver-not-human":
        "the approver is a service or workflow principal";
        "approvals come from human principals only";
    ApproverMismatch = "approver-mismatch":
        "an Approved-by trailer names a principal (or email) other than the owner of the signing key";
        "let `aiaudit approve` write the trailer";
    RolesNotSeparated = "roles-not-separated":
        "one identity holds two roles of a decision that the policy's separate_roles keeps apart";
        "give each role its own identity (a separate agent or service account)";
    SharedAccount = "shared-account":
        "a service or workflow account is used as a shared identity (it initiated a decision and records its outcome)";
        "give the executor its own identity; the policy's shared_accounts decides whether this warns or rejects";
    PusherMismatch = "pusher-mismatch":
        "the policy binds pushers, and the forge login that pushed this commit onto main is not one of its approvers, signers or actor, nor a landing account";
        "let an approver (or a landing account named in the policy) push it; check the forge passes the pusher to the hook";
    PolicyInvalid = "policy-invalid":
        "the policy or a key file in .aiaudit/ is malformed";
        "fix .aiaudit/policy.yaml as the message says; the error names the line";
    PolicyChangeUnsigned = "policy-change-unsigned":
        "a change to .aiaudit/ or README.md lacks enough valid signatures by admins of the previous policy";
        "change governance files with `aiaudit principal add`, signed by enough admins of the previous policy";
    GenesisInvalid = "genesis-invalid":
        "the root commit of main is not a valid genesis (policy, keys and README only)";
        "create the audit repository with `aiaudit init`";
    ProposalInvalid = "proposal-invalid":
        "a proposal ref does not hold one decision commit on top of main with the id of the ref";
        "push proposals with `aiaudit record --push`";
    EventUnknownDecision = "event-unknown-decision":
        "an event refers to a decision that does not exist on main";
        "record the decision first; events only describe existing decisions";
    ReviewOverdue = "review-overdue":
        "a decision landed for post-action review, and its deadline passed without the reviews its policy rule requires";
        "a reviewer eligible under the rule records `aiaudit review ID`; investigate why it is late";
    OutcomeMissing = "outcome-missing":
        "(warning) a high- or critical-risk decision has no recorded outcome";
        "the executor records the final system action with `aiaudit outcome ID`";
    CheckpointMoved = "checkpoint-moved":
        "the push moves or deletes a checkpoint tag (refs/tags/checkpoint/*)";
        "checkpoints are permanent: create a new one with `aiaudit checkpoint`";
    CheckpointInvalid = "checkpoint-invalid":
        "a new checkpoint is not an annotated tag of a commit on main signed by an admin";
        "create checkpoints with `aiaudit checkpoint --key ADMIN.key` (or --gpg-key)";
    HistoryRewritten = "history-rewritten":
        "a checkpoint, or the head this clone verified last, is no longer an ancestor of main";
        "the history was rewritten: do not trust it; compare with other clones and the server's reflog";
    TrustRootMismatch = "trust-root-mismatch":
        "the root commit of main is not the pinned trust root";
        "the history was replaced: investigate before trusting anything in it";
    InternalError = "internal-error":
        "the checker could not complete (unreadable object, I/O error); the hook fails closed";
        "retry; if it persists, report the message to the audit server's administrator";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How bad a finding is: errors reject a push and fail `verify`; warnings name a gap an
/// auditor should see but do not fail `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

/// One finding: a code, where it was found, and a precise message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// The ref the finding belongs to, where known (hook and `verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refname: Option<String>,
    /// The commit, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The file inside the tree, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What exactly is wrong, naming the field where there is one.
    pub message: String,
    /// What to do about it.
    pub remedy: &'static str,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            refname: None,
            commit: None,
            path: None,
            message: message.into(),
            remedy: code.remedy(),
        }
    }

    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn at_commit(mut self, commit: impl Into<String>) -> Self {
        self.commit = Some(commit.into());
        self
    }

    pub fn at_ref(mut self, refname: impl Into<String>) -> Self {
        self.refname = Some(refname.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}[{}]", self.code)?;
        let mut sep = ": ";
        if let Some(c) = &self.commit {
            write!(f, "{sep}commit {}", &c[..c.len().min(12)])?;
            sep = ", ";
        }
        if let Some(p) = &self.path {
            write!(f, "{sep}{p}")?;
            sep = ", ";
        }
        if let Some(r) = &self.refname {
            if self.commit.is_none() && self.path.is_none() {
                write!(f, "{sep}{r}")?;
            }
        }
        write!(f, "\n  {}\n  hint: {}", self.message, self.remedy)
    }
}

/// The diagnostic table of `docs/diagnostics.md`, generated from [`Code::ALL`].
pub fn markdown_table() -> String {
    let mut s = String::from("| code | meaning | what to do |\n|---|---|---|\n");
    for c in Code::ALL {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.name(),
            c.summary(),
            c.remedy()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.name()), "duplicate {}", c.name());
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                c.name()
            );
        }
    }

    #[test]
    fn docs_table_matches_the_codes() {
        let doc = include_str!("../docs/diagnostics.md");
        let table = markdown_table();
        assert!(
            doc.contains(&table),
            "docs/diagnostics.md is out of date; its table must be exactly:\n{table}"
        );
    }
}
