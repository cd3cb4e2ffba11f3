"""Topologies with windowed bolts, at module level so worker processes can import them."""

from __future__ import annotations

import time

from squall import Bolt, ReliableSpout, Topology
from squall.topology.windowed_bolt import LATE_STREAM, WindowedBolt
from squall.topology.windows import Count, Sliding, Tumbling


class Numbers(ReliableSpout):
    """n = 0..test.n-1 with tup_ids (tracked: acked only when they leave their windows)."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.it = iter(range(conf.get("test.n", 100)))

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)


class CountSums(WindowedBolt):
    outputs = ["first", "last", "total", "size", "new", "expired"]
    window = Sliding(Count(10), Count(5))

    def process_window(self, window):
        ns = [t.values.n for t in window]
        self.emit([ns[0], ns[-1], sum(ns), len(ns), len(window.new), len(window.expired)])


class CountWindowTopo(Topology):
    config = {"topology.max.spout.pending": 0}
    numbers = Numbers.spec()
    sums = CountSums.spec(inputs=[numbers])


class Stamped(ReliableSpout):
    """(word, ts) events in event time; after the on-time ones, a pause (ticks raise the watermark),
    then events far behind it: late."""

    outputs = ["word", "ts"]
    EVENTS = [("a", 1), ("b", 4), ("c", 12), ("d", 15), ("e", 27), ("f", 31)]
    LATE = [("late1", 2), ("late2", 20)]

    def initialize(self, conf, context):
        self.items = list(self.EVENTS)
        self.late = list(self.LATE)
        self.resume_at = None
        self.i = 0

    def next_tuple(self):
        if self.items:
            w, ts = self.items.pop(0)
        elif self.resume_at is None or time.monotonic() < self.resume_at:
            if self.resume_at is None:  # a pause without emitting: ticks (every 0.05 s) raise the watermark to 31
                self.resume_at = time.monotonic() + 0.5
            return
        elif self.late:
            w, ts = self.late.pop(0)
        else:
            raise StopIteration
        self.i += 1
        self.emit([w, ts], tup_id=self.i)


class EventTimeWords(WindowedBolt):
    outputs = ["start", "end", "words", "new", "expired"]
    window = Tumbling(10)
    timestamp_field = "ts"
    watermark_interval = 0.05

    def process_window(self, window):
        self.emit(
            [
                window.start,
                window.end,
                "".join(t.values.word for t in window),
                "".join(t.values.word for t in window.new),
                "".join(t.values.word for t in window.expired),
            ]
        )


class LateSink(Bolt):
    outputs = ["word"]

    def process(self, tup):
        self.emit([tup.values.values[0]])


class EventTimeTopo(Topology):
    config = {"topology.max.spout.pending": 0}
    events = Stamped.spec()
    windows = EventTimeWords.spec(inputs=[events])
    late = LateSink.spec(inputs=[windows[LATE_STREAM]])


class ProcessingTimeCounts(WindowedBolt):
    outputs = ["size"]
    window = Tumbling(0.2)
    watermark_interval = 0.05

    def process_window(self, window):
        self.emit([len(window)])


class ProcessingTimeTopo(Topology):
    config = {"topology.max.spout.pending": 0}
    numbers = Numbers.spec()
    counts = ProcessingTimeCounts.spec(inputs=[numbers], par=2)
