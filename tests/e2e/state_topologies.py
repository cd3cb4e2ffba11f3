"""Topologies with checkpointed state (StatefulBolt) for the exactly-once tests."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from squall import Bolt, Grouping, Spout, StatefulBolt, Topology

WORDS = [f"w{i:02d}" for i in range(50)] + ["dog", "cat", "zebra", "elephant"]
BURST = 20  # words per next_tuple call


def word(i: int) -> str:
    """The i-th word of the input: deterministic, uneven (some words far more frequent)."""
    return WORDS[(i * 7919 + (i // 3) * 13) % len(WORDS)] if i % 5 else WORDS[(i // 5) % 4 + 50]


def expected(n: int) -> Counter[str]:
    return Counter(word(i) for i in range(n))


class NumberedWords(Spout):
    """Words 0..n-1, split over its tasks (task k of p emits i with i % p == k); rewinds by index.

    ``test.rate`` (words/s per task, 0: no pacing) makes a run last long enough to kill workers in it."""

    outputs = ["word"]

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        tasks = ctx.component_tasks(ctx.component_id)
        self.step = len(tasks)
        self.i = sorted(tasks).index(self.task_id)
        self.n = int(conf.get("test.n", 200_000))
        self.rate = float(conf.get("test.rate", 0))
        self.t0 = time.monotonic()
        self.emitted = 0

    def next_tuple(self) -> None:
        if self.i >= self.n:
            raise StopIteration
        if self.rate and self.emitted > (time.monotonic() - self.t0) * self.rate:
            return
        for _ in range(BURST):
            if self.i >= self.n:
                return
            self.emit([word(self.i)], tup_id=self.i)
            self.i += self.step
            self.emitted += 1

    def position(self) -> int:
        return self.i

    def seek(self, position: Any) -> None:
        self.i = int(position)

    def commit(self, position: Any) -> None:
        self.committed_at = position


class Lower(Bolt):
    """A stateless step between spout and counter: barriers are aligned and forwarded through it."""

    outputs = ["word"]

    def process(self, tup: Any) -> None:
        self.emit([tup.values[0].lower()])


class StatefulCount(StatefulBolt):
    outputs = ["word", "count"]

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        n = self.state.get(w, 0) + 1
        self.state[w] = n
        self.emit([w, n])


class StatefulWordCount(Topology):
    words = NumberedWords.spec(par=2)
    lower = Lower.spec(inputs=[words], par=2)
    count = StatefulCount.spec(inputs={lower: Grouping.fields("word")}, par=2)
