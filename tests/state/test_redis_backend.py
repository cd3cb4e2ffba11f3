"""What only the Redis backend has: a server that goes away. Each test here starts its own
redis-server (append-only file, fsync always), to kill or stop it without disturbing the others."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time

import pytest
from backend_procs import BackendSpec, committer, expected, size
from redis_server import RedisServer, free_port

from squall.errors import ConfigError, StateError
from squall.state import open_backend
from squall.state import redis as redis_backend
from squall.state.redis import key_prefix

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.stop()


def spec_on(server: RedisServer) -> BackendSpec:
    return BackendSpec("wordcount", {"topology.state.provider": "redis", "topology.state.redis.url": server.url})


def test_keys_live_under_the_topologys_prefix(redis_server):
    backend = open_backend(
        "keys:demo", {"topology.state.provider": "redis", "topology.state.redis.url": redis_server.url}
    )
    try:
        backend.reset()
        backend.write(2, 1, {b"a": b"1"})
        backend.write(2, 2, {b"a": b"2"})
        backend.commit(1)
        keys = sorted(k.decode() for k in redis_server.client().keys("squall:state:keys%3Ademo:*"))
        prefix = key_prefix("keys:demo")
        assert prefix == "squall:state:keys%3Ademo:"
        assert keys == [
            prefix + k for k in ("commit.token", "committed", "pending", "pending:2:2", "sizes", "state:2", "tasks")
        ]
        assert redis_server.client().get(prefix + "committed") == b"1"
        backend.reset()
        assert redis_server.client().keys("squall:state:keys%3Ademo:*") == []
    finally:
        backend.close()


@pytest.fixture
def short_outages(monkeypatch):
    """Calls give up after 1 s without Redis (10 s otherwise), to keep these tests short."""
    monkeypatch.setattr(redis_backend, "OUTAGE_SECS", 1.0)


def test_no_server_at_the_url_is_a_state_error_naming_it_and_the_fix(short_outages):
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    t0 = time.monotonic()
    with pytest.raises(StateError) as caught:
        open_backend("t", {"topology.state.provider": "redis", "topology.state.redis.url": url})
    assert time.monotonic() - t0 >= 0.5  # it tried again for a while (OUTAGE_SECS)
    message = str(caught.value)
    assert url.replace("secret", "***") in message and "secret" not in message
    assert "tried for 1 s) -> is redis-server running there?" in message and "topology.state.redis.url" in message


def test_a_url_that_is_not_redis_is_a_config_error():
    with pytest.raises(ConfigError, match=r"topology.state.redis.url='http://host' is not a Redis URL .* redis://"):
        open_backend("t", {"topology.state.provider": "redis", "topology.state.redis.url": "http://host"})


def test_without_redis_py_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['redis'] = None\n"  # as if redis-py were not installed
        "from squall.state import open_backend\n"
        "open_backend('t', {'topology.state.provider': 'redis'})\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    assert "squall.ConfigError: topology.state.provider=redis needs redis-py" in out.stderr
    assert "pip install 'squall[redis]'" in out.stderr


def test_redis_stopped_then_started_again(own_redis, short_outages):
    """While Redis is down every call is a StateError naming the URL; once it is back the same
    backend works again, and what was committed (in the append-only file) is there."""
    backend = spec_on(own_redis).open()
    backend.write(0, 1, {b"a": b"1"})
    backend.commit(1)
    backend.write(0, 2, {b"a": b"2"})
    own_redis.stop()
    for call in (
        backend.committed,
        lambda: backend.write(0, 3, {}),
        lambda: backend.commit(2),
        lambda: backend.load(0),
    ):
        with pytest.raises(StateError, match=f"cannot reach {own_redis.url} .* is redis-server running there"):
            call()
    own_redis.start()
    assert backend.committed() == 1 and backend.load(0) == {b"a": b"1"}
    backend.commit(2)  # checkpoint 2, staged before Redis went down, is still pending
    assert backend.load(0) == {b"a": b"2"}
    backend.close()


@pytest.mark.timeout(180)
def test_redis_killed_during_commits_keeps_committed_and_state_in_agreement(own_redis):
    """redis-server killed with SIGKILL while a process stages and commits checkpoints, 3 times:
    after each restart the state holds exactly the changes of checkpoints <= committed (each
    commit is one script, logged in the append-only file as one MULTI block)."""
    spec = spec_on(own_redis)
    backend = spec.open()
    tasks = 3
    committed = 0
    for _ in range(3):
        proc = SPAWN.Process(target=committer, args=(spec, tasks))
        proc.start()
        try:
            deadline = time.monotonic() + 60
            while backend.committed() < committed + 20:
                assert proc.is_alive(), f"the committer exited with {proc.exitcode}"
                assert time.monotonic() < deadline, "the committer committed nothing for 60 s"
                time.sleep(0.002)
            own_redis.proc.kill()  # SIGKILL: no shutdown, no save; the append-only file is what remains
            own_redis.proc.wait(30)
        finally:
            proc.kill()
            proc.join(30)
        own_redis.start()
        now = backend.committed()
        assert now >= committed + 20
        for t in range(tasks):
            assert backend.load(t) == expected(t, now), f"task {t} at committed {now}"
            assert backend.size(t) == size(expected(t, now))
        committed = now
    backend.close()


def test_a_redis_restart_shorter_than_the_outage_window_goes_unnoticed(own_redis):
    """A commit and a write issued while redis-server is down (restarting) wait for it and succeed."""
    backend = spec_on(own_redis).open()
    backend.write(0, 1, {b"a": b"1"})
    backend.write(0, 2, {b"a": b"2"})
    backend.commit(1)
    own_redis.stop()
    restart = threading.Timer(1.5, own_redis.start)
    restart.start()
    try:
        t0 = time.monotonic()
        backend.commit(2)  # blocks until the server is back (OUTAGE_SECS: 10 s)
        assert time.monotonic() - t0 >= 1.0
        backend.write(0, 3, {b"a": b"3"})
    finally:
        restart.join()
    assert backend.committed() == 2 and backend.load(0) == {b"a": b"2"}
    backend.commit(3)
    assert backend.load(0) == {b"a": b"3"}
    backend.close()
