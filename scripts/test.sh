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

# GNU time measures the hook's peak memory in the hostile-input tests (they note its absence).
if [ ! -x /usr/bin/time ] && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null; } \
        || echo "test.sh: could not install GNU time; the hook's peak memory will not be measured" >&2
fi

# The HTML report is checked in a real headless Chromium (the test skips loudly without it).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: Chromium is missing; installing it (the report test renders the HTML page)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
        || echo "test.sh: could not install Chromium; the HTML report test will be skipped" >&2
fi

# Real git servers for the transport tests (tests/e2e/transports.rs): gitolite behind sshd,
# and git http-backend behind nginx and fcgiwrap. The tests start and stop them on loopback
# ports; installing the packages starts no service here (no init system runs them).
missing=""
for pair in gitolite:gitolite3 sshd:openssh-server ssh:openssh-client nginx:nginx fcgiwrap:fcgiwrap; do
    program="${pair%%:*}" package="${pair#*:}"
    if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$program" ]; then
        missing="$missing $package"
    fi
done
if [ -n "$missing" ]; then
    echo "test.sh: installing the git servers the transport tests run:$missing" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    # Debian's packages would start their services (sshd on 22, nginx on 80) where an init
    # system runs; policy-rc.d (invoke-rc.d(8)) says no during the install. The tests run
    # their own instances on loopback ports.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$guard" >/dev/null && $SUDO chmod 755 "$guard"
    fi
    status=0
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; } || status=$?
    if [ -n "$guard" ]; then $SUDO rm -f "$guard"; fi
    if [ "$status" != 0 ]; then
        echo "test.sh: could not install$missing; the transport tests need them" >&2
        exit 1
    fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
