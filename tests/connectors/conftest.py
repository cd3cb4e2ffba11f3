"""Connector tests: real brokers started once per session on 127.0.0.1 (each broker's fixture lives
in its own ``<broker>_server.py`` module, imported by the tests that need it; Redis's is shared
with tests/state: tests/redis_server.py, its fixture in tests/conftest.py)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Every test in tests/connectors runs real topologies against real brokers: marked ``e2e``."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
