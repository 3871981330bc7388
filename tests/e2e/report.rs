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
        ("review-overdue", "owasp_asi", "ASI09"),
        ("key-revoked", "nist_csf", "PR.AA-01"),
        ("key-revoked", "owasp_asi", "ASI03"),
        ("key-revoked", "iso_27001", "8.5"),
        ("shared-account", "nist_csf", "PR.AA-05"),
        ("shared-account", "iso_27001", "5.3"),
        ("shared-account", "csa_maestro", "Layer 7"),
        ("recorded-after-action", "owasp_asi", "ASI10"),
        ("awaiting-outcome", "nist_csf", "PR.PS-04"),
        ("awaiting-outcome", "iso_42001", "A.6.2.8"),
        ("unapproved", "nist_ai_rmf", "GOVERN 3.2"),
        ("unapproved", "eu_ai_act", "Art. 14(1)"),
        ("unapproved", "soc2", "CC8.1"),
        ("verify-violation", "nist_csf", "PR.DS-01"),
    ];
    let ids_of = |g: &serde_json::Value, framework: &str| -> Vec<String> {
        g["controls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["framework"] == framework)
            .flat_map(|c| c["ids"].as_array().unwrap().iter())
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    for (kind, framework, id) in expected_controls {
        let ids = ids_of(gap(&v, kind), framework);
        assert!(
            ids.iter().any(|x| x == id),
            "{kind} must map to {framework} {id}: {ids:?}"
        );
    }
    for g in v["gaps"].as_array().unwrap() {
        assert_eq!(
            g["count"].as_u64().unwrap() as usize,
            g["items"].as_array().unwrap().len()
        );
    }
    let framework_keys: Vec<&str> = v["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        framework_keys,
        [
            "nist_csf",
            "nist_ai_rmf",
            "owasp_asi",
            "csa_maestro",
            "eu_ai_act",
            "iso_27001",
            "iso_42001",
            "soc2"
        ]
    );
    // Every identifier the report prints resolves in its catalog file; the ones that circulate
    // but do not exist are printed nowhere.
    every_control_is_in_its_catalog(&v);
    // Per control, the evidence: PR.AA-03 (authentication) counts the signed records.
    let control = |framework: &str, id: &str| -> serde_json::Value {
        v["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == framework)
            .and_then(|f| {
                f["controls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == id)
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {framework} {id}"))
    };
    let pr_aa_03 = control("nist_csf", "PR.AA-03");
    assert_eq!(pr_aa_03["status"], "error", "key-revoked counts against it");
    let signed = pr_aa_03["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "initiator-signed")
        .unwrap();
    assert_eq!(
        (signed["count"].as_u64(), signed["of"].as_u64()),
        (Some(6), Some(6)),
        "{signed}"
    );
    assert!(!signed["decisions"].as_array().unwrap().is_empty());
    let revoked = pr_aa_03["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "key-revoked")
        .unwrap();
    assert_eq!(revoked["count"], 2, "{revoked}");

    // The root of trust: not pinned, the report says so; pinned, it is checked.
    let root =
        sc.w.git_in(&sc.clone, &["rev-list", "--max-parents=0", "main"])
            .ok();
    let pinned = sc.report(&["--trust-root", root.trim()]).ok();
    assert!(
        pinned.contains("; root of trust pinned and matched"),
        "{pinned}"
    );
    let wrong = sc.report(&["--trust-root", &"1".repeat(40)]).ok();
    assert!(wrong.contains("trust-root-mismatch"), "{wrong}");

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
        "no root of trust pinned (--trust-root)",
        "| Post-action review overdue | `review-overdue` | error | 1 | NIST CSF 2.0 GV.RR-02, DE.CM-03; NIST AI RMF 1.0 GOVERN 1.5, GOVERN 3.2, MAP 3.5, MANAGE 4.1;",
        "| Approval by a key revoked since | `key-revoked` | error |",
        "| Service account used as a shared identity | `shared-account` | warning |",
        "| Decision recorded after its action | `recorded-after-action` | warning | 1 | NIST CSF 2.0 ID.RA-07, PR.AA-05, PR.PS-04;",
        "| Decision without recorded outcome | `awaiting-outcome` | warning | 4 |",
        "| Decision approved by nobody | `unapproved` | warning | 2 |",
        "## Evidence per control",
        "#### PR.AA-03 — Users, services, and hardware are authenticated",
        "- 6 of 6 record(s) signed by their initiator (Initiated-by) (`initiator-signed`); e.g. `",
        "### CSA MAESTRO (`csa_maestro`)",
        "### Post-action review overdue (`review-overdue`): 1",
        "## Decisions over time (per day, by risk)",
        "## Approval latency",
        "| code-merge | 1 | 17% |",
        "| svc | 2 | 33% |",
        "## Framework mapping",
        "| CSA MAESTRO | Layer 6 |",
        "| OWASP Top 10 for Agentic Applications 2026 | ASI03 | error | Identity and Privilege Abuse |",
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
    insta::assert_snapshot!("report_markdown", normalized);
    // The JSON's shape is stable: fields are only ever added (docs/report.md).
    insta::assert_snapshot!("report_json_shape", shape(&v));

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
        "<table class=\"controls\" data-framework=\"nist_csf\">",
        "<table class=\"controls\" data-framework=\"soc2\">",
        "Layer 6",
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

/// Every control id the JSON report prints (in `frameworks` and in every gap's `controls`) is
/// an id of its framework's catalog file, read here from `catalogs/` independently of aiaudit's
/// own parser; identifiers that circulate but do not exist appear nowhere.
fn every_control_is_in_its_catalog(v: &serde_json::Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogs");
    let mut ids: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let key = doc["key"].as_str().unwrap().to_owned();
        let controls = doc["controls"].as_sequence().unwrap();
        ids.insert(
            key,
            controls
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    let known = |framework: &str, id: &str| {
        ids.get(framework)
            .is_some_and(|v| v.iter().any(|x| x == id))
    };
    for f in v["frameworks"].as_array().unwrap() {
        let key = f["key"].as_str().unwrap();
        for c in f["controls"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            assert!(known(key, id), "{key} {id} is not in its catalog");
        }
    }
    for g in v["gaps"].as_array().unwrap() {
        for c in g["controls"].as_array().unwrap() {
            let key = c["framework"].as_str().unwrap();
            for id in c["ids"].as_array().unwrap() {
                let id = id.as_str().unwrap();
                assert!(
                    known(key, id),
                    "gap {}: {key} {id} is not in its catalog",
                    g["kind"]
                );
            }
        }
    }
    let text = v.to_string();
    for ghost in [
        "GOV-04", "\"T3\"", "\"T8\"", "\"T9\"", "\"T10\"", "LLM07", "PR.AA-07",
    ] {
        assert!(
            !text.contains(ghost),
            "the report cites {ghost}, which is no control of its catalogs"
        );
    }
}
