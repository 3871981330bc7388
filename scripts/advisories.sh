#!/usr/bin/env bash
# Known advisories, checked, not remembered: the dependency tree (Cargo.lock) against the
# offline snapshot of the RustSec advisory database in ../shared/advisory-db (or
# $AIAUDIT_ADVISORY_DB), with cargo-deny's advisories check run `--offline` (it fetches
# nothing): the snapshot is made a git repository (committed at the snapshot's date) where
# cargo-deny looks for its database. `cargo fetch` first puts every crate of Cargo.lock in the
# local registry cache (crates.io only), which cargo-deny's offline `cargo metadata` needs.
# Vendored crates (vendor/*) are checked as the crates.io releases they were copied from (below).
# Justified ignores are in deny.toml's [advisories] section. The last line names the snapshot
# and its date: advisories published after it are not known to this check.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot="${AIAUDIT_ADVISORY_DB:-../shared/advisory-db}"
if [ ! -d "$snapshot/crates" ]; then
    echo "advisories.sh: NOT CHECKED: no RustSec advisory database snapshot at $snapshot (set AIAUDIT_ADVISORY_DB)" >&2
    exit "${AIAUDIT_ADVISORIES_REQUIRED:-0}"
fi
version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$version"; then
    echo "installing cargo-deny $version from crates.io"
    cargo install --locked --quiet cargo-deny --version "$version"
fi

tmp="$(mktemp -d -t aiaudit-advisories.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# Where cargo-deny 0.20.2 keeps the default database (RustSec's URL) under its db-path.
db="$tmp/dbs/advisory-db-3157b0e258782691"
mkdir -p "$tmp/dbs"
cp -r "$snapshot" "$db"
rm -rf "$db/.git"
stamp="$(grep -o '[0-9a-f]\{40\} of [0-9-]\{10\}' "$snapshot/SNAPSHOT.md" | head -n 1 || true)"
date="${stamp##* of }"
(
    cd "$db"
    export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
    export GIT_AUTHOR_NAME=snapshot GIT_AUTHOR_EMAIL=snapshot@localhost
    export GIT_COMMITTER_NAME=snapshot GIT_COMMITTER_EMAIL=snapshot@localhost
    if [ -n "$date" ]; then export GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z"; fi
    git init -q -b main . && git add -A && git commit -qm "RustSec advisory-db snapshot ${stamp:-of unknown date}"
)
awk -v path="$tmp/dbs" '{ print } /^\[advisories\]$/ { print "db-path = \"" path "\"" }' deny.toml > "$tmp/deny.toml"
cargo fetch --locked --quiet
cargo deny --offline --locked --config "$tmp/deny.toml" check advisories

# Vendored crates (vendor/*, put in place by Cargo.toml's [patch.crates-io]) are path crates in
# Cargo.lock, which the check above does not match against advisories (tried with a made-up
# advisory for gix-pack 0.77.0: not reported; the same for memchr: reported). So each is checked
# as the crates.io release it was copied from, in a project of its own that depends on exactly
# that name and version.
vendored=()
for manifest in vendor/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    name="$(awk -F'"' '/^\[package\]/ { p = 1; next } /^\[/ { p = 0 } p && $1 ~ /^name = / { print $2 }' "$manifest")"
    ver="$(awk -F'"' '/^\[package\]/ { p = 1; next } /^\[/ { p = 0 } p && $1 ~ /^version = / { print $2 }' "$manifest")"
    if [ -z "$name" ] || [ -z "$ver" ]; then
        echo "advisories.sh: cannot read the name and version of $manifest" >&2
        exit 1
    fi
    vendored+=("$name $ver")
done
if [ "${#vendored[@]}" -gt 0 ]; then
    proj="$tmp/vendored"
    mkdir -p "$proj/src"
    : > "$proj/src/lib.rs"
    {
        printf '[package]\nname = "aiaudit-vendored-check"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n'
        for v in "${vendored[@]}"; do
            printf '%s = { version = "=%s", default-features = false }\n' "${v% *}" "${v#* }"
        done
    } > "$proj/Cargo.toml"
    (cd "$proj" && cargo generate-lockfile --quiet && cargo fetch --quiet)
    # deny.toml's ignores name advisories of the main tree, absent here: not a finding.
    cargo deny --offline --manifest-path "$proj/Cargo.toml" --config "$tmp/deny.toml" check \
        --allow advisory-not-detected advisories
    echo "vendored crates checked as their crates.io releases: ${vendored[*]}"
fi
echo "advisories ok: cargo deny check advisories, offline, against the RustSec advisory database snapshot (${stamp:-date unknown}; ../shared/advisory-db/SNAPSHOT.md): advisories published after it are not known to this check"
