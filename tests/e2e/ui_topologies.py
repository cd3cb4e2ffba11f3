"""Topologies the REST API tests run (at module level: worker processes import them).

``UiTopo``: a paced, reliable spout (every tuple a tree; ``fail`` does not replay, so acked +
failed = emitted exactly) into a bolt that fails every ``ui.fail_every``-th number, raises on
``ui.raise_at``, and a sink. ``ui.limit`` numbers (None: for ever), at most ``ui.rate`` a second.
"""

from __future__ import annotations

import time

from squall import Bolt, Grouping, Spout, Topology


class Paced(Spout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.n = 0
        self.limit = conf.get("ui.limit")
        self.every = 1.0 / float(conf.get("ui.rate", 2000))
        self.next_at = time.monotonic()

    def next_tuple(self):
        if self.limit is not None and self.n >= self.limit:
            time.sleep(0.001)  # done, but the run goes on (the test reads the API, then kills it)
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(min(0.001, self.next_at - now))
            return
        self.next_at = max(self.next_at + self.every, now - 0.1)
        self.n += 1
        self.emit([self.n], tup_id=self.n)


class Judge(Bolt):
    outputs = ["n"]
    auto_ack = False

    def initialize(self, conf, context):
        self.fail_every = int(conf.get("ui.fail_every", 10))
        self.raise_at = conf.get("ui.raise_at")

    def process(self, tup):
        n = tup.values.n
        if n == self.raise_at:
            raise ValueError(f"ui test: refusing {n}")
        if n % self.fail_every == 0:
            self.fail(tup)
            return
        self.emit([n], anchors=[tup])
        self.ack(tup)


class Sink(Bolt):
    outputs = []

    def process(self, tup):
        pass


class UiTopo(Topology):
    numbers = Paced.spec()
    judge = Judge.spec(inputs=[numbers], par=2)
    sink = Sink.spec(inputs={judge: Grouping.fields("n")})
