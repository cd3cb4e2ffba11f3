"""Topologies of bench/sinks.py: a checkpointed word count whose (word, count) output goes to one
kind of sink per topology (none, a plain appending bolt, the SQLite transactional and idempotent
sinks, the Redis ones)."""

from __future__ import annotations

import os
from typing import Any

from squall import Bolt, Grouping, Spout, StatefulBolt, Topology
from squall.connectors.redis_sinks import RedisIdempotentSink, RedisTransactionalSink
from squall.connectors.sqlite_sinks import SqliteIdempotentSink, SqliteTransactionalSink

WORDS = [f"w{i:03d}" for i in range(500)]


def word(i: int) -> str:
    return WORDS[(i * 7919) % len(WORDS)]


class Words(Spout):
    """Words 0..bench.n-1 split over its tasks, as fast as they are taken; rewinds by index."""

    outputs = ["word"]

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        tasks = sorted(ctx.component_tasks(ctx.component_id))
        self.step, self.i, self.n = len(tasks), tasks.index(self.task_id), int(conf["bench.n"])

    def next_tuple(self) -> None:
        if self.i >= self.n:
            raise StopIteration
        for _ in range(50):
            if self.i >= self.n:
                return
            self.emit([word(self.i)])
            self.i += self.step

    def position(self) -> int:
        return self.i

    def seek(self, position: Any) -> None:
        self.i = int(position)

    def commit(self, position: Any) -> None:
        pass


class Count(StatefulBolt):
    outputs = ["word", "count"]

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        n = self.state[w] = self.state.get(w, 0) + 1
        self.emit([w, n])


class Append(Bolt):
    """At-least-once: each pair appended to a file at once (one write per tuple)."""

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        path = os.path.join(conf["bench.dir"], f"appended-{self.task_id}.log")
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def process(self, tup: Any) -> None:
        os.write(self.fd, f"{tup.values[0]} {tup.values[1]}\n".encode())


COLS = {"sqlite.columns": ["word", "count"]}
CONFIG = {"sqlite.path": "placeholder", "redis.url": "redis://127.0.0.1:6379/0"}


class Base(Topology):
    config = CONFIG
    words = Words.spec(par=2)
    count = Count.spec(inputs={words: Grouping.fields("word")}, par=2)


class NoSink(Base):
    pass


class AppendSink(Base):
    sink = Append.spec(inputs=[Base.count], par=2)


class SqliteTx(Base):
    sink = SqliteTransactionalSink.spec(inputs=[Base.count], par=2, config={"sqlite.table": "tx", **COLS})


class SqliteLast(Base):
    sink = SqliteIdempotentSink.spec(
        inputs={Base.count: Grouping.fields("word")},
        par=2,
        config={"sqlite.table": "last", "sqlite.key": "word", **COLS},
    )


class RedisTx(Base):
    sink = RedisTransactionalSink.spec(
        inputs=[Base.count], par=2, config={"redis.key.prefix": "benchsinks", "redis.fields": ["word", "count"]}
    )


class RedisLast(Base):
    sink = RedisIdempotentSink.spec(
        inputs={Base.count: Grouping.fields("word")},
        par=2,
        config={"redis.hash": "benchsinks:last", "redis.key.field": "word", "redis.value.field": "count"},
    )


VARIANTS = {
    "none": NoSink,
    "append": AppendSink,
    "sqlite-tx": SqliteTx,
    "sqlite-last": SqliteLast,
    "redis-tx": RedisTx,
    "redis-last": RedisLast,
}
