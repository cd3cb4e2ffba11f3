"""A topology with a StatefulBolt is refused before anything starts when its state could not be
exactly-once: a spout that cannot rewind, a window or a shell in it, a bad interval."""

from __future__ import annotations

from typing import Any

import pytest

from squall import InvalidTopologyError, Spout, StatefulBolt, Topology, Tumbling, WindowedBolt
from squall.state import KeyValueState


class Plain(Spout):
    outputs = ["word"]


class Rewinds(Spout):
    outputs = ["word"]

    def position(self) -> int:
        return 0

    def seek(self, position: Any) -> None:
        pass


class AsyncRewinds(Rewinds):
    async def next_tuple(self) -> None:  # type: ignore[override]
        pass


class Counts(StatefulBolt):
    pass


class Windows(WindowedBolt):
    window = Tumbling(5)


def refused(attrs: dict[str, Any]) -> str:
    with pytest.raises(InvalidTopologyError) as e:
        type("T", (Topology,), attrs)
    return str(e.value)


def test_a_spout_that_cannot_rewind_is_refused() -> None:
    src = Plain.spec()
    text = refused({"src": src, "count": Counts.spec(inputs=[src])})
    assert "spout Plain cannot rewind" in text and "count is a StatefulBolt" in text
    assert "FileSpout, KafkaSpout, RedisStreamSpout" in text and "position(), seek(position)" in text


def test_a_rewinding_spout_is_accepted() -> None:
    src = Rewinds.spec()
    type("T", (Topology,), {"src": src, "count": Counts.spec(inputs=[src])})


def test_an_async_spout_windows_and_a_bad_interval_are_refused() -> None:
    src = AsyncRewinds.spec()
    assert "runs async" in refused({"src": src, "count": Counts.spec(inputs=[src])})
    src = Rewinds.spec()
    text = refused({"src": src, "count": Counts.spec(inputs=[src]), "win": Windows.spec(inputs=[src])})
    assert "is a WindowedBolt" in text and "rollback would lose them" in text
    src = Rewinds.spec()
    text = refused(
        {"src": src, "count": Counts.spec(inputs=[src]), "config": {"topology.state.checkpoint.interval.ms": 0}}
    )
    assert "topology.state.checkpoint.interval.ms is 0" in text


def test_key_value_state_knows_what_changed() -> None:
    s = KeyValueState({"a": 1})
    assert s.changed == {"a"}
    s.take_changes()
    s["b"] = 2
    s.setdefault("c", 3)
    s.setdefault("a", 9)  # present: not a change
    s.pop("a")
    s.update({"d": 4})
    del s["b"]
    s[("x", 1)] = [1, 2]
    changes = s.take_changes()
    assert s.changed == set() and len(changes) == 4  # "b" came and went between two checkpoints
    restored = KeyValueState.restored({k: v for k, v in changes.items() if v is not None})
    assert restored == {"c": 3, "d": 4, ("x", 1): [1, 2]} and restored.changed == set()


def test_a_spouts_own_checkpoint_limits_are_refused() -> None:
    from squall.connectors.redis_streams import RedisStreamSpout

    conf = {"redis.url": "redis://127.0.0.1:6379/0", "redis.stream": "words", "redis.group": "g"}
    src = RedisStreamSpout.spec(config=conf, par=2)
    text = refused({"src": src, "count": Counts.spec(inputs=[src])})
    assert "par=2, and a stream has one position" in text and "set par=1" in text
    src = RedisStreamSpout.spec(config=conf, par=1)
    type("T", (Topology,), {"src": src, "count": Counts.spec(inputs=[src])})
