//! Issue 14: the examples in `examples/agents/`, run for real. Claude Code's PreToolUse hook
//! as `examples/agents/claude-code/settings.json` configures it (with the example rules): plain
//! commands pass, a privileged one is recorded (signed by the agent, pushed) and rewritten to
//! `aiaudit exec --wait`, which runs it — through `sh -c`, as the Bash tool does — only once an
//! approver lands the decision; a chained privileged line is denied; failures block (exit 2).
//! The CI deployment step of `examples/agents/ci-deploy.yml` runs its script: refused before
//! the approval, deploying after it.

use crate::harness::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/agents")
        .join(path)
}

/// A project beside the audit clone, as the example settings expect (`../audit`), with the
/// example rules in `.claude/`, and a `kubectl` on PATH that notes its arguments in `marker`.
struct Project {
    dir: PathBuf,
    bin: PathBuf,
    marker: PathBuf,
    transcript: PathBuf,
}

fn project(w: &World) -> Project {
    let root = w.files.join("agent");
    let dir = root.join("project");
    std::fs::create_dir_all(dir.join(".claude")).unwrap();
    std::os::unix::fs::symlink(&w.work, root.join("audit")).unwrap();
    std::fs::copy(
        example("privileged.yaml"),
        dir.join(".claude/aiaudit-privileged.yaml"),
    )
    .unwrap();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = root.join("kubectl-ran");
    let kubectl = bin.join("kubectl");
    std::fs::write(
        &kubectl,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\necho applied\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let transcript = root.join("transcript.jsonl");
    std::fs::write(
        &transcript,
        "{\"type\":\"user\",\"message\":\"deploy the new payments release\"}\n",
    )
    .unwrap();
    Project {
        dir,
        bin,
        marker,
        transcript,
    }
}

/// The hook's command line from the example settings, placeholders filled in.
fn hook_argv(p: &Project) -> Vec<String> {
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(example("claude-code/settings.json")).unwrap(),
    )
    .unwrap();
    let group = &settings["hooks"]["PreToolUse"][0];
    assert_eq!(group["matcher"], "Bash");
    let hook = &group["hooks"][0];
    assert_eq!(hook["type"], "command");
    assert_eq!(hook["command"], "aiaudit");
    let fill = |v: &Value| {
        v.as_str()
            .unwrap()
            .replace("${CLAUDE_PROJECT_DIR}", p.dir.to_str().unwrap())
    };
    let mut argv = vec![AIAUDIT.to_owned()];
    argv.extend(hook["args"].as_array().unwrap().iter().map(fill));
    argv
}

fn with_path(w: &World, p: &Project, program: &str, dir: &Path) -> Command {
    let mut c = w.command(program, dir);
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{}:{path}", p.bin.display()));
    c
}

/// Runs the hook as Claude Code would: the tool call as JSON on standard input, in the project,
/// with the agent's key in AIAUDIT_KEY.
fn hook(w: &World, p: &Project, key_of: &str, extra: &[&str], input: &Value) -> Output {
    let argv = hook_argv(p);
    let mut c = with_path(w, p, &argv[0], &p.dir);
    c.args(&argv[1..]).args(extra);
    if let Some(k) = w.signer_args(key_of).get(1) {
        c.env("AIAUDIT_KEY", k);
    }
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("hook");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.to_string().as_bytes()).unwrap();
    }
    child.wait_with_output().expect("hook")
}

