//! `aiaudit report`: statistics and every gap over a time range, mapped to framework controls,
//! as Markdown, a self-contained HTML page, or JSON. The report itself is computed by
//! [`crate::report`]; this file reads the repository and renders.

use super::errln;
use super::log::time_bounds;
use super::progress::Progress;
use super::util::{self, main_base};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::Checker;
use crate::ledger::read::read_ledger;
use crate::record::Risk;
use crate::report::{
    self, human_duration, Bucket, ControlReport, Count, FrameworkReport, GapGroup, Report,
    Severity, RISKS,
};
use crate::store::Oid;
use anyhow::anyhow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown, for tickets, wikis and terminals.
    Markdown,
    /// One self-contained page (inline CSS and SVG charts, no scripts, no external resources).
    Html,
    /// JSON, schema aiaudit/report/v1 (docs/report.md).
    Json,
}

/// Report for an audit: gaps in the decisions on main, mapped to framework controls
///
/// For a time range: counts by action, risk, model, initiator and approver; approval latency;
/// decisions over time by risk; and every gap (overdue post-action reviews, decisions without
/// outcome, approvals by keys revoked since, shared service accounts, decisions recorded after
/// their action, decisions approved by nobody, violations of the hook's rules), each mapped to
/// the controls of the frameworks' catalogs (NIST CSF 2.0, NIST AI RMF 1.0, OWASP Top 10 for
/// Agentic Applications 2026, CSA MAESTRO layers, EU AI Act, ISO/IEC 27001:2022, ISO/IEC
/// 42001:2023, SOC 2, and the repository's own catalogs under .aiaudit/catalogs/), and per
/// control the evidence the ledger holds for it and the gaps against it. As Markdown, one
/// self-contained HTML page with charts, or JSON. See docs/report.md.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only decisions created at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only decisions created before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Report on this framework only (a catalog key: nist_csf, nist_ai_rmf, owasp_asi,
    /// csa_maestro, eu_ai_act, iso_27001, iso_42001, soc2, or a key of the repository's own
    /// catalogs); repeatable. Default: every catalog.
    #[arg(long = "framework", value_name = "KEY")]
    pub frameworks: Vec<String>,
    /// Check that main's root is this commit (the root of trust your auditors pinned, as for
    /// `aiaudit verify --trust-root`); without it the report says the root is not pinned.
    #[arg(long, value_name = "COMMIT", env = "AIAUDIT_TRUST_ROOT")]
    pub trust_root: Option<String>,
}

pub fn run(cwd: &Path, a: Args) -> CliResult {
    let (since, until) = time_bounds(&a.since, &a.until)?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            return Err(CliError::usage(anyhow!(
                "--until must be later than --since (the range is [since, until))"
            )));
        }
    }
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let now = util::unix(util::now()?);
    let catalogs = catalogs(&store, base.tree, &a.frameworks)?;

    let reading = Progress::counter("report: reading main", "commits");
    let ledger = read_ledger(&store, base.id, &mut |n| reading.set(n as u64))?;
    drop(reading);
    let checking = Progress::history("report: checking with the rules of verify");
    let mut checker = Checker::new(&store, util::now()?).with_progress(checking.for_engine());
    let trust_root = util::parse_trust_root(a.trust_root.as_deref())?;
    let history = checker.check_history(base.id, trust_root);
    drop(checking);

    let opts = report::Options { since, until, now };
    let mut verdict_of = |d: &crate::ledger::read::LedgerDecision| {
        // The policy a decision landed under is its landing commit's parent's.
        let oid = Oid::from_hex(d.commit.as_bytes()).ok()?;
        let parent = *store.commit(oid).ok()?.parents.first()?;
        let tree = store.commit(parent).ok()?.tree;
        Some(
            checker
                .governance()
                .policy_at(tree)
                .ok()?
                .verdict(&d.decision),
        )
    };
    let mut r = report::build(
        &ledger,
        &history,
        &catalogs,
        &opts,
        report::format_time(now),
        &mut verdict_of,
    );
    r.verification.root_pinned = trust_root.is_some();

    let text = match a.format {
        Format::Markdown => markdown(&r),
        Format::Html => html(&r),
        Format::Json => serde_json::to_string_pretty(&r).map_err(CliError::internal)? + "\n",
    };
    match &a.out {
        None => {
            util::write_stdout(text.as_bytes())?;
        }
        Some(path) => {
            write_atomically(path, text.as_bytes())?;
            let open: usize = r.gaps.iter().map(|g| g.count).sum();
            errln!(
                "wrote {} ({} decisions, {open} gap(s): {} error, {} warning, {} info)",
                path.display(),
                r.totals.decisions,
                r.totals.gaps_error,
                r.totals.gaps_warning,
                r.totals.gaps_info
            );
        }
    }
    Ok(EXIT_OK)
}

