//! The audit report as data: statistics over the decisions on main in a time range, and every
//! gap in their accountability chain, each mapped to the controls of the frameworks' catalogs.
//!
//! This computes; it neither reads git nor prints. Its inputs are the ledger
//! ([`crate::ledger::read::read_ledger`]: what main contains) and the rule engine's findings over
//! the same history ([`crate::engine::Checker::check_history`]: what is wrong with it). The
//! command `aiaudit report` renders the result as Markdown, HTML or JSON; the JSON is this
//! module's types serialized as they are (schema [`REPORT_SCHEMA`], documented in
//! `docs/report.md`).
//!
//! The gap kinds live in one place, [`GAP_KINDS`]; which controls they count against, and which
//! evidence bears on each control, is data: the catalogs (`crate::catalog`) the report is given.

use crate::catalog::{Catalog, Evidence};
use crate::diag::{Code, Diagnostic};
use crate::engine::HistoryReport;
use crate::ledger::read::{Ledger, LedgerDecision, LedgerEvent};
use crate::policy::{Approval, Verdict};
use crate::record::{self, EventKind, PrincipalKind, Risk};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The `schema` of the JSON report. Fields are only ever added under this name.
pub const REPORT_SCHEMA: &str = "aiaudit/report/v1";

/// Every risk, lowest first (the stacking order of the timeline).
pub const RISKS: [Risk; 4] = [Risk::Low, Risk::Medium, Risk::High, Risk::Critical];

// ---- the gap kinds --------------------------------------------------------------------------

/// A kind of gap: what it is, why it matters, what to do. The controls it counts against come
/// from the catalogs (`crate::catalog`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GapKind {
    /// Stable kebab-case id (the `kind` of every gap in the JSON): a code of the one catalog
    /// (`crate::diag`), of the report's own family or the engine code the gap reports.
    pub kind: &'static str,
    pub title: &'static str,
    /// What it means and where it comes from.
    pub description: &'static str,
    pub remedy: &'static str,
}

/// Every kind of gap, most serious first.
pub const GAP_KINDS: &[GapKind] = &[
    GapKind {
        kind: Code::VerifyViolation.name(),
        title: "History fails verification",
        description: "a rule of the hook is broken on main (aiaudit verify reports it as an error): the ledger cannot be relied on for the records named",
        remedy: "run `aiaudit verify` and investigate each finding; compare with other clones and the server's reflog",
    },
    GapKind {
        kind: Code::KeyRevoked.name(),
        title: "Approval by a key revoked since",
        description: "an approval or review was signed by a key whose revocation (compromised, or no reason) was published later: nobody can tell whether its holder made it",
        remedy: "have an eligible principal re-review the decision (`aiaudit review`) and treat the action as unapproved until then",
    },
    GapKind {
        kind: Code::ReviewOverdue.name(),
        title: "Post-action review overdue",
        description: "a decision landed under an `approval: post` rule and its review deadline passed without the signed reviews the rule requires",
        remedy: "a reviewer eligible under the rule records `aiaudit review ID`; find out why the review is late",
    },
    GapKind {
        kind: Code::RecordedAfterAction.name(),
        title: "Decision recorded after its action",
        description: "the recorded outcome says the action happened (`outcome.at`, else the event's `created`) before the decision was created: it was approved, if at all, after the fact",
        remedy: "record decisions before acting (`aiaudit record` in the pipeline that acts); investigate who acted without a record",
    },
    GapKind {
        kind: Code::SharedAccount.name(),
        title: "Service account used as a shared identity",
        description: "a service or workflow account both initiated a decision and recorded its outcome, or initiated decisions through more than one AI framework or set of agents: machine actor and accountable human blur",
        remedy: "give each executor and each agent deployment its own principal; set `shared_accounts: reject` in the policy",
    },
    GapKind {
        kind: Code::AwaitingOutcome.name(),
        title: "Decision without recorded outcome",
        description: "no outcome event links the decision to the final system action (merge commit, grant, change id); high- and critical-risk ones are flagged",
        remedy: "the executor records the final action with `aiaudit outcome ID` (or `--status aborted` if it never happened)",
    },
    GapKind {
        kind: Code::UnsignedLink.name(),
        title: "Link not signed by its actor",
        description: "a record carries no signature of its initiator (Initiated-by), or an outcome none of its executor (Executed-by): who initiated or executed rests on an unauthenticated claim",
        remedy: "require every link signed (`signatures:` in the policy's default rule, as `aiaudit init` writes it); initiators sign with `aiaudit record --key`, executors with `aiaudit outcome --key`",
    },
    GapKind {
        kind: Code::Unapproved.name(),
        title: "Decision approved by nobody",
        description: "the decision landed without any approval signature (a post-action review rule): no human signed off before the action",
        remedy: "keep post rules for low-risk actions only; make sure every such decision gets its signed review",
    },
];

/// The gap kind with this id.
pub fn gap_kind(kind: &str) -> Option<&'static GapKind> {
    GAP_KINDS.iter().find(|g| g.kind == kind)
}

// ---- the report ---------------------------------------------------------------------------

