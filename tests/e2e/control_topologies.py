"""A topology that runs until it is stopped, at a modest pace (the CLI's control tests run beside other tests)."""

from __future__ import annotations

import time

from squall import Bolt, Grouping, Spout, Topology

WORDS = ["dog", "cat", "zebra", "elephant"]


class PacedWordSpout(Spout):
    """About 1,000 words a second, each a tree (acked), with a log line every 500."""

    outputs = ["word"]

    def initialize(self, conf, context):
        self.n = 0

    def next_tuple(self):
        time.sleep(0.001)
        self.n += 1
        self.emit([WORDS[self.n % len(WORDS)]], tup_id=self.n)
        if self.n % 500 == 0:
            self.logger.info("spout emitted %d words", self.n)


class CountingBolt(Bolt):
    """Counts words; every 2,000th tuple raises (an error to show in the component's stats)."""

    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = {}
        self.seen = 0

    def process(self, tup):
        self.seen += 1
        if self.seen % 2000 == 0:
            raise ValueError(f"tuple {self.seen} refused on purpose")
        word = tup.values[0]
        self.counts[word] = self.counts.get(word, 0) + 1
        self.emit([word, self.counts[word]])


class ControlTopo(Topology):
    words = PacedWordSpout.spec()
    count = CountingBolt.spec(inputs={words: Grouping.fields("word")}, par=2)