/// The catalogs to report on: those shipped with aiaudit with the repository's own at `tree`
/// laid over them, only those named by `--framework` when any are.
fn catalogs(
    store: &crate::store::Store,
    tree: Oid,
    wanted: &[String],
) -> CliResult<Vec<crate::catalog::Catalog>> {
    let kinds = report::gap_kind_ids();
    let shipped = crate::catalog::shipped(&kinds).map_err(CliError::internal)?;
    let own = crate::ledger::governance::Governance::new(store).catalogs_at(tree)?;
    let all = crate::catalog::merged(shipped, own);
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for key in wanted {
        match all.iter().find(|c| &c.key == key) {
            Some(c) if !out.iter().any(|o: &crate::catalog::Catalog| o.key == c.key) => {
                out.push(c.clone())
            }
            Some(_) => {}
            None => {
                return Err(
                    CliError::usage(anyhow!("no catalog has the key `{key}`")).hint(format!(
                        "the catalogs are: {}",
                        all.iter()
                            .map(|c| c.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                )
            }
        }
    }
    Ok(out)
}

/// Written to a temporary file beside `path` and renamed: an interrupted run leaves no half
/// report.
fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: &dyn std::fmt::Display| {
        CliError::usage(anyhow!("cannot write {}: {e}", path.display()))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    tmp.write_all(bytes).map_err(|e| fail(&e))?;
    // A report is for sharing: readable by others, like any file the user would write (the
    // temporary file starts private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| fail(&e))?;
    }
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

// ---- shared wording -------------------------------------------------------------------------

fn percent(part: usize, whole: usize) -> String {
    match (part * 100 + whole / 2).checked_div(whole) {
        Some(p) => format!("{p}%"),
        None => "–".into(),
    }
}

fn range_text(r: &Report) -> String {
    match (&r.range.since, &r.range.until) {
        (None, None) => "all decisions on main".into(),
        (Some(s), None) => format!("decisions created since {s}"),
        (None, Some(u)) => format!("decisions created before {u}"),
        (Some(s), Some(u)) => format!("decisions created from {s} until {u} (exclusive)"),
    }
}

fn span_text(r: &Report) -> String {
    match (&r.range.first, &r.range.last) {
        (Some(f), Some(l)) if f == l => format!("one day of activity: {f}"),
        (Some(f), Some(l)) => format!("first {f}, last {l}"),
        _ => "no decision in range".into(),
    }
}

fn short(oid: &Option<String>) -> &str {
    oid.as_deref().map(|s| &s[..s.len().min(12)]).unwrap_or("?")
}

fn latency_text(r: &Report) -> String {
    let l = &r.approval_latency;
    match (l.median_seconds, l.p90_seconds, l.max_seconds) {
        (Some(m), Some(p), Some(x)) => format!(
            "median {}, p90 {}, max {} (over {} approved)",
            human_duration(m),
            human_duration(p),
            human_duration(x),
            l.approved
        ),
        _ => "no approved decision in range".into(),
    }
}

fn verification_text(r: &Report) -> String {
    let v = &r.verification;
    format!(
        "{} — {} commits, {} error(s), {} warning(s){}{}{}",
        if v.clean { "clean" } else { "FAILED" },
        v.commits,
        v.errors,
        v.warnings,
        codes_text(r).map(|c| format!(" ({c})")).unwrap_or_default(),
        if v.clean {
            ""
        } else {
            "; `aiaudit verify` names each one"
        },
        pinned_text(v)
    )
}

/// Whether the root was checked against a pinned root of trust.
fn pinned_text(v: &report::Verification) -> &'static str {
    if v.root_pinned {
        "; root of trust pinned and matched"
    } else {
        "; no root of trust pinned (--trust-root): the history is consistent with itself, not proven to be the one you trust"
    }
}

/// `approval-missing 2, key-revoked 2`: the verify findings by code.
fn codes_text(r: &Report) -> Option<String> {
    let c = &r.verification.codes;
    (!c.is_empty()).then(|| {
        c.iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// A control's status: the worst severity among the gaps against it, or `no gap`.
fn control_status(c: &ControlReport) -> &'static str {
    c.status.map(|s| s.as_str()).unwrap_or("no gap")
}

fn gaps_text(r: &Report) -> String {
    let t = &r.totals;
    let open = t.gaps_error + t.gaps_warning + t.gaps_info;
    if open == 0 {
        return "none".into();
    }
    format!(
        "{open}: {} error, {} warning, {} info",
        t.gaps_error, t.gaps_warning, t.gaps_info
    )
}

/// At most this many items of one gap kind in Markdown and HTML (JSON lists every item).
const MAX_SHOWN: usize = 500;
/// At most this many `info` items of one gap kind in Markdown and HTML.
const MAX_SHOWN_INFO: usize = 25;

/// The items of a gap kind a human format lists (most serious first), and how many it leaves
/// to the JSON.
fn shown(g: &GapGroup) -> (Vec<&report::Gap>, usize) {
    let mut info = 0;
    let items: Vec<&report::Gap> = g
        .items
        .iter()
        .filter(|i| {
            info += usize::from(i.severity == Severity::Info);
            i.severity != Severity::Info || info <= MAX_SHOWN_INFO
        })
        .take(MAX_SHOWN)
        .collect();
    let rest = g.items.len() - items.len();
    (items, rest)
}

fn rest_text(g: &GapGroup, rest: usize) -> String {
    format!(
        "{rest} more not listed here: `aiaudit report --format json` lists every one (`.gaps[] | select(.kind == \"{}\") | .items`)",
        g.kind
    )
}

/// The controls gap kind `g` counts against, per framework: `NIST CSF 2.0: PR.AA-03, PR.AA-05;
/// …` (`none` when no catalog maps it).
fn controls_of(r: &Report, g: &GapGroup) -> String {
    let parts: Vec<String> = g
        .controls
        .iter()
        .map(|c| format!("{} {}", framework_name(r, &c.framework), c.ids.join(", ")))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

fn framework_name<'r>(r: &'r Report, key: &'r str) -> &'r str {
    r.frameworks
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.name.as_str())
        .unwrap_or(key)
}

fn severity_of(g: &GapGroup) -> &'static str {
    g.severity.map(Severity::as_str).unwrap_or("none")
}

// ---- Markdown -------------------------------------------------------------------------------

/// A table cell: one line, pipes escaped, no HTML (a renderer would run it), control and
/// hidden characters shown escaped.
fn cell(s: &str) -> String {
    crate::text::visible(&s.replace(['\n', '\r'], " "))
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn count_table(out: &mut String, title: &str, what: &str, counts: &[Count], total: usize) {
    let _ = writeln!(out, "### {title}\n");
    if counts.is_empty() {
        let _ = writeln!(out, "none\n");
        return;
    }
    let _ = writeln!(out, "| {what} | decisions | share |\n|---|---:|---:|");
    for c in counts {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(&c.key),
            c.count,
            percent(c.count, total)
        );
    }
    out.push('\n');
}

pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let t = &r.totals;
    let _ = writeln!(o, "# AI-assisted privileged decisions: audit report\n");
    let _ = writeln!(
        o,
        "- **Ledger:** `main` at `{}` (root `{}`)",
        short(&r.tip),
        short(&r.root)
    );
    let _ = writeln!(o, "- **Range:** {} ({})", range_text(r), span_text(r));
    let _ = writeln!(o, "- **Generated:** {}", r.generated_at);
    let _ = writeln!(o, "- **History verification:** {}\n", verification_text(r));

    let _ = writeln!(o, "## Summary\n\n| measure | value |\n|---|---|");
    let _ = writeln!(o, "| decisions | {} |", t.decisions);
    let _ = writeln!(
        o,
        "| high or critical risk | {} ({}) |",
        t.high_risk,
        percent(t.high_risk, t.decisions)
    );
    let _ = writeln!(
        o,
        "| approved before the action | {} of {} ({}) |",
        t.approved,
        t.decisions,
        percent(t.approved, t.decisions)
    );
    let _ = writeln!(o, "| approval latency | {} |", latency_text(r));
    let _ = writeln!(o, "| reviewed after the fact | {} |", t.reviewed);
    let _ = writeln!(
        o,
        "| with a recorded outcome | {} of {} ({}) |",
        t.with_outcome,
        t.decisions,
        percent(t.with_outcome, t.decisions)
    );
    let _ = writeln!(o, "| gaps | {} |\n", gaps_text(r));

    let _ = writeln!(o, "## Gaps\n");
    let _ = writeln!(
        o,
        "| gap | `kind` | severity | count | controls it counts against |\n|---|---|---|---:|---|"
    );
    for g in &r.gaps {
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} |",
            g.title,
            g.kind,
            severity_of(g),
            g.count,
            controls_of(r, g)
        );
    }
    o.push('\n');
    for g in r.gaps.iter().filter(|g| g.count > 0) {
        let _ = writeln!(o, "### {} (`{}`): {}\n", g.title, g.kind, g.count);
        let _ = writeln!(
            o,
            "{}. What to do: {}.\n",
            capitalize(g.description),
            g.remedy
        );
        let _ = writeln!(o, "Controls: {}.\n", controls_of(r, g));
        let _ = writeln!(
            o,
            "| severity | decision | created | risk | initiator | subject | finding |\n|---|---|---|---|---|---|---|"
        );
        let (items, rest) = shown(g);
        for i in items {
            let mut finding = cell(&i.detail);
            if let Some(c) = i.code {
                finding = format!("`{c}`: {finding}");
            }
            if !i.related.is_empty() {
                let _ = write!(finding, " (related: {})", i.related.join(", "));
            }
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                i.severity.as_str(),
                i.decision
                    .as_deref()
                    .map(|d| format!("`{d}`"))
                    .unwrap_or_else(|| "–".into()),
                i.created.as_deref().unwrap_or("–"),
                i.risk.unwrap_or("–"),
                i.initiator
                    .as_deref()
                    .map(cell)
                    .unwrap_or_else(|| "–".into()),
                cell(&i.subject),
                finding
            );
        }
        if rest > 0 {
            let _ = writeln!(o, "\n{}.", rest_text(g, rest));
        }
        o.push('\n');
    }

    let unit = r.timeline.bucket;
    let _ = writeln!(o, "## Decisions over time (per {unit}, by risk)\n");
    let rows: Vec<&Bucket> = r.timeline.buckets.iter().filter(|b| b.total > 0).collect();
    if rows.is_empty() {
        let _ = writeln!(o, "no decision in range\n");
    } else {
        let _ = writeln!(
            o,
            "| {unit} starting | low | medium | high | critical | total |\n|---|---:|---:|---:|---:|---:|"
        );
        for b in &rows {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                b.start, b.low, b.medium, b.high, b.critical, b.total
            );
        }
        let empty = r.timeline.buckets.len() - rows.len();
        if empty > 0 {
            let _ = writeln!(o, "\n({empty} {unit}(s) without decisions not shown)");
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Approval latency\n");
    let _ = writeln!(
        o,
        "From a decision's creation to its last approval signature: {}.\n",
        latency_text(r)
    );
    if r.approval_latency.approved > 0 {
        let _ = writeln!(o, "| latency | decisions |\n|---|---:|");
        for b in &r.approval_latency.histogram {
            let _ = writeln!(o, "| {} | {} |", b.label, b.count);
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Breakdown\n");
    let c = &r.counts;
    let n = t.decisions;
    count_table(&mut o, "By action kind", "action", &c.action, n);
    count_table(&mut o, "By risk", "risk", &c.risk, n);
    count_table(&mut o, "By model", "model", &c.model, n);
    count_table(&mut o, "By initiator", "initiator", &c.initiator, n);
    count_table(&mut o, "By approver", "approver", &c.approver, n);
    count_table(
        &mut o,
        "By post-action reviewer",
        "reviewer",
        &c.reviewer,
        n,
    );
    count_table(&mut o, "By status", "status", &c.status, n);
    count_table(&mut o, "By AI role", "AI role", &c.ai_role, n);

    markdown_controls(&mut o, r);
    o
}

/// The framework mapping and, per control, its evidence and the gaps against it.
fn markdown_controls(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Framework mapping\n");
    let _ = writeln!(
        o,
        "Each control of the catalogs reported on, the worst gap against it, the evidence the ledger holds for it and the gap kinds that count against it. Identifiers and titles come from the catalogs (sources below and in docs/report.md).\n"
    );
    let _ = writeln!(
        o,
        "| framework | control | status | what it asks for | gap kinds (findings) |\n|---|---|---|---|---|"
    );
    for f in &r.frameworks {
        for ctl in &f.controls {
            let kinds: Vec<String> = ctl
                .gaps
                .iter()
                .map(|g| format!("`{}` ({})", g.kind, g.count))
                .collect();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                f.name,
                ctl.id,
                control_status(ctl),
                ctl.title,
                kinds.join(", ")
            );
        }
    }
    o.push('\n');
    let _ = writeln!(o, "## Evidence per control\n");
    let _ = writeln!(
        o,
        "Examine any decision named here with `aiaudit show ID`; `aiaudit verify` re-checks the whole history.\n"
    );
    for f in &r.frameworks {
        markdown_framework(o, f);
    }
}

fn markdown_framework(o: &mut String, f: &FrameworkReport) {
    let _ = writeln!(o, "### {} (`{}`)\n", f.name, f.key);
    let _ = writeln!(o, "Source: {} (as of {}).\n", f.source, f.as_of);
    let ids = |v: &[String]| {
        v.iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for ctl in &f.controls {
        let _ = writeln!(
            o,
            "#### {} — {}\n\nStatus: **{}**.\n",
            ctl.id,
            ctl.title,
            control_status(ctl)
        );
        if !ctl.evidence.is_empty() {
            let _ = writeln!(o, "Evidence:\n");
            for e in &ctl.evidence {
                let examples = if e.decisions.is_empty() {
                    String::new()
                } else {
                    format!("; e.g. {}", ids(&e.decisions))
                };
                let _ = writeln!(o, "- {} (`{}`){examples}", e.summary, e.kind);
            }
            o.push('\n');
        }
        if !ctl.gaps.is_empty() {
            let _ = writeln!(o, "Gaps against it:\n");
            for g in &ctl.gaps {
                let what = match g.severity {
                    None => "none".to_owned(),
                    Some(s) => format!("{} ({})", g.count, s.as_str()),
                };
                let examples = if g.decisions.is_empty() {
                    String::new()
                } else {
                    format!(": {}", ids(&g.decisions))
                };
                let _ = writeln!(o, "- {} (`{}`): {what}{examples}", g.title, g.kind);
            }
            o.push('\n');
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

// ---- HTML -----------------------------------------------------------------------------------

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Escaped text with `backticked` spans set as code (as the engine's messages quote names).
fn rich(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return esc(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", esc(p))
            } else {
                esc(p)
            }
        })
        .collect()
}

/// `2026-01-15T10:00:00Z` as `2026-01-15 10:00`.
fn when(s: &str) -> String {
    if s.len() >= 16 && s.as_bytes()[10] == b'T' {
        format!("{} {}", &s[..10], &s[11..16])
    } else {
        s.to_owned()
    }
}

fn risk_color(r: Risk) -> &'static str {
    match r {
        Risk::Low => "#3b9e6b",
        Risk::Medium => "#e9b625",
        Risk::High => "#ee7a1f",
        Risk::Critical => "#cf3035",
    }
}

/// Round axis ticks: a step of 1, 2 or 5 × 10^k giving at most five intervals.
fn nice_axis(max: usize) -> (usize, usize) {
    let max = max.max(1);
    let mut magnitude = 1usize;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if step * 5 >= max {
                return (step, max.div_ceil(step) * step);
            }
        }
        magnitude *= 10;
    }
}

struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn plot_w(&self) -> f64 {
        self.w - self.left - self.right
    }
    fn plot_h(&self) -> f64 {
        self.h - self.top - self.bottom
    }
    /// Gridlines and y labels, for values 0..=top.
    fn grid(&self, o: &mut String, step: usize, top: usize) {
        let mut v = 0;
        while v <= top {
            let y = self.top + self.plot_h() * (1.0 - v as f64 / top as f64);
            let _ = write!(
                o,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{v}</text>"##,
                self.left,
                self.w - self.right,
                if v == 0 { "#9aa5b1" } else { "#e6e9ee" },
                self.left - 6.0,
                y + 4.0
            );
            v += step;
        }
    }
}

