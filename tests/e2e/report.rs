//! `aiaudit report` on a real audit repository built by the real binary through real pushes:
//! decisions over several days, outcomes (one dated before its decision), a service account
//! that executes its own decisions and is driven by two frameworks, post-rule decisions (one
//! reviewed, one overdue), and a compromised approver key. Every gap kind must be named with
//! its framework controls in Markdown and JSON; the HTML page is rendered in headless Chromium.

use crate::harness::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The audit repository every test here reads, and the ids it holds.
struct Scenario {
    w: World,
    /// An auditor's fresh clone, made after everything landed.
    clone: PathBuf,
    /// The report's clock: two days from now (post-action reviews due in a day are overdue).
    later: String,
    /// code-merge by bob, created 3 days ago, approved by carol (key later compromised);
    /// its outcome says the merge happened an hour before the decision was recorded.
    merge: String,
    /// access-change by bob, created 2 days ago, approved by dave (GnuPG); no outcome.
    grant: String,
    /// production-change by the service account svc (framework langgraph), approved by
    /// carol; svc records its outcome itself.
    svc_prod: String,
    /// config-change by svc (framework crewai), approved by bob; no outcome.
    svc_config: String,
    /// Post-rule config change by bob, landed without approval and never reviewed.
    post_late: String,
    /// Post-rule config change by bob, landed without approval, reviewed by dave in time.
    post_reviewed: String,
}

fn at(secs_from_now: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now + secs_from_now)
        .unwrap()
        .to_string()
}

/// `aiaudit record ... --push` (`--land` for post rules); returns the decision id.
fn record(
    w: &World,
    initiator: &str,
    action: &str,
    system: &str,
    summary: &str,
    extra: &[&str],
) -> String {
    let prompt = w
        .server
        .with_file_name(format!("prompt-{summary}.txt").replace(' ', "-"));
    std::fs::write(&prompt, format!("AI, please: {summary}\n")).unwrap();
    let mut args = RecordFlags {
        initiator,
        action,
        system,
        summary,
        model: MODEL,
        prompt: &prompt,
        output: &prompt,
        recommendation: "go ahead",
    }
    .args();
    args.push("--push".into());
    args.extend(extra.iter().map(|a| a.to_string()));
    let id = w.aiaudit(&argv(&args)).ok();
    assert_eq!(id.len(), 26, "record printed {id:?}");
    id
}

fn approve(w: &World, id: &str, approver: &str) {
    let mut args = vec!["approve", id, "--yes", "--push"];
    let signer = w.signer_args(approver);
    args.extend(signer.iter().map(String::as_str));
    w.aiaudit(&args).ok();
}

fn scenario() -> Scenario {
    let w = World::new();
    // Config changes on app:* systems are low risk and reviewed after the fact, within a day.
    w.add_post_rule("post-app-config", "config-change", Some("app:*"));

    let t0 = jiff::Timestamp::now().as_second();
    let time = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().to_string();
    let three_days_ago = time(t0 - 3 * 86400);
    let merge = record(
        &w,
        BOB,
        "code-merge",
        "github.com/acme/payments",
        "Merge PR 42: retry failed payouts",
        &["--created", &three_days_ago, "--change", "PR-42"],
    );
    approve(&w, &merge, CAROL);
    let an_hour_before = time(t0 - 3 * 86400 - 3600);
    w.aiaudit(&[
        "outcome",
        &merge,
        "--actor",
        BOB,
        "--action",
        "merged",
        "--reference",
        "9f1c2e7",
        "--at",
        &an_hour_before,
        "--push",
    ])
    .ok();

    let grant = record(
        &w,
        BOB,
        "access-change",
        "postgres:billing-db",
        "Grant svc-analytics read access",
        &[
            "--created",
            &time(t0 - 2 * 86400),
            "--resource",
            "role/db-read",
        ],
    );
    approve(&w, &grant, DAVE);

    let svc_prod = record(
        &w,
        SVC,
        "production-change",
        "k8s:prod",
        "Scale payouts to 6 replicas",
        &[
            "--created",
            &time(t0 - 86400),
            "--framework",
            "langgraph@0.2.60",
        ],
    );
    approve(&w, &svc_prod, CAROL);
    w.aiaudit(&[
        "outcome",
        &svc_prod,
        "--actor",
        SVC,
        "--action",
        "scaled deployment/payouts",
        "--push",
    ])
    .ok();

    let svc_config = record(
        &w,
        SVC,
        "config-change",
        "github.com/acme/payments",
        "Raise the payout rate limit",
        &["--framework", "crewai@0.80"],
    );
    approve(&w, &svc_config, BOB);

    let post_late = record(
        &w,
        BOB,
        "config-change",
        "app:prod",
        "Log level to debug",
        &["--land"],
    );
    let post_reviewed = record(
        &w,
        BOB,
        "config-change",
        "app:web",
        "Enable gzip",
        &["--land"],
    );
    let mut review = vec![
        "review",
        post_reviewed.as_str(),
        "--verdict",
        "accepted",
        "--summary",
        "fine",
        "--push",
    ];
    let signer = w.signer_args(DAVE);
    review.extend(signer.iter().map(String::as_str));
    w.aiaudit(&review).ok();

    // carol's key turns out to be compromised: every approval it made is in doubt.
    let carol = w.key(CAROL).clone();
    let rev = w.server.with_file_name("carol.rev");
    w.aiaudit_in_env(
        &w.work,
        &[
            "key",
            "revoke",
            "--key",
            s(carol.secret.as_ref().unwrap()),
            "--reason",
            "compromised",
            "--out",
            s(&rev),
        ],
        &[("AIAUDIT_NOW", &at(10))],
    )
    .ok();
    w.aiaudit_signed(
        ALICE,
        &["principal", "update-key", &carol.fpr, s(&rev), "--push"],
    )
    .ok();

    let clone = w.fresh_clone();
    Scenario {
        w,
        clone,
        later: at(2 * 86400),
        merge,
        grant,
        svc_prod,
        svc_config,
        post_late,
        post_reviewed,
    }
}

