"""Topologies for the metrics, sampling and worker-log tests (tests/e2e/test_metrics.py)."""

from __future__ import annotations

import logging
import time

from squall import Bolt, Spout, Stream, Topology

SLEEP_SECS = 0.005  # the slow bolt's time per tuple
LOG_MARKER = "metrics-topology-marker"


class CountingSpout(Spout):
    """Endless: emits (n, parity) on the default stream and (n,) on "squares" every 10th, reliably."""

    outputs = [Stream(["n", "parity"]), Stream(["square"], name="squares")]

    def initialize(self, conf, context):
        self.n = 0
        logging.getLogger("metrics").info("%s spout %d started", LOG_MARKER, context.task_id)
        print(f"{LOG_MARKER} stdout from spout {context.task_id}", flush=True)

    def next_tuple(self):
        self.n += 1
        self.emit([self.n, "even" if self.n % 2 == 0 else "odd"], tup_id=self.n)
        if self.n % 10 == 0:
            self.emit([self.n * self.n], stream="squares")


class SleepyBolt(Bolt):
    """Sleeps ``SLEEP_SECS`` per tuple (auto ack): a bolt whose execute latency is known."""

    outputs = ["n"]

    def process(self, tup):
        time.sleep(SLEEP_SECS)
        self.emit([tup.values[0]])


class SinkBolt(Bolt):
    outputs = []

    def process(self, tup):
        pass


class SlowTopo(Topology):
    numbers = CountingSpout.spec()
    sleepy = SleepyBolt.spec(inputs=[numbers], par=2)
    sink = SinkBolt.spec(inputs=[sleepy, numbers["squares"]])
