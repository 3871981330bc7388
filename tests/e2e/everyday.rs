//! Issue 15: the everyday path. What a new user meets: `record` says how to run the action and
//! how to link product commits; `principal add` takes name and e-mail from the certificate;
//! `show`, `pending`, `status` and `approve` judge a proposal by one evaluation (today's main);
//! help lists every command and the `--action` values; filters name unknown principals.

use crate::harness::*;
use serde_json::Value;
use std::path::Path;

#[test]
fn record_says_how_to_run_the_action_and_how_to_link_product_commits() {
    let w = World::new();
    let mut args = w.config_change_args(BOB);
    args.extend([
        "--".into(),
        "kubectl".into(),
        "apply".into(),
        "-f".into(),
        "x y.yaml".into(),
    ]);
    let out = w.aiaudit(&argv(&args));
    let id = out.ok();
    assert!(
        out.stderr.contains(&format!(
            "then: run it through the gate, `aiaudit exec {id} -- kubectl apply -f 'x y.yaml'`"
        )),
        "{out}"
    );
    assert!(!out.stderr.contains("link:"), "{out}");

    let mut args = w.config_change_args(BOB);
    for (i, a) in args.clone().iter().enumerate() {
        if a == "config-change" {
            args[i] = "code-merge".into();
        }
    }
    args.extend(["--target-repo".into(), "github.com/acme/payments".into()]);
    let out = w.aiaudit(&argv(&args));
    let id = out.ok();
    assert!(
        out.stderr.contains(&format!(
            "link: every product commit under this decision carries the trailer `Decision-Id: {id}`"
        )),
        "{out}"
    );
    // log names the repository and filters by it.
    let merged = id.clone();
    w.land(BOB, CAROL); // another decision, on no repository
    let mut a = vec!["approve", merged.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    a.extend(signer.iter().map(String::as_str));
    w.aiaudit(&a).ok();
    let only: Value = serde_json::from_str(
        &w.aiaudit(&["log", "--json", "--target-repo", "github.com/acme/payments"])
            .ok(),
    )
    .unwrap();
    let only = only.as_array().unwrap();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0]["id"], merged.as_str());
    assert_eq!(only[0]["repo"], "github.com/acme/payments");
    let human = w
        .aiaudit(&["log", "--target-repo", "github.com/acme/payments"])
        .ok();
    assert!(human.contains("(github.com/acme/payments)"), "{human}");
}

#[test]
fn principal_add_takes_name_and_email_from_the_certificate() {
    let w = World::new();
    let prefix = w.files.join("erin");
    w.aiaudit(&[
        "key",
        "generate",
        "--name",
        "Erin Example",
        "--email",
        "erin@example.org",
        "--out",
        s(&prefix),
    ])
    .ok();
    let cert = prefix.with_extension("asc");
    w.aiaudit_signed(
        ALICE,
        &[
            "principal",
            "add",
            "erin",
            "--kind",
            "human",
            "--cert",
            s(&cert),
            "--push",
        ],
    )
    .ok();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    assert!(
        policy.contains("  - id: \"erin\"\n    kind: \"human\"\n    name: \"Erin Example\"\n    email: \"erin@example.org\"\n"),
        "{policy}"
    );
}

#[test]
fn show_pending_status_and_approve_judge_a_proposal_the_same_way() {
    let w = World::new();
    let d = w.land_proposal(BOB);
    // After the proposal was made, the policy changes: the default rule now wants security.
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let changed = replace_once(
        &replace_once(
            &policy,
            "default:\n  risk: \"medium\"\n  approval: \"pre\"\n  require:\n    - count: 1\n",
            "default:\n  risk: \"medium\"\n  approval: \"pre\"\n  require:\n    - group: \"security\"\n      count: 1\n",
        ),
        "    email: \"dave@example.com\"\n    keys:",
        "    email: \"dave@example.com\"\n    groups:\n      - \"security\"\n    keys:",
    );
    let file = w.files.join("policy.yaml");
    std::fs::write(&file, format!("{changed}\n")).unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();

    let want = "1 from group `security`";
    let pending: Value = serde_json::from_str(&w.aiaudit(&["pending", "--json"]).ok()).unwrap();
    assert_eq!(pending[0]["requires"][0], want, "{pending}");
    let shown = w.aiaudit(&["show", &d.id]).ok();
    assert!(shown.contains(want), "{shown}");
    assert!(!shown.contains("from any human"), "{shown}");
    let status: Value =
        serde_json::from_str(&w.aiaudit(&["status", &d.id, "--json"]).stdout).unwrap();
    assert_eq!(status["state"], "pending", "{status}");
    assert!(
        status["needs"][0].as_str().unwrap().contains(want),
        "{status}"
    );

    // carol is not in security: her approval is recorded, and she is told it does not count.
    let out = w.aiaudit_signed(CAROL, &["approve", &d.id, "--yes"]);
    out.ok();
    assert!(
        out.stderr.contains(
            "note: your approval does not count toward this decision: policy rule `default` requires 1 from group `security`, and `carol` is in none of those groups"
        ),
        "{out}"
    );
}

