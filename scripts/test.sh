#!/usr/bin/env bash
# Set up, run the static checks (scripts/check), then the whole test suite (unit + end-to-end
# with real worker processes). Fails on any check finding or test failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check
PY=${PYTHON:-python3}
exec $PY -m pytest "$@"
