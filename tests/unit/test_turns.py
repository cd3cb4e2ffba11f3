"""The worker loop's work per turn is bounded by time, not by counts: a slow bolt's batch runs in
slices, the rest waits in order for later turns, spouts pause meanwhile (one Worker, no processes)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from squall import Bolt, Spout, Topology
from squall.runtime.executor import MAX_SLICE, TURN_SECS, next_slice, unawaited
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf

CALL = 0.02  # seconds per call of the slow bolt


class Counter(Spout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i])


class SlowRecorder(Bolt):
    def initialize(self, conf, context):
        self.seen: list[int] = []

    def process(self, tup):
        time.sleep(CALL)
        self.seen.append(tup.values.n)


class FastRecorder(SlowRecorder):
    def process(self, tup):
        self.seen.append(tup.values.n)


class SlowTopo(Topology):
    src = Counter.spec()
    slow = SlowRecorder.spec(inputs=[src])


class FastTopo(Topology):
    src = Counter.spec()
    fast = FastRecorder.spec(inputs=[src])


def start(topology: type, **conf: Any) -> Worker:
    w = Worker(topology, topology_conf(topology.config, {"topology.workers": 1, **conf}))
    w.setup()
    w.activate()
    return w


def test_a_turn_runs_for_its_budget_plus_one_call_at_most():
    w = start(SlowTopo)
    (bolt,) = w.bolts.values()
    (spout,) = w.spouts
    durations = []
    for _ in range(10):
        t0 = time.monotonic()
        w.step()
        durations.append(time.monotonic() - t0)
    # The first turn: a burst of spout calls, then slow calls until the budget is spent (the first
    # slice is one call). Each later turn: the calls that fit in the budget. Never the whole burst.
    assert max(durations) < TURN_SECS + 2 * CALL + 0.05, durations
    assert spout.instance.i >= 10  # the burst emitted more than a turn can process...
    assert bolt.n_waiting > 0 and w.turn.backlog  # ...so the rest waits in the bolt's executor
    assert w.queued() >= bolt.n_waiting
    assert not w.idle()


def test_spouts_pause_while_tuples_wait_and_order_is_kept():
    w = start(SlowTopo)
    (bolt,) = w.bolts.values()
    (spout,) = w.spouts
    w.step()
    emitted = spout.instance.i
    while w.turn.backlog:
        w.step()
        assert spout.instance.i == emitted  # no new burst while the bolt has tuples waiting
    assert bolt.instance.seen == list(range(1, emitted + 1))  # in emit order, none lost or repeated
    assert bolt.executed == emitted
    w.step()  # the backlog is gone: the spout is called again
    assert spout.instance.i > emitted


def test_a_fast_bolt_takes_whole_batches_in_one_slice():
    w = start(FastTopo)
    (bolt,) = w.bolts.values()
    for _ in range(20):
        w.step()
    # one clock read per slice of many tuples, not per tuple (the slice adapts to measured time: a
    # preemption on a loaded machine shrinks one slice, so the bound is loose)
    assert bolt.slice_n > 10
    assert bolt.instance.seen == list(range(1, bolt.executed + 1))
    assert not w.turn.backlog


def test_slice_sizes_follow_the_cost_of_a_call():
    assert next_slice(0.0, 10) == MAX_SLICE
    assert next_slice(0.2, 1) == 1  # a slow call: the clock is read after each
    assert next_slice(0.001, 1000) == 1000  # 1 us per call: about 1 ms per slice
    assert next_slice(1e-9, 1000) == MAX_SLICE


def test_a_coroutine_from_a_plain_method_is_an_error_naming_the_component():
    async def work() -> None:
        pass

    coro = work()
    exc = unawaited("enrich", Bolt, "process", coro)
    assert isinstance(exc, TypeError)
    assert "Bolt.process of component 'enrich' returned a coroutine" in str(exc)
    assert coro.cr_frame is None  # closed: no "never awaited" warning later
    assert unawaited("enrich", Bolt, "process", 42) is None  # other results are the user's business
    exc = unawaited("enrich", Bolt, "process", asyncio.sleep(0))
    assert exc is not None


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_concurrent_bolt_waits_count_as_backlog_and_in_flight_calls_as_busy(mode):
    class Sleeper(Bolt):
        concurrency = 2
        concurrency_mode = "threads" if mode == "threads" else None

        def initialize(self, conf, context):
            self.done = 0

        if mode == "async":

            async def process(self, tup):
                await asyncio.sleep(0.01)
                self.done += 1
        else:

            def process(self, tup):
                time.sleep(0.01)
                self.done += 1

    class T(Topology):
        src = Counter.spec()
        sleeper = Sleeper.spec(inputs=[src])

    w = start(T)
    (bolt,) = w.bolts.values()
    (spout,) = w.spouts
    w.step()
    emitted = spout.instance.i
    assert bolt.in_flight == 2 and bolt.n_waiting == emitted - 2  # at most 2 calls in flight
    assert not w.idle()
    w.deactivate()
    deadline = time.monotonic() + 10
    while not w.idle() and time.monotonic() < deadline:
        if not w.step():
            time.sleep(0.001)
    assert w.idle()
    assert bolt.instance.done == emitted == bolt.executed
    w.close()
