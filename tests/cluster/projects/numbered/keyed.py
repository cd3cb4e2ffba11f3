"""The rebalance test's topology: ``numbered.py``'s replayable ids, keyed ``k0``..``k36`` and counted by a
fields-grouped bolt that records which task saw which id and key (``test.sink.<task>``)."""

import time

import numbered

from squall import Bolt, Grouping, Topology


class KeyedCount(Bolt):
    """Fields-grouped on ``key``: appends ``id key`` to ``test.sink.<task>`` (which task saw which key)."""

    outputs = []

    def initialize(self, conf, context):
        self.out = open(f"{conf['test.sink']}.{context.task_id}", "a", buffering=1)  # noqa: SIM115
        self.counts = {}

    def process(self, tup):
        n, key = tup.values
        self.counts[key] = self.counts.get(key, 0) + 1
        self.out.write(f"{n} {key}\n")


class KeySpout(numbered.NumberSpout):
    outputs = ["n", "key"]

    def next_tuple(self):
        due = min(int((time.monotonic() - self.t0) * self.rate), self.n + 100)
        while self.n < due:
            n = next(self.todo, None)
            if n is None:
                return
            self.emit([n, f"k{n % 37}"], tup_id=n)
            self.n += 1


class Keyed(Topology):
    """For the rebalance test: numbered ids keyed ``k0``..``k36``, counted by a fields-grouped bolt."""

    config = {"topology.workers": 2, "topology.message.timeout.secs": 10, "topology.max.spout.pending": 2000}
    numbers = KeySpout.spec()
    count = KeyedCount.spec(inputs={numbers: Grouping.fields("key")}, par=4)
