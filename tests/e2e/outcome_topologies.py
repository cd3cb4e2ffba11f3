"""Topologies for tests/e2e/test_outcomes.py (module level: workers import them by reference)."""

import os
import time

from reliable_topologies import EndlessReliable  # an endless tracked spout (tup_id = i)

from squall import Bolt, ReliableSpout, Spout, Topology


def mark(conf, what, context):
    """Write an empty file named after what ran, the task and this process (in ``test.dir``)."""
    path = os.path.join(conf["test.dir"], f"{what}-{context.task_id}-{os.getpid()}")
    with open(path, "w"):
        pass


class Forever(Spout):
    """Endless, about 2,000 tuples/s; close() leaves a mark."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.conf, self.context, self.i = conf, context, 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i])
        time.sleep(0.0005)

    def close(self):
        mark(self.conf, "close", self.context)


class Marking(Bolt):
    """cleanup() leaves a mark."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.conf, self.context = conf, context

    def process(self, tup):
        pass

    def cleanup(self):
        mark(self.conf, "cleanup", self.context)


class CleanupTopo(Topology):
    """2 workers: tasks marking 1 -> w0, source 2 -> w1."""

    source = Forever.spec()
    marking = Marking.spec(inputs=[source])


class Stuck(Bolt):
    """Blocks for ``test.block`` seconds (default 60) in its first process() call."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.block = conf.get("test.block", 60)

    def process(self, tup):
        time.sleep(self.block)
        self.block = 0


class StuckTopo(Topology):
    source = Forever.spec()
    stuck = Stuck.spec(inputs=[source])


class Numbers(ReliableSpout):
    """0..test.n-1 with tup_id, skipping what an earlier incarnation acked; ack() and fail() are
    logged in test.dir (the logs survive kill -9). From test.phase on, it waits for a file "go"."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.dir = d = conf["test.dir"]
        done = set()
        for name in os.listdir(d):
            if name.startswith("acked-"):
                with open(os.path.join(d, name)) as f:
                    done.update(int(x) for x in f.read().split())
        self.todo = [n for n in range(conf["test.n"]) if n not in done]
        self.todo.reverse()
        self.phase = conf["test.phase"]
        self.acked_log = open(os.path.join(d, f"acked-{os.getpid()}"), "a", buffering=1)  # noqa: SIM115
        self.failed_log = open(os.path.join(d, f"failed-{os.getpid()}"), "a", buffering=1)  # noqa: SIM115

    def next_tuple(self):
        if not self.todo:
            raise StopIteration
        n = self.todo[-1]
        if n >= self.phase and not os.path.exists(os.path.join(self.dir, "go")):
            return
        self.todo.pop()
        self.emit([n], tup_id=n)

    def ack(self, tup_id):
        super().ack(tup_id)
        self.acked_log.write(f"{tup_id}\n")

    def fail(self, tup_id):
        self.failed_log.write(f"{tup_id}\n")
        super().fail(tup_id)


class FailSome(Bolt):
    """Fails every 10th number on its first delivery to this process."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.seen = set()

    def process(self, tup):
        n = tup.values.n
        if n % 10 == 0 and n not in self.seen:
            self.seen.add(n)
            raise ValueError(f"first delivery of {n}")


class CountsTopo(Topology):
    """2 workers: tasks check 1 -> w0, numbers 2 -> w1 (ackers 3 -> w0, 4 -> w1)."""

    numbers = Numbers.spec()
    check = FailSome.spec(inputs=[numbers])


class StuckTrackedTopo(Topology):
    """2 workers: tasks source 1 -> w0, stuck 2 -> w1: trees stay pending behind the stuck bolt."""

    source = EndlessReliable.spec()
    stuck = Stuck.spec(inputs=[source])


class FewMessages(ReliableSpout):
    """0..19 with tup_id, then exhausted; given up after one failure."""

    outputs = ["n"]
    max_fails = 1

    def initialize(self, conf, context):
        self.it = iter(range(20))

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)

    def give_up(self, tup_id, values):
        pass  # quietly: only the count says so


class Refuse(Bolt):
    """Fails every tuple (without raising: no error is recorded)."""

    outputs = ["n"]
    auto_ack = False

    def process(self, tup):
        self.fail(tup)


class GiveUpTopo(Topology):
    numbers = FewMessages.spec()
    refuse = Refuse.spec(inputs=[numbers])


class Hog(Bolt):
    """Opens ``test.hog`` files in initialize() and keeps them open (as a connector's pool might)."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.files = [open(os.devnull) for _ in range(conf.get("test.hog", 0))]  # noqa: SIM115

    def process(self, tup):
        pass


class HogTopo(Topology):
    source = Forever.spec()
    hog = Hog.spec(inputs=[source])
