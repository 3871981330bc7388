//! Issue 10 §1: every link is signed by its actor. The initiator signs the record
//! (`Initiated-by`), the executor the outcome (`Executed-by`), with aiaudit key files and with
//! GnuPG; a missing, forged or wrongly attributed signature is rejected with its own code, by
//! the hook and by every command that writes; the policy says per rule which links must be
//! signed.

use crate::harness::*;

/// The local main's last commit (an event `outcome` wrote without pushing) and its file.
fn local_event(w: &World) -> (String, String, String) {
    let commit = w.rev_parse(MAIN);
    let path = w
        .git(&["diff-tree", "--no-commit-id", "--name-only", "-r", &commit])
        .ok();
    let text = w.file_at(&commit, &path);
    (commit, path, text)
}

/// `message` without its `key` trailer line.
fn without_trailer(message: &str, key: &str) -> String {
    drop_line(message, &format!("{key}: "))
}

/// A decision commit on the server's main: `p`'s file and `message` plus carol's approval.
fn landing_with(w: &World, p: &Decision, message: &str) -> String {
    let main = w.server_ref(MAIN).expect("main");
    let message = format!("{message}{}", w.approved_by(CAROL, p.text.as_bytes()));
    w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message)
}

#[test]
fn the_initiator_signs_the_record_with_a_key_file_or_gnupg() {
    let w = World::new();
    // Key file (bob) and GnuPG (dave): both land; each executes its action and signs the
    // outcome the same way.
    for who in [BOB, DAVE] {
        let p = w.land(who, CAROL);
        let value = trailer(&p.message, "Initiated-by");
        assert!(
            value.starts_with(&format!("{who} <{who}@example.com> key=")),
            "{value}"
        );
        assert!(
            p.message.find("Initiated-by:") < p.message.find("Approved-by:"),
            "the initiator's signature comes before the approvals:\n{}",
            p.message
        );
        w.aiaudit(&[
            "outcome", &p.id, "--actor", who, "--action", "done", "--push",
        ])
        .ok();
        let (commit, _, _) = local_event(&w);
        let value = trailer(&w.message(&commit), "Executed-by").to_owned();
        assert!(
            value.starts_with(&format!("{who} <{who}@example.com> key=")),
            "{value}"
        );
    }
    // `git interpret-trailers` shows the same signature the engine verified (the World checks
    // this for every commit when it is dropped); `verify` counts both decisions.
    let out = w.aiaudit_in(&w.fresh_clone(), &["verify"]);
    assert!(out.stdout.contains("(2 decisions, 2 events,"), "{out}");
    assert!(
        out.stdout.contains("links: 2 of 2 record(s) signed by their initiator, 2 approval(s), 2 of 2 outcome(s) signed by their executor"),
        "{out}"
    );
    let shown = w.aiaudit(&["show", &w.land(SVC, CAROL).id]).ok();
    assert!(
        shown.contains("initiator") && shown.contains("signed by svc"),
        "{shown}"
    );
}

#[test]
fn record_refuses_to_write_an_unsigned_or_misattributed_record() {
    let w = World::new();
    let before = w.server_refs();
    let flags = |initiator: &str| w.config_change_args(initiator);
    // No key: the policy `init` writes requires the initiator's signature.
    let mut args: Vec<String> = flags(BOB)
        .into_iter()
        .filter(|a| a != "--initiator" && a != BOB)
        .collect();
    args.push("--push".into());
    let out = w.aiaudit_in_env(&w.work, &argv(&args), &[("AIAUDIT_INITIATOR", BOB)]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("requires the initiator `bob` to sign"),
        "{out}"
    );
    // carol's key cannot sign a record that names bob as its initiator.
    let mut args = flags(BOB);
    args.extend(w.signer_args(CAROL));
    let out = w.aiaudit(&argv(&args));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("not to the initiator `bob`"), "{out}");
    assert_eq!(w.server_refs(), before, "nothing was pushed");
    // The key names its principal: `--key` alone records as bob.
    let mut args: Vec<String> = flags(BOB)
        .into_iter()
        .filter(|a| a != "--initiator" && a != BOB)
        .collect();
    args.extend(w.signer_args(BOB));
    args.push("--json".into());
    let json = w.aiaudit(&argv(&args)).ok();
    assert!(json.contains("\"initiator\":\"bob\""), "{json}");
}

