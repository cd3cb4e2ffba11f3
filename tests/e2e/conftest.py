from pathlib import Path

import pytest
from cli_process import CliProcess

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Every test in tests/e2e is marked ``e2e`` (select or deselect them with -m)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(params=[1, 2], ids=["in-process", "2-workers"])
def workers(request):
    """Run each end-to-end test in this process and on 2 real worker processes."""
    return request.param


@pytest.fixture
def squall_cli():
    """Start ``squall ARGS`` in a child process (a ``CliProcess``); any still running is killed at teardown."""
    started = []

    def start(*args, **kw):
        p = CliProcess(*args, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