#[test]
fn help_lists_commands_and_action_values_and_filters_name_unknown_principals() {
    let w = World::new();
    let help = w.aiaudit(&["record", "--help"]).ok();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("[possible values: code-merge, access-change, secret-retrieval, production-change, config-change, data-access, other]"),
        "{help}"
    );
    assert!(help.contains("Required (without --from)"), "{help}");
    let top = w.aiaudit(&["--help"]).ok();
    for line in ["  key ", "  principal ", "  policy ", "  hook "] {
        let l = top
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_default();
        assert!(l.trim().len() > line.trim().len() + 5, "no summary: {l:?}");
    }
    let out = w.aiaudit(&["log", "--initiator", "nobody"]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("--initiator nobody: no principal `nobody`"),
        "{out}"
    );
    w.land(BOB, CAROL);
    assert!(w.aiaudit(&["log", "--initiator", BOB]).ok().contains(BOB));
}

#[test]
fn verify_says_when_no_root_of_trust_is_pinned() {
    let w = World::new();
    w.land(BOB, CAROL);
    let out = w.aiaudit(&["verify"]);
    out.ok();
    assert!(
        out.stderr.contains("warning: no root of trust is pinned"),
        "{out}"
    );
    let root = w.git(&["rev-list", "--max-parents=0", MAIN]).ok();
    let out = w.aiaudit(&["verify", "--trust-root", root.trim()]);
    out.ok();
    assert!(!out.stderr.contains("no root of trust"), "{out}");
    // A root that does not match: the failure, and no word about commits "checked since".
    let out = w.aiaudit(&["verify", "--trust-root", &"1".repeat(40)]);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stderr.contains("trust-root-mismatch"), "{out}");
    assert!(!out.stdout.contains("checked the 0 commit(s)"), "{out}");
}

/// `show ID --signature WHO` prints the detached signature, and the recipe it prints checks it
/// with git and stock GnuPG alone, in a keyring that knows nothing but the certificate.
#[test]
fn an_approval_is_checked_by_hand_with_git_and_gpg() {
    let w = World::new();
    let d = w.land(BOB, CAROL);
    let out = w.aiaudit(&["show", &d.id, "--signature", CAROL]);
    let armored = out.ok();
    assert!(
        armored.starts_with("-----BEGIN PGP SIGNATURE-----"),
        "{out}"
    );
    let sig = w.files.join("sig.asc");
    std::fs::write(&sig, format!("{armored}\n")).unwrap();
    // The recipe, line by line, in a fresh keyring.
    let gnupg = w.files.join("fresh-gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let steps: Vec<&str> = out
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("git show") || l.starts_with("gpg "))
        .collect();
    assert_eq!(steps.len(), 3, "{out}");
    for step in steps {
        let step = step.replace("sig.asc", s(&sig));
        let mut c = w.command("sh", &w.work);
        c.args(["-c", &step]).env("GNUPGHOME", &gnupg);
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if step.starts_with("gpg --verify") {
            assert!(String::from_utf8_lossy(&o.stderr).contains("Good signature"));
        }
    }
    // The initiator's signature too; someone who did not sign is refused, naming who did.
    assert!(w
        .aiaudit(&["show", &d.id, "--signature", BOB])
        .ok()
        .starts_with("-----BEGIN PGP SIGNATURE-----"));
    let out = w.aiaudit(&["show", &d.id, "--signature", DAVE]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("carol (Approved-by)"), "{out}");
}

