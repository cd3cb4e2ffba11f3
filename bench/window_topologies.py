"""Topologies of bench/windows.py: the same word count with and without a 5-minute window."""

from __future__ import annotations

from collections import Counter

from squall import Bolt, Grouping, Sliding, Spout, Topology, WindowedBolt

WORDS = [f"w{i}" for i in range(1000)]


class StampedWords(Spout):
    """``bench.n`` words stamped in event time, ``bench.per.sec`` per second of event time."""

    outputs = ["word", "ts"]

    def initialize(self, conf, context):
        self.n = int(conf["bench.n"])
        self.step = 1.0 / float(conf["bench.per.sec"])
        self.i = 0

    def next_tuple(self):
        i = self.i
        if i >= self.n:
            raise StopIteration
        end = min(i + 100, self.n)
        emit, step, words = self.emit, self.step, WORDS
        for k in range(i, end):
            emit([words[k % 1000], k * step])
        self.i = end


class PlainCount(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        self.counts[tup.values[0]] += 1


class WindowCount(WindowedBolt):
    """Counts over the last 5 minutes every 10 s, kept up to date from new and expired tuples."""

    outputs = ["end", "distinct"]
    window = Sliding(300, 10)
    timestamp_field = "ts"
    anchor = None

    def initialize(self, conf, context):
        self.counts = Counter()
        self.held = 0

    def process_window(self, window):
        counts = self.counts
        for t in window.new:
            counts[t.values[0]] += 1
        for t in window.expired:
            counts[t.values[0]] -= 1
        self.held = max(self.held, len(window.tuples))
        self.emit([window.end, len(counts)])


_CONF = {"topology.acker.executors": 0}


class Plain(Topology):
    config = _CONF
    words = StampedWords.spec()
    count = PlainCount.spec(inputs={words: Grouping.fields("word")})


class Windowed(Topology):
    config = _CONF
    words = StampedWords.spec()
    count = WindowCount.spec(inputs={words: Grouping.fields("word")})
