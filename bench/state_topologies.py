"""Topologies of the checkpointed-state benchmark (``bench/state.py``).

sentences (a rewindable spout: ``bench.words`` words in sentences of 10, generated from
``bench.seed`` in ``initialize``; position = index) -> split [LOCAL_OR_SHUFFLE] -> count [fields('word')],
the count a plain Bolt with a dict (``Plain``) or a StatefulBolt whose state is checkpointed every
``topology.state.checkpoint.interval.ms`` (``Stateful``). Parallelism ``bench.par`` (2 by default).
"""

from __future__ import annotations

import random
from itertools import accumulate
from typing import Any

from squall import Bolt, Grouping, Spout, StatefulBolt, Topology

VOCAB = [f"w{i}" for i in range(10_000)]
SENTENCE = 10


def sentences(words: int, seed: int, parts: int, k: int) -> list[str]:
    """Spout task ``k`` of ``parts``: its share of the sentences, deterministic."""
    rng = random.Random(seed * 1_000_003 + k)
    n = words // SENTENCE // parts
    cum = list(accumulate(1.0 / (i + 1) for i in range(len(VOCAB))))  # Zipf: once, not per choice
    return [" ".join(rng.choices(VOCAB, cum_weights=cum, k=SENTENCE)) for _ in range(n)]


class Sentences(Spout):
    outputs = ["sentence"]

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        tasks = sorted(ctx.component_tasks(ctx.component_id))
        self.items = sentences(
            int(conf["bench.words"]), int(conf.get("bench.seed", 1)), len(tasks), tasks.index(self.task_id)
        )
        self.i = 0

    def next_tuple(self) -> None:
        items, i = self.items, self.i
        if i >= len(items):
            raise StopIteration
        end = min(i + 50, len(items))
        emit = self.emit
        for j in range(i, end):
            emit((items[j],))
        self.i = end

    def position(self) -> int:
        return self.i

    def seek(self, position: Any) -> None:
        self.i = int(position)


class Split(Bolt):
    outputs = ["word"]

    def process(self, tup: Any) -> None:
        emit = self.emit
        for w in tup.values[0].split():
            emit((w,))


class PlainCount(Bolt):
    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        self.counts: dict[str, int] = {}

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        self.counts[w] = self.counts.get(w, 0) + 1


class StatefulCount(StatefulBolt):
    def process(self, tup: Any) -> None:
        w = tup.values[0]
        state = self.state
        state[w] = state.get(w, 0) + 1


class Plain(Topology):
    config = {"topology.acker.executors": 0}
    sentences = Sentences.spec(par=2)
    split = Split.spec(inputs={sentences: Grouping.LOCAL_OR_SHUFFLE}, par=2)
    count = PlainCount.spec(inputs={split: Grouping.fields("word")}, par=2)


class Stateful(Topology):
    config = {"topology.acker.executors": 0}
    sentences = Sentences.spec(par=2)
    split = Split.spec(inputs={sentences: Grouping.LOCAL_OR_SHUFFLE}, par=2)
    count = StatefulCount.spec(inputs={split: Grouping.fields("word")}, par=2)