/// carol records a decision in bob's name and approves it herself: without bob's signature
/// (missing), with her own signature under bob's name (misattributed), with her signature
/// under her name (misattributed), or with bob's signature from another record (invalid).
#[test]
fn a_record_in_someone_elses_name_is_rejected() {
    let w = World::new();
    let p = w.record(BOB);
    let other = w.record_with(BOB, "Another change", "do it");
    let carol = w.key(CAROL).clone();
    let carol_sig = w.sign(CAROL, p.text.as_bytes());
    let cases: Vec<(String, &str, &str)> = vec![
        (
            without_trailer(&p.message, "Initiated-by"),
            "initiator-signature-missing",
            "requires the record's initiator `bob` to sign it",
        ),
        (
            replace_trailer(
                &p.message,
                "Initiated-by",
                &format!("bob <bob@example.com> key={} sig={carol_sig}", carol.fpr),
            ),
            "initiator-signature-misattributed",
            "belongs to `carol`",
        ),
        (
            replace_trailer(
                &p.message,
                "Initiated-by",
                &w.approval_value(CAROL, p.text.as_bytes()),
            ),
            "initiator-signature-misattributed",
            "names `carol`, but the record's initiator is `bob`",
        ),
        (
            replace_trailer(
                &p.message,
                "Initiated-by",
                trailer(&other.message, "Initiated-by"),
            ),
            "initiator-signature-invalid",
            "does not verify",
        ),
    ];
    for (message, code, says) in cases {
        let c = landing_with(&w, &p, &message);
        w.push_rejected(
            &[&onto_main(&c)],
            finding(code)
                .commit(&c)
                .path(&p.path)
                .mentions(says)
                .alone(),
        );
        // The same on a proposal ref: the initiator signs when recording.
        let main = w.server_ref(MAIN).expect("main");
        let c = w.commit(&main, &[Edit::File(&p.path, p.text.as_bytes())], &message);
        w.push_rejected(
            &[&format!("{c}:{}", proposal_ref(&p.id))],
            finding(code).commit(&c).path(&p.path),
        );
    }
    // Two initiator signatures are one too many.
    let twice = format!(
        "{}Initiated-by: {}\n",
        p.message,
        trailer(&p.message, "Initiated-by")
    );
    let c = landing_with(&w, &p, &twice);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("initiator-signature-invalid").mentions("2 Initiated-by trailers"),
    );
    // The genuine commit lands.
    let c = w.decision_commit(&p, &p.text, &[CAROL]);
    w.push_accepted(&[&onto_main(&c)]);
}

#[test]
fn the_executor_signs_the_outcome_with_its_evidence() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let log = w.files.join("apply.log");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (started, finished) = (
        aiaudit::record::format_unix(now - 7),
        aiaudit::record::format_unix(now - 1),
    );
    std::fs::write(&log, "role attached\n").unwrap();
    // svc, the executing service account, signs with its own key (the harness passes it).
    w.aiaudit(&[
        "outcome",
        &d.id,
        "--actor",
        SVC,
        "--action",
        "attached role db-read",
        "--started",
        &started,
        "--finished",
        &finished,
        "--exit-code",
        "0",
        "--result",
        "HTTP 201",
        "--log",
        s(&log),
    ])
    .ok();
    let (commit, path, text) = local_event(&w);
    for want in [
        &format!("started: \"{started}\""),
        &format!("finished: \"{finished}\""),
        "exit_code: 0",
        "result: \"HTTP 201\"",
        "size: 14",
        // sha256 of "role attached\n"
        "sha256: \"",
    ] {
        assert!(text.contains(want), "{want} in:\n{text}");
    }
    let message = w.message(&commit);
    assert!(
        trailer(&message, "Executed-by").starts_with("svc <svc@example.com> key="),
        "{message}"
    );
    w.push_accepted(&[&onto_main(&commit)]);

    // Forged variants of a second outcome, by bob.
    w.aiaudit(&["outcome", &d.id, "--actor", BOB, "--action", "done"])
        .ok();
    let (commit, path2, text2) = local_event(&w);
    let message = w.message(&commit);
    let main = w.server_ref(MAIN).expect("main");
    let cases: Vec<(String, &str)> = vec![
        (
            without_trailer(&message, "Executed-by"),
            "outcome-signature-missing",
        ),
        (
            replace_trailer(
                &message,
                "Executed-by",
                &w.approval_value(CAROL, text2.as_bytes()),
            ),
            "outcome-signature-misattributed",
        ),
        (
            replace_trailer(
                &message,
                "Executed-by",
                &w.approval_value(BOB, text.as_bytes()),
            ),
            "outcome-signature-invalid",
        ),
    ];
    for (m, code) in cases {
        let tree = w.rev_parse(&format!("{commit}^{{tree}}"));
        let c = w.commit_tree_by(BOB, &tree, &main, &m);
        w.push_rejected(
            &[&onto_main(&c)],
            finding(code).commit(&c).path(&path2).alone(),
        );
    }
    w.push_accepted(&[&onto_main(&commit)]);
    let _ = path;

    // The CLI refuses what the hook would: finished before started.
    let out = w.aiaudit(&[
        "outcome",
        &d.id,
        "--actor",
        BOB,
        "--action",
        "done",
        "--started",
        "2026-01-01T00:00:07Z",
        "--finished",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("time-implausible"), "{out}");
    assert!(out.stderr.contains("before outcome.started"), "{out}");
}

