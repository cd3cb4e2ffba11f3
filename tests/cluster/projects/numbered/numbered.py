"""A reliable topology whose source can replay: the numbered ids come from a file (``test.ids``), each
acked id is appended to another (``test.acked``) by the spout on ack, and a restarted spout emits only
the ids not acked yet. The sink appends every id it sees to ``test.sink`` (by task) before it acks.
Paced at ``test.rate`` ids a second so that a node can be removed mid-stream."""

import os
import time

from squall import Bolt, Grouping, ReliableSpout, Topology


class NumberSpout(ReliableSpout):
    outputs = ["n"]

    def initialize(self, conf, context):
        with open(conf["test.ids"]) as f:
            ids = [int(line) for line in f if line.strip()]
        acked = set()
        if os.path.exists(conf["test.acked"]):
            with open(conf["test.acked"]) as f:
                acked = {int(line) for line in f if line.strip()}
        self.todo = iter([n for n in ids if n not in acked])
        self.acked = open(conf["test.acked"], "a", buffering=1)  # noqa: SIM115  # a line written is a line kept
        self.rate = float(conf.get("test.rate", 5000))
        self.t0 = time.monotonic()
        self.n = 0

    def next_tuple(self):
        due = min(int((time.monotonic() - self.t0) * self.rate), self.n + 100)
        while self.n < due:
            n = next(self.todo, None)
            if n is None:  # all emitted: stay up (a topology keeps running), replays still come
                return
            self.emit([n], tup_id=n)
            self.n += 1

    def ack(self, tup_id):
        super().ack(tup_id)
        self.acked.write(f"{tup_id}\n")


class Relay(Bolt):
    outputs = ["n"]

    def process(self, tup):
        self.emit([tup.values[0]])


class Sink(Bolt):
    outputs = []

    def initialize(self, conf, context):
        self.out = open(f"{conf['test.sink']}.{context.task_id}", "a", buffering=1)  # noqa: SIM115

    def process(self, tup):
        self.out.write(f"{tup.values[0]}\n")


class Numbered(Topology):
    config = {"topology.workers": 3, "topology.message.timeout.secs": 10, "topology.max.spout.pending": 2000}
    numbers = NumberSpout.spec()
    relay = Relay.spec(inputs={numbers: Grouping.SHUFFLE}, par=2)
    sink = Sink.spec(inputs={relay: Grouping.SHUFFLE}, par=2)