impl Scenario {
    fn report(&self, args: &[&str]) -> Out {
        let mut all = vec!["report"];
        all.extend_from_slice(args);
        self.w
            .aiaudit_in_env(&self.clone, &all, &[("AIAUDIT_NOW", &self.later)])
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let out = self.report(&all);
        let text = out.ok();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }
}

fn count_of(v: &serde_json::Value, dim: &str, key: &str) -> u64 {
    v["counts"][dim]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .map(|c| c["count"].as_u64().unwrap())
        .unwrap_or(0)
}

fn gap<'v>(v: &'v serde_json::Value, kind: &str) -> &'v serde_json::Value {
    v["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == kind)
        .unwrap_or_else(|| panic!("no gap kind {kind} in {v:#}"))
}

/// (decision, severity, code) of every item of a gap kind.
fn items(v: &serde_json::Value, kind: &str) -> Vec<(String, String, String)> {
    gap(v, kind)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["decision"].as_str().unwrap_or("").to_owned(),
                i["severity"].as_str().unwrap().to_owned(),
                i["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn has(items: &[(String, String, String)], decision: &str, severity: &str) -> bool {
    items.iter().any(|(d, s, _)| d == decision && s == severity)
}

/// `text` with what changes from run to run replaced: the scenario's decision ids by their
/// names, other ULIDs, times, dates, key fingerprints and commit ids by placeholders.
fn normalize(sc: &Scenario, text: &str) -> String {
    let mut t = text.to_owned();
    for (id, name) in [
        (&sc.merge, "<merge>"),
        (&sc.grant, "<grant>"),
        (&sc.svc_prod, "<svc_prod>"),
        (&sc.svc_config, "<svc_config>"),
        (&sc.post_late, "<post_late>"),
        (&sc.post_reviewed, "<post_reviewed>"),
    ] {
        t = t.replace(id.as_str(), name);
    }
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric();
    // The length of a run at `i` of bytes matching `ok`, ending at a word boundary.
    let run = |i: usize, ok: &dyn Fn(u8) -> bool| {
        let n = b[i..].iter().take_while(|c| ok(**c)).count();
        n
    };
    let matches_at = |i: usize, pattern: &str| {
        b.len() >= i + pattern.len()
            && pattern.bytes().zip(&b[i..]).all(|(p, c)| match p {
                b'9' => c.is_ascii_digit(),
                p => p == *c,
            })
            && b.get(i + pattern.len()).is_none_or(|c| !word(*c))
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if i > 0 && word(b[i - 1]) {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let upper_hex = run(i, &|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c));
        let lower_hex = run(i, &|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let ulid = run(i, &|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        let boundary = |n: usize| b.get(i + n).is_none_or(|c| !word(*c));
        let (skip, with): (usize, &str) = if matches_at(i, "9999-99-99T99:99:99Z") {
            (20, "<time>")
        } else if matches_at(i, "9999-99-99") {
            (10, "<date>")
        } else if upper_hex == 40 && boundary(40) {
            (40, "<fpr>")
        } else if lower_hex == 40 && boundary(40) {
            (40, "<commit>")
        } else if lower_hex == 12 && boundary(12) {
            (12, "<commit>")
        } else if ulid == 26 && boundary(26) {
            (26, "<ulid>")
        } else {
            (0, "")
        };
        if skip > 0 {
            out.extend_from_slice(with.as_bytes());
            i += skip;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The JSON's shape: every path with the types found there, one per line.
fn shape(v: &serde_json::Value) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    fn walk(
        v: &serde_json::Value,
        path: String,
        out: &mut BTreeMap<String, BTreeSet<&'static str>>,
    ) {
        let kind = match v {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "bool",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(a) => {
                for x in a {
                    walk(x, format!("{path}[]"), out);
                }
                "array"
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    // Maps keyed by data (diagnostic codes) are one shape.
                    let key = if path == ".verification.codes" {
                        "<code>"
                    } else {
                        k
                    };
                    walk(x, format!("{path}.{key}"), out);
                }
                "object"
            }
        };
        out.entry(path).or_default().insert(kind);
    }
    let mut m = BTreeMap::new();
    walk(v, String::new(), &mut m);
    m.into_iter()
        .map(|(p, k)| format!("{p}: {}\n", k.into_iter().collect::<Vec<_>>().join("|")))
        .collect()
}

#[test]
fn report_names_every_gap_with_its_controls_in_markdown_and_json() {
    let sc = scenario();
    let v = sc.json(&[]);
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());

    assert_eq!(v["schema"], "aiaudit/report/v1");
    assert_eq!(v["totals"]["decisions"], 6);
    assert_eq!(v["totals"]["high_risk"], 2);
    assert_eq!(v["totals"]["approved"], 4);
    assert_eq!(v["totals"]["unapproved"], 2);
    assert_eq!(v["totals"]["with_outcome"], 2);
    assert_eq!(v["totals"]["awaiting_outcome"], 4);
    for (dim, key, n) in [
        ("action", "config-change", 3),
        ("action", "code-merge", 1),
        ("action", "access-change", 1),
        ("action", "production-change", 1),
        ("risk", "low", 2),
        ("risk", "medium", 2),
        ("risk", "high", 2),
        ("model", MODEL, 6),
        ("initiator", BOB, 4),
        ("initiator", SVC, 2),
        ("approver", CAROL, 2),
        ("approver", DAVE, 1),
        ("approver", BOB, 1),
        ("reviewer", DAVE, 1),
        ("status", "awaiting-outcome", 4),
        ("status", "executed", 2),
    ] {
        assert_eq!(count_of(&v, dim, key), n, "{dim} {key}: {:#}", v["counts"]);
    }
    // Latency: from creation (3, 2 and 1 days back, and now) to approval (now).
    let lat = &v["approval_latency"];
    assert_eq!(lat["approved"], 4);
    let max = lat["max_seconds"].as_i64().unwrap();
    assert!((3 * 86400 - 120..=3 * 86400 + 600).contains(&max), "{lat}");
    let median = lat["median_seconds"].as_i64().unwrap();
    assert!((86400 / 2..=2 * 86400).contains(&median), "{lat}");
    let binned: u64 = lat["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(binned, 4);
    // Four days of activity: per day, stacked by risk.
    assert_eq!(v["timeline"]["bucket"], "day");
    let buckets = v["timeline"]["buckets"].as_array().unwrap();
    let total: u64 = buckets.iter().map(|b| b["total"].as_u64().unwrap()).sum();
    assert_eq!(total, 6);
    assert!(buckets.len() >= 4, "{:#}", v["timeline"]);
    assert_eq!(buckets.last().unwrap()["low"], 2);

    // History verification fails: carol's key was compromised.
    assert_eq!(v["verification"]["clean"], false);
    assert!(v["verification"]["codes"]["key-revoked"].as_u64().unwrap() >= 2);

    // Every gap, with its decisions and controls.
    let overdue = items(&v, "review-overdue");
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert!(has(&overdue, &sc.post_late, "error"), "{overdue:?}");
    assert_eq!(overdue[0].2, "review-overdue");

    let awaiting = items(&v, "awaiting-outcome");
    assert_eq!(awaiting.len(), 4, "{awaiting:?}");
    assert!(
        has(&awaiting, &sc.grant, "warning"),
        "flagged: {awaiting:?}"
    );
    for id in [&sc.svc_config, &sc.post_late, &sc.post_reviewed] {
        assert!(has(&awaiting, id, "info"), "{id}: {awaiting:?}");
    }

    let revoked = items(&v, "key-revoked");
    assert!(has(&revoked, &sc.merge, "error"), "{revoked:?}");
    assert!(has(&revoked, &sc.svc_prod, "error"), "{revoked:?}");
    assert!(!revoked.iter().any(|(d, ..)| d == &sc.grant), "{revoked:?}");

    let shared = items(&v, "shared-account");
    assert!(
        shared
            .iter()
            .any(|(d, s, c)| d == &sc.svc_prod && s == "warning" && c == "shared-account"),
        "the engine's finding: {shared:?}"
    );
    let by_framework = gap(&v, "shared-account")["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["decision"].is_null())
        .unwrap_or_else(|| panic!("no account-level item: {shared:?}"));
    assert_eq!(by_framework["initiator"], SVC);
    let related: Vec<&str> = by_framework["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(related, [sc.svc_prod.as_str(), sc.svc_config.as_str()]);
    let detail = by_framework["detail"].as_str().unwrap();
    assert!(
        detail.contains("langgraph@0.2.60") && detail.contains("crewai@0.80"),
        "{detail}"
    );

    let after = items(&v, "recorded-after-action");
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(has(&after, &sc.merge, "warning"), "{after:?}");

    let nobody = items(&v, "unapproved");
    assert_eq!(nobody.len(), 2, "{nobody:?}");
    assert!(has(&nobody, &sc.post_late, "warning"), "{nobody:?}");
    assert!(has(&nobody, &sc.post_reviewed, "info"), "{nobody:?}");

    let expected_controls = [
        ("review-overdue", "nist_csf", "GV.RR-02"),
        ("review-overdue", "nist_ai_rmf", "GOVERN 1.5"),
        ("review-overdue", "owasp_agentic", "T10"),
        ("key-revoked", "nist_csf", "PR.AA-01"),
        ("key-revoked", "owasp_agentic", "T9"),
        ("shared-account", "nist_csf", "PR.AA-05"),
        ("shared-account", "owasp_agentic", "T9"),
        ("recorded-after-action", "owasp_agentic", "T8"),
        ("awaiting-outcome", "nist_csf", "PR.PS-04"),
        ("unapproved", "nist_ai_rmf", "GOVERN 3.2"),
        ("verify-violation", "nist_csf", "PR.DS-01"),
    ];
    for (kind, framework, id) in expected_controls {
        let ids = &gap(&v, kind)["controls"][framework];
        assert!(
            ids.as_array().unwrap().iter().any(|x| x == id),
            "{kind} must map to {framework} {id}: {ids}"
        );
    }
    for g in v["gaps"].as_array().unwrap() {
        assert_eq!(
            g["controls"]["csa_maestro"],
            serde_json::json!(["GOV-04"]),
            "{g}"
        );
        assert_eq!(
            g["count"].as_u64().unwrap() as usize,
            g["items"].as_array().unwrap().len()
        );
    }
    let framework_names: Vec<&str> = v["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(framework_names.len(), 4, "{framework_names:?}");

    // Markdown: the same facts, readable.
    let md = sc.report(&[]);
    let text = md.ok();
    eprintln!("{text}");
    for needle in [
        "# AI-assisted privileged decisions: audit report",
        "| decisions | 6 |",
        "| high or critical risk | 2 (33%) |",
        "| approved before the action | 4 of 6 (67%) |",
        "- **History verification:** FAILED",
        "| Post-action review overdue | `review-overdue` | error | 1 | GV.RR-02, DE.CM-03 | GOVERN 1.5, GOVERN 3.2 | T10 | GOV-04 |",
        "| Approval by a key revoked since | `key-revoked` | error |",
        "| Service account used as a shared identity | `shared-account` | warning |",
        "| Decision recorded after its action | `recorded-after-action` | warning | 1 | PR.AA-05, PR.PS-04 | GOVERN 1.4, GOVERN 2.1 | T8, T3 | GOV-04 |",
        "| Decision without recorded outcome | `awaiting-outcome` | warning | 4 |",
        "| Decision approved by nobody | `unapproved` | warning | 2 | PR.AA-05, GV.RR-02 | GOVERN 3.2, GOVERN 2.1 | T10, T3 | GOV-04 |",
        "### Post-action review overdue (`review-overdue`): 1",
        "## Decisions over time (per day, by risk)",
        "## Approval latency",
        "| code-merge | 1 | 17% |",
        "| svc | 2 | 33% |",
        "## Framework mapping",
        "| CSA MAESTRO | GOV-04 |",
    ] {
        assert!(text.contains(needle), "markdown lacks {needle:?}:\n{text}");
    }
    for id in [&sc.post_late, &sc.merge, &sc.svc_prod, &sc.grant] {
        assert!(text.contains(&format!("`{id}`")), "markdown lacks {id}");
    }
    // For a human to read beside the HTML report's screenshot.
    let _ = std::fs::create_dir_all(target_dir());
    let _ = std::fs::write(target_dir().join("aiaudit-report.md"), &text);

    // The whole report, with what varies between runs normalized.
    let normalized = normalize(&sc, &text);
    insta::assert_snapshot!(normalized, @r###"
    # AI-assisted privileged decisions: audit report

    - **Ledger:** `main` at `<commit>` (root `<commit>`)
    - **Range:** all decisions on main (first <time>, last <time>)
    - **Generated:** <time>
    - **History verification:** FAILED — 16 commits, 5 error(s), 2 warning(s) (approval-missing 2, key-revoked 2, outcome-missing 1, review-overdue 1, shared-account 1); `aiaudit verify` names each one

    ## Summary

    | measure | value |
    |---|---|
    | decisions | 6 |
    | high or critical risk | 2 (33%) |
    | approved before the action | 4 of 6 (67%) |
    | approval latency | median 1d 12h, p90 3d, max 3d (over 4 approved) |
    | reviewed after the fact | 1 |
    | with a recorded outcome | 2 of 6 (33%) |
    | gaps | 12: 3 error, 5 warning, 4 info |

    ## Gaps

    | gap | `kind` | severity | count | NIST CSF 2.0 | NIST AI RMF 1.0 (GOVERN) | OWASP Agentic AI Threats | CSA MAESTRO |
    |---|---|---|---:|---|---|---|---|
    | History fails verification | `verify-violation` | none | 0 | PR.DS-01, PR.PS-04 | GOVERN 1.4 | T8 | GOV-04 |
    | Approval by a key revoked since | `key-revoked` | error | 2 | PR.AA-01, PR.AA-03 | GOVERN 2.1, GOVERN 4.3 | T9, T3 | GOV-04 |
    | Post-action review overdue | `review-overdue` | error | 1 | GV.RR-02, DE.CM-03 | GOVERN 1.5, GOVERN 3.2 | T10 | GOV-04 |
    | Decision recorded after its action | `recorded-after-action` | warning | 1 | PR.AA-05, PR.PS-04 | GOVERN 1.4, GOVERN 2.1 | T8, T3 | GOV-04 |
    | Service account used as a shared identity | `shared-account` | warning | 2 | PR.AA-01, PR.AA-05, GV.RR-02 | GOVERN 2.1, GOVERN 3.2 | T9, T8 | GOV-04 |
    | Decision without recorded outcome | `awaiting-outcome` | warning | 4 | PR.PS-04, DE.CM-03 | GOVERN 1.4, GOVERN 1.5 | T8 | GOV-04 |
    | Link not signed by its actor | `unsigned-link` | none | 0 | PR.AA-03, PR.AA-05 | GOVERN 2.1 | T9, T8 | GOV-04 |
    | Decision approved by nobody | `unapproved` | warning | 2 | PR.AA-05, GV.RR-02 | GOVERN 3.2, GOVERN 2.1 | T10, T3 | GOV-04 |

    ### Approval by a key revoked since (`key-revoked`): 2

    An approval or review was signed by a key whose revocation (compromised, or no reason) was published later: nobody can tell whether its holder made it. What to do: have an eligible principal re-review the decision (`aiaudit review`) and treat the action as unapproved until then.

    Controls: NIST CSF 2.0 PR.AA-01, PR.AA-03; NIST AI RMF 1.0 (GOVERN) GOVERN 2.1, GOVERN 4.3; OWASP Agentic AI Threats T9, T3; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | error | `<merge>` | <time> | medium | bob | Merge PR 42: retry failed payouts | `key-revoked`: signature of `carol` (key <fpr>): The signing key is revoked: certificate <fpr> is revoked as of <time> (revocation made at <time>, reason: Key material has been compromised); without it, approval-missing: policy rule `default` requires pre-approval: needs 1 from any human principal, has 0 valid approval(s) |
    | error | `<svc_prod>` | <time> | high | svc | Scale payouts to 6 replicas | `key-revoked`: signature of `carol` (key <fpr>): The signing key is revoked: certificate <fpr> is revoked as of <time> (revocation made at <time>, reason: Key material has been compromised); without it, approval-missing: policy rule `high-impact` requires pre-approval: needs 1 from any human principal, has 0 valid approval(s) |

    ### Post-action review overdue (`review-overdue`): 1

    A decision landed under an `approval: post` rule and its review deadline passed without the signed reviews the rule requires. What to do: a reviewer eligible under the rule records `aiaudit review ID`; find out why the review is late.

    Controls: NIST CSF 2.0 GV.RR-02, DE.CM-03; NIST AI RMF 1.0 (GOVERN) GOVERN 1.5, GOVERN 3.2; OWASP Agentic AI Threats T10; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | error | `<post_late>` | <time> | low | bob | Log level to debug | `review-overdue`: decision <post_late> (rule `post-app-config`) was due for review by <time>: needs 1 from any human principal, has 0 valid approval(s) |

    ### Decision recorded after its action (`recorded-after-action`): 1

    The recorded outcome says the action happened (`outcome.at`, else the event's `created`) before the decision was created: it was approved, if at all, after the fact. What to do: record decisions before acting (`aiaudit record` in the pipeline that acts); investigate who acted without a record.

    Controls: NIST CSF 2.0 PR.AA-05, PR.PS-04; NIST AI RMF 1.0 (GOVERN) GOVERN 1.4, GOVERN 2.1; OWASP Agentic AI Threats T8, T3; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | warning | `<merge>` | <time> | medium | bob | Merge PR 42: retry failed payouts | the outcome recorded by `bob` (outcome.at <time>) is 1h earlier than the decision (<time>) (related: <ulid>) |

    ### Service account used as a shared identity (`shared-account`): 2

    A service or workflow account both initiated a decision and recorded its outcome, or initiated decisions through more than one AI framework or set of agents: machine actor and accountable human blur. What to do: give each executor and each agent deployment its own principal; set `shared_accounts: reject` in the policy.

    Controls: NIST CSF 2.0 PR.AA-01, PR.AA-05, GV.RR-02; NIST AI RMF 1.0 (GOVERN) GOVERN 2.1, GOVERN 3.2; OWASP Agentic AI Threats T9, T8; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | warning | – | <time> | – | svc | service account `svc` | `svc` initiated 2 decision(s) through 2 frameworks (crewai@0.80, langgraph@0.2.60): one service identity stands for several automations (related: <svc_prod>, <svc_config>) |
    | warning | `<svc_prod>` | <time> | high | svc | Scale payouts to 6 replicas | `shared-account`: `svc` initiated decision <svc_prod> and records its outcome: initiator and executor are one service account |

    ### Decision without recorded outcome (`awaiting-outcome`): 4

    No outcome event links the decision to the final system action (merge commit, grant, change id); high- and critical-risk ones are flagged. What to do: the executor records the final action with `aiaudit outcome ID` (or `--status aborted` if it never happened).

    Controls: NIST CSF 2.0 PR.PS-04, DE.CM-03; NIST AI RMF 1.0 (GOVERN) GOVERN 1.4, GOVERN 1.5; OWASP Agentic AI Threats T8; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | warning | `<grant>` | <time> | high | bob | Grant svc-analytics read access | flagged: high-risk decision landed 4d ago (<time>) and has no outcome event |
    | info | `<svc_config>` | <time> | medium | svc | Raise the payout rate limit | medium-risk decision landed 2d ago (<time>) and has no outcome event |
    | info | `<post_late>` | <time> | low | bob | Log level to debug | low-risk decision landed 2d ago (<time>) and has no outcome event |
    | info | `<post_reviewed>` | <time> | low | bob | Enable gzip | low-risk decision landed 2d ago (<time>) and has no outcome event |

    ### Decision approved by nobody (`unapproved`): 2

    The decision landed without any approval signature (a post-action review rule): no human signed off before the action. What to do: keep post rules for low-risk actions only; make sure every such decision gets its signed review.

    Controls: NIST CSF 2.0 PR.AA-05, GV.RR-02; NIST AI RMF 1.0 (GOVERN) GOVERN 3.2, GOVERN 2.1; OWASP Agentic AI Threats T10, T3; CSA MAESTRO GOV-04.

    | severity | decision | created | risk | initiator | subject | finding |
    |---|---|---|---|---|---|---|
    | warning | `<post_late>` | <time> | low | bob | Log level to debug | rule `post-app-config` allows post-action review within 1d; no signed review yet |
    | info | `<post_reviewed>` | <time> | low | bob | Enable gzip | rule `post-app-config` allows post-action review within 1d; reviewed after the fact by dave (accepted, <time>) |

    ## Decisions over time (per day, by risk)

    | day starting | low | medium | high | critical | total |
    |---|---:|---:|---:|---:|---:|
    | <date> | 0 | 1 | 0 | 0 | 1 |
    | <date> | 0 | 0 | 1 | 0 | 1 |
    | <date> | 0 | 0 | 1 | 0 | 1 |
    | <date> | 2 | 1 | 0 | 0 | 3 |

    ## Approval latency

    From a decision's creation to its last approval signature: median 1d 12h, p90 3d, max 3d (over 4 approved).

    | latency | decisions |
    |---|---:|
    | < 5 min | 1 |
    | 5–15 min | 0 |
    | 15–60 min | 0 |
    | 1–4 h | 0 |
    | 4–24 h | 0 |
    | 1–3 d | 2 |
    | 3–7 d | 1 |
    | > 7 d | 0 |

    ## Breakdown

    ### By action kind

    | action | decisions | share |
    |---|---:|---:|
    | config-change | 3 | 50% |
    | access-change | 1 | 17% |
    | code-merge | 1 | 17% |
    | production-change | 1 | 17% |

    ### By risk

    | risk | decisions | share |
    |---|---:|---:|
    | low | 2 | 33% |
    | medium | 2 | 33% |
    | high | 2 | 33% |

    ### By model

    | model | decisions | share |
    |---|---:|---:|
    | anthropic/claude@<date> | 6 | 100% |

    ### By initiator

    | initiator | decisions | share |
    |---|---:|---:|
    | bob | 4 | 67% |
    | svc | 2 | 33% |

    ### By approver

    | approver | decisions | share |
    |---|---:|---:|
    | carol | 2 | 33% |
    | bob | 1 | 17% |
    | dave | 1 | 17% |

    ### By post-action reviewer

    | reviewer | decisions | share |
    |---|---:|---:|
    | dave | 1 | 17% |

    ### By status

    | status | decisions | share |
    |---|---:|---:|
    | awaiting-outcome | 4 | 67% |
    | executed | 2 | 33% |

    ### By AI role

    | AI role | decisions | share |
    |---|---:|---:|
    | suggested | 6 | 100% |

    ## Framework mapping

    Each control of SPEC §1, the gap kinds that bear on it, and the worst finding among them. A gap listed above is evidence against its controls; a gap kind with no finding is evidence for them.

    | framework | control | status | what it asks for | gap kinds (findings) |
    |---|---|---|---|---|
    | NIST CSF 2.0 | GV.RR-02 | error | Roles, responsibilities and authorities for cybersecurity risk management are established, communicated, understood and enforced | `review-overdue` (1), `shared-account` (2), `unapproved` (2) |
    | NIST CSF 2.0 | PR.AA-01 | error | Identities and credentials for authorized users, services and hardware are managed by the organization | `key-revoked` (2), `shared-account` (2) |
    | NIST CSF 2.0 | PR.AA-03 | error | Users, services and hardware are authenticated | `key-revoked` (2), `unsigned-link` (0) |
    | NIST CSF 2.0 | PR.AA-05 | warning | Access permissions, entitlements and authorizations are defined in a policy, managed, enforced and reviewed, with least privilege and separation of duties | `recorded-after-action` (1), `shared-account` (2), `unsigned-link` (0), `unapproved` (2) |
    | NIST CSF 2.0 | PR.DS-01 | no gap | The confidentiality, integrity and availability of data at rest are protected | `verify-violation` (0) |
    | NIST CSF 2.0 | PR.PS-04 | warning | Log records are generated and made available for continuous monitoring | `verify-violation` (0), `recorded-after-action` (1), `awaiting-outcome` (4) |
    | NIST CSF 2.0 | DE.CM-03 | error | Personnel activity and technology usage are monitored to find potentially adverse events | `review-overdue` (1), `awaiting-outcome` (4) |
    | NIST AI RMF 1.0 (GOVERN) | GOVERN 1.4 | warning | The risk management process and its outcomes are established through transparent policies, procedures and other controls | `verify-violation` (0), `recorded-after-action` (1), `awaiting-outcome` (4) |
    | NIST AI RMF 1.0 (GOVERN) | GOVERN 1.5 | error | Ongoing monitoring and periodic review of the risk management process and its outcomes are planned, with roles and review frequency defined | `review-overdue` (1), `awaiting-outcome` (4) |
    | NIST AI RMF 1.0 (GOVERN) | GOVERN 2.1 | error | Roles, responsibilities and lines of communication for managing AI risks are documented and clear (accountability) | `key-revoked` (2), `recorded-after-action` (1), `shared-account` (2), `unsigned-link` (0), `unapproved` (2) |
    | NIST AI RMF 1.0 (GOVERN) | GOVERN 3.2 | error | Roles and responsibilities for human-AI configurations and human oversight of AI systems are defined and differentiated | `review-overdue` (1), `shared-account` (2), `unapproved` (2) |
    | NIST AI RMF 1.0 (GOVERN) | GOVERN 4.3 | error | Practices enable AI testing, identification of incidents and information sharing | `key-revoked` (2) |
    | OWASP Agentic AI Threats | T3 | error | Privilege Compromise: an agent's or account's privileges are used beyond what was authorized | `key-revoked` (2), `recorded-after-action` (1), `unapproved` (2) |
    | OWASP Agentic AI Threats | T8 | warning | Repudiation & Untraceability: agent actions cannot be traced to an accountable owner | `verify-violation` (0), `recorded-after-action` (1), `shared-account` (2), `awaiting-outcome` (4), `unsigned-link` (0) |
    | OWASP Agentic AI Threats | T9 | error | Identity Spoofing & Impersonation: an agent or human identity is used by someone else | `key-revoked` (2), `shared-account` (2), `unsigned-link` (0) |
    | OWASP Agentic AI Threats | T10 | error | Overwhelming Human in the Loop: human oversight that cannot keep up stops being oversight | `review-overdue` (1), `unapproved` (2) |
    | CSA MAESTRO | GOV-04 | error | Governance and oversight of agentic workflows: every agent action attributable to an accountable owner and reviewed | `verify-violation` (0), `key-revoked` (2), `review-overdue` (1), `recorded-after-action` (1), `shared-account` (2), `awaiting-outcome` (4), `unsigned-link` (0), `unapproved` (2) |
    "###);
    // The JSON's shape is stable: fields are only ever added (docs/report.md).
    insta::assert_snapshot!(shape(&v), @r###"
    : object
    .approval_latency: object
    .approval_latency.approved: number
    .approval_latency.histogram: array
    .approval_latency.histogram[]: object
    .approval_latency.histogram[].count: number
    .approval_latency.histogram[].label: string
    .approval_latency.histogram[].max_seconds: null|number
    .approval_latency.histogram[].min_seconds: number
    .approval_latency.max_seconds: number
    .approval_latency.median_seconds: number
    .approval_latency.p90_seconds: number
    .counts: object
    .counts.action: array
    .counts.action[]: object
    .counts.action[].count: number
    .counts.action[].key: string
    .counts.ai_role: array
    .counts.ai_role[]: object
    .counts.ai_role[].count: number
    .counts.ai_role[].key: string
    .counts.approver: array
    .counts.approver[]: object
    .counts.approver[].count: number
    .counts.approver[].key: string
    .counts.initiator: array
    .counts.initiator[]: object
    .counts.initiator[].count: number
    .counts.initiator[].key: string
    .counts.model: array
    .counts.model[]: object
    .counts.model[].count: number
    .counts.model[].key: string
    .counts.reviewer: array
    .counts.reviewer[]: object
    .counts.reviewer[].count: number
    .counts.reviewer[].key: string
    .counts.risk: array
    .counts.risk[]: object
    .counts.risk[].count: number
    .counts.risk[].key: string
    .counts.status: array
    .counts.status[]: object
    .counts.status[].count: number
    .counts.status[].key: string
    .frameworks: array
    .frameworks[]: object
    .frameworks[].controls: array
    .frameworks[].controls[]: object
    .frameworks[].controls[].id: string
    .frameworks[].controls[].title: string
    .frameworks[].key: string
    .frameworks[].name: string
    .gaps: array
    .gaps[]: object
    .gaps[].controls: object
    .gaps[].controls.csa_maestro: array
    .gaps[].controls.csa_maestro[]: string
    .gaps[].controls.nist_ai_rmf: array
    .gaps[].controls.nist_ai_rmf[]: string
    .gaps[].controls.nist_csf: array
    .gaps[].controls.nist_csf[]: string
    .gaps[].controls.owasp_agentic: array
    .gaps[].controls.owasp_agentic[]: string
    .gaps[].count: number
    .gaps[].description: string
    .gaps[].items: array
    .gaps[].items[]: object
    .gaps[].items[].action: null|string
    .gaps[].items[].code: null|string
    .gaps[].items[].commit: null|string
    .gaps[].items[].created: string
    .gaps[].items[].decision: null|string
    .gaps[].items[].detail: string
    .gaps[].items[].initiator: string
    .gaps[].items[].path: null|string
    .gaps[].items[].related: array
    .gaps[].items[].related[]: string
    .gaps[].items[].risk: null|string
    .gaps[].items[].severity: string
    .gaps[].items[].subject: string
    .gaps[].kind: string
    .gaps[].remedy: string
    .gaps[].severity: null|string
    .gaps[].title: string
    .generated_at: string
    .range: object
    .range.first: string
    .range.last: string
    .range.since: null
    .range.until: null
    .root: string
    .schema: string
    .timeline: object
    .timeline.bucket: string
    .timeline.buckets: array
    .timeline.buckets[]: object
    .timeline.buckets[].critical: number
    .timeline.buckets[].high: number
    .timeline.buckets[].label: string
    .timeline.buckets[].low: number
    .timeline.buckets[].medium: number
    .timeline.buckets[].start: string
    .timeline.buckets[].total: number
    .tip: string
    .totals: object
    .totals.approved: number
    .totals.awaiting_outcome: number
    .totals.decisions: number
    .totals.events: number
    .totals.gaps_error: number
    .totals.gaps_info: number
    .totals.gaps_warning: number
    .totals.high_risk: number
    .totals.reviewed: number
    .totals.unapproved: number
    .totals.with_outcome: number
    .verification: object
    .verification.clean: bool
    .verification.codes: object
    .verification.codes.<code>: number
    .verification.commits: number
    .verification.errors: number
    .verification.warnings: number
    "###);

    // The overdue review's row names the decision, its finding code and the rule.
    let row = text
        .lines()
        .find(|l| l.contains(&sc.post_late) && l.contains("`review-overdue`"))
        .unwrap_or_else(|| panic!("no overdue row:\n{text}"));
    assert!(
        row.starts_with("| error |") && row.contains("post-app-config"),
        "{row}"
    );

    // --out writes the same report to a file, atomically; stdout stays empty.
    let file = sc.w.server.with_file_name("report.md");
    let out = sc.report(&["--out", s(&file)]);
    assert!(out.ok().is_empty(), "{out}");
    assert!(out.stderr.contains("wrote "), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), text);
}

#[test]
fn report_range_and_bad_input() {
    let sc = scenario();
    // From two and a half days ago: the merge (3 days ago) and its gaps are out of range.
    let since = at(-(5 * 86400) / 2);
    let v = sc.json(&["--since", &since]);
    assert_eq!(v["totals"]["decisions"], 5, "{:#}", v["totals"]);
    assert_eq!(v["range"]["since"], since.as_str());
    assert_eq!(gap(&v, "recorded-after-action")["count"], 0);
    let revoked = items(&v, "key-revoked");
    assert!(!revoked.iter().any(|(d, ..)| d == &sc.merge), "{revoked:?}");
    assert!(has(&revoked, &sc.svc_prod, "error"), "{revoked:?}");
    // Gaps with no finding are still listed, with their controls and a zero count.
    let md = sc.report(&["--since", &since]).ok();
    assert!(
        md.contains("| Decision recorded after its action | `recorded-after-action` | none | 0 |"),
        "{md}"
    );

    // Until the day before yesterday: only the merge.
    let until = at(-2 * 86400 - 60);
    let v = sc.json(&["--until", &until]);
    assert_eq!(v["totals"]["decisions"], 1, "{:#}", v["totals"]);
    assert_eq!(gap(&v, "recorded-after-action")["count"], 1);

    // A date in the future: nothing, yet a well-formed report.
    let v = sc.json(&["--since", &at(30 * 86400)]);
    assert_eq!(v["totals"]["decisions"], 0);
    assert!(v["approval_latency"]["median_seconds"].is_null());

    for bad in [
        vec!["--since", "yesterday"],
        vec!["--since", "2026-02-01", "--until", "2026-01-01"],
        vec!["--format", "pdf"],
    ] {
        let out = sc.report(&bad);
        assert_eq!(out.status.code(), Some(2), "{out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
}

// ---- the HTML page in a real browser --------------------------------------------------------

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn run_quietly(program: &str, args: &[&str]) -> bool {
    eprintln!("report test: running {program} {}", args.join(" "));
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian's chromium: found on PATH, else installed with apt-get when running as root.
fn chromium() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        if on_path("chromium") {
            return Some("chromium");
        }
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if root && on_path("apt-get") {
            let install = || {
                run_quietly(
                    "apt-get",
                    &["install", "-y", "--no-install-recommends", "chromium"],
                )
            };
            if (install() || (run_quietly("apt-get", &["update"]) && install()))
                && on_path("chromium")
            {
                return Some("chromium");
            }
        }
        None
    })
}

/// Runs chromium headless with a fresh profile; kills it after two minutes.
fn headless(browser: &str, extra: &[String]) -> std::process::Output {
    let profile = tempfile::Builder::new()
        .prefix("aiaudit-chromium-")
        .tempdir()
        .unwrap();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    let child = Command::new(browser)
        .args(&args)
        .env("HOME", profile.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {browser}: {e}"));
    let id = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiter.join().unwrap().expect("chromium output")
}

/// Where a human finds the screenshot: the cargo target directory.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
        };
    }
    // target/<profile>/aiaudit
    Path::new(env!("CARGO_BIN_EXE_aiaudit"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "\n{bar}\n!!! SKIPPED html_report_renders_in_headless_chromium: no `chromium` on PATH and it\n!!! could not be installed (needs root and apt-get). Install Debian's chromium to run it.\n{bar}\n",
            bar = "!".repeat(78)
        );
        return;
    };
    let sc = scenario();
    let page = sc.w.server.with_file_name("report.html");
    let out = sc.report(&["--format", "html", "--out", s(&page)]);
    out.ok();
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched, nothing run.
    for banned in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }

    let url = format!("file://{}", page.display());
    let dom = headless(browser, &["--dump-dom".into(), url.clone()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success() && dom_text.contains("</html>"),
        "chromium --dump-dom failed: {}\n{}",
        dom.status,
        String::from_utf8_lossy(&dom.stderr)
    );
    for needle in [
        "<svg id=\"chart-timeline\"",
        "<svg id=\"chart-latency\"",
        "class=\"bar risk-high\"",
        "class=\"bar risk-low\"",
        "<table id=\"gap-summary\">",
        "data-kind=\"review-overdue\"",
        "<table class=\"gap-items\" data-kind=\"key-revoked\">",
        "<table class=\"gap-items\" data-kind=\"shared-account\">",
        "<table class=\"gap-items\" data-kind=\"recorded-after-action\">",
        "<table class=\"gap-items\" data-kind=\"awaiting-outcome\">",
        "<table class=\"gap-items\" data-kind=\"unapproved\">",
        "<table id=\"controls\">",
        "GOV-04",
        "GOVERN 1.5",
        "PR.AA-05",
    ] {
        assert!(
            dom_text.contains(needle),
            "the rendered DOM lacks {needle:?}"
        );
    }
    for id in [&sc.post_late, &sc.merge, &sc.svc_prod, &sc.grant] {
        assert!(
            dom_text.contains(id.as_str()),
            "the rendered DOM lacks {id}"
        );
    }

    let dir = target_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&page, dir.join("aiaudit-report.html")).unwrap();
    let png = dir.join("aiaudit-report-screenshot.png");
    let _ = std::fs::remove_file(&png);
    let shot = headless(
        browser,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
            url,
        ],
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10 * 1024,
        "screenshot {} is {size} bytes: {}\n{}",
        png.display(),
        shot.status,
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    eprintln!(
        "report test: screenshot of the HTML report at {}",
        png.display()
    );
}
