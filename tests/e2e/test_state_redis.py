"""test_state.py's exactly-once test on the Redis backend (issue 13: "the same with the Redis
backend"): the stateful word count's workers killed -9 five times, its checkpoints in a real
redis-server (tests/conftest.py), the committed state equal to collections.Counter of the input;
and the same word count riding through a restart of redis-server."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
import state_topologies as S
from redis_server import RedisServer
from test_state import KILLS, N, counts, run_with_kills

from squall.local.coordinator import Coordinator
from squall.state import open_backend


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_exactly_once_through_five_kills_with_redis(redis_server, tmp_path) -> None:
    conf = {
        "topology.workers": 3,
        "test.n": N,
        "test.rate": 8000,
        "topology.state.provider": "redis",
        "topology.state.redis.url": redis_server.url,
        "squall.state.dir": str(tmp_path),  # must stay empty: nothing goes to SQLite
        "topology.state.checkpoint.interval.ms": 500,
    }
    backend = open_backend("StatefulWordCount", conf)
    backend.reset()  # a run of an earlier test session may have left this topology's keys
    backend.close()
    result, killed, coord = run_with_kills(conf, KILLS, seed=31)
    assert len(killed) == KILLS, f"the run ended after {len(killed)} kills"
    assert result.reason == "completed", result.message
    words, positions, committed = counts(conf)
    assert words == dict(S.expected(N))  # no double count, no loss
    assert sorted(positions.values()) == [N, N + 1]  # each spout task read its input to the end
    assert coord.statistics().checkpoints["committed"] == committed >= 3
    assert redis_server.client().get("squall:state:StatefulWordCount:committed") == str(committed).encode()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_redis_restart_mid_run_goes_unnoticed(tmp_path) -> None:
    """redis-server (a server of this test's own) stopped for 2 s while the topology checkpoints every
    500 ms: the workers' and the coordinator's calls wait for it (the backend's outage window), no
    worker is restarted, and the committed state is still exactly the input's counts."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        n = 100_000
        conf = {
            "topology.workers": 2,
            "test.n": n,
            "test.rate": 8000,  # ~6 s undisturbed
            "topology.state.provider": "redis",
            "topology.state.redis.url": server.url,
            "topology.state.checkpoint.interval.ms": 500,
        }
        coord = Coordinator(S.StatefulWordCount, conf, timeout=120, status_out=io.StringIO(), handle_signals=False)
        out: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: out.setdefault("result", coord.run()))
        runner.start()
        backend = open_backend("StatefulWordCount", conf)
        deadline = time.monotonic() + 60
        while backend.committed() < 2:
            assert runner.is_alive() and time.monotonic() < deadline, "no checkpoint committed"
            time.sleep(0.05)
        server.stop()
        time.sleep(2)
        server.start()
        runner.join(timeout=180)
        assert not runner.is_alive(), "the run did not end by itself"
        result = out["result"]
        assert result.reason == "completed", result.message
        assert all(inc == 0 for inc in coord.incarnation.values())  # no worker restarted
        assert coord.statistics().checkpoints["aborted"] == 0
        words, positions, committed = counts(conf)
        assert words == dict(S.expected(n)) and sorted(positions.values()) == [n, n + 1]
        assert committed == backend.committed() > 2
        backend.close()
    finally:
        server.stop()
