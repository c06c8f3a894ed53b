#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing (root only).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "Chromium is missing: run 'sudo apt-get install -y chromium' for the browser tests" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
