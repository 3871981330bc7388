#!/usr/bin/env bash
# Supply-chain checks: `cargo deny check licenses bans sources` against deny.toml. Installs
# cargo-deny from crates.io (pinned, --locked) when it is missing. These checks read only
# Cargo.lock and the local registry cache: no network beyond the package registry.
# Advisories are checked by scripts/advisories.sh against the offline RustSec snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$version"; then
    echo "installing cargo-deny $version from crates.io"
    cargo install --locked --quiet cargo-deny --version "$version"
fi
cargo deny --locked check licenses bans sources
