//! `aiaudit export`: JSON Lines for SIEMs and in-toto statements, on a real audit repository
//! (two decisions landed through the hook, an outcome), read from an auditor's fresh clone.

use crate::harness::*;
use serde_json::Value;
use sha2::Digest as _;
use std::path::Path;

/// Two decisions landed by bob, approved by carol; an outcome on the first. Returns the world,
/// an auditor's clone and the two decisions.
fn ledger() -> (World, std::path::PathBuf, Decision, Decision) {
    let w = World::new();
    let d1 = w.land(BOB, CAROL);
    let d2 = w.land(BOB, CAROL);
    w.aiaudit(&[
        "outcome",
        &d1.id,
        "--actor",
        BOB,
        "--action",
        "raised the limit",
        "--reference",
        "change-7",
        "--push",
    ])
    .ok();
    let clone = w.fresh_clone();
    (w, clone, d1, d2)
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The SHA-256 of `path` in `commit`, from `git show` in `dir`.
fn sha256_at(w: &World, dir: &Path, commit: &str, path: &str) -> String {
    let out = w.git_in(dir, &["show", &format!("{commit}:{path}")]);
    out.ok();
    hex::encode(sha2::Sha256::digest(out.stdout.as_bytes()))
}

#[test]
fn jsonl_has_one_line_per_decision_and_event() {
    let (w, clone, d1, d2) = ledger();
    let out = w.aiaudit_in(&clone, &["export"]);
    let all = lines(&out.ok());
    // First the governance: the root of trust and alice's four signed principal additions.
    let (governance, rows): (Vec<Value>, Vec<Value>) = all
        .into_iter()
        .partition(|r| r["type"] == "aiaudit.governance");
    assert_eq!(governance.len(), 5, "{out}");
    assert_eq!(governance[0]["governance.kind"], "root-of-trust");
    let root_changes = governance[0]["governance.changes"].as_array().unwrap();
    assert!(
        root_changes.iter().any(|c| c["change"] == "principal-added"
            && c["principal"] == ALICE
            && c["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == "admins")),
        "{root_changes:?}"
    );
    for (g, who) in governance[1..].iter().zip([BOB, CAROL, SVC, DAVE]) {
        assert_eq!(g["governance.kind"], "change", "{g}");
        let changes = g["governance.changes"].as_array().unwrap();
        assert_eq!(changes.len(), 1, "{g}");
        assert_eq!(changes[0]["change"], "principal-added");
        assert_eq!(changes[0]["principal"], who);
        assert_eq!(changes[0]["keys"][0], w.key(who).fpr.as_str());
        assert_eq!(g["signers"][0]["principal"], ALICE);
        assert_eq!(g["signers"][0]["key"], w.key(ALICE).fpr.as_str());
        assert!(g["signers"][0]["signed_at"].is_string(), "{g}");
        assert_eq!(
            g["governance.certificates"][0],
            format!(".aiaudit/keys/{}.asc", w.key(who).fpr).as_str(),
            "{g}"
        );
        let commit = g["commit"].as_str().unwrap();
        let signed = w
            .git_in(
                &clone,
                &[
                    "log",
                    "-1",
                    "--format=%(trailers:key=Policy-Signed-by)",
                    commit,
                ],
            )
            .ok();
        assert!(signed.contains(&w.key(ALICE).fpr), "{signed}");
    }
    assert_eq!(rows.len(), 3, "{out}");
    let types: Vec<&str> = rows.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["aiaudit.decision", "aiaudit.decision", "aiaudit.event"],
        "{out}"
    );

    for (row, d) in rows[..2].iter().zip([&d1, &d2]) {
        assert_eq!(row["decision.id"], d.id.as_str());
        assert_eq!(row["initiator.id"], BOB);
        assert_eq!(row["initiator.kind"], "human");
        assert_eq!(row["action.kind"], "config-change");
        assert_eq!(row["action.target.system"], "github.com/acme/payments");
        assert_eq!(row["risk"], trailer(&d.message, "Risk"));
        assert_eq!(row["gen_ai.provider.name"], "anthropic");
        assert_eq!(row["gen_ai.request.model"], "claude");
        assert_eq!(row["gen_ai.response.model"], "2025-01-01");
        assert_eq!(row["ai.model"], MODEL);
        assert_eq!(row["approvers"], serde_json::json!([CAROL]));
        assert_eq!(row["approvals"][0]["key"], w.key(CAROL).fpr.as_str());
        assert!(row["approvals"][0]["signed_at"].is_string(), "{row}");
        assert_eq!(row["commit"], d.commit.as_str());
        assert_eq!(row["path"], d.path.as_str());
        let record: serde_yaml::Value = serde_yaml::from_str(&d.text).unwrap();
        assert_eq!(row["time"].as_str(), record["created"].as_str());
        assert_eq!(
            row["sha256"].as_str().unwrap(),
            sha256_at(&w, &clone, &d.commit, &d.path)
        );
        assert_eq!(
            row["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(d.text.as_bytes()))
        );
    }
    assert_eq!(rows[0]["status"], "executed");
    assert_eq!(rows[1]["status"], "awaiting-outcome");

    let ev = &rows[2];
    assert_eq!(ev["event.kind"], "outcome");
    assert_eq!(ev["decision.id"], d1.id.as_str());
    assert_eq!(ev["actor.id"], BOB);
    assert_eq!(ev["outcome.status"], "executed");
    assert_eq!(ev["outcome.action"], "raised the limit");
    assert_eq!(ev["outcome.reference"], "change-7");
    assert_eq!(ev["risk"], rows[0]["risk"]);
    assert_eq!(ev["gen_ai.request.model"], "claude");
    let (commit, path) = (ev["commit"].as_str().unwrap(), ev["path"].as_str().unwrap());
    assert!(path.starts_with("events/"), "{ev}");
    assert_eq!(
        ev["sha256"].as_str().unwrap(),
        sha256_at(&w, &clone, commit, path)
    );
    // The whole export, one pretty-printed object per line, for review of its shape.
    let pretty: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string_pretty(r).unwrap())
        .collect();
    // These records are created at the real clock: the hour directories of their paths are
    // named, not shown (the layout itself is checked above, against each record's own path).
    let hours = regex::Regex::new(r"\b(decisions|events)/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/")
        .unwrap()
        .replace_all(&pretty.join("\n"), "$1/<YYYY>/<MM>/<DD>/<HH>/")
        .into_owned();
    insta::assert_snapshot!(
        "export_jsonl",
        redact(
            &hours,
            &[(d1.id.as_str(), "<d1>"), (d2.id.as_str(), "<d2>")]
        )
    );
    // Every line of a type has the same keys (optional ones as null).
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&rows[0]), keys(&rows[1]));

    // --since after both: nothing; --until before: nothing; --out writes the same lines.
    let none = w.aiaudit_in(&clone, &["export", "--since", "2999-01-01"]);
    assert_eq!(none.ok(), "");
    let file = clone.join("export.jsonl");
    w.aiaudit_in(&clone, &["export", "--out", s(&file)]).ok();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        out.stdout.trim()
    );
    let bad = w.aiaudit_in(&clone, &["export", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "{bad}");

    // A group change after the fact: who was made an approver, when, signed by whom.
    let mut policy: serde_yaml::Value =
        serde_yaml::from_str(&w.aiaudit(&["policy", "show"]).ok()).unwrap();
    for p in policy["principals"].as_sequence_mut().unwrap() {
        if p["id"] == BOB {
            p["groups"] = serde_yaml::from_str("[security]").unwrap();
        }
    }
    let file = w.files.join("policy-security.yaml");
    std::fs::write(&file, serde_yaml::to_string(&policy).unwrap()).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
    w.git_in(&clone, &["pull", "-q", "--ff-only"]).ok();
    let after = lines(&w.aiaudit_in(&clone, &["export"]).ok());
    let last = after.last().unwrap();
    assert_eq!(last["type"], "aiaudit.governance", "{last}");
    assert_eq!(
        last["governance.changes"],
        serde_json::json!([{"change": "groups-changed", "principal": BOB, "added": ["security"], "removed": []}]),
        "{last}"
    );
}

