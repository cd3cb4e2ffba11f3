#!/usr/bin/env bash
# Set up and run the whole test suite (unit + end-to-end with real worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
exec $PY -m pytest "$@"