fn svg_timeline(r: &Report) -> String {
    let b = &r.timeline.buckets;
    let f = Frame {
        w: 680.0,
        h: 260.0,
        left: 36.0,
        right: 8.0,
        top: 12.0,
        bottom: 30.0,
    };
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg id="chart-timeline" class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="chart-timeline-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-timeline-title">Decisions per {} by risk</title>"##,
        f.w, f.h, r.timeline.bucket
    );
    let max = b.iter().map(|x| x.total).max().unwrap_or(0);
    let (step, top) = nice_axis(max);
    f.grid(&mut o, step, top);
    let n = b.len().max(1);
    let slot = f.plot_w() / n as f64;
    let bar = (slot * 0.7).clamp(2.0, 44.0);
    let every = n.div_ceil(12);
    for (i, bk) in b.iter().enumerate() {
        let x = f.left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = f.top + f.plot_h();
        for risk in RISKS {
            let c = bk.by_risk(risk);
            if c == 0 {
                continue;
            }
            let h = f.plot_h() * c as f64 / top as f64;
            y -= h;
            let _ = write!(
                o,
                r##"<rect class="bar risk-{}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>{} {}: {c} {} decision(s)</title></rect>"##,
                risk.as_str(),
                risk_color(risk),
                r.timeline.bucket,
                esc(&bk.start),
                risk.as_str()
            );
        }
        if bk.total > 0 && n <= 24 {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="val">{}</text>"##,
                x + bar / 2.0,
                y - 4.0,
                bk.total
            );
        }
        if i % every == 0 {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
                f.left + slot * (i as f64 + 0.5),
                f.h - f.bottom + 16.0,
                esc(&bk.label)
            );
        }
    }
    if b.is_empty() {
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="empty">no decision in range</text>"##,
            f.w / 2.0,
            f.h / 2.0
        );
    }
    o.push_str("</svg>");
    o
}

