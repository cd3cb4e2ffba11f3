#!/usr/bin/env bash
# Set up (scripts/setup.sh), run the static checks (scripts/check), then the whole test suite (unit +
# end-to-end with real worker processes), all from the environment of scripts/env.sh. Fails on any
# check finding or test failure. Arguments go to pytest.
#
# The tests need a few system packages. Run as root (as CI does), this installs the missing ones
# with apt-get; otherwise it prints the one apt-get line to run first, and stops.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$SQUALL_ROOT"

# System packages the tests need: `need PACKAGE COMMAND...` adds PACKAGE when COMMAND fails.
# Later issues add theirs here (message brokers, ...).
missing=()
need() {
    local package=$1
    shift
    "$@" >/dev/null 2>&1 || missing+=("$package")
}
if [[ $SQUALL_ENV == "$SQUALL_ROOT/.venv" ]] && ! python_ok "$PY"; then
    need python3-venv "$(base_python)" -c 'import venv, ensurepip' # to create .venv
fi
need chromium test -x /usr/bin/chromium # the web UI's browser test (tests/e2e/test_ui_browser.py)
need nodejs command -v node # multilang components in Node.js (tests/e2e/test_multilang.py)
need npm command -v npm       # ... node-storm installed from its package-lock.json by that test
need rabbitmq-server test -x /usr/lib/rabbitmq/bin/rabbitmq-server # tests/connectors/test_rabbitmq.py (started by the test)
need redis-server command -v redis-server # state backends, connectors, sinks, cluster state tests (started by the tests)
need graphviz command -v dot # squall visualize --format svg (tests/unit/test_graph.py, the e2e CLI tests)

if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing the system packages the tests need: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "test.sh: the tests need system packages that are missing; install them first:" >&2
        echo "    sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

bash scripts/setup.sh
bash scripts/check
exec "$PY" -m pytest "$@"
