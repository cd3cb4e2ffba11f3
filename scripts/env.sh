# The Python environment Squall's scripts use; sourced by setup.sh, check, test.sh and squall.
#
# An active environment is used as it is: a virtualenv ($VIRTUAL_ENV) or a conda environment
# ($CONDA_PREFIX). Otherwise the project's own virtualenv, .venv at the repository root (gitignored),
# which scripts/setup.sh creates from $PYTHON (default: python3 on PATH, whether the system's, pyenv's
# or another; it must be >= 3.11 with its venv module). Nothing is ever installed into a Python that
# is not a virtualenv or conda environment (a system Python refuses it: PEP 668).
#
# Sets: SQUALL_ROOT (the repository), SQUALL_ENV (the environment's prefix), PY (its python).
SQUALL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    SQUALL_ENV=$VIRTUAL_ENV
elif [[ -n "${CONDA_PREFIX:-}" ]]; then
    SQUALL_ENV=$CONDA_PREFIX
else
    SQUALL_ENV=$SQUALL_ROOT/.venv
fi
PY=$SQUALL_ENV/bin/python

# The Python .venv is created from (when no environment is active).
base_python() {
    printf '%s' "${PYTHON:-python3}"
}

# True when python "$1" runs and is >= 3.11.
python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