/// A rule may relax a link: under `signatures: {initiator: optional}` an unsigned record
/// lands, and a signature that is present is still verified.
#[test]
fn the_policy_says_which_links_must_be_signed() {
    let w = World::new();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    assert!(
        policy.contains("signatures:\n    initiator: \"required\"\n    outcome: \"required\""),
        "init requires every link:\n{policy}"
    );
    let rule = "rules:\n  - name: \"lenient-config\"\n    match:\n      actions: [\"config-change\"]\n    risk: \"medium\"\n    approval: \"pre\"\n    require:\n      - count: 1\n    signatures:\n      initiator: \"optional\"\n";
    let file = w.server.with_file_name("lenient.yaml");
    std::fs::write(&file, policy.replacen("rules:\n", rule, 1)).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();

    let p = w.land_proposal(BOB);
    let unsigned = without_trailer(&p.message, "Initiated-by");
    let c = landing_with(&w, &p, &unsigned);
    w.push_accepted(&[&onto_main(&c)]);
    let signed = w.land(BOB, CAROL);

    // What landed unsigned is counted, shown and reported as a gap.
    let clone = w.fresh_clone();
    let v: serde_json::Value =
        serde_json::from_str(&w.aiaudit_in(&clone, &["verify", "--json"]).ok()).unwrap();
    assert_eq!(v["links"]["initiator"]["signed"], 1, "{v:#}");
    assert_eq!(v["links"]["initiator"]["unsigned"], 1, "{v:#}");
    assert_eq!(v["links"]["approvals"], 2, "{v:#}");
    let text = w.aiaudit_in(&clone, &["verify"]).ok();
    assert!(
        text.contains("links: 1 of 2 record(s) signed by their initiator, 2 approval(s)"),
        "{text}"
    );
    let shown = w.aiaudit_in(&clone, &["show", &p.id]).ok();
    assert!(
        shown.contains("unsigned (the policy rule does not require a signature)"),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&w.aiaudit_in(&clone, &["show", &p.id, "--json"]).ok()).unwrap();
    assert_eq!(json["links"]["initiator"]["status"], "unsigned", "{json:#}");
    assert_eq!(json["links"]["initiator"]["required"], false, "{json:#}");
    let report: serde_json::Value =
        serde_json::from_str(&w.aiaudit_in(&clone, &["report", "--format", "json"]).ok()).unwrap();
    let gap = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "unsigned-link")
        .unwrap_or_else(|| panic!("no unsigned-link gap: {report:#}"));
    let items: Vec<&str> = gap["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        items,
        [p.id.as_str()],
        "only the unsigned record, not {}",
        signed.id
    );
    // Present, a signature must still be right.
    let q = w.record_with(BOB, "Raise the rate limit again", "do it");
    let bad = replace_trailer(
        &q.message,
        "Initiated-by",
        trailer(&p.message, "Initiated-by"),
    );
    let c = landing_with(&w, &q, &bad);
    w.push_rejected(
        &[&onto_main(&c)],
        finding("initiator-signature-invalid").commit(&c),
    );
}