/// How serious one gap is: `error` fails `aiaudit verify`; `warning` needs attention;
/// `info` is worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The report. Serialized as is for `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// When the report was made (RFC 3339 UTC; `AIAUDIT_NOW` pins it).
    pub generated_at: String,
    /// The commit of main the report reads, and main's root commit.
    pub tip: Option<String>,
    pub root: Option<String>,
    pub range: Range,
    pub verification: Verification,
    pub totals: Totals,
    pub counts: Counts,
    pub approval_latency: Latency,
    pub timeline: Timeline,
    /// One entry per kind of [`GAP_KINDS`], in that order, including those with no gap.
    pub gaps: Vec<GapGroup>,
    /// The frameworks reported on (the catalogs selected), each control with its evidence and
    /// the gaps against it.
    pub frameworks: Vec<FrameworkReport>,
}

/// One framework of a catalog, as the report finds it.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworkReport {
    pub key: String,
    pub name: String,
    /// Where the catalog's ids and titles come from, and as of when.
    pub source: String,
    pub as_of: String,
    pub controls: Vec<ControlReport>,
}

/// One control: what the ledger shows for it and what counts against it.
#[derive(Debug, Clone, Serialize)]
pub struct ControlReport {
    pub id: String,
    pub title: String,
    /// The worst severity among the gaps against it; `None`: no gap.
    pub status: Option<Severity>,
    pub evidence: Vec<EvidenceItem>,
    /// Every gap kind the catalog counts against it, with or without findings.
    pub gaps: Vec<GapCount>,
}

/// One kind of evidence over the decisions in range.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceItem {
    /// `crate::catalog::Evidence`, kebab-case.
    pub kind: &'static str,
    /// What it shows, in one sentence with its figures.
    pub summary: String,
    /// How many decisions (or records) show it, and out of how many.
    pub count: usize,
    pub of: usize,
    /// Some of the decisions that show it (the most recent first), to examine with
    /// `aiaudit show ID`.
    pub decisions: Vec<String>,
}

/// The findings of one gap kind against a control.
#[derive(Debug, Clone, Serialize)]
pub struct GapCount {
    pub kind: &'static str,
    pub title: &'static str,
    pub count: usize,
    pub severity: Option<Severity>,
    /// The decisions concerned (at most [`MAX_EXAMPLES`]; the gap list has every one).
    pub decisions: Vec<String>,
}

/// The controls of one framework a gap kind counts against.
#[derive(Debug, Clone, Serialize)]
pub struct ControlRef {
    pub framework: String,
    pub ids: Vec<String>,
}

/// At most this many example decisions per evidence item and per gap count.
pub const MAX_EXAMPLES: usize = 5;

/// The ids of every gap kind (what a catalog may name).
pub fn gap_kind_ids() -> Vec<&'static str> {
    GAP_KINDS.iter().map(|g| g.kind).collect()
}

/// The time range asked for, and the creation times of the first and last decision in it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Range {
    /// Inclusive lower bound (RFC 3339 UTC), when given.
    pub since: Option<String>,
    /// Exclusive upper bound (RFC 3339 UTC), when given.
    pub until: Option<String>,
    pub first: Option<String>,
    pub last: Option<String>,
}

/// `aiaudit verify` over the whole of main (not only the range).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub commits: usize,
    pub errors: usize,
    pub warnings: usize,
    /// No error: `aiaudit verify` exits 0.
    pub clean: bool,
    /// Findings by diagnostic code.
    pub codes: BTreeMap<String, usize>,
    /// Whether main's root was checked against a pinned root of trust (`--trust-root`):
    /// without it, a clean history is consistent with itself, not proven to be the one trusted.
    pub root_pinned: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub decisions: usize,
    /// High or critical risk.
    pub high_risk: usize,
    /// With at least one approval signature.
    pub approved: usize,
    /// Landed with no approval signature (post-action review rules).
    pub unapproved: usize,
    /// With at least one signed review event.
    pub reviewed: usize,
    pub with_outcome: usize,
    pub awaiting_outcome: usize,
    /// Events (outcomes, reviews, annotations) about the decisions in range.
    pub events: usize,
    /// Gaps by severity, over every kind.
    pub gaps_error: usize,
    pub gaps_warning: usize,
    pub gaps_info: usize,
}

/// One value and how many decisions have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: usize,
}

/// Decisions counted by each dimension; most frequent first (risk: lowest first).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub action: Vec<Count>,
    pub risk: Vec<Count>,
    /// `provider/name@version`.
    pub model: Vec<Count>,
    pub initiator: Vec<Count>,
    /// Each principal counts once per decision it approved.
    pub approver: Vec<Count>,
    /// Each principal counts once per decision it reviewed after the fact.
    pub reviewer: Vec<Count>,
    /// `awaiting-outcome`, `executed`, `failed`, `aborted`, `rolled-back` (as `aiaudit log`).
    pub status: Vec<Count>,
    pub ai_role: Vec<Count>,
}

/// From a decision's creation to its last approval signature, over approved decisions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub approved: usize,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub max_seconds: Option<i64>,
    pub histogram: Vec<Bin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    pub label: &'static str,
    /// Inclusive lower bound.
    pub min_seconds: i64,
    /// Exclusive upper bound; `None` for the last bin.
    pub max_seconds: Option<i64>,
    pub count: usize,
}

/// The latency histogram's bins.
const LATENCY_BINS: &[(&str, i64)] = &[
    ("< 5 min", 0),
    ("5–15 min", 5 * 60),
    ("15–60 min", 15 * 60),
    ("1–4 h", 3600),
    ("4–24 h", 4 * 3600),
    ("1–3 d", 86400),
    ("3–7 d", 3 * 86400),
    ("> 7 d", 7 * 86400),
];

