#!/usr/bin/env bash
# Install Squall (editable) with its test extras into the current Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pip install --quiet --disable-pip-version-check -e '.[test]'
