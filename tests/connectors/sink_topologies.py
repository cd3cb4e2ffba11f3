"""A checkpointed word count whose running counts go to every kind of sink at once: the exactly-once
ones (SQLite and Redis, transactional and idempotent) and a plain at-least-once appender, so that
one run with kill -9 shows the difference (tests/connectors/test_exactly_once_sinks.py)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from typing import Any

from squall import Bolt, Grouping, Spout, StatefulBolt, Topology
from squall.connectors.redis_sinks import RedisIdempotentSink, RedisTransactionalSink
from squall.connectors.sqlite_sinks import SqliteIdempotentSink, SqliteTransactionalSink

WORDS = [f"w{i:02d}" for i in range(40)] + ["Dog", "Cat", "Zebra"]
BURST = 20  # words per next_tuple call
REDIS_PREFIX = "sinktest"  # every Redis key of the test starts with it


def word(i: int) -> str:
    """The i-th word of the input: deterministic, uneven (some words far more frequent)."""
    return WORDS[(i * 7919 + (i // 3) * 13) % len(WORDS)] if i % 4 else WORDS[(i // 4) % 3 + 40]


def expected(n: int) -> Counter[str]:
    return Counter(word(i).lower() for i in range(n))


class NumberedWords(Spout):
    """Words 0..n-1 split over its tasks (task k of p emits i with i % p == k), paced at ``test.rate``
    words/s per task (so that the run lasts long enough to kill workers in it); rewinds by index."""

    outputs = ["word"]

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        tasks = sorted(ctx.component_tasks(ctx.component_id))
        self.step = len(tasks)
        self.i = tasks.index(self.task_id)
        self.n = int(conf["test.n"])
        self.rate = float(conf["test.rate"])
        self.t0 = time.monotonic()
        self.emitted = 0

    def next_tuple(self) -> None:
        if self.i >= self.n:
            raise StopIteration
        if self.emitted > (time.monotonic() - self.t0) * self.rate:
            return
        for _ in range(BURST):
            if self.i >= self.n:
                return
            self.emit([word(self.i)])
            self.i += self.step
            self.emitted += 1

    def position(self) -> int:
        return self.i

    def seek(self, position: Any) -> None:
        self.i = int(position)

    def commit(self, position: Any) -> None:
        pass


class Lower(Bolt):
    outputs = ["word"]

    def process(self, tup: Any) -> None:
        self.emit([tup.values[0].lower()])


class StatefulCount(StatefulBolt):
    """Emits (word, its count so far): each pair exactly once in a run without crashes."""

    outputs = ["word", "count"]

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        n = self.state.get(w, 0) + 1
        self.state[w] = n
        self.emit([w, n])


class AppendSink(Bolt):
    """At-least-once: appends each pair to ``<test.dir>/appended-<task>.log`` at once (one write per
    tuple, unbuffered, so what was written before a kill -9 stays)."""

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        path = os.path.join(conf["test.dir"], f"appended-{self.task_id}.log")
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def process(self, tup: Any) -> None:
        os.write(self.fd, f"{tup.values[0]} {tup.values[1]}\n".encode())


class CrashingSqliteSink(SqliteTransactionalSink):
    """Kills its own worker (SIGKILL) in ``write`` the first time a batch of checkpoint 3 or later is
    to be written, before writing it: that batch is committed but not written, so the restart must
    write it from the restored state (the window a random kill rarely hits)."""

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        super().initialize(conf, context)
        self.marker = os.path.join(conf["test.dir"], "crashed-in-write")

    def write(self, checkpoint_id: int, records: list[Any]) -> None:
        if checkpoint_id >= 3 and not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write(f"{checkpoint_id} {self.task_id}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        super().write(checkpoint_id, records)


COLUMNS = {"sqlite.columns": ["word", "count"]}


class SinkWordCount(Topology):
    # placeholders: the test gives the real file and server (keys every sink of that kind shares)
    config = {"sqlite.path": "placeholder.sqlite3", "redis.url": "redis://127.0.0.1:6379/0"}
    words = NumberedWords.spec(par=2)
    lower = Lower.spec(inputs=[words], par=2)
    count = StatefulCount.spec(inputs={lower: Grouping.fields("word")}, par=2)
    sqlite_batches = SqliteTransactionalSink.spec(inputs=[count], par=2, config={"sqlite.table": "batches", **COLUMNS})
    crashing = CrashingSqliteSink.spec(inputs=[count], par=2, config={"sqlite.table": "crashing", **COLUMNS})
    redis_batches = RedisTransactionalSink.spec(
        inputs=[count], par=2, config={"redis.key.prefix": REDIS_PREFIX, "redis.fields": ["word", "count"]}
    )
    sqlite_last = SqliteIdempotentSink.spec(
        inputs={count: Grouping.fields("word")},
        par=2,
        config={"sqlite.table": "last", "sqlite.key": "word", **COLUMNS},
    )
    redis_last = RedisIdempotentSink.spec(
        inputs={count: Grouping.fields("word")},
        par=2,
        config={"redis.hash": f"{REDIS_PREFIX}:last", "redis.key.field": "word", "redis.value.field": "count"},
    )
    appended = AppendSink.spec(inputs=[count], par=2)