/// Decisions over time, by risk.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    /// `day`, `week` (starting Monday) or `month`, chosen from the span.
    pub bucket: &'static str,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// The first day of the bucket, `YYYY-MM-DD`.
    pub start: String,
    /// A short label for charts.
    pub label: String,
    pub low: usize,
    pub medium: usize,
    pub high: usize,
    pub critical: usize,
    pub total: usize,
}

impl Bucket {
    pub fn by_risk(&self, r: Risk) -> usize {
        match r {
            Risk::Low => self.low,
            Risk::Medium => self.medium,
            Risk::High => self.high,
            Risk::Critical => self.critical,
        }
    }
}

/// Every gap of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct GapGroup {
    pub kind: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub remedy: &'static str,
    /// The controls it counts against, per framework reported on.
    pub controls: Vec<ControlRef>,
    pub count: usize,
    /// The worst severity among the items; `None` when there is no gap of this kind.
    pub severity: Option<Severity>,
    pub items: Vec<Gap>,
}

/// One gap.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub severity: Severity,
    /// The decision it is about, where there is one.
    pub decision: Option<String>,
    pub created: Option<String>,
    pub risk: Option<&'static str>,
    pub action: Option<&'static str>,
    pub initiator: Option<String>,
    /// The decision's summary, or what the gap is about when it is not one decision.
    pub subject: String,
    /// What exactly is missing or wrong.
    pub detail: String,
    /// The engine's diagnostic code, for gaps `aiaudit verify` reports too.
    pub code: Option<&'static str>,
    /// The commit and file the finding names.
    pub commit: Option<String>,
    pub path: Option<String>,
    /// Other decisions concerned (for gaps about an account rather than one decision).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
}

/// What the report covers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Decisions created at or after this second.
    pub since: Option<i64>,
    /// Decisions created before this second.
    pub until: Option<i64>,
    /// The report's clock (seconds since the epoch).
    pub now: i64,
}

/// Seconds since the epoch of an RFC 3339 time.
fn seconds(s: &str) -> Option<i64> {
    record::parse_created(s)
        .map(|t| t.as_second())
        .or_else(|| s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second()))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a second.
pub fn format_time(secs: i64) -> String {
    record::format_unix(secs)
}

/// A duration the way people say it: `45s`, `12m`, `3h 20m`, `2d 4h`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86399 => match (s % 3600) / 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h {m}m", s / 3600),
        },
        _ => match (s % 86400) / 3600 {
            0 => format!("{}d", s / 86400),
            h => format!("{}d {h}h", s / 86400),
        },
    }
}

/// Builds the report. `verdict_of` gives the policy verdict a decision landed under (used to
/// name the rule of unapproved decisions); `None` where unknown.
pub fn build(
    ledger: &Ledger,
    history: &HistoryReport,
    catalogs: &[Catalog],
    opts: &Options,
    generated_at: String,
    verdict_of: &mut dyn FnMut(&LedgerDecision) -> Option<Verdict>,
) -> Report {
    let created = |d: &LedgerDecision| seconds(&d.decision.created).unwrap_or(0);
    let in_range = |d: &LedgerDecision| {
        let c = created(d);
        opts.since.is_none_or(|s| c >= s) && opts.until.is_none_or(|u| c < u)
    };
    let decisions: Vec<&LedgerDecision> = ledger.decisions.iter().filter(|d| in_range(d)).collect();

    let mut report = Report {
        schema: REPORT_SCHEMA,
        generated_at,
        tip: ledger.tip.clone().or_else(|| history.tip.clone()),
        root: history.root.clone(),
        range: Range {
            since: opts.since.map(format_time),
            until: opts.until.map(format_time),
            first: decisions.iter().map(|d| created(d)).min().map(format_time),
            last: decisions.iter().map(|d| created(d)).max().map(format_time),
        },
        verification: verification(history),
        totals: Totals::default(),
        counts: counts(&decisions),
        approval_latency: latency(&decisions),
        timeline: timeline(&decisions, opts),
        gaps: Vec::new(),
        frameworks: Vec::new(),
    };
    let t = &mut report.totals;
    t.decisions = decisions.len();
    for d in &decisions {
        t.high_risk += usize::from(d.decision.risk >= Risk::High);
        if d.approvals.is_empty() {
            t.unapproved += 1;
        } else {
            t.approved += 1;
        }
        t.reviewed += usize::from(d.events.iter().any(|e| e.event.kind == EventKind::Review));
        if d.outcome().is_some() {
            t.with_outcome += 1;
        } else {
            t.awaiting_outcome += 1;
        }
        t.events += d.events.len();
    }

    let mut found: BTreeMap<&'static str, Vec<Gap>> = BTreeMap::new();
    engine_gaps(ledger, history, &in_range, &mut found);
    ledger_gaps(&decisions, opts.now, verdict_of, &mut found);
    for k in GAP_KINDS {
        let mut items = found.remove(k.kind).unwrap_or_default();
        items.sort_by(|a, b| {
            (a.severity, &a.created, &a.decision).cmp(&(b.severity, &b.created, &b.decision))
        });
        for g in &items {
            match g.severity {
                Severity::Error => report.totals.gaps_error += 1,
                Severity::Warning => report.totals.gaps_warning += 1,
                Severity::Info => report.totals.gaps_info += 1,
            }
        }
        report.gaps.push(GapGroup {
            kind: k.kind,
            title: k.title,
            description: k.description,
            remedy: k.remedy,
            controls: catalogs
                .iter()
                .map(|c| ControlRef {
                    framework: c.key.clone(),
                    ids: c
                        .controls
                        .iter()
                        .filter(|ctl| ctl.gaps.iter().any(|g| g == k.kind))
                        .map(|ctl| ctl.id.clone())
                        .collect(),
                })
                .filter(|r| !r.ids.is_empty())
                .collect(),
            count: items.len(),
            severity: items.iter().map(|g| g.severity).min(),
            items,
        });
    }
    report.frameworks = catalogs
        .iter()
        .map(|c| framework_report(c, &report.gaps, &decisions, &report.verification))
        .collect();
    report
}