fn bash_call(p: &Project, tool: &str, command: &str) -> Value {
    json!({
        "session_id": "abc123",
        "transcript_path": p.transcript,
        "cwd": p.dir,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": {
            "command": command,
            "description": "Deploy the payments release",
            "timeout": 120000,
            "run_in_background": false
        },
        "tool_use_id": "toolu_01ABC123"
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_claude_code_hook_routes_privileged_commands_through_a_decision_and_exec() {
    let w = World::new();
    let p = project(&w);
    let refs = w.server_refs();

    // Not privileged, or not a shell command: no answer, the agent's own flow decides.
    for call in [
        bash_call(&p, "Bash", "kubectl get pods -n payments"),
        bash_call(&p, "Read", "kubectl apply -f x.yaml"),
    ] {
        let out = hook(&w, &p, SVC, &[], &call);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{call}");
    }
    // A privileged command hidden in a chain: denied, nothing recorded.
    let out = hook(
        &w,
        &p,
        SVC,
        &[],
        &bash_call(&p, "Bash", "echo ok && kubectl delete ns payments"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    let o = &answer["hookSpecificOutput"];
    assert_eq!(o["hookEventName"], "PreToolUse");
    assert_eq!(o["permissionDecision"], "deny", "{answer}");
    assert!(
        o["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("the operator `&`"),
        "{answer}"
    );
    assert_eq!(w.server_refs(), refs, "a denied line recorded something");

    // Failures block: a human's key, and input that is not a tool call.
    let out = hook(
        &w,
        &p,
        CAROL,
        &[],
        &bash_call(&p, "Bash", "kubectl apply -f deploy.yaml"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("a human principal"));
    let argv = hook_argv(&p);
    let mut c = w.command(&argv[0], &p.dir);
    let out = c
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .expect("hook");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not JSON"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(w.server_refs(), refs);

    // Privileged and simple: recorded, signed by the agent, pushed; the call is rewritten.
    let call = bash_call(&p, "Bash", "kubectl apply -f deploy.yaml");
    let out = hook(&w, &p, SVC, &[], &call);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    let o = &answer["hookSpecificOutput"];
    assert_eq!(o["permissionDecision"], "allow", "{answer}");
    let updated = &o["updatedInput"];
    assert_eq!(updated["description"], call["tool_input"]["description"]);
    assert_eq!(updated["run_in_background"], false);
    assert_eq!(updated["timeout"], 600000);
    let rewritten = updated["command"].as_str().unwrap().to_owned();
    assert!(rewritten.starts_with(AIAUDIT), "{rewritten}");
    assert!(
        rewritten.ends_with("-- kubectl apply -f deploy.yaml"),
        "{rewritten}"
    );
    let reason = o["permissionDecisionReason"].as_str().unwrap();
    let id = reason
        .split_whitespace()
        .nth(3)
        .expect("decision id in the reason")
        .to_owned();
    let proposal = w.server_ref(&proposal_ref(&id)).expect("proposal pushed");
    assert!(w.message(&proposal).contains("Initiated-by: svc "));
    let shown = w.aiaudit(&["show", &id]).ok();
    for want in [
        "command    kubectl apply -f deploy.yaml",
        "production-change on k8s:prod",
        "transcript",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }

    // The rewritten command is itself a gate: the hook lets it through unchanged.
    let out = hook(&w, &p, SVC, &[], &bash_call(&p, "Bash", &rewritten));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // A program merely named `aiaudit` is not the gate: the line is judged like any other
    // (here privileged, so recorded and rewritten, never passed through as it is).
    let fake = format!("./aiaudit exec {id} -- kubectl delete ns payments");
    let out = hook(&w, &p, SVC, &[], &bash_call(&p, "Bash", &fake));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    let cmd = answer["hookSpecificOutput"]["updatedInput"]["command"]
        .as_str()
        .unwrap();
    assert!(
        cmd.starts_with(AIAUDIT)
            && cmd.ends_with(&format!(
                "-- ./aiaudit exec {id} -- kubectl delete ns payments"
            )),
        "{answer}"
    );

    // The Bash tool runs it: it waits, runs nothing until carol approves from elsewhere,
    // then runs exactly the approved words and lands their signed outcome.
    let mut bash = with_path(&w, &p, "sh", &p.dir);
    let running = bash
        .args(["-c", &rewritten])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rewritten command");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!p.marker.exists(), "kubectl ran before the approval");
    let other = w.fresh_clone();
    let mut a = vec!["approve", id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    a.extend(signer.iter().map(String::as_str));
    w.aiaudit_in(&other, &a).ok();
    let out = running.wait_with_output().expect("exec");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "applied\n");
    assert_eq!(
        std::fs::read_to_string(&p.marker).unwrap(),
        "apply -f deploy.yaml\n"
    );
    let main = w.server_ref(MAIN).expect("main");
    assert!(w.message(&main).contains("Executed-by: svc "));

    // --mode deny: the agent is told the decision and the exec command to run.
    let out = hook(
        &w,
        &p,
        SVC,
        &["--mode", "deny"],
        &bash_call(&p, "Bash", "terraform apply -auto-approve"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    let reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(
        reason.contains(" exec ") && reason.ends_with("-- terraform apply -auto-approve"),
        "{reason}"
    );
}

#[test]
fn the_ci_deploy_step_runs_the_deployment_only_through_exec() {
    let w = World::new();
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(example("ci-deploy.yml")).unwrap()).unwrap();
    let steps = workflow["jobs"]["deploy"]["steps"].as_sequence().unwrap();
    let step = steps
        .iter()
        .find(|s| s["name"].as_str() == Some("Deploy, only as approved"))
        .expect("the deploy step");
    let script = step["run"].as_str().unwrap().to_owned();

    // The job's checkout: the product (with its deploy script) and the audit clone in ./audit.
    let job = w.files.join("job");
    std::fs::create_dir_all(&job).unwrap();
    std::os::unix::fs::symlink(&w.work, job.join("audit")).unwrap();
    let deployed = w.files.join("deployed");
    std::fs::write(
        job.join("deploy.sh"),
        format!("#!/bin/sh\necho \"$@\" > '{}'\n", deployed.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        job.join("deploy.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let commit = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39";

    // The workflow principal `svc` records the deployment it will run, naming the commit.
    let mut args = w.config_change_args(SVC);
    args.extend(["--push".into(), "--".into()]);
    args.extend(["./deploy.sh", "production", commit].map(String::from));
    let id = w.aiaudit(&argv(&args)).ok();
    let root = w.git(&["rev-list", "--max-parents=0", MAIN]).ok();
    let key = std::fs::read_to_string(&w.signer_args(SVC)[1]).unwrap();
    let run_step = || {
        let bin = Path::new(AIAUDIT).parent().unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        let mut c = w.command("bash", &job);
        c.args(["-c", &script])
            .env("PATH", format!("{}:{path}", bin.display()))
            .env("DECISION", &id)
            .env("DEPLOYER_KEY", &key)
            .env("COMMIT", commit)
            .env("WAIT", "1s")
            .env("AIAUDIT_TRUST_ROOT", root.trim());
        c.output().expect("the deploy step")
    };

    let out = run_step();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is not approved"));
    assert!(!deployed.exists(), "deployed without approval");

    let mut a = vec!["approve", id.as_str(), "--yes", "--push"];
    let signer = w.signer_args(CAROL);
    a.extend(signer.iter().map(String::as_str));
    w.aiaudit(&a).ok();
    let out = run_step();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&deployed).unwrap(),
        format!("production {commit}\n")
    );
    let main = w.server_ref(MAIN).expect("main");
    assert!(w.message(&main).contains("Executed-by: svc "));
}
