"""Topologies for the concurrency and slow-bolt tests (module level: worker processes import them)."""

from __future__ import annotations

import asyncio
import functools
import threading
import time

from reliable_topologies import EndlessPlain  # an endless untracked spout (the reproduction)

from squall import Bolt, Grouping, Spout, Stream, Topology

N = 400


class Numbers(Spout):
    """Emits 0..n-1 (``test.n``) with tup_id = n; reports each ack and fail on 'acked' / 'failed'."""

    outputs = [Stream(["n"]), Stream(["n"], name="acked"), Stream(["n"], name="failed")]

    def initialize(self, conf, context):
        tasks = context.component_tasks(context.component_id)
        self.it = iter(range(tasks.index(context.task_id), conf.get("test.n", N), len(tasks)))

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)

    def ack(self, tup_id):
        self.emit([tup_id], stream="acked")

    def fail(self, tup_id):
        self.emit([tup_id], stream="failed")


class Replaying(Numbers):
    """Numbers that replays a failed tuple once."""

    def fail(self, tup_id):
        super().fail(tup_id)
        self.emit([tup_id], tup_id=tup_id)


class AsyncEcho(Bolt):
    """Two children per input, an await between them: calls interleave, each child must anchor to its
    own input (a wrong anchor leaves a tree incomplete, and it fails by timeout)."""

    outputs = ["n", "copy"]
    concurrency = 4

    def initialize(self, conf, context):
        self.secs = conf.get("test.sleep", 0.02)

    async def process(self, tup):
        n = tup.values.n
        await asyncio.sleep(self.secs)
        self.emit([n, 0])
        await asyncio.sleep(self.secs / 2)
        self.emit([n, 1])


class ThreadEcho(Bolt):
    """AsyncEcho as blocking code on threads."""

    outputs = ["n", "copy"]
    concurrency = 4
    concurrency_mode = "threads"

    def initialize(self, conf, context):
        self.secs = conf.get("test.sleep", 0.02)

    def process(self, tup):
        n = tup.values.n
        time.sleep(self.secs)
        self.emit([n, 0])
        time.sleep(self.secs / 2)
        self.emit([n, 1])


class Sink(Bolt):
    outputs = ["n", "copy"]

    def process(self, tup):
        self.emit(list(tup.values))


class AsyncFlaky(Bolt):
    """Raises on the first delivery of every 10th number (after an await)."""

    outputs = ["n"]
    concurrency = 3

    def initialize(self, conf, context):
        self.seen = set()

    async def process(self, tup):
        n = tup.values.n
        await asyncio.sleep(0.001)
        if n % 10 == 0 and n not in self.seen:
            self.seen.add(n)
            raise ValueError(f"first delivery of {n}")
        self.emit([n])


class ThreadFlaky(Bolt):
    outputs = ["n"]
    concurrency = 3
    concurrency_mode = "threads"

    def initialize(self, conf, context):
        self.seen = set()
        self.lock = threading.Lock()

    def process(self, tup):
        n = tup.values.n
        time.sleep(0.001)
        with self.lock:
            first = n % 10 == 0 and n not in self.seen
            self.seen.add(n)
        if first:
            raise ValueError(f"first delivery of {n}")
        self.emit([n])


class PlainSink(Bolt):
    outputs = ["n"]

    def process(self, tup):
        self.emit(list(tup.values))


class AsyncTreeTopo(Topology):
    numbers = Numbers.spec()
    echo = AsyncEcho.spec(inputs=[numbers], par=2)
    sink = Sink.spec(inputs=[echo])


class ThreadTreeTopo(Topology):
    numbers = Numbers.spec()
    echo = ThreadEcho.spec(inputs=[numbers], par=2)
    sink = Sink.spec(inputs=[echo])


class AsyncFlakyTopo(Topology):
    numbers = Replaying.spec()
    flaky = AsyncFlaky.spec(inputs={numbers: Grouping.fields("n")}, par=2)  # a replay meets the same task
    sink = PlainSink.spec(inputs=[flaky])


class ThreadFlakyTopo(Topology):
    numbers = Replaying.spec()
    flaky = ThreadFlaky.spec(inputs={numbers: Grouping.fields("n")}, par=2)
    sink = PlainSink.spec(inputs=[flaky])


# -- coroutines nothing would run ----------------------------------------------------------------


