"""The multilang word count's topologies (module level: workers import them)."""

import os
import sys
from collections import Counter

from squall import Bolt, Grouping, ShellBolt, Spout, Topology

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = ["dog", "cat", "zebra", "elephant", "mouse", "lion", "tiger", "bear", "wolf", "fox", "owl", "eagle"]


class WordSpout(Spout):
    """``bench.words`` words, round robin over WORDS; tracked (tup_id) with ``bench.acking``."""

    outputs = ["word"]

    def initialize(self, conf, context):
        self.n = conf.get("bench.words", 100_000)
        self.i = 0
        self.acking = conf.get("bench.acking", False)

    def next_tuple(self):
        i = self.i
        if i >= self.n:
            raise StopIteration
        self.i = i + 1
        if self.acking:
            self.emit([WORDS[i % 12]], tup_id=i)
        else:
            self.emit([WORDS[i % 12]])


class WordCountBolt(Bolt):
    """The same bolt as resources/wordcount_bolt.py, native."""

    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        self.emit([word, self.counts[word]])


class Native(Topology):
    words = WordSpout.spec()
    count = WordCountBolt.spec(inputs={words: Grouping.fields("word")}, par=2)


class Multilang(Topology):
    """The count bolt as a pystorm subprocess per task (JSON over pipes)."""

    words = WordSpout.spec()
    count = ShellBolt.spec(
        command=sys.executable,
        script="wordcount_bolt.py",
        outputs=["word", "count"],
        inputs={words: Grouping.fields("word")},
        par=2,
    )