/// `key generate --passphrase-from-env` encrypts the secret key; signing with it then needs
/// AIAUDIT_KEY_PASSPHRASE, and the error says so.
#[test]
fn a_generated_key_can_be_passphrase_protected() {
    let w = World::new();
    let prefix = w.files.join("erin");
    let gen = [
        "key",
        "generate",
        "--name",
        "Erin",
        "--email",
        "erin@example.org",
        "--out",
        s(&prefix),
        "--passphrase-from-env",
    ];
    let out = w.aiaudit(&gen);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("AIAUDIT_KEY_PASSPHRASE is not set"),
        "{out}"
    );
    let pass = [("AIAUDIT_KEY_PASSPHRASE", "correct horse battery")];
    let out = w.aiaudit_in_env(&w.work, &gen, &pass);
    out.ok();
    assert!(
        out.stderr.contains("encrypted with the passphrase"),
        "{out}"
    );
    let key = prefix.with_extension("key");
    w.add_human("erin", &prefix.with_extension("asc"));
    let mut args = w.config_change_args("erin");
    args.extend(["--key".into(), s(&key).into()]);
    let out = w.aiaudit(&argv(&args));
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("encrypted and no passphrase was given"),
        "{out}"
    );
    w.aiaudit_in_env(&w.work, &argv(&args), &pass).ok();
}