class AsyncPlainDefault(Bolt):
    """``async def process`` with no concurrency declared (it was accepted and never run)."""

    outputs = ["n"]

    async def process(self, tup):
        await asyncio.sleep(0)
        self.emit(list(tup.values))


def logged(fn):
    """A user decorator that hides the coroutine function (a plain wrapper returning its coroutine)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper  # inspect.iscoroutinefunction(wrapper) is False: the runtime calls it as a plain def


class ReturnsCoroutine(Bolt):
    """A plain ``process`` that returns a coroutine: reported as an error, its tuple failed."""

    outputs = ["n"]

    @logged
    async def process(self, tup):
        self.emit(list(tup.values))


class AsyncDefaultTopo(Topology):
    numbers = Numbers.spec()
    work = AsyncPlainDefault.spec(inputs=[numbers], par=2)
    sink = PlainSink.spec(inputs=[work])


class ReturnsCoroutineTopo(Topology):
    numbers = Numbers.spec()
    work = ReturnsCoroutine.spec(inputs=[numbers])
    sink = PlainSink.spec(inputs=[work])


# -- concurrent spouts -----------------------------------------------------------------------------


class AsyncNumbers(Spout):
    """``async def next_tuple``, 4 calls at once; ends with StopIteration (or StopAsyncIteration)."""

    outputs = [Stream(["n"]), Stream(["n"], name="acked"), Stream(["n"], name="failed")]
    concurrency = 4

    def initialize(self, conf, context):
        self.it = iter(range(conf.get("test.n", N)))
        self.stop = StopAsyncIteration if conf.get("test.async_stop") else StopIteration

    async def next_tuple(self):
        await asyncio.sleep(0.001)
        n = next(self.it, None)
        if n is None:
            raise self.stop
        self.emit([n], tup_id=n)

    def ack(self, tup_id):
        self.emit([tup_id], stream="acked")

    def fail(self, tup_id):
        self.emit([tup_id], stream="failed")


class ThreadNumbers(AsyncNumbers):
    """A blocking ``next_tuple`` on 4 threads."""

    concurrency_mode = "threads"

    def initialize(self, conf, context):
        super().initialize(conf, context)
        self.lock = threading.Lock()

    def next_tuple(self):
        time.sleep(0.001)
        with self.lock:
            n = next(self.it)  # StopIteration: exhausted
        self.emit([n], tup_id=n)


class AsyncSpoutTopo(Topology):
    numbers = AsyncNumbers.spec()
    sink = PlainSink.spec(inputs=[numbers], par=2)


class ThreadSpoutTopo(Topology):
    numbers = ThreadNumbers.spec()
    sink = PlainSink.spec(inputs=[numbers], par=2)


# -- slow bolts ------------------------------------------------------------------------------------


class SleepBolt(Bolt):
    """Sleeps ``test.sleep`` seconds per tuple (an HTTP call, a database write)."""

    def initialize(self, conf, context):
        self.secs = conf.get("test.sleep", 0.2)

    def process(self, tup):
        time.sleep(self.secs)


class AsyncSleepBolt(Bolt):
    def initialize(self, conf, context):
        self.secs = conf.get("test.sleep", 0.2)

    async def process(self, tup):
        await asyncio.sleep(self.secs)


class ThreadSleepBolt(SleepBolt):
    concurrency_mode = "threads"


class SlowBoltTopo(Topology):
    src = EndlessPlain.spec()
    slow = SleepBolt.spec(inputs=[src])


class AsyncSlowBoltTopo(Topology):
    src = EndlessPlain.spec()
    slow = AsyncSleepBolt.spec(inputs=[src])


class ThreadSlowBoltTopo(Topology):
    src = EndlessPlain.spec()
    slow = ThreadSleepBolt.spec(inputs=[src])


class AsyncThroughputTopo(Topology):
    """Calls of ``test.sleep`` seconds at par 4, 4 in flight per task (16 at once)."""

    numbers = Numbers.spec()
    work = AsyncSleepBolt.spec(inputs=[numbers], par=4, concurrency=4)


class ThreadThroughputTopo(Topology):
    numbers = Numbers.spec()
    work = ThreadSleepBolt.spec(inputs=[numbers], par=4, concurrency=4)


class PlainThroughputTopo(Topology):
    numbers = Numbers.spec()
    work = SleepBolt.spec(inputs=[numbers], par=4)
