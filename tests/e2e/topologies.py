"""Topologies for end-to-end tests, at module level so worker processes can import them."""

from __future__ import annotations

import os
import time

from squall import BatchingBolt, Bolt, Grouping, Spout, Stream, Topology

N = 2000


class NumberSpout(Spout):
    """Emits n = 0..N-1 split among its tasks, then is exhausted."""

    outputs = ["n"]

    def initialize(self, conf, context):
        tasks = context.component_tasks(context.component_id)
        self.it = iter(range(tasks.index(context.task_id), conf.get("test.n", N), len(tasks)))

    def next_tuple(self):
        self.emit([next(self.it)])


class WordSpout(Spout):
    outputs = ["word"]
    WORDS = ["dog", "cat", "zebra", "elephant", "ant", "bee", "cow", "gnu"]

    def initialize(self, conf, context):
        tasks = context.component_tasks(context.component_id)
        n = conf.get("test.n", N)
        self.it = iter(self.WORDS[i % len(self.WORDS)] for i in range(tasks.index(context.task_id), n, len(tasks)))

    def next_tuple(self):
        self.emit([next(self.it)])


class TagBolt(Bolt):
    """Emits (value, component name, task id, pid): shows where each tuple went."""

    outputs = ["value", "component", "task", "pid"]

    def initialize(self, conf, context):
        self.pid = os.getpid()

    def process(self, tup):
        self.emit([tup.values[0], self.component_name, self.task_id, self.pid])


class EvenOddBolt(Bolt):
    """Named streams: evens on 'even', odds on 'odd'."""

    outputs = [Stream(["n"], name="even"), Stream(["n"], name="odd")]

    def process(self, tup):
        n = tup.values.n
        self.emit([n], stream="even" if n % 2 == 0 else "odd")


class DirectBolt(Bolt):
    """Direct stream: sends n to consumer task number n % len(tasks)."""

    outputs = [Stream(["n"], name="routed", direct=True)]

    def initialize(self, conf, context):
        self.targets = sorted(context.consumers("routed")["direct_sink"])

    def process(self, tup):
        n = tup.values.n
        self.emit([n], stream="routed", direct_task=self.targets[n % len(self.targets)])


class SumBolt(Bolt):
    outputs = ["n", "source"]

    def process(self, tup):
        self.emit([tup.values[0], tup.component])


class CountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = {}

    def process(self, tup):
        w = tup.values.word
        self.counts[w] = self.counts.get(w, 0) + 1
        self.emit([w, self.counts[w]])


class FailingBolt(Bolt):
    """Raises on every 10th number; emits the others."""

    outputs = ["n"]

    def process(self, tup):
        if tup.values.n % 10 == 0:
            raise RuntimeError(f"boom on {tup.values.n}")
        self.emit([tup.values.n])


class BadArityBolt(Bolt):
    outputs = ["a", "b"]

    def process(self, tup):
        self.emit([tup.values.n])  # one value for two fields


class SumBatchBolt(BatchingBolt):
    outputs = ["parity", "total", "size"]
    config = {"topology.tick.tuple.freq.secs": 0.05}

    def group_key(self, tup):
        return tup.values.n % 2

    def process_batch(self, key, tups):
        self.emit([key, sum(t.values.n for t in tups), len(tups)])


class TickBolt(Bolt):
    outputs = ["freq"]

    def process_tick(self, tup):
        self.emit([tup.values[0]])