fn svg_latency(r: &Report) -> String {
    let l = &r.approval_latency;
    let f = Frame {
        w: 480.0,
        h: 260.0,
        left: 30.0,
        right: 6.0,
        top: 12.0,
        bottom: 30.0,
    };
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg id="chart-latency" class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="chart-latency-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-latency-title">Approval latency distribution</title>"##,
        f.w, f.h
    );
    let max = l.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    let (step, top) = nice_axis(max);
    f.grid(&mut o, step, top);
    let n = l.histogram.len().max(1);
    let slot = f.plot_w() / n as f64;
    let bar = slot * 0.74;
    let in_bin = |v: Option<i64>, b: &report::Bin| {
        v.is_some_and(|v| v >= b.min_seconds && b.max_seconds.is_none_or(|m| v < m))
    };
    for (i, b) in l.histogram.iter().enumerate() {
        let x = f.left + slot * i as f64 + (slot - bar) / 2.0;
        let h = f.plot_h() * b.count as f64 / top as f64;
        let y = f.top + f.plot_h() - h;
        let median = in_bin(l.median_seconds, b);
        if b.count > 0 {
            let _ = write!(
                o,
                r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"><title>{}: {} approval(s)</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" class="val">{}</text>"##,
                if median { "#3b5bdb" } else { "#91a7ff" },
                esc(b.label),
                b.count,
                x + bar / 2.0,
                y - 4.0,
                b.count
            );
        }
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick{}">{}</text>"##,
            f.left + slot * (i as f64 + 0.5),
            f.h - f.bottom + 16.0,
            if median { " strong" } else { "" },
            esc(b.label)
        );
    }
    if l.approved == 0 {
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="empty">no approved decision in range</text>"##,
            f.w / 2.0,
            f.h / 2.0
        );
    }
    o.push_str("</svg>");
    o
}

