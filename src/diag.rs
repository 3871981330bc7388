//! Diagnostics: what the rule engine finds, with stable codes.
//!
//! Every finding carries a [`Code`]. A code's kebab-case name never changes once released: the
//! hook's messages, `verify --json` and scripts that grep them all key on it. The table in
//! `docs/diagnostics.md` is checked against [`Code::ALL`] by a test, so the documentation cannot
//! drift from the code.

use serde::Serialize;
use std::fmt;

macro_rules! codes {
    ($( $variant:ident [$family:ident] = $name:literal : $summary:literal ; $remedy:literal ; )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $variant, )* }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable kebab-case name.
            pub const fn name(self) -> &'static str {
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

            /// The rule family (or front end) that reports it.
            pub fn family(self) -> Family {
                match self { $( Code::$variant => Family::$family, )* }
            }
        }
    };
}

codes! {
    MainDeleted [Push] = "main-deleted":
        "the push deletes the ledger ref refs/heads/main";
        "the ledger is append-only: never delete main";
    NonFastForward [Push] = "non-fast-forward":
        "the push rewrites main: the old tip is not an ancestor of the new one";
        "fetch, rebuild your commit on top of the current main (aiaudit does this) and push again";
    RefNotAllowed [Push] = "ref-not-allowed":
        "the push updates a ref outside refs/heads/main, refs/heads/proposals/<id>, refs/heads/governance/<name>, refs/tags/checkpoint/<name> and refs/aiaudit/content/<sha256>";
        "push decisions to refs/heads/proposals/<id> with `aiaudit record --push`, land them with `aiaudit approve`";
    MergeCommit [Layout] = "merge-commit":
        "a commit on main has more than one parent (the ledger is linear)";
        "land decisions with `aiaudit approve`, which builds one commit on top of main";
    CommitEmpty [Layout] = "commit-empty":
        "a commit on main adds no record";
        "every commit on main adds exactly one decision, one event, or one signed policy change";
    CommitMultipleRecords [Layout] = "commit-multiple-records":
        "a commit adds more than one record, or mixes records with a policy change";
        "split it: one record per commit, policy changes in commits of their own";
    RecordModified [Layout] = "record-modified":
        "a commit modifies an existing record";
        "records are immutable: add an event (outcome, review, annotation) instead of editing";
    RecordDeleted [Layout] = "record-deleted":
        "a commit deletes an existing record";
        "records are immutable and kept for investigation: never delete one";
    RecordRenamed [Layout] = "record-renamed":
        "a commit renames or moves an existing record";
        "records are immutable: never move one";
    PathNotAllowed [Layout] = "path-not-allowed":
        "a commit adds a file outside decisions/YYYY/MM/DD/HH/, events/YYYY/MM/DD/HH/ and context/<xx>/<sha256> (or an unsigned governance file)";
        "only records go into the audit repo; policy and keys change through admin-signed commits (`aiaudit principal add`)";
    SymlinkNotAllowed [Layout] = "symlink-not-allowed":
        "a commit adds a symbolic link";
        "records are regular files: commit the file itself";
    SubmoduleNotAllowed [Layout] = "submodule-not-allowed":
        "a commit adds a submodule (gitlink)";
        "the audit repo holds no submodules: remove it";
    FileModeNotAllowed [Layout] = "file-mode-not-allowed":
        "a record has a mode other than 100644 (for example executable)";
        "commit records as plain, non-executable files";
    FileTooLarge [Layout] = "file-too-large":
        "a file exceeds the size cap for its kind";
        "keep records small: store digests of large inputs, not their content";
    NotUtf8 [Record] = "not-utf8":
        "a file is not valid UTF-8 or contains a NUL byte";
        "records are UTF-8 text written by `aiaudit record`";
    RecordMalformed [Record] = "record-malformed":
        "a record is not well-formed YAML of its schema (syntax error, unknown or duplicate field, wrong type)";
        "write records with `aiaudit record`; the message names the field and line";
    FieldMissing [Record] = "field-missing":
        "a required field is absent";
        "supply the named field (see schemas/ and docs/record.md)";
    FieldInvalid [Record] = "field-invalid":
        "a field's value breaks the schema (bad enum value, format, length, character)";
        "fix the named field (see schemas/ and docs/record.md)";
    ModelVersionFloating [Record] = "model-version-floating":
        "the model version is a floating alias such as `latest`";
        "pin the exact model version the provider reports (e.g. a dated snapshot)";
    RecordNotCanonical [Record] = "record-not-canonical":
        "the file does not re-serialize to the same bytes (key order, quoting, comments, anchors, aliases, tags, duplicates)";
        "write records with `aiaudit record`; the canonical form is described in docs/record.md";
    ContextDigestMismatch [Record] = "context-digest-mismatch":
        "the context digest does not recompute from the context entries";
        "recompute it with the rule in docs/context-digest.md, or re-record";
    StoredContextMismatch [StoredContext] = "stored-context-mismatch":
        "a stored context file's content does not hash to its name (context/<xx>/<sha256>)";
        "store context with `aiaudit record --store-context`, which names each file by the SHA-256 of its content";
    StoredContextUnreferenced [StoredContext] = "stored-context-unreferenced":
        "a stored context file is not the content of an input, tool call or model output of the decision its commit adds";
        "store only a decision's own inputs, in the commit that adds the decision (`aiaudit record --store-context`)";
    StoredContextSecret [StoredContext] = "stored-context-secret":
        "stored context content looks like a credential";
        "secrets never enter the audit repo: record that input by its digest only (`--digest-only NAME`)";
    ContentRefInvalid [StoredContext] = "content-ref-invalid":
        "a content-store ref is not refs/aiaudit/content/<sha256> pointing at a blob, or the push moves one (content is added once and erased, never changed)";
        "let `aiaudit record` push content; erase it with `aiaudit content erase SHA256` (docs/record.md)";
    ContentEraseDenied [StoredContext] = "content-erase-denied":
        "content was erased from the content store by a pusher who is not an admin, or whom the server does not name";
        "an admin erases content (`aiaudit content erase`), on a server that says who pushes or with `git push --signed` (docs/record.md)";
    IdInvalid [Record] = "id-invalid":
        "the id is not a ULID, or its timestamp disagrees with `created`";
        "let `aiaudit record` allocate the id";
    PathMismatch [Record] = "path-mismatch":
        "the file's path does not match its id and creation date";
        "decisions live at decisions/YYYY/MM/DD/HH/<id>.yaml, events at events/YYYY/MM/DD/HH/<id>.yaml";
    DuplicateId [Decision] = "duplicate-id":
        "the id is already used by another record";
        "ids are unique across history: re-record to get a fresh id";
    TrailerMissing [Decision] = "trailer-missing":
        "a commit lacks a required trailer";
        "commit through aiaudit, which writes Decision-Id, Initiator, Context-Digest, Model, AI-Role, Action and Risk";
    TrailerMismatch [Decision] = "trailer-mismatch":
        "a trailer disagrees with the record it describes, or is malformed";
        "commit through aiaudit so trailers mirror the file";
    AuthorMismatch [Decision] = "author-mismatch":
        "a decision commit's git author is not its initiator (the email the policy gives the initiator)";
        "the git author of a decision commit is its initiator: commit through `aiaudit record`";
    InitiatorUnknown [Decision] = "initiator-unknown":
        "the initiator (or its owner) is not a principal of the policy, or its kind disagrees";
        "add the principal with `aiaudit principal add`, signed by an admin";
    RiskMismatch [Decision] = "risk-mismatch":
        "the record's risk differs from the risk the policy derives for its action";
        "risk is derived from the policy: let `aiaudit record` fill it in";
    ApprovalMissing [Approvals] = "approval-missing":
        "the approvals on a decision landing on main fall short of the policy's requirement";
        "collect approvals with `aiaudit approve ID` from the groups the policy names";
    SignatureInvalid [Approvals] = "signature-invalid":
        "an approval signature does not verify over this file (forged, corrupted, or copied from another decision)";
        "approve the exact file with `aiaudit approve ID`; signatures are never reusable";
    KeyUnknown [Approvals] = "key-unknown":
        "a signature was made by a key that is not listed for any principal of the policy";
        "add the key to the signer's principal with an admin-signed policy change first";
    KeyExpired [Approvals] = "key-expired":
        "the signing key was expired at signing time or is expired now";
        "extend the key's expiry, publish the updated certificate, and sign again";
    KeyRevoked [Approvals] = "key-revoked":
        "the signing key or its certificate is revoked";
        "sign with a valid key; a compromised key's signatures do not count";
    SelfApproval [Approvals] = "self-approval":
        "the approver is the initiator, the owner of the initiating account, or an agent in the chain";
        "separation of duties: another human principal must approve";
    ApproverNotHuman [Approvals] = "approver-not-human":
        "the approver is a service or workflow principal";
        "approvals come from human principals only";
    ApproverMismatch [Approvals] = "approver-mismatch":
        "an Approved-by trailer names a principal (or email) other than the owner of the signing key";
        "let `aiaudit approve` write the trailer";
    InitiatorSignatureMissing [Approvals] = "initiator-signature-missing":
        "the policy rule requires the initiator's signature on the record and the commit has no Initiated-by trailer";
        "record with your own key: `aiaudit record --key FILE` (or --gpg-key); service and workflow accounts sign with their own key";
    InitiatorSignatureInvalid [Approvals] = "initiator-signature-invalid":
        "the Initiated-by signature does not verify over this record (forged, corrupted, copied from another record, unknown key, or more than one)";
        "record again with `aiaudit record --key FILE`: the initiator signs the exact bytes of the file";
    InitiatorSignatureMisattributed [Approvals] = "initiator-signature-misattributed":
        "the Initiated-by signature is made by, or names, a principal other than the record's initiator";
        "the initiator named in the record signs it, with a key the policy lists for that principal";
    OutcomeSignatureMissing [Event] = "outcome-signature-missing":
        "the policy rule requires the executor's signature on the outcome and the commit has no Executed-by trailer";
        "record the outcome as its executor with `aiaudit outcome --key FILE` (or --gpg-key)";
    OutcomeSignatureInvalid [Event] = "outcome-signature-invalid":
        "the Executed-by signature does not verify over this outcome (forged, corrupted, copied, unknown key, or more than one)";
        "record the outcome again with `aiaudit outcome --key FILE`: the executor signs the exact bytes of the event";
    OutcomeSignatureMisattributed [Event] = "outcome-signature-misattributed":
        "the Executed-by signature is made by, or names, a principal other than the outcome's actor";
        "the principal that executed the action records and signs the outcome with its own key";
    TimeImplausible [Approvals] = "time-implausible":
        "a time is implausible: an approval, review, initiator or outcome signature made before the decision was created, an outcome executed or signed before the approvals it acted on, an event recorded before its decision, an outcome that finished before it started, a signature or record dated in the future beyond the 5-minute clock skew tolerated between machines";
        "check the signer's clock; sign again (`aiaudit approve`, `review`) or record again once the decision exists";
    RolesNotSeparated [Decision] = "roles-not-separated":
        "one identity holds two roles of a decision that the policy's separate_roles keeps apart";
        "give each role its own identity (a separate agent or service account)";
    SharedAccount [Event] = "shared-account":
        "a service or workflow account is used as a shared identity (it initiated a decision and records its outcome)";
        "give the executor its own identity; the policy's shared_accounts decides whether this warns or rejects";
    PusherMismatch [Push] = "pusher-mismatch":
        "the policy binds pushers, and who pushed (the login the server authenticated, or the principal whose key signed the push certificate) is not accountable for what it pushed: a commit onto main by none of its approvers, signers or actor; a proposal by other than its initiator; a proposal deleted by other than its initiator, an approver of it or an admin; and not a landing account";
        "let an approver (or a landing account named in the policy) push it; check the server passes the pusher to the hook (docs/deploy.md), or push with `git push --signed`";
    PushCertInvalid [Push] = "push-cert-invalid":
        "the push carries a push certificate (`git push --signed`) that does not prove who pushed: its signature is not by a valid key of a principal of the policy, git did not vouch for its nonce, or it names other ref updates than the push makes";
        "sign the push with your key listed in the policy; on the server, `aiaudit hook install` sets receive.certNonceSeed so git issues nonces";
    PushUnsigned [Push] = "push-unsigned":
        "the policy requires signed pushes (`pushers.signed`), and this push carries no valid push certificate; changes to the policy itself are exempt, so the requirement can always be turned off";
        "push with `git push --signed` (your signing key must be one of yours in the policy)";
    PolicyInvalid [Governance] = "policy-invalid":
        "the policy, a key file or a control catalog in .aiaudit/ is malformed (a catalog must also be named by its key)";
        "fix .aiaudit/policy.yaml as the message says; the error names the line";
    PolicyChangeUnsigned [Governance] = "policy-change-unsigned":
        "a change to .aiaudit/ or README.md lacks enough valid signatures by admins of the previous policy";
        "change governance files with `aiaudit principal add`, signed by enough admins of the previous policy";
    GenesisInvalid [Governance] = "genesis-invalid":
        "the root commit of main is not a valid genesis (policy, keys and README only)";
        "create the audit repository with `aiaudit init`";
    ProposalInvalid [Proposal] = "proposal-invalid":
        "a proposal ref does not hold one decision commit on top of main with the id of the ref";
        "push proposals with `aiaudit record --push`";
    EventUnknownDecision [Event] = "event-unknown-decision":
        "an event refers to a decision that does not exist on main";
        "record the decision first; events only describe existing decisions";
    ReviewOverdue [History] = "review-overdue":
        "a decision landed for post-action review, and its deadline passed without the reviews its policy rule requires";
        "a reviewer eligible under the rule records `aiaudit review ID`; investigate why it is late";
    OutcomeMissing [History] = "outcome-missing":
        "(warning) a high- or critical-risk decision has no recorded outcome";
        "the executor records the final system action with `aiaudit outcome ID`";
    CheckpointMoved [Push] = "checkpoint-moved":
        "the push moves or deletes a checkpoint tag (refs/tags/checkpoint/*)";
        "checkpoints are permanent: create a new one with `aiaudit checkpoint`";
    CheckpointInvalid [Push] = "checkpoint-invalid":
        "a new checkpoint is not an annotated tag of a commit on main signed by an admin";
        "create checkpoints with `aiaudit checkpoint --key ADMIN.key` (or --gpg-key)";
    HistoryRewritten [History] = "history-rewritten":
        "a checkpoint, or the head this clone verified last, is no longer an ancestor of main";
        "the history was rewritten: do not trust it; compare with other clones and the server's reflog";
    TrustRootMismatch [History] = "trust-root-mismatch":
        "the root commit of main is not the pinned trust root";
        "the history was replaced: investigate before trusting anything in it";
    AiCommitWithoutDecision [Check] = "ai-commit-without-decision":
        "`aiaudit check`: a product commit is AI-assisted (an AI-assistance trailer or co-author) but names no decision";
        "record the decision in the audit repository, have it approved, and add `Decision-Id: <id>` to the commit message";
    DecisionUnknown [Check] = "decision-unknown":
        "`aiaudit check`: a product commit names a decision that is neither on the audit repository's main nor proposed";
        "check the id (`aiaudit log` lists decisions) and that --audit-repo is the audit repository this product uses";
    DecisionNotApproved [Check] = "decision-not-approved":
        "`aiaudit check`: a product commit names a decision that is only proposed, not approved and landed";
        "an approver runs `aiaudit approve ID`; re-run the check once it landed";
    DecisionOtherTarget [Check] = "decision-other-target":
        "`aiaudit check`: a product commit names a decision recorded for another repository or system";
        "reference a decision recorded for this repository (`--target-repo`), or pass --target-repo if the repository's name differs";
    DecisionUnapproved [Check] = "decision-unapproved":
        "`aiaudit check`: the named decision is on main without any approval although its rule requires one";
        "run `aiaudit verify` on the audit repository: its history breaks the policy";
    DecisionReviewRejected [Check] = "decision-review-rejected":
        "`aiaudit check`: a review of the named decision rejected it";
        "revert the change, or record and approve a new decision for it";
    DecisionReviewPending [Check] = "decision-review-pending":
        "`aiaudit check`: the named decision landed under a post-action rule and its review is not recorded yet";
        "a reviewer runs `aiaudit review ID`";
    DecisionNamesNoChange [Check] = "decision-names-no-change":
        "`aiaudit check`: the named code-merge decision names no change (action.changes), so it would cover any commit";
        "record code-merge decisions with the change they cover: `aiaudit record --action code-merge --covers $(aiaudit change-digest REV) ...`";
    DecisionDoesNotCover [Check] = "decision-does-not-cover":
        "`aiaudit check`: the product commit's change is not one the named code-merge decision covers";
        "reference the decision recorded for this change, or record one (`aiaudit change-digest REV` gives the digest)";
    DecisionOtherAuthor [Check] = "decision-other-author":
        "`aiaudit check`: the product commit is not authored by the named code-merge decision's initiator (the email the policy gives them)";
        "the initiator authors the change the decision covers; another author records and has approved their own decision";
    DecisionLandedAfterCommit [Check] = "decision-landed-after-commit":
        "`aiaudit check`: the named decision landed after the product commit was made";
        "record and approve decisions before the change they cover";
    VerifyViolation [Report] = "verify-violation":
        "`aiaudit report`: a rule of the hook is broken on main (aiaudit verify reports it as an error); the ledger cannot be relied on for the records named";
        "run `aiaudit verify` and investigate each finding; compare with other clones and the server's reflog";
    RecordedAfterAction [Report] = "recorded-after-action":
        "`aiaudit report`: the recorded outcome says the action happened before the decision was created";
        "record decisions before acting (`aiaudit record` in the pipeline that acts); investigate who acted without a record";
    AwaitingOutcome [Report] = "awaiting-outcome":
        "`aiaudit report`: no outcome event links the decision to the final system action";
        "the executor records the final action with `aiaudit outcome ID` (or `--status aborted` if it never happened)";
    Unapproved [Report] = "unapproved":
        "`aiaudit report`: the decision landed without any approval signature (a post-action review rule)";
        "keep post rules for low-risk actions only; make sure every such decision gets its signed review";
    UnsignedLink [Report] = "unsigned-link":
        "`aiaudit report`: a link of the chain is not signed by its actor (a record without its initiator's Initiated-by, an outcome without its executor's Executed-by)";
        "require every link signed in the policy (`signatures:` in the default rule, as `aiaudit init` writes it); sign with `record --key` and `outcome --key`";
    CommitNotCanonical [Commit] = "commit-not-canonical":
        "a commit's headers or message are not exactly the ones aiaudit writes for what it adds (an extra header such as gpgsig or encoding, a second trailer block, different spacing, text git reads differently)";
        "write commits with aiaudit (`record`, `approve`, `outcome`, `policy`): the message is recomputed from the record and its signatures";
    ObjectMalformed [Commit] = "object-malformed":
        "a tree the commit adds is one `git fsck --strict` flags (unsorted, duplicate entries, a zero-padded or unknown mode, an empty, `.`, `..` or `.git` name, a null id); the message names the tree and git's fsck message id";
        "write trees with git or aiaudit, never by hand; the server should also set receive.fsckObjects (`aiaudit hook install` does)";
    InternalError [Internal] = "internal-error":
        "the checker could not complete (unreadable object, I/O error); the hook fails closed";
        "retry; if it persists, report the message to the audit server's administrator";
}

