//! Issue 13: control catalogs as data. The shipped catalogs are listed with their sources; an
//! audit repository's own catalog is a governance file (admin-signed, judged by the hook) that
//! adds a framework or re-maps a shipped one, and `report --framework` selects.

use crate::harness::*;

const TEAM: &str = "schema: \"aiaudit/catalog/v1\"
key: \"acme_sec\"
name: \"ACME security standard\"
source: \"ACME internal standard SEC-100, version 3\"
as_of: \"2026-06\"
controls:
  - id: \"SEC-7\"
    title: \"Privileged changes are approved by a second person before they run\"
    evidence: [\"approvals-signed\", \"separation-of-duties\"]
    gaps: [\"unapproved\", \"shared-account\"]
  - id: \"SEC-9\"
    title: \"Every privileged action is attributable to a signed initiator\"
    evidence: [\"initiator-signed\"]
    gaps: [\"unsigned-link\"]
";

#[test]
fn the_shipped_catalogs_are_listed_with_their_sources() {
    let w = World::new();
    let list = w.aiaudit(&["catalog", "list"]).ok();
    for key in [
        "nist_csf",
        "nist_ai_rmf",
        "owasp_asi",
        "csa_maestro",
        "eu_ai_act",
        "iso_27001",
        "iso_42001",
        "soc2",
    ] {
        assert!(list.contains(key), "{key} in:\n{list}");
    }
    assert!(list.contains("source: NIST CSWP 29"), "{list}");
    let maestro = w.aiaudit(&["catalog", "show", "csa_maestro"]).ok();
    assert!(maestro.contains("id: \"Layer 6\""), "{maestro}");
    assert!(!maestro.contains("GOV-04"), "{maestro}");
    let out = w.aiaudit(&["catalog", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("no catalog has the key `nope`"),
        "{out}"
    );
}

#[test]
fn a_team_catalog_is_governed_and_selected() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let file = w.server.with_file_name("acme.yaml");
    std::fs::write(&file, TEAM).unwrap();

    // Only an admin may set it.
    let out = w.aiaudit_signed(BOB, &["catalog", "set", s(&file), "--push"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("is not the key of an admin"), "{out}");
    // An invalid catalog is refused before anything is signed, naming the problem.
    let bad = w.server.with_file_name("bad.yaml");
    std::fs::write(&bad, TEAM.replace("unsigned-link", "no-such-gap")).unwrap();
    let out = w.aiaudit_signed(ALICE, &["catalog", "set", s(&bad), "--push"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("`no-such-gap` is not a gap kind"),
        "{out}"
    );

    w.aiaudit_signed(ALICE, &["catalog", "set", s(&file), "--push"])
        .ok();
    assert!(w
        .file_at(
            &w.server_ref(MAIN).unwrap(),
            ".aiaudit/catalogs/acme_sec.yaml"
        )
        .contains("SEC-7"));
    let list = w.aiaudit(&["catalog", "list"]).ok();
    assert!(
        list.contains("acme_sec") && list.contains("repository"),
        "{list}"
    );

    // `report --framework` selects it; its controls carry their evidence.
    let v: serde_json::Value = serde_json::from_str(
        &w.aiaudit(&["report", "--format", "json", "--framework", "acme_sec"])
            .ok(),
    )
    .unwrap();
    let frameworks = v["frameworks"].as_array().unwrap();
    assert_eq!(frameworks.len(), 1, "{v:#}");
    let sec7 = &frameworks[0]["controls"][0];
    assert_eq!(sec7["id"], "SEC-7");
    let approvals = &sec7["evidence"][0];
    assert_eq!(approvals["kind"], "approvals-signed");
    assert_eq!(
        (approvals["count"].as_u64(), approvals["of"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(approvals["decisions"][0], d.id.as_str());
    let md = w
        .aiaudit(&[
            "report",
            "--framework",
            "acme_sec",
            "--framework",
            "nist_csf",
        ])
        .ok();
    assert!(
        md.contains("### ACME security standard (`acme_sec`)"),
        "{md}"
    );
    assert!(md.contains("### NIST CSF 2.0 (`nist_csf`)"), "{md}");
    assert!(!md.contains("(`soc2`)"), "{md}");
    let out = w.aiaudit(&["report", "--framework", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{out}");

    // A repository catalog with a shipped key re-maps that framework.
    let remap = TEAM
        .replace("acme_sec", "soc2")
        .replace("ACME security standard", "SOC 2 as our auditor maps it");
    std::fs::write(&file, remap).unwrap();
    w.aiaudit_signed(ALICE, &["catalog", "set", s(&file), "--push"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(
        &w.aiaudit(&["report", "--format", "json", "--framework", "soc2"])
            .ok(),
    )
    .unwrap();
    assert_eq!(v["frameworks"][0]["name"], "SOC 2 as our auditor maps it");
}

/// The hook judges a pushed catalog like the policy: a governance change signed by an admin,
/// whose new state must be valid — here a catalog file named other than by its key.
#[test]
fn the_hook_refuses_a_catalog_that_is_not_valid() {
    let w = World::new();
    let main = w.server_ref(MAIN).expect("main");
    let tree = w.tree(
        &main,
        &[Edit::File(".aiaudit/catalogs/other.yaml", TEAM.as_bytes())],
    );
    let message = format!(
        "catalog: misnamed\n\nPolicy-Base: {main}\n{}",
        w.policy_signed_by(ALICE, &main, &tree)
    );
    let c = w.commit_tree(&tree, &main, &message);
    let found = w.push_rejected(&[&onto_main(&c)], finding("policy-invalid").commit(&c));
    assert!(
        found.iter().any(|f| f
            .text()
            .contains("a catalog with key `acme_sec` lives at .aiaudit/catalogs/acme_sec.yaml")),
        "{found:?}"
    );
}
