"""State backend tests: each runs on both backends, SQLite (a file under the test's tmp_path) and
Redis (the session's real redis-server, tests/conftest.py), through ``open_backend`` as the
runtime opens them. ``backend_spec`` is plain data, so child processes open the same backend."""

from __future__ import annotations

import itertools
import os

import pytest
from backend_procs import BackendSpec

from squall.state import StateBackend

_names = itertools.count()


@pytest.fixture(params=["sqlite", "redis"])
def backend_spec(request, tmp_path) -> BackendSpec:
    """A fresh topology (name unique in the session) on one backend."""
    topology = f"test:{os.getpid()}:{next(_names)}"  # ':' is escaped in the file name and the Redis keys
    if request.param == "sqlite":
        return BackendSpec(topology, {"topology.state.provider": "sqlite", "squall.state.dir": str(tmp_path / "st")})
    server = request.getfixturevalue("redis_server")
    return BackendSpec(topology, {"topology.state.provider": "redis", "topology.state.redis.url": server.url})


@pytest.fixture
def open_instance(backend_spec):
    """Opens a new instance of the test's backend each call (as another process would); closes them after."""
    opened: list[StateBackend] = []

    def open_() -> StateBackend:
        backend = backend_spec.open()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(open_instance) -> StateBackend:
    return open_instance()
