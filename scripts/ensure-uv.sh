#!/usr/bin/env bash
# Prints the path of a uv binary, installing uv from PyPI into .uv/ when none is on PATH.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then
    command -v uv
    exit 0
fi
if [ -x .uv/bin/uv ]; then
    echo .uv/bin/uv
    exit 0
fi
PYTHON="${PYTHON:-python3}"
echo "uv not found; installing it into .uv/ from PyPI" >&2
if "${PYTHON}" -m venv .uv >/dev/null 2>&1 && .uv/bin/python -m pip --version >/dev/null 2>&1; then
    .uv/bin/python -m pip install -q uv >&2
    echo .uv/bin/uv
    exit 0
fi
# Debian without python3-venv: a user install of uv's wheel works without ensurepip.
rm -rf .uv
"${PYTHON}" -m pip install -q --user --break-system-packages uv >&2 \
    || "${PYTHON}" -m pip install -q --user uv >&2
USER_BIN="$("${PYTHON}" -m site --user-base)/bin"
echo "${USER_BIN}/uv"