#[test]
fn in_toto_statement_per_decision_with_subject_digest_and_signatures() {
    let (w, clone, d1, d2) = ledger();
    let out = w.aiaudit_in(&clone, &["export", "--format", "in-toto"]);
    let stmts = lines(&out.ok());
    assert_eq!(stmts.len(), 2, "{out}");
    for (st, d) in stmts.iter().zip([&d1, &d2]) {
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(st["predicateType"], "https://aiaudit.dev/decision/v1");
        let subject = st["subject"].as_array().unwrap();
        assert_eq!(subject.len(), 1);
        assert_eq!(subject[0]["name"], d.path.as_str());
        assert_eq!(
            subject[0]["digest"]["sha256"].as_str().unwrap(),
            sha256_at(&w, &clone, &d.commit, &d.path)
        );
        let blob = w.git_in(&clone, &["rev-parse", &format!("{}:{}", d.commit, d.path)]);
        assert_eq!(subject[0]["digest"]["gitBlob"].as_str().unwrap(), blob.ok());
        let p = &st["predicate"];
        assert_eq!(p["decision"]["id"], d.id.as_str());
        assert_eq!(p["decision"]["initiator"]["id"], BOB);
        assert_eq!(p["ledger"]["commit"], d.commit.as_str());
        let approvals = p["approvals"].as_array().unwrap();
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0]["principal"], CAROL);
        assert_eq!(approvals[0]["key"], w.key(CAROL).fpr.as_str());
        // The signature is the one the Approved-by trailer carries (over the subject's bytes).
        let trailer_sig = trailer(&d.message, "Approved-by")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("sig="))
            .unwrap();
        assert_eq!(approvals[0]["signature"], trailer_sig);
    }
    let events = stmts[0]["predicate"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"]["kind"], "outcome");
    assert_eq!(events[0]["event"]["decision"], d1.id.as_str());
    let (c, p) = (
        events[0]["commit"].as_str().unwrap(),
        events[0]["path"].as_str().unwrap(),
    );
    assert_eq!(
        events[0]["digest"]["sha256"].as_str().unwrap(),
        sha256_at(&w, &clone, c, p)
    );
    assert!(stmts[1]["predicate"]["events"]
        .as_array()
        .unwrap()
        .is_empty());

    // --array: the same statements as one JSON array.
    let arr = w.aiaudit_in(&clone, &["export", "--format", "in-toto", "--array"]);
    let v: Value = serde_json::from_str(&arr.ok()).unwrap();
    assert_eq!(v.as_array().unwrap(), &stmts);
}
