#!/usr/bin/env bash
# Install Squall (editable) with its test and dev extras (pytest..., ruff, mypy) into the current Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[test,dev]'
# pyenv installs console scripts behind shims: make `squall` visible now.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