/// Who reports a code: a rule family of the engine (the hook and `verify`), `aiaudit check`
/// in a product repository, or `aiaudit report`'s gap kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// What a push may do to which ref, and who may push it.
    Push,
    /// The commit object itself: canonical headers and message.
    Commit,
    /// The tree of a commit: paths, entry kinds, immutability.
    Layout,
    /// A record file: well-formed, canonical, schema-valid.
    Record,
    /// A decision commit: ids, initiator, risk, trailers.
    Decision,
    /// An event commit: outcome, review, annotation.
    Event,
    /// Stored context content.
    StoredContext,
    /// Signatures and separation of duties.
    Approvals,
    /// The policy, keys and their changes.
    Governance,
    /// Proposal refs.
    Proposal,
    /// History-wide rules of `verify`.
    History,
    /// `aiaudit check` in a product repository.
    Check,
    /// `aiaudit report`'s gap kinds.
    Report,
    /// The checker could not complete.
    Internal,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Push => "push",
            Family::Commit => "commit",
            Family::Layout => "layout",
            Family::Record => "record",
            Family::Decision => "decision",
            Family::Event => "event",
            Family::StoredContext => "stored-context",
            Family::Approvals => "approvals",
            Family::Governance => "governance",
            Family::Proposal => "proposal",
            Family::History => "history",
            Family::Check => "check",
            Family::Report => "report",
            Family::Internal => "internal",
        }
    }
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

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
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
    /// Pushed text (paths, ref names, quoted values) is shown with control and hidden
    /// characters escaped: a finding relayed to a pusher's terminal cannot drive it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::visible;
        write!(f, "{}[{}]", self.severity, self.code)?;
        let mut sep = ": ";
        if let Some(c) = &self.commit {
            let short: String = c.chars().take(12).collect();
            write!(f, "{sep}commit {}", visible(&short))?;
            sep = ", ";
        }
        if let Some(p) = &self.path {
            write!(f, "{sep}{}", visible(p))?;
            sep = ", ";
        }
        if let Some(r) = &self.refname {
            if self.commit.is_none() && self.path.is_none() {
                write!(f, "{sep}{}", visible(r))?;
            }
        }
        write!(f, "\n  {}\n  hint: {}", visible(&self.message), self.remedy)
    }
}

