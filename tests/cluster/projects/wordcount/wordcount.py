"""A paced word count for the cluster tests: its words come from ``words.py`` beside it (the project folder
must reach every node), at ``test.rate`` tuples a second (the machine has 2 cores for everything)."""

import os
import time
from collections import Counter

from words import WORDS

from squall import Bolt, Grouping, Spout, Topology


class WordSpout(Spout):
    outputs = ["word"]

    def initialize(self, conf, context):
        self.rate = float(conf.get("test.rate", 2000))
        self.t0 = time.monotonic()
        self.n = 0

    def next_tuple(self):
        due = min(int((time.monotonic() - self.t0) * self.rate), self.n + 100)
        while self.n < due:
            self.emit([WORDS[self.n % len(WORDS)]])
            self.n += 1


class CountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        if self.counts[word] % 500 == 0:
            self.logger.info("counted %d %s", self.counts[word], word)
            print(f"printed {word} {self.counts[word]} tag={os.environ.get('WC_TAG')}")
        self.emit([word, self.counts[word]])


class WordCount(Topology):
    config = {"topology.workers": 2, "topology.acker.executors": 0}
    word_spout = WordSpout.spec()
    count_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2)