/// Item 2: the everyday path takes its defaults from git configuration. Once configured
/// (`aiaudit.auditRepo` in the product repository; the user's key, GnuPG key and model in
/// their global git config), a developer records the decision for an AI-assisted product commit
/// with `record --from-commit HEAD --prompt FILE`, pushed by default; an approver on GnuPG runs
/// `approve ID --yes`, pushed by default; `check` in the product repository finds the audit
/// repository by itself.
#[test]
fn the_everyday_path_takes_its_defaults_from_git_config() {
    let w = World::new();
    let root = w.work.parent().unwrap().to_owned();
    let product = root.join("payments");
    let git_p = |args: &[&str]| w.git_in(&product, args).ok();
    std::fs::create_dir(&product).unwrap();
    git_p(&["init", "-q", "-b", "main"]);
    git_p(&[
        "remote",
        "add",
        "origin",
        "git@github.com:acme/payments.git",
    ]);
    std::fs::write(product.join("README"), "payments\n").unwrap();
    git_p(&["add", "README"]);
    git_p(&["commit", "-q", "-m", "Start"]);
    std::fs::write(product.join("retry.rs"), "fn retry() {}\n").unwrap();
    git_p(&["add", "retry.rs"]);
    git_p(&[
        "commit",
        "-q",
        "--author",
        "Bob <bob@example.com>",
        "-m",
        "Retry failed card captures\n\nAssisted-by: Claude:claude-sonnet-4",
    ]);
    git_p(&["config", "aiaudit.auditRepo", "../work"]);

    // Per-user configuration: each user's own global git config.
    let user_config = |who: &str, body: &str| {
        let p = root.join(format!("{who}.gitconfig"));
        std::fs::write(&p, body).unwrap();
        p
    };
    let bob_cfg = user_config(
        BOB,
        &format!(
            "[user]\n\tname = Bob\n\temail = bob@example.com\n[aiaudit]\n\tkey = {}\n",
            s(w.key(BOB).secret.as_ref().unwrap())
        ),
    );
    let run_as = |cfg: &Path, dir: &Path, args: &[&str]| {
        let mut c = w.command(AIAUDIT, dir);
        crate::sealed::push_by_default(&mut c)
            .env("GIT_CONFIG_GLOBAL", cfg)
            .args(args);
        w.run_command(c, None)
    };
    let prompt = w.files.join("prompt.txt");

    // The commit names an alias: floating, refused with the way out, nothing written.
    let refused = run_as(
        &bob_cfg,
        &product,
        &["record", "--from-commit", "HEAD", "--prompt", s(&prompt)],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused}");
    assert!(
        refused
            .stderr
            .contains("says `Assisted-by: Claude:claude-sonnet-4`")
            && refused
                .stderr
                .contains("is an alias, not a pinned model version")
            && refused.stderr.contains("git config aiaudit.model"),
        "{refused}"
    );
    assert!(w
        .git_in(&w.server, &["for-each-ref", "refs/heads/proposals/"])
        .ok()
        .is_empty());

    // Configured once, the record takes two flags.
    let bob_cfg = user_config(
        BOB,
        &format!(
            "[user]\n\tname = Bob\n\temail = bob@example.com\n[aiaudit]\n\tkey = {}\n\tmodel = anthropic/claude-sonnet-4@20250514\n",
            s(w.key(BOB).secret.as_ref().unwrap())
        ),
    );
    let out = run_as(
        &bob_cfg,
        &product,
        &["record", "--from-commit", "HEAD", "--prompt", s(&prompt)],
    );
    let id = out.ok();
    eprintln!("{out}"); // the transcript a new user sees
    assert!(out.stderr.contains("(pushed to origin)"), "{out}");
    assert!(
        w.server_ref(&format!("refs/heads/proposals/{id}"))
            .is_some(),
        "the proposal was pushed by default"
    );
    let shown: Value = serde_json::from_str(&w.aiaudit(&["show", &id, "--json"]).ok()).unwrap();
    let d = &shown["decision"];
    assert_eq!(d["initiator"]["id"], BOB, "{shown}");
    assert_eq!(d["action"]["kind"], "code-merge");
    assert_eq!(d["action"]["target"]["repo"], "github.com/acme/payments");
    assert_eq!(d["action"]["target"]["system"], "github.com/acme/payments");
    assert_eq!(d["action"]["summary"], "Retry failed card captures");
    assert_eq!(d["ai"]["model"]["version"], "20250514");
    assert_eq!(d["ai"]["role"], "changed");
    assert_eq!(d["ai"]["framework"], "Claude");
    let digest = w.aiaudit_in(&product, &["change-digest", "HEAD"]).ok();
    let digest = digest.split_whitespace().next().unwrap().to_owned();
    assert_eq!(d["action"]["changes"][0], digest.as_str(), "{shown}");

    // dave approves through GnuPG, configured once; pushed by default: main moves.
    let dave_cfg = user_config(
        DAVE,
        &format!("[aiaudit]\n\tgpgKey = {}\n", w.key(DAVE).fpr),
    );
    let approver = root.join("dave-work");
    w.git_in(&root, &["clone", "-q", "server.git", "dave-work"])
        .ok();
    let out = run_as(&dave_cfg, &approver, &["approve", &id, "--yes"]);
    out.ok();
    eprintln!("{out}");
    let landed = w.server_ref(MAIN).unwrap();
    assert!(
        w.server_ref(&format!("refs/heads/proposals/{id}")).is_none(),
        "the landed proposal is deleted on the server, though dave's clone knew it only as origin's"
    );
    let msg = w
        .git_in(&w.server, &["log", "-1", "--format=%B", &landed])
        .ok();
    assert!(
        msg.contains(&format!("Decision-Id: {id}")) && msg.contains("Approved-by: dave"),
        "{msg}"
    );

    // The product commit links the decision; check finds the audit repository by itself.
    w.git_in(&w.work, &["pull", "-q", "--ff-only"]).ok();
    git_p(&[
        "commit",
        "-q",
        "--amend",
        "--trailer",
        &format!("Decision-Id: {id}"),
        "--no-edit",
    ]);
    let checked = run_as(&bob_cfg, &product, &["check", "HEAD"]);
    assert_eq!(checked.status.code(), Some(0), "{checked}");
    eprintln!("{checked}");

    // --no-push keeps it in the clone; a bad aiaudit.push is refused before anything is written.
    let out = run_as(
        &bob_cfg,
        &product,
        &[
            "record",
            "--from-commit",
            "HEAD",
            "--prompt",
            s(&prompt),
            "--no-push",
        ],
    );
    let kept = out.ok();
    assert!(
        w.server_ref(&format!("refs/heads/proposals/{kept}"))
            .is_none(),
        "{out}"
    );
    git_p(&["config", "aiaudit.push", "not a remote"]);
    let before = w.git_in(&w.work, &["for-each-ref"]).ok();
    let bad = run_as(
        &bob_cfg,
        &product,
        &["record", "--from-commit", "HEAD", "--prompt", s(&prompt)],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad}");
    assert!(
        bad.stderr.contains("aiaudit.push = `not a remote`"),
        "{bad}"
    );
    assert_eq!(w.git_in(&w.work, &["for-each-ref"]).ok(), before);
}