/// What the report finds for each control of catalog `c`.
fn framework_report(
    c: &Catalog,
    gaps: &[GapGroup],
    decisions: &[&LedgerDecision],
    v: &Verification,
) -> FrameworkReport {
    let controls = c
        .controls
        .iter()
        .map(|ctl| {
            let gaps: Vec<GapCount> = ctl
                .gaps
                .iter()
                .filter_map(|kind| gaps.iter().find(|g| g.kind == kind))
                .map(|g| {
                    let mut ids: Vec<String> = Vec::new();
                    for id in g.items.iter().filter_map(|i| i.decision.clone()) {
                        if !ids.contains(&id) && ids.len() < MAX_EXAMPLES {
                            ids.push(id);
                        }
                    }
                    GapCount {
                        kind: g.kind,
                        title: g.title,
                        count: g.count,
                        severity: g.severity,
                        decisions: ids,
                    }
                })
                .collect();
            ControlReport {
                id: ctl.id.clone(),
                title: ctl.title.clone(),
                status: gaps.iter().filter_map(|g| g.severity).min(),
                evidence: ctl
                    .evidence
                    .iter()
                    .map(|e| evidence(*e, decisions, v))
                    .collect(),
                gaps,
            }
        })
        .collect();
    FrameworkReport {
        key: c.key.clone(),
        name: c.name.clone(),
        source: c.source.clone(),
        as_of: c.as_of.clone(),
        controls,
    }
}

/// One kind of evidence over `decisions` (oldest first) and the verification of history.
fn evidence(kind: Evidence, decisions: &[&LedgerDecision], v: &Verification) -> EvidenceItem {
    let n = decisions.len();
    let showing = |keep: &dyn Fn(&LedgerDecision) -> bool| -> (usize, Vec<String>) {
        let hits: Vec<&&LedgerDecision> = decisions.iter().filter(|d| keep(d)).collect();
        let examples = hits
            .iter()
            .rev()
            .take(MAX_EXAMPLES)
            .map(|d| d.decision.id.clone())
            .collect();
        (hits.len(), examples)
    };
    let outcomes = || {
        decisions
            .iter()
            .flat_map(|d| d.events.iter())
            .filter(|e| e.event.kind == EventKind::Outcome)
    };
    let (count, of, decisions_shown, summary) = match kind {
        Evidence::HistoryVerified => (
            usize::from(v.clean),
            1,
            Vec::new(),
            if v.clean {
                format!(
                    "`aiaudit verify` holds every rule of the hook over all {} commits of main, from the root",
                    v.commits
                )
            } else {
                format!(
                    "`aiaudit verify` finds {} violation(s) over {} commits of main",
                    v.errors, v.commits
                )
            },
        ),
        Evidence::DecisionsRecorded => {
            let (c, ex) = showing(&|_| true);
            (
                c,
                n,
                ex,
                format!("{c} decision(s) recorded, each with its initiator, action, target, model and context digest"),
            )
        }
        Evidence::ContextRecorded => {
            let (c, ex) = showing(&|d| !d.decision.context.entries.is_empty());
            let inputs: usize = decisions
                .iter()
                .map(|d| d.decision.context.entries.len())
                .sum();
            (
                c,
                n,
                ex,
                format!("{inputs} context input(s) (prompts, documents, tool calls) recorded by SHA-256 over {c} of {n} decision(s)"),
            )
        }
        Evidence::ModelsPinned => {
            let (c, ex) = showing(&|_| true);
            let models: BTreeSet<String> = decisions
                .iter()
                .map(|d| d.decision.ai.model.trailer())
                .collect();
            (
                c,
                n,
                ex,
                format!("{c} decision(s) name their model pinned to a version ({} distinct model(s)); floating aliases are refused", models.len()),
            )
        }
        Evidence::AgentsRecorded => {
            let (c, ex) = showing(&|d| !d.decision.ai.agents.is_empty());
            let agents: BTreeSet<&str> = decisions
                .iter()
                .flat_map(|d| d.decision.ai.agents.iter().map(|a| a.id.as_str()))
                .collect();
            (
                c,
                n,
                ex,
                format!("{c} of {n} decision(s) name the agents of a multi-agent flow, each with its own identity and role ({} distinct agent(s))", agents.len()),
            )
        }
        Evidence::InitiatorSigned => {
            let (c, ex) = showing(&|d| d.initiated.is_some());
            (
                c,
                n,
                ex,
                format!("{c} of {n} record(s) signed by their initiator (Initiated-by)"),
            )
        }
        Evidence::ApprovalsSigned => {
            let (c, ex) = showing(&|d| !d.approvals.is_empty());
            let approvers: BTreeSet<&str> = decisions
                .iter()
                .flat_map(|d| d.approvals.iter().map(|a| a.principal.as_str()))
                .collect();
            (
                c,
                n,
                ex,
                format!("{c} of {n} decision(s) approved by OpenPGP signature before they landed, by {} distinct approver(s)", approvers.len()),
            )
        }
        Evidence::SeparationOfDuties => {
            let (c, ex) = showing(&|d| !d.approvals.is_empty());
            (
                c,
                n,
                ex,
                format!("{c} of {n} decision(s) approved by humans other than the initiator, its owner and the agents in the chain (the hook refuses any other approval)"),
            )
        }
        Evidence::OutcomesRecorded => {
            let (c, ex) = showing(&|d| d.outcome().is_some());
            (
                c,
                n,
                ex,
                format!(
                    "{c} of {n} decision(s) linked to the final system action by an outcome event"
                ),
            )
        }
        Evidence::OutcomesSigned => {
            let all = outcomes().count();
            let signed = outcomes().filter(|e| !e.signatures.is_empty()).count();
            let (_, ex) = showing(&|d| {
                d.events
                    .iter()
                    .any(|e| e.event.kind == EventKind::Outcome && !e.signatures.is_empty())
            });
            (
                signed,
                all,
                ex,
                format!("{signed} of {all} outcome(s) signed by the principal that executed the action (Executed-by)"),
            )
        }
        Evidence::ReviewsSigned => {
            let reviews = decisions
                .iter()
                .flat_map(|d| d.events.iter())
                .filter(|e| e.event.kind == EventKind::Review)
                .count();
            let (c, ex) = showing(&|d| d.events.iter().any(|e| e.event.kind == EventKind::Review));
            (
                c,
                n,
                ex,
                format!("{reviews} signed post-action review(s) over {c} of {n} decision(s)"),
            )
        }
    };
    EvidenceItem {
        kind: kind.as_str(),
        summary,
        count,
        of,
        decisions: decisions_shown,
    }
}