class SlowForeverSpout(Spout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.n = 0

    def next_tuple(self):
        time.sleep(0.001)
        self.n += 1
        self.emit([self.n])


# -- topologies -----------------------------------------------------------------------------------


class ShuffleTopo(Topology):
    numbers = NumberSpout.spec()
    tag = TagBolt.spec(inputs=[numbers], par=4)


class FieldsTopo(Topology):
    words = WordSpout.spec(par=2)
    tag = TagBolt.spec(inputs={words: Grouping.fields("word")}, par=3)


class AllTopo(Topology):
    numbers = NumberSpout.spec()
    tag = TagBolt.spec(inputs={numbers: Grouping.ALL}, par=3)


class GlobalTopo(Topology):
    numbers = NumberSpout.spec(par=2)
    tag = TagBolt.spec(inputs={numbers: Grouping.GLOBAL}, par=3)


class NoneTopo(Topology):
    numbers = NumberSpout.spec()
    tag = TagBolt.spec(inputs={numbers: Grouping.NONE}, par=2)


class LocalOrShuffleTopo(Topology):
    numbers = NumberSpout.spec(par=2)
    tag = TagBolt.spec(inputs={numbers: Grouping.LOCAL_OR_SHUFFLE}, par=2)


class PartialKeyTopo(Topology):
    words = WordSpout.spec()
    tag = TagBolt.spec(inputs={words: Grouping.partial_key("word")}, par=3)


class ModGrouping:
    """Custom grouping: n goes to target index n % len(targets)."""

    def prepare(self, context, stream, targets):
        self.targets = targets

    def choose_tasks(self, task_id, values):
        return [self.targets[values[0] % len(self.targets)]]


class CustomTopo(Topology):
    numbers = NumberSpout.spec()
    tag = TagBolt.spec(inputs={numbers: Grouping.custom(ModGrouping())}, par=3)


class NamedStreamsTopo(Topology):
    numbers = NumberSpout.spec()
    split = EvenOddBolt.spec(inputs=[numbers], par=2)
    evens = SumBolt.spec(inputs=[split["even"]])
    odds = SumBolt.spec(inputs={split["odd"]: Grouping.SHUFFLE}, par=2)


class DirectTopo(Topology):
    numbers = NumberSpout.spec()
    router = DirectBolt.spec(inputs=[numbers], par=2)
    direct_sink = TagBolt.spec(inputs=[router["routed"]], par=3)


class MultiSpoutTopo(Topology):
    numbers = NumberSpout.spec()
    words = WordSpout.spec()
    sink_numbers = SumBolt.spec(
        inputs=[
            numbers,
        ]
    )
    sink = SumBolt.spec(inputs=[numbers, words], par=2)


class DiamondTopo(Topology):
    numbers = NumberSpout.spec()
    left = TagBolt.spec(inputs=[numbers], par=2)
    right = TagBolt.spec(inputs={numbers: Grouping.fields("n")}, par=2)
    join = SumBolt.spec(inputs={left: Grouping.SHUFFLE, right: Grouping.GLOBAL}, par=2)


class ParGtWorkersTopo(Topology):
    words = WordSpout.spec(par=3)
    count = CountBolt.spec(inputs={words: Grouping.fields("word")}, par=7)


class FailingTopo(Topology):
    numbers = NumberSpout.spec()
    fails = FailingBolt.spec(inputs=[numbers], par=2)


class BadArityTopo(Topology):
    numbers = NumberSpout.spec()
    bad = BadArityBolt.spec(inputs=[numbers])


class BatchTopo(Topology):
    numbers = NumberSpout.spec()
    batch = SumBatchBolt.spec(inputs={numbers: Grouping.fields("n")}, par=2)


class ForeverTopo(Topology):
    numbers = SlowForeverSpout.spec()
    tag = TagBolt.spec(inputs=[numbers], par=2)


class FastBigSpout(Spout):
    """Emits 1 KiB strings as fast as it is allowed to."""

    outputs = ["payload"]

    def initialize(self, conf, context):
        self.payload = "x" * 1024
        self.n = 0

    def next_tuple(self):
        self.n += 1
        self.emit([f"{self.n:010d}{self.payload}"])


class SlowBolt(Bolt):
    """About 20k tuples/s: a small fraction of what the spout can emit."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.k = 0

    def process(self, tup):
        self.k += 1
        if self.k % 20 == 0:
            time.sleep(0.001)


class BackpressureTopo(Topology):
    source = FastBigSpout.spec()
    slow = SlowBolt.spec(inputs=[source])


class TickTopo(Topology):
    config = {"topology.tick.tuple.freq.secs": 0.1}
    numbers = SlowForeverSpout.spec()
    ticks = TickBolt.spec(inputs=[numbers])
    fast_ticks = TickBolt.spec(inputs=[numbers], config={"topology.tick.tuple.freq.secs": 0.05})


class WrongStreamBolt(Bolt):
    outputs = ["n"]

    def process(self, tup):
        self.emit([tup.values.n], stream="nope")


class BadDirectBolt(Bolt):
    outputs = [Stream(["n"], name="routed", direct=True)]

    def process(self, tup):
        self.emit([tup.values.n], stream="routed", direct_task=999)


class FlakySpout(NumberSpout):
    """Raises on every 100th call; the spout goes on."""

    def initialize(self, conf, context):
        super().initialize(conf, context)
        self.calls = 0

    def next_tuple(self):
        self.calls += 1
        if self.calls % 100 == 0:
            raise OSError("source hiccup")
        super().next_tuple()


class BrokenInitBolt(Bolt):
    outputs = ["n"]

    def initialize(self, conf, context):
        raise ConnectionError("database is down")


class WrongStreamTopo(Topology):
    numbers = NumberSpout.spec()
    wrong = WrongStreamBolt.spec(inputs=[numbers])


class BadDirectTopo(Topology):
    numbers = NumberSpout.spec()
    router = BadDirectBolt.spec(inputs=[numbers])
    sink = TagBolt.spec(inputs=[router["routed"]], par=2)


class FlakySpoutTopo(Topology):
    numbers = FlakySpout.spec()
    tag = TagBolt.spec(inputs=[numbers])


class BrokenInitTopo(Topology):
    numbers = NumberSpout.spec()
    broken = BrokenInitBolt.spec(inputs=[numbers], par=2)


class TaskIdsBolt(Bolt):
    """Emits on 'out' with need_task_ids and reports the task ids it got on 'ids'."""

    outputs = [Stream(["n"], name="out"), Stream(["n", "tasks"], name="ids")]

    def process(self, tup):
        tasks = self.emit([tup.values.n], stream="out", need_task_ids=True)
        self.emit([tup.values.n, tasks], stream="ids")


class TaskIdsTopo(Topology):
    numbers = NumberSpout.spec()
    ids = TaskIdsBolt.spec(inputs=[numbers])
    sink = TagBolt.spec(inputs={ids["out"]: Grouping.fields("n")}, par=3)


class PacedForeverSpout(Spout):
    """Emits 1, 2, 3, ... tracked (with a tup_id) forever, pausing 1 ms every 50 tuples."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.n = 0

    def next_tuple(self):
        self.n += 1
        if self.n % 50 == 0:
            time.sleep(0.001)
        self.emit([self.n], tup_id=self.n)


class StatsTopo(Topology):
    """On 2 workers: a spout task and bolt tasks in each, tuples crossing between them, acking on."""

    numbers = PacedForeverSpout.spec(par=2)
    tag = TagBolt.spec(inputs=[numbers], par=3)


class SocketsBolt(Bolt):
    """Passes n on; on its first tuple reports the TCP sockets of its worker and of the coordinator."""

    outputs = [Stream(["n"]), Stream(["task", "listen", "established", "coordinator_listen"], name="sockets")]

    def initialize(self, conf, context):
        self.reported = False

    def process(self, tup):
        if not self.reported:
            import psutil

            self.reported = True
            own = psutil.Process().net_connections(kind="tcp")
            parent = psutil.Process(os.getppid()).net_connections(kind="tcp")
            listen = [list(c.laddr) for c in own if c.status == psutil.CONN_LISTEN]
            established = [[*c.laddr, *c.raddr] for c in own if c.status == psutil.CONN_ESTABLISHED]
            coordinator = [list(c.laddr) for c in parent if c.status == psutil.CONN_LISTEN]
            self.emit([self.task_id, listen, established, coordinator], stream="sockets")
        self.emit([tup.values.n])


class SocketsTopo(Topology):
    numbers = NumberSpout.spec()
    where = SocketsBolt.spec(inputs=[numbers], par=2)
    sink = TagBolt.spec(inputs={where: Grouping.fields("n")}, par=2)


class SetBolt(Bolt):
    """Passes n on, and emits a set (not msgpack-encodable) on a stream nobody consumes."""

    outputs = [Stream(["n"]), Stream(["s"], name="sets")]

    def process(self, tup):
        self.emit([tup.values.n])
        self.emit([{tup.values.n}], stream="sets")


class SetTopo(Topology):
    numbers = NumberSpout.spec()
    sets = SetBolt.spec(inputs=[numbers], par=2)