/// Item 2: flags a pull-request URL and the git identity make unnecessary: the target
/// repository (and so the system) from `--change URL`, the initiator from `user.email`.
#[test]
fn record_takes_the_repository_from_a_pull_request_url_and_the_initiator_from_the_git_identity() {
    let w = World::new();
    let mut c = w.command(AIAUDIT, &w.work);
    c.args([
        "record",
        "--action",
        "code-merge",
        "--change",
        "https://github.com/acme/payments/pull/42",
        "--summary",
        "Retry failed card captures",
        "--ai-role",
        "changed",
        "--model",
        MODEL,
        "--prompt",
        s(&w.files.join("prompt.txt")),
        "--output",
        s(&w.files.join("output.txt")),
        "--recommendation",
        "merge it",
        "--key",
        s(w.key(BOB).secret.as_ref().unwrap()),
    ]);
    let id = w.run_command(c, None).ok();
    let shown: Value = serde_json::from_str(&w.aiaudit(&["show", &id, "--json"]).ok()).unwrap();
    let t = &shown["decision"]["action"]["target"];
    assert_eq!(t["repo"], "github.com/acme/payments", "{shown}");
    assert_eq!(t["system"], "github.com/acme/payments");
    assert_eq!(shown["decision"]["initiator"]["id"], BOB);

    // No key, no --initiator: the git identity's e-mail names the principal; the policy
    // requires the initiator's signature, so the refusal names bob.
    let mut c = w.command(AIAUDIT, &w.work);
    c.env("GIT_COMMITTER_EMAIL", "carol@example.com").args([
        "record",
        "--action",
        "code-merge",
        "--change",
        "https://gitlab.example.com/pay/core/-/merge_requests/7",
        "--summary",
        "x",
        "--ai-role",
        "changed",
        "--model",
        MODEL,
        "--prompt",
        s(&w.files.join("prompt.txt")),
        "--output",
        s(&w.files.join("output.txt")),
        "--recommendation",
        "merge it",
    ]);
    let out = w.run_command(c, None);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("requires the initiator `carol` to sign"),
        "{out}"
    );
}

/// A record whose push fails stays in the clone, and the error names it and the command that
/// pushes it later (the id would otherwise be lost: it is printed only on success).
#[test]
fn a_record_whose_push_fails_says_where_it_is_and_how_to_push_it() {
    let w = World::new();
    let url = w.git(&["remote", "get-url", "origin"]).ok();
    w.git(&["remote", "set-url", "origin", "/nonexistent/audit.git"])
        .ok();
    let mut args = w.config_change_args(BOB);
    args.push("--push".into());
    let out = w.aiaudit(&argv(&args));
    assert_ne!(out.status.code(), Some(0), "{out}");
    let local = w
        .git(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/proposals/",
        ])
        .ok();
    let id = local
        .trim()
        .strip_prefix("refs/heads/proposals/")
        .unwrap()
        .to_owned();
    assert!(
        out.stderr
            .contains(&format!("decision {id} is recorded in this clone"))
            && out.stderr.contains(&format!(
                "git push origin refs/heads/proposals/{id} refs/aiaudit/content/"
            )),
        "{out}"
    );
    // The command it gives pushes it, once the server is there again.
    w.git(&["remote", "set-url", "origin", url.trim()]).ok();
    let hint = out
        .stderr
        .lines()
        .find_map(|l| {
            l.split_once("to push it again: ")
                .map(|(_, c)| c.to_owned())
        })
        .unwrap();
    let words: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(words[..2], ["git", "push"]);
    w.git(&words[1..]).ok();
    assert!(w
        .server_ref(&format!("refs/heads/proposals/{id}"))
        .is_some());
}
