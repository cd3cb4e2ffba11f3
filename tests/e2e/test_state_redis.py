"""test_state.py's exactly-once test on the Redis backend (issue 13: "the same with the Redis
backend"): the stateful word count's workers killed -9 five times, its checkpoints in a real
redis-server (tests/conftest.py), the committed state equal to collections.Counter of the input."""

from __future__ import annotations

import pytest
import state_topologies as S
from test_state import KILLS, N, counts, run_with_kills

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
