"""Topologies for the socket-hardening tests (module level: worker processes import them)."""

import os
import time

from squall import Bolt, Grouping, ReliableSpout, Spout, Topology

N = 2000


class GatedNumbers(ReliableSpout):
    """Emits 0..n-1 with tup_id = n, but stops at n/2 until the file ``test.gate`` exists: the test
    attacks the run while it waits there, then opens the gate and expects every number acked."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.n = conf.get("test.n", N)
        self.gate = conf["test.gate"]
        self.i = 0

    def next_tuple(self):
        if self.i >= self.n:
            raise StopIteration
        if self.i >= self.n // 2 and not os.path.exists(self.gate):
            return
        self.emit([self.i], tup_id=self.i)
        self.i += 1


class Square(Bolt):
    outputs = ["n", "square"]

    def process(self, tup):
        self.emit([tup.values.n, tup.values.n**2])


class Total(Bolt):
    outputs = ["n"]

    def process(self, tup):
        assert tup.values.square == tup.values.n**2


class GatedTopo(Topology):
    """numbers (worker 0) -> square (both workers, fields) -> total (both workers, fields): every
    hop crosses between the two workers, tracked."""

    numbers = GatedNumbers.spec()
    square = Square.spec(inputs={numbers: Grouping.fields("n")}, par=2)
    total = Total.spec(inputs={square: Grouping.fields("n")}, par=2)


# -- large values into a slow sink -------------------------------------------------------------------


class BigValues(Spout):
    """Emits ``test.count`` values of ``test.size`` bytes each (a new object per tuple, as a reader of
    files would), as fast as it may; then nothing (the run goes on until the test stops it)."""

    outputs = ["blob"]

    def initialize(self, conf, context):
        self.left = conf["test.count"]
        self.size = conf["test.size"]

    def next_tuple(self):
        if self.left:
            self.left -= 1
            self.emit([b"x" * self.size])


class SlowSink(Bolt):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.delay = conf["test.delay"]

    def process(self, tup):
        time.sleep(self.delay)


class BigValuesTopo(Topology):
    """The spout in worker 0, the slow sink in worker 1."""

    config = {"topology.acker.executors": 0}
    blobs = BigValues.spec()
    sink = SlowSink.spec(inputs=[blobs])
