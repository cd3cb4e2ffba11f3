#!/usr/bin/env bash
# Install Squall (editable) with its test and dev extras (pytest..., ruff, mypy) into the Python
# environment of scripts/env.sh: the active virtualenv or conda environment, else the project's
# .venv, created here from $PYTHON (default python3; >= 3.11 with its venv module). Run the tools
# from that environment with scripts/squall (and scripts/check, scripts/test.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$SQUALL_ROOT"

if [[ $SQUALL_ENV == "$SQUALL_ROOT/.venv" ]] && ! python_ok "$PY"; then
    base=$(base_python)
    if ! command -v "$base" >/dev/null 2>&1; then
        echo "setup: no $base on PATH: Squall needs Python >= 3.11 with its venv module" \
            "(Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
        exit 1
    fi
    if ! python_ok "$base"; then
        echo "setup: $base is Python $("$base" -c 'import platform; print(platform.python_version())' 2>/dev/null):" \
            "Squall needs >= 3.11 (set PYTHON=/path/to/python3.11 or activate an environment with it)" >&2
        exit 1
    fi
    if ! "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        echo "setup: $base has no venv module with pip (ensurepip); install it first:" >&2
        echo "    sudo apt-get install python3-venv" >&2
        exit 1
    fi
    echo "setup: creating .venv with $("$base" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$base" -m venv --clear .venv
elif ! python_ok "$PY"; then
    echo "setup: the active environment $SQUALL_ENV has no Python >= 3.11 ($PY): Squall needs 3.11 or newer" >&2
    exit 1
fi

# Skip pip when this checkout is installed in the environment already with this pyproject.toml
# (a stamp file in the environment: delete it, or the .venv, to reinstall).
stamp=$SQUALL_ENV/.squall-setup
want="$SQUALL_ROOT $(cksum <pyproject.toml)"
if [[ -f $stamp && $(<"$stamp") == "$want" ]] &&
    "$PY" -I -c 'import os, sys, squall; sys.exit(not squall.__file__.startswith(sys.argv[1] + os.sep))' \
        "$SQUALL_ROOT" >/dev/null 2>&1; then
    echo "setup: squall is installed in $SQUALL_ENV"
    exit 0
fi
echo "setup: installing squall and its test and dev tools into $SQUALL_ENV"
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
printf '%s' "$want" >"$stamp"
echo "setup: done: run squall as scripts/squall (e.g. scripts/squall run examples/wordcount/topology.py)"
