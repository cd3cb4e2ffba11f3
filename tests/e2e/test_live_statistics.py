"""Coordinator.statistics() read from other threads while a topology runs on real worker processes,
and activate / deactivate / request_stop called from another thread, as a web UI would."""

from __future__ import annotations

import io
import json
import os
import threading
import time

import topologies as T

from squall.local.coordinator import Coordinator
from squall.local.inprocess import run_in_process
from squall.local.statistics import COUNTERS, RunState, TopologyStatistics

INTERVAL = 0.05  # seconds between stats rounds


def start(topology=T.StatsTopo) -> tuple[Coordinator, threading.Thread, dict]:
    coord = Coordinator(
        topology,
        {"topology.workers": 2, "squall.stats.interval.secs": INTERVAL},
        status_out=io.StringIO(),
        handle_signals=False,
    )
    out: dict = {}
    th = threading.Thread(target=lambda: out.setdefault("result", coord.run()), name="coordinator")
    th.start()
    return coord, th, out


class Follower:
    """Follows the published snapshots; each one must be consistent and no count may go down."""

    def __init__(self, coord: Coordinator):
        self.coord = coord
        self.last: TopologyStatistics | None = None
        self.snapshots = 0
        self.whole_rounds = 0  # snapshots in which every worker answered the snapshot's round

    def check(self, s: TopologyStatistics) -> None:
        plan = self.coord.plan
        assert sorted(s.tasks) == sorted(plan.task_component)
        workers = {w.index: w for w in s.workers}
        assert sorted(workers) == list(range(plan.num_workers))
        for t, ts in s.tasks.items():
            w = workers[ts.worker]
            assert ts.task == t and t in w.tasks and ts.component == plan.task_component[t]
            assert ts.round == w.round  # a worker's tasks come from one answer
        for w in s.workers:
            assert w.round < s.round if w.stale else w.round == s.round
        if not any(w.stale for w in s.workers) and s.round:
            self.whole_rounds += 1
            assert {ts.round for ts in s.tasks.values()} == {s.round}  # a round is never mixed
        for name, c in s.components.items():
            mine = [ts for ts in s.tasks.values() if ts.component == name]
            assert c.tasks == tuple(sorted(ts.task for ts in mine))
            for k in COUNTERS:
                assert getattr(c, k) == sum(getattr(ts, k) for ts in mine), (name, k)
        prev = self.last
        if prev is not None:
            assert s.round >= prev.round and s.uptime >= prev.uptime and s.sampled >= prev.sampled
            assert s.error_count >= prev.error_count
            for t, ts in s.tasks.items():
                for k in COUNTERS:
                    assert getattr(ts, k) >= getattr(prev.tasks[t], k), (t, k)  # counts only grow
        self.last = s
        self.snapshots += 1

    def until(self, pred, timeout: float = 60.0) -> TopologyStatistics:
        """Follow the snapshots until one satisfies ``pred``."""
        deadline = time.monotonic() + timeout
        s = self.coord.statistics()
        while True:
            if s is not self.last:
                self.check(s)
            if pred(s):
                return s
            left = deadline - time.monotonic()
            assert left > 0 and not s.state.final, f"no such snapshot; last: {s.state} round {s.round}"
            s = self.coord.wait_statistics(s, timeout=left)