/// The diagnostic table of `docs/diagnostics.md`, generated from [`Code::ALL`].
pub fn markdown_table() -> String {
    let mut s = String::from("| code | family | meaning | what to do |\n|---|---|---|---|\n");
    for c in Code::ALL {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.name(),
            c.family().name(),
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

    /// `AIAUDIT_UPDATE_DOCS=1 cargo test --lib docs_table` regenerates the table in place.
    #[test]
    fn docs_table_matches_the_codes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diagnostics.md");
        let doc = std::fs::read_to_string(path).expect("docs/diagnostics.md");
        let table = markdown_table();
        if doc.contains(&table) {
            return;
        }
        let start = doc
            .find("| code |")
            .expect("a table in docs/diagnostics.md");
        let end = doc[start..]
            .find("\n\n")
            .map(|i| start + i + 1)
            .unwrap_or(doc.len());
        if std::env::var_os("AIAUDIT_UPDATE_DOCS").is_some() {
            let new = format!("{}{table}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, new).expect("write docs/diagnostics.md");
            return;
        }
        panic!("docs/diagnostics.md is out of date (AIAUDIT_UPDATE_DOCS=1 regenerates it); its table must be exactly:\n{table}");
    }

    #[test]
    fn every_report_gap_kind_is_a_code() {
        for g in crate::report::GAP_KINDS {
            assert!(
                Code::from_name(g.kind).is_some(),
                "{} is not in the catalog",
                g.kind
            );
        }
    }
}