fn verification(h: &HistoryReport) -> Verification {
    let errors = h.diagnostics.iter().filter(|d| d.is_error()).count();
    let mut codes = BTreeMap::new();
    for d in &h.diagnostics {
        *codes.entry(d.code.name().to_owned()).or_insert(0) += 1;
    }
    Verification {
        commits: h.commits,
        errors,
        warnings: h.diagnostics.len() - errors,
        clean: errors == 0,
        codes,
        root_pinned: false,
    }
}

/// Sorted most frequent first, then by key.
fn tally<'a>(keys: impl Iterator<Item = String> + 'a) -> Vec<Count> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

fn counts(ds: &[&LedgerDecision]) -> Counts {
    let distinct = |names: Vec<&str>| -> Vec<String> {
        names
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    Counts {
        action: tally(
            ds.iter()
                .map(|d| d.decision.action.kind.as_str().to_owned()),
        ),
        risk: RISKS
            .iter()
            .map(|r| Count {
                key: r.as_str().to_owned(),
                count: ds.iter().filter(|d| d.decision.risk == *r).count(),
            })
            .filter(|c| c.count > 0)
            .collect(),
        model: tally(ds.iter().map(|d| d.decision.ai.model.trailer())),
        initiator: tally(ds.iter().map(|d| d.decision.initiator.id.clone())),
        approver: tally(
            ds.iter()
                .flat_map(|d| distinct(d.approvals.iter().map(|a| a.principal.as_str()).collect())),
        ),
        reviewer: tally(ds.iter().flat_map(|d| {
            distinct(
                d.events
                    .iter()
                    .filter(|e| e.event.kind == EventKind::Review)
                    .map(|e| e.event.actor.id.as_str())
                    .collect(),
            )
        })),
        status: tally(ds.iter().map(|d| d.status().to_owned())),
        ai_role: tally(ds.iter().map(|d| d.decision.ai.role.as_str().to_owned())),
    }
}

fn latency(ds: &[&LedgerDecision]) -> Latency {
    let mut v: Vec<i64> = ds.iter().filter_map(|d| d.approval_latency()).collect();
    v.sort_unstable();
    let n = v.len();
    let histogram = LATENCY_BINS
        .iter()
        .enumerate()
        .map(|(i, (label, min))| {
            let max = LATENCY_BINS.get(i + 1).map(|b| b.1);
            Bin {
                label,
                min_seconds: *min,
                max_seconds: max,
                count: v
                    .iter()
                    .filter(|x| **x >= *min && max.is_none_or(|m| **x < m))
                    .count(),
            }
        })
        .collect();
    let (median, p90, max) = summarize(&v);
    Latency {
        approved: n,
        median_seconds: median,
        p90_seconds: p90,
        max_seconds: max,
        histogram,
    }
}

/// Median, 90th percentile (nearest rank) and maximum of sorted values.
fn summarize(sorted: &[i64]) -> (Option<i64>, Option<i64>, Option<i64>) {
    let n = sorted.len();
    if n == 0 {
        return (None, None, None);
    }
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    let p90 = sorted[(n * 9).div_ceil(10).max(1) - 1];
    (Some(median), Some(p90), Some(sorted[n - 1]))
}

// ---- the calendar (UTC) -----------------------------------------------------------------------

/// (year, month, day) of a day number (days since 1970-01-01).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of (year, month, day).
fn day_number(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Day,
    Week,
    Month,
}

/// The first day of the bucket holding `day`.
fn bucket_start(unit: Unit, day: i64) -> i64 {
    match unit {
        Unit::Day => day,
        // 1970-01-01 was a Thursday; weeks start on Monday.
        Unit::Week => day - (day + 3).rem_euclid(7),
        Unit::Month => {
            let (y, m, _) = civil(day);
            day_number(y, m, 1)
        }
    }
}

fn next_bucket(unit: Unit, start: i64) -> i64 {
    match unit {
        Unit::Day => start + 1,
        Unit::Week => start + 7,
        Unit::Month => {
            let (y, m, _) = civil(start);
            if m == 12 {
                day_number(y + 1, 1, 1)
            } else {
                day_number(y, m + 1, 1)
            }
        }
    }
}

/// The widest span the timeline charts asked for: 40 years of months.
const MAX_AXIS_DAYS: i64 = 40 * 366;

fn timeline(ds: &[&LedgerDecision], opts: &Options) -> Timeline {
    let created: Vec<(i64, Risk)> = ds
        .iter()
        .map(|d| {
            (
                seconds(&d.decision.created).unwrap_or(0).div_euclid(86400),
                d.decision.risk,
            )
        })
        .collect();
    let first = opts
        .since
        .map(|s| s.div_euclid(86400))
        .or_else(|| created.iter().map(|c| c.0).min());
    let last = opts
        .until
        .map(|u| (u - 1).div_euclid(86400))
        .or_else(|| created.iter().map(|c| c.0).max());
    let (Some(mut first), Some(mut last)) = (first, last) else {
        return Timeline {
            bucket: "day",
            buckets: Vec::new(),
        };
    };
    // A range far wider than the data (`--since 0001-01-01`) would chart centuries of empty
    // months: chart the span of the decisions instead.
    if last - first > MAX_AXIS_DAYS {
        if let (Some(a), Some(b)) = (
            created.iter().map(|c| c.0).min(),
            created.iter().map(|c| c.0).max(),
        ) {
            (first, last) = (a, b);
        }
        last = last.min(first + MAX_AXIS_DAYS);
    }
    let last = last.max(first);
    let span = last - first + 1;
    let unit = if span <= 45 {
        Unit::Day
    } else if span <= 7 * 40 {
        Unit::Week
    } else {
        Unit::Month
    };
    let mut buckets = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut start = bucket_start(unit, first);
    while start <= last {
        let (y, m, d) = civil(start);
        let label = match unit {
            Unit::Day | Unit::Week => format!("{} {d}", MONTHS[(m - 1) as usize]),
            Unit::Month => format!("{} {y}", MONTHS[(m - 1) as usize]),
        };
        index.insert(start, buckets.len());
        buckets.push(Bucket {
            start: format!("{y:04}-{m:02}-{d:02}"),
            label,
            low: 0,
            medium: 0,
            high: 0,
            critical: 0,
            total: 0,
        });
        start = next_bucket(unit, start);
    }
    for (day, risk) in created {
        if let Some(&i) = index.get(&bucket_start(unit, day)) {
            let b = &mut buckets[i];
            match risk {
                Risk::Low => b.low += 1,
                Risk::Medium => b.medium += 1,
                Risk::High => b.high += 1,
                Risk::Critical => b.critical += 1,
            }
            b.total += 1;
        }
    }
    Timeline {
        bucket: match unit {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
        },
        buckets,
    }
}

// ---- gaps -----------------------------------------------------------------------------------

fn gap_for(d: &LedgerDecision, severity: Severity, detail: String) -> Gap {
    Gap {
        severity,
        decision: Some(d.decision.id.clone()),
        created: Some(d.decision.created.clone()),
        risk: Some(d.decision.risk.as_str()),
        action: Some(d.decision.action.kind.as_str()),
        initiator: Some(d.decision.initiator.id.clone()),
        subject: d
            .decision
            .action
            .summary
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        detail,
        code: None,
        commit: Some(d.commit.clone()),
        path: Some(d.path.clone()),
        related: Vec::new(),
    }
}

/// The engine's findings, each attached to the decision whose commit (or event commit) it
/// names; findings about decisions outside the range are left out, findings about no decision
/// (policy changes, rewritten history) are always kept.
fn engine_gaps(
    ledger: &Ledger,
    history: &HistoryReport,
    in_range: &dyn Fn(&LedgerDecision) -> bool,
    found: &mut BTreeMap<&'static str, Vec<Gap>>,
) {
    let mut by_commit: HashMap<&str, &LedgerDecision> = HashMap::new();
    for d in &ledger.decisions {
        by_commit.insert(d.commit.as_str(), d);
        for e in &d.events {
            by_commit.insert(e.commit.as_str(), d);
        }
    }
    // A decision whose only approvals were made by a key revoked since also falls short of its
    // requirement (`approval-missing`): that is the revocation's consequence, told with it.
    let revoked: HashMap<&str, String> = history
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::ApprovalMissing)
        .filter_map(|d| Some((d.commit.as_deref()?, d)))
        .filter(|(c, _)| {
            history
                .diagnostics
                .iter()
                .any(|k| k.code == Code::KeyRevoked && k.commit.as_deref() == Some(*c))
        })
        .map(|(c, d)| (c, d.message.clone()))
        .collect();
    for diag in &history.diagnostics {
        let commit = diag.commit.as_deref().unwrap_or("");
        if diag.code == Code::ApprovalMissing && revoked.contains_key(commit) {
            continue;
        }
        let kind = match diag.code {
            // The ledger's own view (every decision without an outcome) covers it.
            Code::OutcomeMissing => continue,
            Code::ReviewOverdue => Code::ReviewOverdue.name(),
            Code::SharedAccount => Code::SharedAccount.name(),
            Code::KeyRevoked => Code::KeyRevoked.name(),
            _ => Code::VerifyViolation.name(),
        };
        let severity = if diag.is_error() {
            Severity::Error
        } else {
            Severity::Warning
        };
        let decision = diag
            .commit
            .as_deref()
            .and_then(|c| by_commit.get(c).copied());
        let gap = match decision {
            Some(d) if !in_range(d) => continue,
            Some(d) => {
                let mut detail = diag.message.clone();
                if let Some(short) = revoked
                    .get(commit)
                    .filter(|_| diag.code == Code::KeyRevoked)
                {
                    detail = format!(
                        "{}; without it, approval-missing: {short}",
                        detail.trim_end_matches('.')
                    );
                }
                finding_gap(gap_for(d, severity, detail), diag)
            }
            None => finding_gap(
                Gap {
                    severity,
                    decision: None,
                    created: None,
                    risk: None,
                    action: None,
                    initiator: None,
                    subject: match (&diag.path, &diag.commit) {
                        (Some(p), _) => p.clone(),
                        (None, Some(c)) => format!("commit {}", &c[..c.len().min(12)]),
                        (None, None) => diag.refname.clone().unwrap_or_else(|| "main".into()),
                    },
                    detail: diag.message.clone(),
                    code: None,
                    commit: None,
                    path: None,
                    related: Vec::new(),
                },
                diag,
            ),
        };
        found.entry(kind).or_default().push(gap);
    }
}

