"""Failed trees wait for the spout's turn; replays obey the pending cap; the automatic cap (issue 7, §3)."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import pytest
from test_transport import MemoryTransport

from squall import Bolt, ReliableSpout, Spout, Topology
from squall.runtime.acker import FAILED
from squall.runtime.spout_executor import MASS_TIMEOUT, PENDING_RATE_MARKS, PENDING_TIMEOUT_SHARE, SpoutExecutor
from squall.runtime.worker import Worker
from squall.topology.config import AUTO_MAX_SPOUT_PENDING, topology_conf


class Numbers(Spout):
    """Emits 1, 2, 3... with tup_id; re-emits inside fail() (Storm style); records every call."""

    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0
        self.calls: list[tuple[str, Any]] = []

    def next_tuple(self):
        self.i += 1
        self.calls.append(("next", self.i))
        self.emit([self.i], tup_id=self.i)

    def fail(self, tup_id):
        self.calls.append(("fail", tup_id))
        self.emit([tup_id], tup_id=tup_id)


class Reliable(ReliableSpout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0
        self.nexts = 0

    def next_tuple(self):
        self.i += 1
        self.nexts += 1
        self.emit([self.i], tup_id=self.i)


class Hold(Bolt):
    """Never acks: every tree stays pending until it times out."""

    outputs = ["n"]
    auto_ack = False

    def initialize(self, conf, context):
        self.seen: list[int] = []

    def process(self, tup):
        self.seen.append(tup.values.n)


class Topo(Topology):
    numbers = Numbers.spec()
    hold = Hold.spec(inputs=[numbers])


class ReliableTopo(Topology):
    numbers = Reliable.spec()
    hold = Hold.spec(inputs=[numbers])


def worker(topo: Any = Topo, **conf: Any) -> tuple[Worker, SpoutExecutor]:
    w = Worker(topo, topology_conf(topo.config, {"topology.workers": 1, **conf}), 0)
    w.setup()
    w.activate()
    return w, w.spouts[0]


def expire_all(sp: SpoutExecutor) -> None:
    for _ in range(3):
        sp.rotate()


def test_the_timeout_rotation_does_not_call_fail_the_spouts_next_turn_does():
    w, sp = worker(**{"topology.max.spout.pending": 3})
    w.step()
    assert sp.instance.calls == [("next", 1), ("next", 2), ("next", 3)] and sp.pending.size == 3
    expire_all(sp)
    assert sp.failed == sp.timed_out == 3 and sp.pending.size == 0
    assert ("fail", 1) not in sp.instance.calls  # counted, but fail() waits
    assert list(sp.fails) == [1, 2, 3] and sp.waiting_replays == 3
    w.step()
    # fail() runs first, and its re-emits fill the cap: next_tuple is not called
    assert sp.instance.calls[3:] == [("fail", 1), ("fail", 2), ("fail", 3)]
    assert sp.pending.size == 3 and not sp.fails


def test_fail_waits_while_the_cap_is_full():
    w, sp = worker(**{"topology.max.spout.pending": 2})
    w.step()
    expire_all(sp)
    sp.burst(100)  # fail(1) re-emits 1, fail(2) re-emits 2: the cap is full again
    w.step()
    expire_all(sp)
    sp.max_pending = 1
    sp.burst(100)
    assert [c for c in sp.instance.calls if c[0] == "fail"] == [("fail", 1), ("fail", 2), ("fail", 1)]
    assert list(sp.fails) == [2] and sp.pending.size == 1 and sp.capped


def test_fail_waits_while_backpressure_pauses_the_spouts():
    w, sp = worker(**{"topology.max.spout.pending": 2})
    w.step()
    expire_all(sp)
    w.blocked.add(1)  # a peer has too much in flight
    w.step()
    assert [c for c in sp.instance.calls if c[0] == "fail"] == [] and len(sp.fails) == 2
    w.blocked.clear()
    w.step()
    assert [c for c in sp.instance.calls if c[0] == "fail"] == [("fail", 1), ("fail", 2)]


def test_fail_waits_while_the_spout_is_deactivated_and_is_then_not_pending():
    w, sp = worker(**{"topology.max.spout.pending": 2})
    w.step()
    w.deactivate()
    assert not sp.done  # two trees in flight
    expire_all(sp)
    assert sp.done and w.spouts_done  # it will not emit: the waiting fails are not in flight
    w.step()
    assert [c for c in sp.instance.calls if c[0] == "fail"] == []
    w.activate()
    assert not sp.done
    w.step()
    assert [c for c in sp.instance.calls if c[0] == "fail"] == [("fail", 1), ("fail", 2)]


def test_failed_trees_from_the_acker_wait_too():
    w, sp = worker(**{"topology.max.spout.pending": 2})
    w.step()
    roots = list(sp.pending.buckets[0])
    sp.execute([(FAILED, roots[0])], 1)
    assert sp.failed == 1 and list(sp.fails) == [1] and ("fail", 1) not in sp.instance.calls
    sp.burst(100)
    assert ("fail", 1) in sp.instance.calls


def test_reliable_spout_replays_on_the_next_tuple_path_within_the_cap():
    w, sp = worker(ReliableTopo, **{"topology.max.spout.pending": 2})
    spout = sp.instance
    w.step()
    assert spout.nexts == 2
    expire_all(sp)
    sp.burst(1)  # one call: fail(1) queues the replay, nothing is emitted yet
    assert list(spout.replays) == [1] and list(sp.fails) == [2] and sp.pending.size == 0
    sp.burst(100)  # replay 1, fail(2), replay 2: the cap is full, next_tuple is not called
    assert not spout.replays and not sp.fails and sp.pending.size == 2 and spout.nexts == 2
    hold = next(iter(w.bolts.values())).instance
    w.step()
    assert hold.seen == [1, 2, 1, 2]
    assert sorted(spout.unacked) == [1, 2]


def test_an_exhausted_reliable_spout_still_replays():
    class Few(Reliable):
        def next_tuple(self):
            if self.i == 2:
                raise StopIteration
            super().next_tuple()

    class FewTopo(Topology):
        numbers = Few.spec()
        hold = Hold.spec(inputs=[numbers])

    w, sp = worker(FewTopo)
    for _ in range(3):
        w.step()
    assert sp.exhausted and sp.pending.size == 2
    expire_all(sp)
    assert not sp.done and sp.wants_turn
    w.step()
    w.step()
    assert sp.pending.size == 2 and next(iter(w.bolts.values())).instance.seen == [1, 2, 1, 2]


# -- the pending cap ------------------------------------------------------------------------------


def test_an_unset_cap_with_acking_on_starts_at_the_automatic_ceiling():
    _, sp = worker()
    assert sp.auto_pending and sp.max_pending == AUTO_MAX_SPOUT_PENDING
    _, sp = worker(**{"topology.max.spout.pending": 0})
    assert not sp.auto_pending and sp.max_pending == 0  # 0: unbounded, as configured
    _, sp = worker(**{"topology.max.spout.pending": 5})
    assert not sp.auto_pending and sp.max_pending == 5
    _, sp = worker(**{"topology.acker.executors": 0})
    assert not sp.auto_pending and sp.max_pending == 0  # nothing is tracked: nothing to cap


def test_the_automatic_cap_follows_the_ack_rate_and_the_timeout():
    _, sp = worker(**{"topology.message.timeout.secs": 4})
    t = 1000.0
    sp.adjust_pending(t)
    sp.capped = True
    sp.acked += 100  # 100 trees acked in 1 s while the cap held the spout back
    sp.adjust_pending(t + 1)
    assert sp.max_pending == int(100 * 4 * PENDING_TIMEOUT_SHARE)
    sp.acked += 100_000  # much faster: back up, but never above the ceiling
    sp.capped = True
    sp.adjust_pending(t + 2)
    assert sp.max_pending == AUTO_MAX_SPOUT_PENDING
    cap = sp.max_pending
    sp.adjust_pending(t + 3)  # idle (nothing pending, the cap did not hold it back): left alone
    assert sp.max_pending == cap and sp.pending.size == 0
    sp.pending.put(1, "a")  # a tree in flight, held back by backpressure rather than the cap
    for k in range(PENDING_RATE_MARKS + 1):  # and nothing completes at all: one tree at a time
        sp.adjust_pending(t + 4 + k)
    assert sp.max_pending == 1


def test_a_configured_cap_is_never_changed():
    _, sp = worker(**{"topology.max.spout.pending": 50, "topology.message.timeout.secs": 4})
    sp.adjust_pending(1000.0)
    sp.capped = True
    sp.adjust_pending(1001.0)
    assert sp.max_pending == 50


def test_trees_timing_out_en_masse_log_one_warning(caplog):
    w, sp = worker(**{"topology.max.spout.pending": 0, "topology.message.timeout.secs": 2})
    for _ in range(MASS_TIMEOUT // 100 + 1):
        w.step()
    caplog.set_level(logging.WARNING, "squall.runtime.spout")
    expire_all(sp)
    w.step()
    expire_all(sp)
    warnings = [r.getMessage() for r in caplog.records if r.name == "squall.runtime.spout"]
    assert len(warnings) == 1
    assert "trees timed out (topology.message.timeout.secs=2)" in warnings[0]
    assert "topology.max.spout.pending is 0 (unbounded)" in warnings[0]


# -- flow control between workers -------------------------------------------------------------------


class Plain(Spout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i])


class Count(Bolt):
    outputs: Any = []

    def initialize(self, conf, context):
        self.n = 0

    def process(self, tup):
        self.n += 1


class FlowTopo(Topology):
    numbers = Plain.spec()  # task 2 (components in name order): worker 1
    count = Count.spec(inputs=[numbers])  # task 1: worker 0


def test_a_peer_that_does_not_process_stops_the_spouts_after_about_a_batch():
    hub: dict[int, deque[bytes]] = {}
    conf = topology_conf(FlowTopo.config, {"topology.workers": 2, "topology.acker.executors": 0})
    transports = [MemoryTransport(i, hub) for i in range(2)]
    workers = [Worker(FlowTopo, conf, i, transport=t) for i, t in enumerate(transports)]  # type: ignore[arg-type]
    for t in transports:
        t.connect({i: (u.address, 0) for i, u in enumerate(transports)})
    for w in workers:
        w.setup()
        w.activate()
    sink, source = workers
    spout = source.spouts[0].instance
    deadline = time.monotonic() + 5
    while not source.blocked and time.monotonic() < deadline:
        source.step()
    assert source.blocked == {0}
    emitted = spout.i
    for _ in range(50):
        source.step()
    assert spout.i == emitted  # paused
    assert source.inflight() >= source.inflight_floor and source.queued() >= source.inflight()
    while hub[0]:  # the sink processes what arrived and says so (a credit)
        sink.step()
        time.sleep(0.006)
        sink.step()
    assert sink.bolts[1].instance.n >= source.inflight_floor
    source.step()  # takes the credit, and the spout resumes in the same turn
    assert not source.blocked and spout.i > emitted


@pytest.mark.parametrize(("rate", "expected"), [(10, 1000), (50_000, 50_000), (10**9, 64_000)])
def test_the_inflight_limit_is_a_second_of_the_peers_rate_at_least_a_batch(rate, expected):
    from squall.runtime.worker import RATE_SECS, PeerFlow

    flow = PeerFlow(0, floor=1000, ceiling=64_000)
    t0 = flow.t0
    flow.credit(int(rate * RATE_SECS), t0 + RATE_SECS)
    assert flow.limit == expected


def test_a_blocked_peer_that_restarts_unblocks_the_spouts():
    hub: dict[int, deque[bytes]] = {}
    conf = topology_conf(FlowTopo.config, {"topology.workers": 2, "topology.acker.executors": 0})
    transports = [MemoryTransport(i, hub) for i in range(2)]
    source = Worker(FlowTopo, conf, 1, transport=transports[1])  # type: ignore[arg-type]
    transports[1].connect({0: ("memory://0", 0)})
    source.setup()
    source.activate()
    deadline = time.monotonic() + 5
    while not source.blocked and time.monotonic() < deadline:
        source.step()
    assert source.blocked == {0}
    hub[0].clear()  # the peer dies with what was in flight
    transports[1].connect({0: ("memory://0", 1)})  # ... and comes back as incarnation 1
    emitted = source.spouts[0].instance.i
    source.step()
    assert not source.blocked and source.spouts[0].instance.i > emitted


def test_the_inflight_limit_starts_at_a_batch_and_doubles_with_each_round_trip_until_measured():
    from squall.runtime.worker import RATE_SECS, PeerFlow

    flow = PeerFlow(0, floor=1000, ceiling=64_000)
    t0 = flow.t0
    flow.credit(1000, t0 + 0.002)  # a round trip: the whole batch processed
    assert flow.limit == 2000
    flow.credit(3000, t0 + 0.004)
    assert flow.limit == 4000
    flow.credit(3000 + 10**6, t0 + 0.006)
    assert flow.limit == 64_000  # never above the ceiling
    flow.credit(2 * 10**6, t0 + RATE_SECS)  # measured: from now on, a second of the peer's rate
    assert flow.measured and flow.limit == 64_000
