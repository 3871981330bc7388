#!/usr/bin/env bash
# The whole aiaudit loop on a local "server": an audit repository with the hook installed,
# a decision recorded by a developer, a push the server rejects, an approval signed with the
# approver's OpenPGP key, and an auditor's offline verification.
#
# Usage: bash examples/demo.sh [WORKDIR]    (default: a fresh temporary directory)
# Needs only a Rust toolchain and git. Nothing outside WORKDIR is touched.
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "building aiaudit"
cargo build --quiet --manifest-path "$repo_root/Cargo.toml"
target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo_root/Cargo.toml" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
aiaudit="$target_dir/debug/aiaudit"
aiaudit() { "$aiaudit" "$@"; }

work="${1:-$(mktemp -d -t aiaudit-demo.XXXXXX)}"
mkdir -p "$work"
cd "$work"
echo "working in $work"

# A sealed git: no global or system configuration, fixed identities.
export HOME="$work/home" GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"

step "keys: alice (admin, security), bob (developer), the agent's service account; Ed25519, generated in-process"
aiaudit key generate --name "Alice Admin" --email alice@example.com --out alice
aiaudit key generate --name "Bob Developer" --email bob@example.com --out bob
aiaudit key generate --name "Deploy Agent" --email deploy-agent@example.com --out deploy-agent

step "the server: a bare audit repository with its root of trust, and the hook"
run aiaudit init server.git --admin alice --admin-key alice.asc --admin-name "Alice Admin"
run aiaudit hook install server.git

step "alice (admin) adds bob and the agent's service account, signing each policy change"
git clone --quiet server.git alice-work
(
    cd alice-work
    export GIT_COMMITTER_NAME="Alice Admin" GIT_COMMITTER_EMAIL=alice@example.com
    run aiaudit principal add bob --kind human --name "Bob Developer" --email bob@example.com \
        --group dev --cert ../bob.asc --key ../alice.key --push
    run aiaudit principal add deploy-agent --kind service --owner bob --email deploy-agent@example.com \
        --cert ../deploy-agent.asc --key ../alice.key --push
)

step "bob records and signs an AI-suggested access change (prompt, retrieved doc and a tool call are hashed; their text goes to the content store beside the ledger, where approvers read it and an admin can erase it)"
git clone --quiet server.git bob-work
cd bob-work
export GIT_COMMITTER_NAME="Bob Developer" GIT_COMMITTER_EMAIL=bob@example.com
printf 'The analytics job fails with permission denied on prod-db. Fix access.\n' > ../prompt.txt
printf 'Runbook: analytics reads prod-db through role db-read.\n' > ../runbook.md
printf '{"role":"db-read","principal":"svc-analytics"}\n' > ../iam-args.json
printf '{"attached":[]}\n' > ../iam-result.json
printf 'Attach role db-read to svc-analytics (read-only, no write grants).\n' > ../model-output.txt
# The exact action the decision approves (a stand-in for the cloud CLI call it would make).
printf 'echo "attached role $2 to $1"\n' > ../attach-role.sh
id=$(aiaudit record --initiator bob --action access-change --system aws:prod \
    --resource role/db-read --summary "Grant svc-analytics read-only access to prod-db" \
    --identity svc-analytics --ai-role suggested --model anthropic/claude-sonnet-4@20250514 \
    --framework "claude-code 1.0" --prompt ../prompt.txt --context retrieved-document=../runbook.md \
    --tool-call iam.list_attached=../iam-args.json,../iam-result.json \
    --output ../model-output.txt --recommendation "Attach db-read to svc-analytics" \
    --key ../bob.key --push \
    -- sh ../attach-role.sh svc-analytics db-read)
echo "decision id: $id"

step "what awaits approval"
run aiaudit pending

step "bob tries to land his own decision on main without approval: the server refuses"
printf '$ git push origin proposals/%s:main\n' "$id"
if git push origin "proposals/$id:main" 2>&1; then
    echo "UNEXPECTED: the server accepted an unapproved decision" >&2
    exit 1
fi
echo "(rejected, as it must be)"

step "bob cannot approve it either: separation of duties"
if aiaudit approve "$id" --key ../bob.key --yes 2>&1 | tail -n 3; then :; fi

step "the agent tries to run the action before it is approved: the gate refuses, nothing runs"
printf '$ aiaudit exec %s --key ../deploy-agent.key -- sh ../attach-role.sh svc-analytics db-read\n' "$id"
if aiaudit exec "$id" --key ../deploy-agent.key -- sh ../attach-role.sh svc-analytics db-read >../exec-refused.log 2>&1; then
    cat ../exec-refused.log
    echo "UNEXPECTED: exec ran an action that is not approved" >&2
    exit 1
fi
tail -n 3 ../exec-refused.log
printf '$ aiaudit status %s\n' "$id"
aiaudit status "$id" || echo "(exit $?: not approved yet)"

step "alice reviews the chain and approves it with her key; it lands on main"
cd ../alice-work
git fetch --quiet origin '+refs/heads/*:refs/remotes/origin/*'
export GIT_COMMITTER_NAME="Alice Admin" GIT_COMMITTER_EMAIL=alice@example.com
run aiaudit show "$id"
run aiaudit approve "$id" --key ../alice.key --yes --push

step "approved: the agent's service account runs exactly the approved command through the gate; its outcome lands signed with its own key"
cd ../bob-work
run aiaudit exec "$id" --key ../deploy-agent.key -- sh ../attach-role.sh svc-analytics db-read

step "an auditor clones the server and verifies everything offline"
cd ..
git clone --quiet server.git auditor
cd auditor
root=$(git rev-list --max-parents=0 main)
run aiaudit verify --trust-root "$root"
run aiaudit show "$id"
run aiaudit log
run aiaudit report --format markdown --framework nist_csf --framework owasp_asi

step "an audit sample: a reproducible draw, an evidence folder re-verified offline"
run aiaudit sample --size 1 --seed 7 --out ../evidence
run aiaudit sample --verify ../evidence

step "plain git log tells the same story"
git log --format='%h %an — %s%n%(trailers:key=Decision-Id,key=Initiator,key=Model,key=Risk,key=Actor)' main

if command -v gpg >/dev/null 2>&1; then
    step "the approval is a standard OpenPGP signature: stock gpg verifies it"
    export GNUPGHOME="$work/gnupg"
    mkdir -p -m 700 "$GNUPGHOME"
    gpg --batch --quiet --import ../alice.asc 2>/dev/null
    landed=$(git log --format=%H --grep='^Approved-by:' main | head -n 1)
    path=$(git log -1 --format= --name-only "$landed" | grep "^decisions/")
    git show "$landed:$path" > ../decision.yaml
    git log -1 --format='%(trailers:key=Approved-by,valueonly)' "$landed" | sed -n 's/.*sig=//p' | base64 -d > ../approval.sig
    gpg --batch --verify ../approval.sig ../decision.yaml 2>&1 | grep -E 'Good signature|using' || true
    gpgconf --kill all 2>/dev/null || true   # leave no gpg-agent behind
fi

step "done: the audit repository is $work/server.git"
