//! The hook as git server admins deploy it: gitolite over SSH and smart HTTP behind nginx,
//! each on loopback, the hook running under the server's own account and environment, the
//! pusher named by the server (gitolite's `GL_USER`, the web server's `REMOTE_USER`).

use crate::harness::*;
use crate::servers::*;

/// gitolite's rules for the audit repository, as docs/deploy.md gives them: anyone may push
/// main fast-forward only and create, rewind (partial approvals) and delete proposals; the
/// hook decides what each may do. Governance proposals and checkpoints are the admins'.
pub const GITOLITE_CONF: &str = "repo gitolite-admin
    RW+     =   alice

repo audit
    RW      main$                   =   @all
    RW+D    proposals/              =   @all
    RW+D    governance/             =   alice
    RW      refs/tags/checkpoint/   =   alice
    RW+D    refs/aiaudit/content/   =   alice
    RW      refs/aiaudit/content/   =   @all
    R       =   @all
";

/// Binds pushers, each principal's server login being its id.
fn bind_pushers(w: &World, logins: &[&str]) {
    let pairs: Vec<(&str, &str)> = logins.iter().map(|l| (*l, *l)).collect();
    w.set_forge_logins(&pairs, "\npushers:\n  bind: true\n");
}

/// The core loop through a real server, the clone switched between users by `use_as`: bob's
/// proposal lands under his server login, an unapproved push onto main is refused (and what the
/// pusher reads is shown), mallory — a server user with write access but no principal — cannot
/// withdraw bob's proposal, carol approves and lands it with `approve --push`, and an auditor's
/// fresh clone through the same server (`auditor`) verifies. `variable` is how the server names
/// the pusher to the hook.
fn core_loop(
    w: &World,
    transport: &str,
    variable: &str,
    use_as: &dyn Fn(&World, &std::path::Path, &str),
    auditor: &dyn Fn(&World) -> std::path::PathBuf,
) {
    let work = w.work.clone();
    use_as(w, &work, BOB);
    let p = w.record(BOB);
    let out = w.push(&[&format!("{}:{}", p.commit, proposal_ref(&p.id))]);
    assert!(out.status.success(), "{out}");
    assert!(
        out.stderr
            .contains("remote: aiaudit: accepted 1 ref update(s)"),
        "{out}"
    );
    assert_eq!(
        w.server_ref(&proposal_ref(&p.id)).as_deref(),
        Some(p.commit.as_str())
    );

    // A refused push, as the pusher reads it.
    let refused = w.push(&[&onto_main(&p.commit)]);
    eprintln!("--- a refused push over {transport}:\n{}", refused.stderr);
    assert!(!refused.status.success(), "{refused}");
    assert!(
        refused.stderr.contains("remote: aiaudit: push rejected"),
        "{refused}"
    );
    assert!(
        refused.stderr.contains("pre-receive hook declined"),
        "{refused}"
    );
    assert!(
        refused
            .stderr
            .contains(&format!("login `bob` ({variable})")),
        "{refused}"
    );
    assert!(
        !refused.stderr.contains("bob-pw"),
        "no credential shown: {refused}"
    );

    use_as(w, &work, MALLORY);
    let out = w.push(&[&format!(":{}", proposal_ref(&p.id))]);
    assert!(out.stderr.contains("error[pusher-mismatch]"), "{out}");
    assert!(
        out.stderr
            .contains(&format!("login `mallory` ({variable})")),
        "{out}"
    );
    assert!(w.server_ref(&proposal_ref(&p.id)).is_some());

    use_as(w, &work, CAROL);
    let mut args = vec!["approve", p.id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    let out = w.aiaudit(&args);
    assert!(out.status.success(), "{out}");
    let main = w.server_ref(MAIN).expect("main");
    assert!(
        w.message(&main).contains(&p.id),
        "main is the landing commit"
    );
    assert!(
        w.server_ref(&proposal_ref(&p.id)).is_none(),
        "the proposal is cleaned up"
    );

    let out = w.aiaudit_in(&auditor(w), &["verify", "--full"]);
    assert!(out.status.success(), "{out}");
}

/// The core loop over `ssh://` into gitolite, `GL_USER` naming the pusher.
#[test]
fn the_loop_runs_over_ssh_behind_gitolite() {
    let mut w = World::new();
    bind_pushers(&w, &[ALICE, BOB, CAROL]);
    let g = Gitolite::start(&mut w, &[ALICE, BOB, CAROL, MALLORY], GITOLITE_CONF);
    core_loop(
        &w,
        "ssh (gitolite)",
        "GL_USER",
        &|w, clone, user| g.use_as(w, clone, user),
        &|w| {
            let auditor = w.files.join("auditor");
            let mut clone = w.command("git", &w.files);
            clone
                .args(["clone", "-q", &g.url(), s(&auditor)])
                .env("GIT_SSH_COMMAND", g.ssh_command(ALICE));
            assert!(clone.status().unwrap().success());
            auditor
        },
    );
}

/// gitolite's plain `RW` rule lets the hook accept `approve --push` and then refuses the
/// proposal's deletion in the same push: the approver is told the server's own rules refused
/// it after aiaudit accepted (not to fetch and retry), and nothing moved.
#[test]
fn a_server_rule_refusing_after_the_hook_accepted_is_reported_as_such() {
    let mut w = World::new();
    let conf = "repo gitolite-admin\n    RW+ = alice\n\nrepo audit\n    RW = @all\n";
    let g = Gitolite::start(&mut w, &[ALICE, BOB, CAROL], conf);
    let work = w.work.clone();
    g.use_as(&w, &work, BOB);
    let p = w.record(BOB);
    w.push_accepted(&[&format!("{}:{}", p.commit, proposal_ref(&p.id))]);
    let before = w.server_refs();
    g.use_as(&w, &work, CAROL);
    let mut args = vec!["approve", p.id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    args.extend(signer.iter().map(String::as_str));
    let out = w.aiaudit(&args);
    eprintln!("--- approve --push under gitolite's RW:\n{}", out.stderr);
    assert!(!out.status.success(), "{out}");
    assert!(
        out.stderr.contains("DENIED by fallthru"),
        "gitolite's own word: {out}"
    );
    assert!(
        out.stderr
            .contains("by the server after aiaudit's hook accepted it (`hook declined`"),
        "{out}"
    );
    assert!(
        out.stderr.contains("docs/deploy.md gives the rules"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("git fetch"),
        "not a fetch-and-retry: {out}"
    );
    assert_eq!(w.server_refs(), before, "nothing moved");
}

/// The core loop over smart HTTP behind nginx, the web server's `REMOTE_USER` naming the
/// pusher.
#[test]
fn the_loop_runs_over_smart_http_behind_nginx() {
    let mut w = World::new();
    bind_pushers(&w, &[ALICE, BOB, CAROL]);
    let h = SmartHttp::start(&mut w, &[ALICE, BOB, CAROL, MALLORY]);
    core_loop(
        &w,
        "http (nginx)",
        "REMOTE_USER",
        &|w, clone, user| h.use_as(w, clone, user),
        &|w| {
            let auditor = w.files.join("auditor");
            w.git_in(&w.files, &["clone", "-q", &h.url(ALICE), s(&auditor)])
                .ok();
            auditor
        },
    );
}

/// A signed push over smart HTTP, where every request is a new git process: the nonce comes
/// back to another process than the one that issued it (git calls it `OK` when that process
/// would issue the same one, within the second, or — with the receive.certNonceSlop that
/// `hook install` sets — within the minute). The certificate, not the HTTP login, names the
/// pusher: bob's login carrying dave's certificate lands what dave approved, and an unsigned
/// push under `signed: true` is refused.
#[test]
fn a_signed_push_over_http_proves_the_pusher() {
    let mut w = World::new();
    let policy = w.aiaudit(&["policy", "show"]).ok();
    let file = w.files.join("signed-policy.yaml");
    std::fs::write(&file, policy + "\npushers:\n  bind: true\n  signed: true\n").unwrap();
    w.aiaudit_signed(ALICE, &["policy", "set", s(&file), "--push"])
        .ok();
    let h = SmartHttp::start(&mut w, &[BOB, DAVE]);
    let work = w.work.clone();
    h.use_as(&w, &work, BOB);
    w.git(&["config", "user.signingKey", &w.key(DAVE).fpr]).ok();
    let d = w.approve_unpushed(&w.record(BOB), DAVE);
    let onto = onto_main(&d.commit);
    let out = w.push(&[&onto]);
    assert!(out.stderr.contains("error[push-unsigned]"), "{out}");
    let ok = w.git(&["push", "--signed", "origin", &onto]);
    assert!(ok.status.success(), "{ok}\n{}", h.error_log());
    assert_eq!(w.server_ref(MAIN).as_deref(), Some(d.commit.as_str()));
}

/// Under GitLab (which sets `GL_PROTOCOL` and `GL_ID` for server hooks), every line of a
/// rejection starts with `GL-HOOK-ERR: `, so GitLab shows it in its web interface; an accepted
/// push's lines do not.
#[test]
fn rejections_under_gitlab_carry_its_prefix() {
    let w = World::new();
    let p = w.record(BOB);
    let gitlab = [
        ("GL_PROTOCOL", "web"),
        ("GL_ID", "user-2"),
        ("GL_USERNAME", "bob"),
    ];
    let out = w.git_with(&["push", "origin", &onto_main(&p.commit)], b"", &gitlab);
    assert!(!out.status.success(), "{out}");
    let ours: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("remote: "))
        .collect();
    assert!(ours.len() >= 3, "{out}");
    for line in &ours {
        assert!(line.starts_with("remote: GL-HOOK-ERR: "), "{line}\n{out}");
    }
    assert!(
        out.stderr.contains("GL-HOOK-ERR: error[approval-missing]"),
        "{out}"
    );
    let d = w.approve_unpushed(&p, CAROL);
    let ok = w.git_with(&["push", "origin", &onto_main(&d.commit)], b"", &gitlab);
    assert!(ok.status.success(), "{ok}");
    assert!(ok.stderr.contains("remote: aiaudit: accepted"), "{ok}");
    assert!(!ok.stderr.contains("GL-HOOK-ERR"), "{ok}");
}