def test_statistics_read_from_other_threads_while_workers_run():
    coord, th, out = start()
    first = coord.statistics()
    assert first.state in (RunState.STARTING, RunState.ACTIVE)
    f = Follower(coord)
    stop_readers = threading.Event()
    failures: list[BaseException] = []

    def hammer() -> None:  # reads as often as it can, as a REST handler would, and serves it as JSON
        last = None
        try:
            while not stop_readers.is_set():
                s = coord.statistics()
                json.dumps(s.to_dict())
                if last is not None:
                    assert s.round >= last.round
                    for t, ts in s.tasks.items():
                        assert ts.emitted >= last.tasks[t].emitted
                last = s
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    readers = [threading.Thread(target=hammer) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        s = f.until(lambda s: s.round >= 30 and s.components["numbers"].acked > 0)
        assert s.state is RunState.ACTIVE and s.stop_reason is None
        numbers, tag = s.components["numbers"], s.components["tag"]
        assert numbers.kind == "spout" and tag.kind == "bolt" and s.components["__acker"].kind == "acker"
        assert numbers.emitted > 0 and tag.executed > 0
        # The bolt never executes more than the spout emitted. Within one snapshot the workers answered
        # at different moments (the spout's worker may answer before the bolt's, which then executes
        # what was emitted in between), so compare with the spout's count of a later round, answered
        # after every answer in ``s``.
        later = f.until(lambda x: x.round > s.round and not any(w.stale for w in x.workers))
        assert tag.executed <= later.components["numbers"].emitted
        assert all(w.alive and w.pid and w.host and w.rss for w in s.workers)
        assert f.whole_rounds >= 1
    finally:
        coord.request_stop("enough")
        th.join(timeout=60)
        stop_readers.set()
        for r in readers:
            r.join(timeout=10)
    assert not th.is_alive() and not failures, failures
    result = out["result"]
    final = result.statistics
    f.check(final)
    assert final is coord.statistics() and final.state is RunState.STOPPED and final.stop_reason == "enough"
    assert (result.reason, result.exit_code) == ("stopped", 0)
    totals = result.component_totals()
    assert totals["tag"]["executed"] == sum(st["executed"] for st in result.tasks.values() if st["component"] == "tag")
    assert totals["numbers"]["emitted"] == totals["tag"]["executed"]  # drained before the stop
    assert coord.status.out.getvalue().count("numbers emitted") >= 10  # the status line: a view of the same


def test_deactivate_activate_and_request_stop_from_another_thread():
    coord, th, out = start()
    f = Follower(coord)
    try:
        f.until(lambda s: s.state is RunState.ACTIVE and s.components["numbers"].emitted > 0)
        coord.deactivate()
        off = f.until(lambda s: s.state is RunState.INACTIVE)
        # Rounds begun after the deactivation see every emit there will be; the bolts finish what is in flight.
        a = f.until(
            lambda s: (
                s.round >= off.round + 2
                and not any(w.stale for w in s.workers)
                and s.components["tag"].executed == s.components["numbers"].emitted
                and s.components["numbers"].acked == s.components["numbers"].emitted
            )
        )
        b = f.until(lambda s: s.round >= a.round + 5 and not any(w.stale for w in s.workers))
        assert b.state is RunState.INACTIVE
        assert b.components["numbers"].emitted == a.components["numbers"].emitted  # the spouts stay quiet
        coord.activate()
        f.until(lambda s: s.state is RunState.ACTIVE)
        f.until(lambda s: s.components["numbers"].emitted > b.components["numbers"].emitted)  # and resume
        coord.request_stop("from the UI")
        f.until(lambda s: s.state.final)
    finally:
        coord.request_stop("test over")
        th.join(timeout=60)
    assert not th.is_alive()
    result = out["result"]
    assert result.statistics.state is RunState.STOPPED and result.statistics.stop_reason == "from the UI"
    assert (result.reason, result.exit_code) == ("stopped", 0)


def test_request_stop_while_inactive_stops_the_run():
    coord, th, out = start(T.ForeverTopo)
    f = Follower(coord)
    try:
        f.until(lambda s: s.state is RunState.ACTIVE)
        coord.deactivate()
        f.until(lambda s: s.state is RunState.INACTIVE)
        coord.request_stop()
        f.until(lambda s: s.state.final)
    finally:
        coord.request_stop()
        th.join(timeout=60)
    assert out["result"].statistics.state is RunState.STOPPED and out["result"].reason == "stopped"


def test_in_process_run_gives_the_same_snapshot_type():
    result = run_in_process(T.ShuffleTopo)
    s = result.statistics
    assert s.state is RunState.COMPLETED and s.round == 1 and not s.workers[0].stale
    assert s.workers[0].pid == os.getpid() and {ts.round for ts in s.tasks.values()} == {1}
    assert s.components["tag"].executed == T.N and s.components["numbers"].emitted == T.N
    assert result.component_totals()["tag"]["executed"] == T.N and result.exit_code == 0