fn finding_gap(mut g: Gap, diag: &Diagnostic) -> Gap {
    g.code = Some(diag.code.name());
    if diag.commit.is_some() {
        g.commit = diag.commit.clone();
    }
    if diag.path.is_some() {
        g.path = diag.path.clone();
    }
    g
}

fn ledger_gaps(
    decisions: &[&LedgerDecision],
    now: i64,
    verdict_of: &mut dyn FnMut(&LedgerDecision) -> Option<Verdict>,
    found: &mut BTreeMap<&'static str, Vec<Gap>>,
) {
    for d in decisions {
        let x = &d.decision;
        let created = seconds(&x.created).unwrap_or(0);
        // Awaiting an outcome.
        if d.outcome().is_none() {
            let high = x.risk >= Risk::High;
            let landed = d.landed_at.max(created);
            found
                .entry(Code::AwaitingOutcome.name())
                .or_default()
                .push(gap_for(
                    d,
                    if high {
                        Severity::Warning
                    } else {
                        Severity::Info
                    },
                    format!(
                        "{}{}-risk decision landed {} ago ({}) and has no outcome event",
                        if high { "flagged: " } else { "" },
                        x.risk.as_str(),
                        human_duration(now - landed),
                        format_time(landed)
                    ),
                ));
        }
        // Recorded after the action it describes.
        let earliest = d
            .events
            .iter()
            .filter(|e| e.event.kind == EventKind::Outcome)
            .filter_map(|e| {
                let at = e.event.outcome.as_ref().and_then(|o| o.at.as_deref());
                let (what, t) = match at {
                    Some(a) => ("outcome.at", a),
                    None => ("created", e.event.created.as_str()),
                };
                Some((seconds(t)?, what, t.to_owned(), e))
            })
            .min_by_key(|x| x.0);
        if let Some((at, what, text, e)) = earliest.filter(|x| x.0 < created) {
            let mut g = gap_for(
                d,
                Severity::Warning,
                format!(
                    "the outcome recorded by `{}` ({what} {text}) is {} earlier than the decision ({})",
                    e.event.actor.id,
                    human_duration(created - at),
                    x.created
                ),
            );
            g.related.push(e.event.id.clone());
            found
                .entry(Code::RecordedAfterAction.name())
                .or_default()
                .push(g);
        }
        // Links not signed by their actor.
        let mut unsigned = Vec::new();
        if d.initiated.is_none() {
            unsigned.push(format!(
                "the record carries no signature of its initiator `{}`",
                x.initiator.id
            ));
        }
        let outcomes: Vec<&LedgerEvent> = d
            .events
            .iter()
            .filter(|e| e.event.kind == EventKind::Outcome && e.signatures.is_empty())
            .collect();
        for e in &outcomes {
            unsigned.push(format!(
                "outcome {} carries no signature of its executor `{}`",
                e.event.id, e.event.actor.id
            ));
        }
        if !unsigned.is_empty() {
            let mut g = gap_for(d, Severity::Warning, unsigned.join("; "));
            g.related
                .extend(outcomes.iter().map(|e| e.event.id.clone()));
            found.entry(Code::UnsignedLink.name()).or_default().push(g);
        }
        // Approved by nobody.
        if d.approvals.is_empty() {
            let rule = match verdict_of(d) {
                Some(v) if v.approval == Approval::Post => format!(
                    "rule `{}` allows post-action review{}",
                    v.rule,
                    v.review_within
                        .map(|w| format!(" within {w}"))
                        .unwrap_or_default()
                ),
                Some(v) => format!("rule `{}` requires pre-approval", v.rule),
                None => "no approval signature".to_owned(),
            };
            let reviews: Vec<String> = d
                .events
                .iter()
                .filter(|e| e.event.kind == EventKind::Review)
                .map(|e| {
                    format!(
                        "{} ({}, {})",
                        e.event.actor.id,
                        e.event
                            .review
                            .as_ref()
                            .map(|r| r.verdict.as_str())
                            .unwrap_or("review"),
                        e.event.created
                    )
                })
                .collect();
            let (severity, reviewed) = if reviews.is_empty() {
                (Severity::Warning, "no signed review yet".to_owned())
            } else {
                (
                    Severity::Info,
                    format!("reviewed after the fact by {}", reviews.join(", ")),
                )
            };
            found
                .entry(Code::Unapproved.name())
                .or_default()
                .push(gap_for(d, severity, format!("{rule}; {reviewed}")));
        }
    }
    // Non-human initiators driven by more than one framework or set of agents.
    let mut accounts: BTreeMap<&str, Vec<&LedgerDecision>> = BTreeMap::new();
    for d in decisions {
        if d.decision.initiator.kind != PrincipalKind::Human {
            accounts
                .entry(d.decision.initiator.id.as_str())
                .or_default()
                .push(d);
        }
    }
    for (account, ds) in accounts {
        let frameworks: BTreeSet<&str> = ds
            .iter()
            .filter_map(|d| d.decision.ai.framework.as_deref())
            .collect();
        let agent_sets: BTreeSet<Vec<&str>> = ds
            .iter()
            .map(|d| {
                let mut ids: Vec<&str> =
                    d.decision.ai.agents.iter().map(|a| a.id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .filter(|ids| !ids.is_empty())
            .collect();
        if frameworks.len() < 2 && agent_sets.len() < 2 {
            continue;
        }
        let mut used = Vec::new();
        if frameworks.len() > 1 {
            used.push(format!(
                "{} frameworks ({})",
                frameworks.len(),
                frameworks.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        if agent_sets.len() > 1 {
            used.push(format!(
                "{} agent sets ({})",
                agent_sets.len(),
                agent_sets
                    .iter()
                    .map(|s| format!("[{}]", s.join(", ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let first = ds[0];
        let kind = first.decision.initiator.kind.as_str();
        found.entry(Code::SharedAccount.name()).or_default().push(Gap {
            severity: Severity::Warning,
            decision: None,
            created: Some(first.decision.created.clone()),
            risk: None,
            action: None,
            initiator: Some(account.to_owned()),
            subject: format!("{kind} account `{account}`"),
            detail: format!(
                "`{account}` initiated {} decision(s) through {}: one {kind} identity stands for several automations",
                ds.len(),
                used.join(" and ")
            ),
            code: None,
            commit: None,
            path: None,
            related: ds.iter().map(|d| d.decision.id.clone()).collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_kinds_are_unique() {
        let mut kinds = BTreeSet::new();
        for g in GAP_KINDS {
            assert!(kinds.insert(g.kind), "duplicate kind {}", g.kind);
        }
    }

    #[test]
    fn docs_list_every_gap_kind_and_control() {
        let doc = include_str!("../docs/report.md");
        for g in GAP_KINDS {
            assert!(
                doc.contains(&format!("`{}`", g.kind)),
                "docs/report.md lacks {}",
                g.kind
            );
        }
        for f in crate::catalog::shipped(&gap_kind_ids()).unwrap() {
            assert!(
                doc.contains(&format!("`{}`", f.key)),
                "docs/report.md lacks {}",
                f.key
            );
            for c in f.controls {
                assert!(doc.contains(&c.id), "docs/report.md lacks {}", c.id);
            }
        }
    }

    #[test]
    fn calendar_round_trips() {
        for day in [-800_000, -1, 0, 59, 60, 11_016, 20_468, 2_932_896] {
            let (y, m, d) = civil(day);
            assert_eq!(day_number(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_468), (2026, 1, 15));
        // 2026-01-15 is a Thursday: its week starts on Monday the 12th.
        assert_eq!(civil(bucket_start(Unit::Week, 20_468)), (2026, 1, 12));
        assert_eq!(
            civil(next_bucket(Unit::Month, day_number(2025, 12, 1))),
            (2026, 1, 1)
        );
    }

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(7 * 60 + 5), "7m");
        assert_eq!(human_duration(3600), "1h");
        assert_eq!(human_duration(3 * 3600 + 20 * 60), "3h 20m");
        assert_eq!(human_duration(2 * 86400 + 4 * 3600), "2d 4h");
    }

    #[test]
    fn latency_percentiles() {
        let v: Vec<i64> = (1..=10).map(|x| x * 60).collect();
        assert_eq!(summarize(&v), (Some(330), Some(540), Some(600)));
        assert_eq!(summarize(&[7]), (Some(7), Some(7), Some(7)));
        assert_eq!(summarize(&[1, 2, 3]), (Some(2), Some(3), Some(3)));
        assert_eq!(summarize(&[]), (None, None, None));
    }
}
