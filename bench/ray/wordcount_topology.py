"""The word count of ``bench/ray_wordcount.py``: sentences -> split (shuffle) -> count (fields), endless.

The spout cycles over a fixed list of sentences (no data to ship: the folder Ray uploads is this one),
emitting ``bench.batch`` sentences per ``next_tuple`` call, unanchored (acking is not what is measured).
``bench.gc.freeze``: the spouts' processes call ``gc.freeze()`` once initialized (an experiment on why
a worker actor does less per CPU second).
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from squall import Bolt, Grouping, Spout, Topology

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
    "a squall is a sudden violent gust of wind",
    "storms make trees take deeper roots",
    "words are counted one by one by the count bolt",
]


class SentenceSpout(Spout):
    outputs = ["sentence"]

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.batch = int(conf.get("bench.batch", 50))
        if conf.get("bench.gc.freeze"):  # the objects loaded so far (Ray's modules in an actor) out of GC's walks
            gc.freeze()
        self.i = 0

    def next_tuple(self) -> None:
        n = len(SENTENCES)
        for _ in range(self.batch):
            self.emit([SENTENCES[self.i % n]])
            self.i += 1


class SplitBolt(Bolt):
    outputs = ["word"]

    def process(self, tup: Any) -> None:
        for word in tup.values[0].split():
            self.emit([word])


class CountBolt(Bolt):
    outputs: list[str] = []

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.counts: Counter[str] = Counter()

    def process(self, tup: Any) -> None:
        self.counts[tup.values[0]] += 1


class WordCount(Topology):
    config = {"topology.workers": 2, "topology.acker.executors": 0}
    spout = SentenceSpout.spec(par=2)
    split = SplitBolt.spec(inputs={spout: Grouping.SHUFFLE}, par=2)
    count = CountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)
