"""Exactly-once sinks: the buffering of TransactionalSink across barriers, commits and restarts, the
last-value-wins batches of IdempotentSink, and the SQLite sinks' writes (a real file) and config
checks. The end-to-end proof with kill -9 is tests/connectors/test_exactly_once_sinks.py."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from typing import Any

import pytest

from squall import IdempotentSink, TransactionalSink, Tuple
from squall.connectors.redis_sinks import RedisIdempotentSink, RedisTransactionalSink
from squall.connectors.sqlite_sinks import SqliteIdempotentSink, SqliteTransactionalSink
from squall.errors import DeliveryError
from squall.state.kv import KeyValueState
from squall.topology.sinks import BATCH_KEY

Values = namedtuple("Values", ["word", "count"])


def tup(word: str, count: int) -> Tuple:
    return Tuple(None, "count", "default", 1, Values(word, count))


class ListSink(TransactionalSink):
    """Writes into ``self.out`` (checkpoint -> records); ``fail`` makes the next write raise."""

    def __init__(self) -> None:
        self.state = KeyValueState()
        self.out: dict[int, list[Any]] = {}
        self.calls: list[int] = []
        self.fail = False
        self.done: set[int] = set()

    def write(self, checkpoint_id: int, records: list[Any]) -> None:
        self.calls.append(checkpoint_id)
        if self.fail:
            raise DeliveryError("down")
        self.out[checkpoint_id] = records

    def already_written(self, checkpoint_id: int) -> bool:
        return checkpoint_id in self.done


def restored(sink: ListSink) -> ListSink:
    """A new task instance after a crash: its state is what the last checkpoint staged."""
    again = ListSink()
    again.state = KeyValueState.restored({k: v for k, v in sink.state.take_changes().items() if v is not None})
    return again


def test_a_batch_is_written_only_once_its_checkpoint_is_committed() -> None:
    s = ListSink()
    s.process(tup("a", 1))
    s.process(tup("b", 1))
    s.pre_commit(1)
    s.process(tup("a", 2))  # after barrier 1: belongs to checkpoint 2
    assert s.out == {}
    assert (BATCH_KEY, 1) in s.state.changed  # in the state staged with checkpoint 1
    s.checkpoint_committed(1)
    assert s.out == {1: [["a", 1], ["b", 1]]}
    assert (BATCH_KEY, 1) not in s.state  # written: gone from the state (staged as a deletion)
    s.pre_commit(2)
    s.pre_commit(3)  # nothing buffered: no batch
    s.checkpoint_committed(3)
    assert s.out == {1: [["a", 1], ["b", 1]], 2: [["a", 2]]}
    assert s._squall_metrics() == (
        {"sink_batches_written": 2, "sink_records_written": 3, "sink_records_dropped": 0},
        {"sink_batches_unwritten": 0},
    )


def test_a_committed_batch_not_written_before_a_crash_is_written_at_the_first_commit_after_it() -> None:
    s = ListSink()
    for i in range(3):
        s.buffer(["x", i])
    s.pre_commit(4)  # checkpoint 4 staged (and committed by the coordinator), then the worker dies
    after = restored(s)
    assert after.out == {}
    after.buffer(["y", 0])
    after.pre_commit(5)
    after.checkpoint_committed(5)
    assert after.out == {4: [["x", 0], ["x", 1], ["x", 2]], 5: [["y", 0]]}
    assert after.calls == [4, 5]  # in checkpoint order


def test_already_written_batches_are_not_written_again() -> None:
    s = ListSink()
    s.buffer("r")
    s.pre_commit(1)
    after = restored(s)
    after.done = {1}
    after.checkpoint_committed(1)
    assert after.calls == [] and (BATCH_KEY, 1) not in after.state


def test_a_failed_write_is_retried_at_the_next_commit_in_order() -> None:
    s = ListSink()
    s.buffer("a")
    s.pre_commit(1)
    s.fail = True
    with pytest.raises(DeliveryError):
        s.checkpoint_committed(1)
    s.buffer("b")
    s.pre_commit(2)
    assert s._squall_metrics()[1] == {"sink_batches_unwritten": 2}
    s.fail = False
    s.checkpoint_committed(2)
    assert s.calls == [1, 1, 2] and s.out == {1: ["a"], 2: ["b"]}


def test_records_that_cannot_be_checkpointed_are_dropped_and_counted() -> None:
    s = ListSink()
    s.buffer(["ok", 1])
    s.buffer(["bad", object()])
    s.pre_commit(1)
    s.buffer({1, 2})  # a set: not msgpack
    s.pre_commit(2)  # nothing left: no batch
    s.checkpoint_committed(2)
    assert s.out == {1: [["ok", 1]]}
    assert s._squall_metrics()[0]["sink_records_dropped"] == 2


def test_user_state_beside_the_batches_is_left_alone() -> None:
    s = ListSink()
    s.state["total"] = 3
    s.buffer("a")
    s.pre_commit(1)
    after = restored(s)
    after.checkpoint_committed(1)
    assert after.out == {1: ["a"]} and dict(after.state) == {"total": 3}


class DictSink(IdempotentSink):
    def __init__(self) -> None:
        self.table: dict[Any, Any] = {}
        self.fail = False
        self.batches: list[dict[Any, Any]] = []

    def key_value(self, tup: Tuple) -> tuple[Any, Any]:
        return tup.values.word, tup.values.count

    def upsert(self, items: dict[Any, Any]) -> None:
        self.batches.append(dict(items))
        if self.fail:
            raise DeliveryError("down")
        self.table.update(items)


def test_idempotent_batches_keep_the_last_value_of_each_key() -> None:
    s = DictSink()
    s.process_batch(None, [tup("a", 1), tup("b", 1), tup("a", 2)])
    assert s.batches == [{"a": 2, "b": 1}]
    s.process_batch(None, [tup("a", 3), tup("a", 2)])  # a replay after a rollback: overwrites, never adds
    assert s.table == {"a": 2, "b": 1}


def test_an_idempotent_write_that_failed_is_written_again_under_what_came_after() -> None:
    s = DictSink()
    s.fail = True
    with pytest.raises(DeliveryError):
        s.process_batch(None, [tup("a", 1), tup("b", 1)])
    s.fail = False
    s.process_batch(None, [tup("a", 2)])
    assert s.table == {"a": 2, "b": 1}
    assert s._squall_metrics() == ({"sink_upserts": 2}, {"sink_retry_items": 0})


def test_an_idempotent_sink_ticks_at_its_flush_interval() -> None:
    class Every(DictSink):
        flush_interval = 0.5

    class Own(DictSink):
        config = {"topology.tick.tuple.freq.secs": 2, "other": 1}

    assert DictSink.config == {"topology.tick.tuple.freq.secs": 0.1}
    assert Every.config == {"topology.tick.tuple.freq.secs": 0.5}
    assert Own.config == {"topology.tick.tuple.freq.secs": 2, "other": 1}


def sqlite_conf(path: Any, **more: Any) -> dict[str, Any]:
    return {"sqlite.path": str(path), "sqlite.table": "out", "sqlite.columns": ["word", "count"], **more}


def test_sqlite_transactional_sink_writes_each_batch_once(tmp_path: Any) -> None:
    s = SqliteTransactionalSink()
    s.task_id = 7
    s.state = KeyValueState()
    s.initialize(sqlite_conf(tmp_path / "out.db"), None)
    s.process(tup("a", 1))
    s.process(tup("b", [1, 2]))  # not a column type: stored as JSON
    s.pre_commit(3)
    s.write(3, [["a", 1]])  # as if written before a crash, then again below
    s.checkpoint_committed(3)
    s.cleanup()
    rows = sqlite3.connect(tmp_path / "out.db").execute("SELECT * FROM out ORDER BY seq").fetchall()
    assert rows == [(3, 7, 0, "a", 1), (3, 7, 1, "b", "[1,2]")]


def test_sqlite_idempotent_sink_upserts_by_key(tmp_path: Any) -> None:
    s = SqliteIdempotentSink()
    s.initialize(sqlite_conf(tmp_path / "out.db", **{"sqlite.key": "word"}), None)
    s.process_batch(None, [tup("a", 1), tup("b", 1), tup("a", 2)])
    s.process_batch(None, [tup("a", 2), tup("b", 1)])
    s.cleanup()
    rows = sqlite3.connect(tmp_path / "out.db").execute("SELECT * FROM out ORDER BY word").fetchall()
    assert rows == [("a", 2), ("b", 1)]


def test_sqlite_sink_that_cannot_open_its_file_names_it_and_the_fix(tmp_path: Any) -> None:
    s = SqliteTransactionalSink()
    with pytest.raises(DeliveryError, match=r"sqlite\.path"):
        s.initialize(sqlite_conf(tmp_path / "missing" / "out.db"), None)


def test_sinks_without_their_write_methods_are_refused_when_the_topology_is_built() -> None:
    from squall import Grouping, InvalidTopologyError, Spout, Topology

    class Words(Spout):
        outputs = ["word", "count"]

        def position(self) -> int:
            return 0

        def seek(self, position: Any) -> None:
            pass

    class NoWrite(TransactionalSink):
        pass

    class NoUpsert(IdempotentSink):
        def key_value(self, tup: Tuple) -> tuple[Any, Any]:
            return tup.values[0], tup.values[1]

    with pytest.raises(InvalidTopologyError) as err:

        class Broken(Topology):
            words = Words.spec()
            tx = NoWrite.spec(inputs=[words])
            last = NoUpsert.spec(inputs={words: Grouping.fields("word")})

    text = str(err.value)
    assert "component 'tx': NoWrite is a TransactionalSink without write(checkpoint_id, records)" in text
    assert "component 'last': NoUpsert is an IdempotentSink without upsert()" in text
    assert ListSink.config_problems({}) == [] and DictSink.config_problems({}) == []


@pytest.mark.parametrize(
    ("cls", "conf", "expected"),
    [
        (SqliteTransactionalSink, {}, "needs 'sqlite.path'"),
        (SqliteTransactionalSink, {"sqlite.columns": "word", "sqlite.path": "p", "sqlite.table": "t"}, None),
        (SqliteTransactionalSink, {"sqlite.columns": [1], "sqlite.path": "p", "sqlite.table": "t"}, "not a list"),
        (SqliteTransactionalSink, {"sqlite.columns": ["seq"], "sqlite.path": "p", "sqlite.table": "t"}, "own column"),
        (SqliteTransactionalSink, {**sqlite_conf("p"), "sqlite.tabel": "x"}, "unknown key 'sqlite.tabel'"),
        (SqliteIdempotentSink, sqlite_conf("p"), "needs 'sqlite.key'"),
        (SqliteIdempotentSink, sqlite_conf("p", **{"sqlite.key": "w"}), "not among sqlite.columns"),
        (SqliteIdempotentSink, sqlite_conf("p", **{"sqlite.key": ["word"]}), None),
        (RedisTransactionalSink, {"redis.url": "redis://x"}, "needs 'redis.key.prefix'"),
        (RedisTransactionalSink, {"redis.url": "u", "redis.key.prefix": "p", "redis.fields": "word"}, "not a list"),
        (RedisIdempotentSink, {"redis.url": "u", "redis.hash": "h"}, "needs 'redis.key.field'"),
    ],
)
def test_config_problems(cls: Any, conf: dict[str, Any], expected: str | None) -> None:
    texts = [text for text, _fix in cls.config_problems(conf)]
    if expected is None:
        assert texts == []
    else:
        assert any(expected in t for t in texts), texts


def test_a_sink_stopping_with_records_it_did_not_write_says_so(caplog: pytest.LogCaptureFixture) -> None:
    s = ListSink()
    s.cleanup()
    assert caplog.records == []
    s.buffer("a")
    s.pre_commit(1)
    s.buffer("b")
    s.cleanup()
    assert "1 record(s) buffered after the last committed checkpoint and 1 committed batch(es)" in caplog.text
