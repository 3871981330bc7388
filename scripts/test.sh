#!/usr/bin/env bash
# Runs aiaudit's whole test suite. Installs what the tests need (GnuPG) when it is missing.
# Usage: bash scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v gpg >/dev/null 2>&1; then
    echo "test.sh: GnuPG is missing; installing it (the interop and hook tests use real gpg keys)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnupg >/dev/null
fi

cargo test --locked "$@"
