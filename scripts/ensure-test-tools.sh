#!/usr/bin/env bash
# Installs the programs the test suite runs, when missing (root only, Debian/Ubuntu):
# Chromium for the browser tests, redis-server for the Redis channel-layer tests (each test
# session starts a private one; without it the tests use a Redis at 127.0.0.1:6379, db 15).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "Missing for the tests: ${missing[*]}; run 'sudo apt-get install -y ${missing[*]}'" >&2
    # Chromium has no fallback; redis-server has one (a Redis already running locally).
    if [[ " ${missing[*]} " == *" chromium "* ]]; then
        exit 1
    fi
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