const CSS: &str = r#"
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f4f6f9;--card:#fff;--accent:#3b5bdb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:28px 28px 56px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12px}
h1{font-size:26px;margin:2px 0 6px;letter-spacing:-.01em}
h2{font-size:17px;margin:0 0 12px}
h3{font-size:15px;margin:22px 0 4px}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11px;font-weight:700;color:var(--accent)}
.top{display:flex;justify-content:space-between;align-items:flex-start;gap:24px;margin-bottom:18px}
.meta{color:var(--muted);margin:0}
.meta b{color:var(--ink);font-weight:600}
.verify{border-radius:10px;padding:10px 16px;min-width:260px;border:1px solid}
.verify .label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;font-weight:700}
.verify .state{font-size:20px;font-weight:700}
.verify .codes{font-size:12px;opacity:.85;max-width:330px}
.verify.ok{background:#e9f7ef;border-color:#b7e4c7;color:#1e6b43}
.verify.fail{background:#fdecea;border-color:#f5c2c0;color:#a12622}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .k{color:var(--muted);font-size:12px;font-weight:600}
.card .v{font-size:30px;font-weight:700;line-height:1.15;margin:4px 0 2px}
.card .s{color:var(--muted);font-size:12px}
.card.bad .v{color:#c62828}.card.warn .v{color:#b45309}.card.good .v{color:#1e7b4f}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin-bottom:16px}
.grid2{display:grid;grid-template-columns:3fr 2fr;gap:16px}
.grid2 .panel{margin-bottom:0}
.row{margin-bottom:16px}
.chart{display:block;overflow:visible}
.chart .tick{font-size:11px;fill:#7b8794}
.chart .tick.strong{fill:var(--accent);font-weight:700}
.chart .val{font-size:11px;fill:#3e4c59;font-weight:600}
.chart .empty{font-size:13px;fill:#9aa5b1}
.legend{display:flex;gap:14px;margin-top:8px;color:var(--muted);font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.stats{display:flex;gap:18px;margin:0 0 8px;color:var(--muted);font-size:12px}
.stats b{display:block;color:var(--ink);font-size:18px}
table{border-collapse:collapse;width:100%}
th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);text-align:left;font-weight:700;padding:6px 8px;border-bottom:2px solid var(--line)}
td{padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.zero td{color:#9aa5b1}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
.pill.error{background:#fdecea;color:#a12622}.pill.warning{background:#fff3e0;color:#9a4d00}.pill.info{background:#e7efff;color:#2b4eb8}.pill.none{background:#e9f7ef;color:#1e6b43}
.risk{display:inline-block;padding:0 7px;border-radius:4px;font-size:12px;font-weight:600;color:#fff}
.risk.low{background:#3b9e6b}.risk.medium{background:#e9b625;color:#3d2e00}.risk.high{background:#ee7a1f}.risk.critical{background:#cf3035}
.ctl{display:inline-block;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:11px;background:#eef1f6;border:1px solid #dde3ec;border-radius:4px;padding:0 5px;margin:1px 2px 1px 0;white-space:nowrap;color:#323f4b}
.gap-title{font-weight:600}
.gap-title code{color:var(--muted);font-weight:400}
.desc{color:var(--muted);margin:0 0 8px;max-width:980px}
.desc b{color:var(--ink)}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:11.5px;white-space:nowrap}
table.gap-items{table-layout:fixed;margin-bottom:6px}
table.gap-items td{overflow-wrap:anywhere}
td.finding code,.desc code{font-size:11.5px;background:#f1f3f7;border-radius:3px;padding:0 3px}
.sub{color:var(--muted);font-size:12px}
.breakdown{display:grid;grid-template-columns:repeat(3,1fr);gap:10px 28px}
.breakdown h3{margin:6px 0 4px;font-size:13px}
.hb{table-layout:fixed}
.hb td{border:0;padding:3px 4px}
.hb .bar{background:#eef1f6;border-radius:3px;height:9px;min-width:60px;width:100%}
.hb .bar span{display:block;height:9px;border-radius:3px;background:var(--accent)}
.hb .key{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.controls{table-layout:fixed}
h3.fw{margin-top:18px}
p.src{font-size:12px}
div.ev{margin:0 0 4px}
span.ex{color:var(--muted);font-size:12px}
span.fwchips{display:inline-block;margin:0 8px 2px 0}
span.fwname{font-size:11px;color:var(--muted)}
.kind{white-space:nowrap;display:inline-block;margin:1px 8px 1px 0}
footer{color:var(--muted);font-size:12px;margin-top:18px}
@media print{body{background:#fff}main{padding:0}.panel,.card{break-inside:avoid}}
"#;

fn card(o: &mut String, class: &str, k: &str, v: &str, s: &str) {
    let _ = write!(
        o,
        r#"<div class="card {class}"><div class="k">{}</div><div class="v">{}</div><div class="s">{}</div></div>"#,
        esc(k),
        esc(v),
        esc(s)
    );
}

/// The controls gap kind `g` counts against, as chips grouped by framework.
fn chips(r: &Report, g: &GapGroup) -> String {
    g.controls
        .iter()
        .map(|c| {
            let f = r.frameworks.iter().find(|f| f.key == c.framework);
            let ids: String = c
                .ids
                .iter()
                .map(|id| {
                    let title = f
                        .and_then(|f| f.controls.iter().find(|ctl| &ctl.id == id))
                        .map(|ctl| ctl.title.as_str())
                        .unwrap_or("");
                    format!(
                        r#"<span class="ctl" title="{}">{}</span>"#,
                        esc(title),
                        esc(id)
                    )
                })
                .collect();
            format!(
                r#"<span class="fwchips"><span class="fwname">{}</span> {ids}</span>"#,
                esc(f.map(|f| f.name.as_str()).unwrap_or(&c.framework))
            )
        })
        .collect()
}

fn risk_badge(r: &str) -> String {
    format!(r#"<span class="risk {0}">{0}</span>"#, esc(r))
}

fn hbars(o: &mut String, title: &str, counts: &[Count], color: &dyn Fn(&str) -> &'static str) {
    let _ = write!(o, "<div><h3>{}</h3>", esc(title));
    if counts.is_empty() {
        o.push_str(r#"<p class="sub">none</p></div>"#);
        return;
    }
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    o.push_str(r#"<table class="hb"><colgroup><col style="width:46%"><col><col style="width:40px"></colgroup>"#);
    for c in counts.iter().take(8) {
        let _ = write!(
            o,
            r#"<tr><td class="key" title="{0}">{0}</td><td><div class="bar"><span style="width:{1}%;background:{3}"></span></div></td><td class="num">{2}</td></tr>"#,
            esc(&c.key),
            (c.count * 100 / max).max(2),
            c.count,
            color(&c.key)
        );
    }
    if counts.len() > 8 {
        let _ = write!(
            o,
            r#"<tr><td colspan="3" class="sub">and {} more</td></tr>"#,
            counts.len() - 8
        );
    }
    o.push_str("</table></div>");
}

pub fn html(r: &Report) -> String {
    let t = &r.totals;
    let mut o = String::with_capacity(64 * 1024);
    let title = match (&r.range.first, &r.range.last) {
        (Some(f), Some(l)) => format!(
            "aiaudit report: {} to {}",
            f.get(..10).unwrap_or(f),
            l.get(..10).unwrap_or(l)
        ),
        _ => "aiaudit report".to_owned(),
    };
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="generator" content="aiaudit {}"><title>{}</title><style>{CSS}</style></head><body><main>"#,
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );

    // Header.
    let v = &r.verification;
    let _ = write!(
        o,
        r#"<header class="top"><div><div class="eyebrow">aiaudit · audit report</div><h1>AI-assisted privileged decisions</h1><p class="meta"><b>{}</b> · {}<br>main at <code>{}</code> · root of trust <code>{}</code> · generated {}</p></div>"#,
        esc(&capitalize(&range_text(r))),
        esc(&match (&r.range.first, &r.range.last) {
            (Some(f), Some(l)) => format!("first decision {}, last {} (UTC)", when(f), when(l)),
            _ => "no decision in range".into(),
        }),
        esc(short(&r.tip)),
        esc(short(&r.root)),
        esc(&when(&r.generated_at))
    );
    let _ = write!(
        o,
        r#"<div class="verify {}" id="verification"><div class="label">History verification</div><div class="state">{}</div><div>{} commits · {} error(s) · {} warning(s)</div><div>{}</div>{}</div></header>"#,
        if v.clean { "ok" } else { "fail" },
        if v.clean { "Clean" } else { "Failed" },
        v.commits,
        v.errors,
        v.warnings,
        esc(pinned_text(v).trim_start_matches("; ")),
        match (codes_text(r), v.clean) {
            (None, _) => String::new(),
            (Some(c), true) => format!(r#"<div class="codes">{}</div>"#, esc(&c)),
            (Some(c), false) => format!(
                r#"<div class="codes">{}</div><div><code>aiaudit verify</code> names each one</div>"#,
                esc(&c)
            ),
        }
    );

    // Cards.
    o.push_str(r#"<section class="cards">"#);
    card(
        &mut o,
        "",
        "Decisions",
        &t.decisions.to_string(),
        &format!("{} high or critical risk", t.high_risk),
    );
    card(
        &mut o,
        if t.decisions > 0 && t.approved == t.decisions {
            "good"
        } else {
            ""
        },
        "Approved before the action",
        &percent(t.approved, t.decisions),
        &format!(
            "{} of {} · {} by nobody",
            t.approved, t.decisions, t.unapproved
        ),
    );
    let l = &r.approval_latency;
    card(
        &mut o,
        "",
        "Median approval latency",
        &l.median_seconds
            .map(human_duration)
            .unwrap_or_else(|| "–".into()),
        &match (l.p90_seconds, l.max_seconds) {
            (Some(p), Some(m)) => format!("p90 {} · max {}", human_duration(p), human_duration(m)),
            _ => "nothing approved".into(),
        },
    );
    card(
        &mut o,
        "",
        "Outcome recorded",
        &percent(t.with_outcome, t.decisions),
        &format!(
            "{} of {} · {} reviewed after",
            t.with_outcome, t.decisions, t.reviewed
        ),
    );
    let open = t.gaps_error + t.gaps_warning + t.gaps_info;
    card(
        &mut o,
        if t.gaps_error > 0 {
            "bad"
        } else if t.gaps_warning > 0 {
            "warn"
        } else if open == 0 {
            "good"
        } else {
            ""
        },
        "Open gaps",
        &open.to_string(),
        &format!(
            "{} error · {} warning · {} info",
            t.gaps_error, t.gaps_warning, t.gaps_info
        ),
    );
    o.push_str("</section>");

    // Charts.
    let _ = write!(
        o,
        r#"<section class="grid2 row"><div class="panel"><h2>Decisions over time <span class="sub">per {}, by risk</span></h2>{}<div class="legend">"#,
        r.timeline.bucket,
        svg_timeline(r)
    );
    for risk in RISKS {
        let n: usize = r.timeline.buckets.iter().map(|b| b.by_risk(risk)).sum();
        let _ = write!(
            o,
            r#"<span><i style="background:{}"></i>{} ({n})</span>"#,
            risk_color(risk),
            risk.as_str()
        );
    }
    o.push_str("</div></div>");
    let stat = |v: Option<i64>| v.map(human_duration).unwrap_or_else(|| "–".into());
    let _ = write!(
        o,
        r#"<div class="panel"><h2>Approval latency <span class="sub">creation → last approval</span></h2><div class="stats"><span>median<b>{}</b></span><span>p90<b>{}</b></span><span>max<b>{}</b></span><span>approved<b>{}</b></span></div>{}<div class="legend"><span><i style="background:#3b5bdb"></i>the bin holding the median</span><span><i style="background:#91a7ff"></i>other approvals</span></div></div></section>"#,
        stat(l.median_seconds),
        stat(l.p90_seconds),
        stat(l.max_seconds),
        l.approved,
        svg_latency(r)
    );

    // Gaps: summary.
    o.push_str(r#"<section class="panel" id="gaps"><h2>Gaps in the accountability chain</h2><table id="gap-summary"><thead><tr><th>status</th><th>gap</th><th class="num">count</th><th>controls it counts against</th></tr></thead><tbody>"#);
    for g in &r.gaps {
        let label = match g.severity {
            Some(s) => s.as_str(),
            None => "no gap",
        };
        let _ = write!(
            o,
            r#"<tr class="{}" data-kind="{}"><td><span class="pill {}">{}</span></td><td><span class="gap-title">{}</span><br><code>{}</code></td><td class="num">{}</td>"#,
            if g.count == 0 { "zero" } else { "" },
            g.kind,
            severity_of(g),
            label,
            esc(g.title),
            g.kind,
            g.count
        );
        let _ = write!(o, "<td>{}</td></tr>", chips(r, g));
    }
    o.push_str("</tbody></table>");

    // Gaps: detail.
    for g in r.gaps.iter().filter(|g| g.count > 0) {
        let _ = write!(
            o,
            r#"<h3 id="gap-{0}">{1} <code>{0}</code> <span class="pill {2}">{3}</span></h3><p class="desc">{4}. <b>What to do:</b> {5}.</p><table class="gap-items" data-kind="{0}"><colgroup><col style="width:84px"><col style="width:214px"><col style="width:82px"><col style="width:84px"><col style="width:20%"><col></colgroup><thead><tr><th>severity</th><th>decision</th><th>risk</th><th>initiator</th><th>subject</th><th>finding</th></tr></thead><tbody>"#,
            g.kind,
            esc(g.title),
            severity_of(g),
            g.count,
            rich(&capitalize(g.description)),
            rich(g.remedy)
        );
        let (items, rest) = shown(g);
        for i in items {
            let decision = match (&i.decision, &i.created) {
                (Some(d), Some(c)) => format!(
                    r#"<span class="id">{}</span><br><span class="sub">{}</span>"#,
                    esc(d),
                    esc(&when(c))
                ),
                (Some(d), None) => format!(r#"<span class="id">{}</span>"#, esc(d)),
                (None, _) => r#"<span class="sub">–</span>"#.into(),
            };
            let mut finding = String::new();
            if let Some(c) = i.code {
                let _ = write!(finding, "<code>{}</code> ", esc(c));
            }
            finding.push_str(&rich(&i.detail));
            if !i.related.is_empty() {
                let _ = write!(
                    finding,
                    r#"<br><span class="sub">related: </span>{}"#,
                    i.related
                        .iter()
                        .map(|x| format!(r#"<span class="id">{}</span>"#, esc(x)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = write!(
                o,
                r#"<tr><td><span class="pill {0}">{0}</span></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td class="finding">{5}</td></tr>"#,
                i.severity.as_str(),
                decision,
                i.risk.map(risk_badge).unwrap_or_default(),
                esc(i.initiator.as_deref().unwrap_or("–")),
                rich(&i.subject),
                finding
            );
        }
        o.push_str("</tbody></table>");
        if rest > 0 {
            let _ = write!(
                o,
                r#"<p class="sub more">{}.</p>"#,
                rich(&rest_text(g, rest))
            );
        }
    }
    o.push_str("</section>");

    // Breakdown.
    let c = &r.counts;
    o.push_str(
        r#"<section class="panel" id="breakdown"><h2>Breakdown</h2><div class="breakdown">"#,
    );
    let accent = |_: &str| "#3b5bdb";
    let by_risk = |k: &str| {
        RISKS
            .iter()
            .find(|r| r.as_str() == k)
            .map(|r| risk_color(*r))
            .unwrap_or("#3b5bdb")
    };
    let by_status = |k: &str| match k {
        "awaiting-outcome" => "#e9b625",
        "executed" => "#3b9e6b",
        _ => "#cf3035",
    };
    hbars(&mut o, "By action kind", &c.action, &accent);
    hbars(&mut o, "By risk", &c.risk, &by_risk);
    hbars(&mut o, "By model", &c.model, &accent);
    hbars(&mut o, "By initiator", &c.initiator, &accent);
    hbars(&mut o, "By approver", &c.approver, &accent);
    hbars(&mut o, "By status", &c.status, &by_status);
    hbars(&mut o, "By post-action reviewer", &c.reviewer, &accent);
    hbars(&mut o, "By AI role", &c.ai_role, &accent);
    o.push_str("</div></section>");

    // The framework mapping: per framework, one row per control with its status, the evidence
    // the ledger holds for it and the gaps against it.
    o.push_str(r#"<section class="panel" id="mapping"><h2>Framework mapping: evidence per control</h2><p class="desc">Each control of the catalogs reported on, the worst gap against it, the evidence the ledger holds for it and the gap kinds that count against it. Identifiers and titles come from the catalogs; each framework names its source. Examine a decision with <code>aiaudit show ID</code>.</p>"#);
    for f in &r.frameworks {
        let _ = write!(
            o,
            r#"<h3 class="fw" id="fw-{}">{}</h3><p class="desc src">Source: {} (as of {}).</p><table class="controls" data-framework="{}"><colgroup><col style="width:104px"><col style="width:92px"><col style="width:28%"><col><col style="width:24%"></colgroup><thead><tr><th>control</th><th>status</th><th>what it asks for</th><th>evidence</th><th>gaps against it</th></tr></thead><tbody>"#,
            esc(&f.key),
            esc(&f.name),
            esc(&f.source),
            esc(&f.as_of),
            esc(&f.key)
        );
        for ctl in &f.controls {
            let label = control_status(ctl);
            let status = if label == "no gap" { "none" } else { label };
            let evidence: Vec<String> = ctl
                .evidence
                .iter()
                .map(|e| {
                    let ex: Vec<String> = e
                        .decisions
                        .iter()
                        .map(|d| format!("<code>{}</code>", esc(d)))
                        .collect();
                    format!(
                        r#"<div class="ev" data-kind="{}">{}{}</div>"#,
                        e.kind,
                        esc(&e.summary),
                        if ex.is_empty() {
                            String::new()
                        } else {
                            format!(r#"<span class="ex"> e.g. {}</span>"#, ex.join(" "))
                        }
                    )
                })
                .collect();
            let kinds: Vec<String> = ctl
                .gaps
                .iter()
                .map(|g| {
                    format!(
                        r#"<span class="kind"><code>{}</code>&nbsp;<span class="pill {}">{}</span></span>"#,
                        g.kind,
                        g.severity.map(Severity::as_str).unwrap_or("none"),
                        g.count
                    )
                })
                .collect();
            let _ = write!(
                o,
                r#"<tr><td><span class="ctl">{}</span></td><td><span class="pill {status}">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&ctl.id),
                label,
                esc(&ctl.title),
                evidence.join(""),
                kinds.join(" ")
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    let _ = writeln!(
        o,
        r#"<footer>Made by <code>aiaudit report</code> {} from the ledger on main. Every decision named here can be examined with <code>aiaudit show ID</code>; the whole history is checked by <code>aiaudit verify</code>. Gap kinds and controls: docs/report.md.</footer></main></body></html>"#,
        env!("CARGO_PKG_VERSION")
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(0), (1, 1));
        assert_eq!(nice_axis(3), (1, 3));
        assert_eq!(nice_axis(5), (1, 5));
        assert_eq!(nice_axis(7), (2, 8));
        assert_eq!(nice_axis(23), (5, 25));
        assert_eq!(nice_axis(37), (10, 40));
        assert_eq!(nice_axis(180), (50, 200));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(rich("rule `x<y` says"), "rule <code>x&lt;y</code> says");
        assert_eq!(rich("one ` tick"), "one ` tick");
    }
}
