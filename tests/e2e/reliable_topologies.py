"""Topologies for the guaranteed-processing tests (module level: workers import them)."""

import glob
import os
import time

from squall import Bolt, Grouping, ReliableSpout, Spout, Stream, Topology

N = 3000


class ReliableNumbers(ReliableSpout):
    """Emits 0..N-1 with tup_id = n; reports every ack and fail on the 'acked'/'failed' streams."""

    outputs = [Stream(["n"]), Stream(["n"], name="acked"), Stream(["n"], name="failed")]

    def initialize(self, conf, context):
        self.max_fails = conf.get("test.max_fails")
        self.it = iter(range(conf.get("test.n", N)))

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)

    def ack(self, tup_id):
        super().ack(tup_id)
        self.emit([tup_id], stream="acked")

    def fail(self, tup_id):
        self.emit([tup_id], stream="failed")
        super().fail(tup_id)


class Twice(Bolt):
    """Fan-out: two anchored tuples per input."""

    outputs = ["n", "copy"]

    def process(self, tup):
        self.emit([tup.values.n, 0])
        self.emit([tup.values.n, 1])


class Keyed(Bolt):
    outputs = ["n", "copy"]

    def process(self, tup):
        self.emit(list(tup.values))


class Sink(Bolt):
    outputs = ["n", "copy"]

    def process(self, tup):
        self.emit(list(tup.values))


class AckSome(Bolt):
    """Never acks multiples of 7 (they must time out); acks the rest."""

    outputs = ["n"]
    auto_ack = False

    def process(self, tup):
        if tup.values.n % 7:
            self.ack(tup)


class FlakyOnce(Bolt):
    """Raises on the first delivery of every 100th number (deterministic: a per-task memory)."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.seen = set()

    def process(self, tup):
        n = tup.values.n
        if n % 100 == 0 and n not in self.seen:
            self.seen.add(n)
            raise ValueError(f"first delivery of {n}")
        self.emit([n])


class AckTreeTopo(Topology):
    numbers = ReliableNumbers.spec()
    twice = Twice.spec(inputs=[numbers], par=2)
    keyed = Keyed.spec(inputs={twice: Grouping.fields("n")}, par=2)
    sink = Sink.spec(inputs={keyed: Grouping.GLOBAL})


class TimeoutTopo(Topology):
    config = {"topology.message.timeout.secs": 1}
    numbers = ReliableNumbers.spec()
    some = AckSome.spec(inputs=[numbers], par=2)


class FlakySink(Bolt):
    outputs = ["n"]

    def process(self, tup):
        self.emit(list(tup.values))


class FlakyTopo(Topology):
    numbers = ReliableNumbers.spec()
    flaky = FlakyOnce.spec(inputs={numbers: Grouping.fields("n")}, par=2)
    sink = FlakySink.spec(inputs=[flaky])


# -- chaos: a durable source, a 3-stage topology, a sink that records what it saw ------------------


class DurableNumbers(ReliableSpout):
    """A replayable source: ids not yet acked (per the ack logs in ``test.dir``) are (re)emitted.

    The ack log survives a kill -9 of this worker, as a broker's committed offsets would.
    """

    outputs = ["n"]

    def initialize(self, conf, context):
        d = conf["test.dir"]
        acked = set()
        for path in glob.glob(os.path.join(d, "acked-*.log")):
            with open(path) as f:
                acked.update(int(x) for x in f.read().split())
        self.todo = iter([n for n in range(conf["test.n"]) if n not in acked])
        # Open for the task's lifetime (line-buffered; the worker's exit closes it), so not a `with`.
        path = os.path.join(d, f"acked-{context.task_id}-{os.getpid()}.log")
        self.log_file = open(path, "a", buffering=1)  # noqa: SIM115
        self.period = 1.0 / conf["test.rate"] if conf.get("test.rate") else 0.0  # paced: the run lasts
        self.due = time.monotonic()

    def next_tuple(self):
        if self.period:
            now = time.monotonic()
            if now < self.due:
                return
            self.due = max(self.due + self.period, now - 0.1)
        n = next(self.todo)
        self.emit([n], tup_id=n)

    def ack(self, tup_id):
        super().ack(tup_id)
        self.log_file.write(f"{tup_id}\n")


class Recorder(Bolt):
    """Writes every id it sees before the tuple is acked."""

    outputs = ["n"]

    def initialize(self, conf, context):
        path = os.path.join(conf["test.dir"], f"seen-{context.task_id}-{os.getpid()}.log")
        self.f = open(path, "a", buffering=1)  # noqa: SIM115 - open for the task's lifetime, like the spout's log

    def process(self, tup):
        self.f.write(f"{tup.values.n}\n")


class ChaosTopo(Topology):
    config = {"topology.message.timeout.secs": 3, "topology.max.spout.pending": 2000}
    numbers = DurableNumbers.spec()
    fanout = Twice.spec(inputs=[numbers], par=2)
    keyed = Keyed.spec(inputs={fanout: Grouping.fields("n")}, par=2)
    sink = Recorder.spec(inputs={keyed: Grouping.fields("n")}, par=2)


class Echo(Bolt):
    outputs = ["n"]

    def process(self, tup):
        pass


class SpoutFanoutTopo(Topology):
    """The spout's tuples go to three tasks (no first-hop shortcut: the tree is announced)."""

    numbers = ReliableNumbers.spec()
    left = Echo.spec(inputs=[numbers], par=2)
    right = Echo.spec(inputs={numbers: Grouping.ALL}, par=2)


# -- a fast reliable spout into a slow bolt in another worker (issue 7, section 3) -------------------


class EndlessReliable(ReliableSpout):
    """Endless: tup_id = i, as fast as the runtime lets it emit."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i], tup_id=self.i)


class EndlessPlain(Spout):
    """Endless and untracked: only backpressure slows it down."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i])


class EmitsInFail(Spout):
    """Storm style: re-emits a failed message inside fail() (as pystorm's ReliableSpout does)."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i], tup_id=self.i)

    def fail(self, tup_id):
        self.emit([tup_id], tup_id=tup_id)


class Sleepy(Bolt):
    """Sleeps ``test.sleep`` seconds (default 10 ms) per tuple: an I/O-bound consumer."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.secs = conf.get("test.sleep", 0.01)

    def process(self, tup):
        time.sleep(self.secs)


class SlowConsumerTopo(Topology):
    """2 workers: the spout in one, the slow bolt in the other (tasks: slow 1 -> w0, source 2 -> w1)."""

    config = {"topology.workers": 2}
    source = EndlessReliable.spec()
    slow = Sleepy.spec(inputs=[source])


class SlowConsumerUntrackedTopo(Topology):
    config = {"topology.workers": 2}
    source = EndlessPlain.spec()
    slow = Sleepy.spec(inputs=[source])


class SlowConsumerFailEmitsTopo(Topology):
    config = {"topology.workers": 2}
    source = EmitsInFail.spec()
    slow = Sleepy.spec(inputs=[source])
