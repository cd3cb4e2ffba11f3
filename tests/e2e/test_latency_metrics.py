"""Latencies, capacity, tuple sampling, worker logs and kill from another thread, on 2 real worker
processes (a Coordinator in a thread, as the web UI runs it)."""

from __future__ import annotations

import io
import math
import os
import signal
import threading
import time
from typing import Any

import metrics_topologies as M
import pytest

from squall.errors import UnknownComponentError
from squall.local.coordinator import Coordinator
from squall.local.statistics import COUNTERS, TIMINGS, RunState, TopologyStatistics

ROUND = 0.25  # squall.stats.round.secs in these tests (the status line stays at its 5 s)


def start(conf: dict[str, Any] | None = None) -> tuple[Coordinator, threading.Thread, dict[str, Any]]:
    coord = Coordinator(
        M.SlowTopo,
        {"topology.workers": 2, "squall.stats.round.secs": ROUND, **(conf or {})},
        status_out=io.StringIO(),
        handle_signals=False,
    )
    out: dict[str, Any] = {}
    th = threading.Thread(target=lambda: out.setdefault("result", coord.run()), name="coordinator")
    th.start()
    return coord, th, out


def stop(coord: Coordinator, th: threading.Thread) -> None:
    coord.request_stop("test over")
    th.join(timeout=90)
    assert not th.is_alive()


class Follower:
    """Follows the snapshots: counters and timings never go down."""

    def __init__(self, coord: Coordinator):
        self.coord = coord
        self.last: TopologyStatistics | None = None

    def check(self, s: TopologyStatistics) -> None:
        prev = self.last
        if prev is not None:
            assert s.round >= prev.round
            for t, ts in s.tasks.items():
                for k in (*COUNTERS, *TIMINGS):
                    assert getattr(ts, k) >= getattr(prev.tasks[t], k), (t, k)
            for name, c in s.components.items():
                for k in TIMINGS:
                    assert getattr(c, k) >= getattr(prev.components[name], k), (name, k)
        self.last = s

    def until(self, pred, timeout: float = 90.0) -> TopologyStatistics:
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


def whole(s: TopologyStatistics) -> bool:
    return s.round > 0 and not any(w.stale for w in s.workers)


def test_latencies_and_capacity_of_a_bolt_that_sleeps():
    coord, th, _out = start()
    f = Follower(coord)
    try:
        a = f.until(lambda s: whole(s) and s.components["sleepy"].executed >= 100)
        b = f.until(lambda s: whole(s) and s.sampled >= a.sampled + 2.0 and s.components["sleepy"].executed >= 300)
    finally:
        stop(coord, th)
    sleepy, spout, sink = b.components["sleepy"], b.components["numbers"], b.components["sink"]
    ms = M.SLEEP_SECS * 1000
    # execute latency: the sleep, and a little more on a loaded machine
    assert ms <= sleepy.execute_latency_ms < 6 * ms, sleepy.execute_latency_ms
    assert sleepy.execute_ms >= sleepy.executed * ms
    assert sleepy.process_count == sleepy.acked > 0 and sleepy.process_latency_ms >= sleepy.execute_latency_ms * 0.5
    assert sink.execute_latency_ms < ms  # a bolt that does nothing
    assert spout.complete_count > 0 and spout.complete_latency_avg_ms >= ms  # each tree waits for a sleep
    # capacity: the time in process over the time between two snapshots; the bottleneck is busy
    dt = b.sampled - a.sampled
    for t in sleepy.tasks:
        capacity = (b.tasks[t].execute_ms - a.tasks[t].execute_ms) / (1000 * dt)
        assert 0.4 < capacity < 1.2, (t, capacity)
    assert b.tasks[sink.tasks[0]].execute_ms - a.tasks[sink.tasks[0]].execute_ms < 1000 * dt * 0.3
    # rounds every ROUND, the status line still every squall.stats.interval.secs (5 s)
    assert b.round >= 8
    assert coord.status.out.getvalue().count("\n") <= b.uptime / 5 + 1  # type: ignore[attr-defined]


def test_sample_captures_a_stream_for_a_while(capfd):
    coord, th, _out = start()
    f = Follower(coord)
    try:
        with pytest.raises(UnknownComponentError):
            coord.sample("nope")
        with pytest.raises(UnknownComponentError):
            coord.sample("numbers", "nope")
        with pytest.raises(UnknownComponentError):
            coord.samples("nope")
        f.until(lambda s: s.state is RunState.ACTIVE and s.components["sleepy"].executed > 0)
        assert coord.samples("numbers") == []
        asked = time.time()
        coord.sample("numbers", "squares", secs=1.5, per_task=20)
        f.until(lambda s: bool(coord.samples("numbers")))
        f.until(lambda s: time.time() > asked + 2.0)
        done = f.until(lambda s: whole(s) and s.sampled > 0)
        f.until(lambda s: whole(s) and s.round >= done.round + 3)  # answers after the end: nothing new
        got = coord.samples("numbers")
        later = f.until(lambda s: whole(s) and s.round >= done.round + 6)
        assert coord.samples("numbers") == got and later.state is RunState.ACTIVE
    finally:
        stop(coord, th)
    assert [s.seq for s in got] == sorted({s.seq for s in got}) and got[0].seq >= 1
    for s in got:
        assert s.stream == "squares" and s.task in coord.plan.component_tasks["numbers"]
        (square,) = s.values
        root = math.isqrt(square)
        assert root * root == square and root % 10 == 0
        assert asked - 1 <= s.time <= asked + 1.5 + 1  # within the sampling time (clocks of one machine)
    assert coord.samples("numbers", after=got[-1].seq) == []
    assert coord.samples("sleepy") == []  # only the component asked for


def test_logs_kill_and_restarts_keep_counters_growing(capfd):
    coord, th, out = start()
    f = Follower(coord)
    spout_worker = coord.plan.task_worker[coord.plan.component_tasks["numbers"][0]]
    try:
        s = f.until(lambda s: whole(s) and s.components["sleepy"].executed > 20)
        first = s.workers[spout_worker]
        assert first.started > 0 and coord.started > 0 and coord.topology_id.startswith("SlowTopo-")
        lines = [e for e in coord.logs(spout_worker) if M.LOG_MARKER in e.line]
        assert any("stdout from spout" in e.line for e in lines)  # print() in the worker
        assert any("spout 1 started" in e.line for e in lines)  # its logging (stderr)
        assert all(e.worker == spout_worker for e in lines)
        os.kill(first.pid, signal.SIGKILL)  # type: ignore[arg-type]
        s = f.until(lambda s: s.workers[spout_worker].restarts == 1 and whole(s) and s.round > 0)
        s = f.until(
            lambda x: (
                whole(x)
                and x.components["numbers"].complete_count > s.components["numbers"].complete_count
                and x.components["sleepy"].execute_ms > s.components["sleepy"].execute_ms
            )
        )
        assert s.workers[spout_worker].started > first.started
        again = [e for e in coord.logs(spout_worker) if "spout 1 started" in e.line]
        assert len(again) == 2 and again[0].seq < again[1].seq  # the same index across its restart
        everything = coord.logs()
        assert len(everything) >= 4 and coord.logs(limit=2) == everything[-2:]
        # kill with a wait: the spouts stop at once, the run stops after the wait
        t_kill = time.monotonic()
        coord.kill(1.0)
        off = f.until(lambda s: s.state is RunState.INACTIVE and s.stop_reason == "kill")
        coord.activate()  # no longer applies
        final = f.until(lambda s: s.state.final)
        assert time.monotonic() - t_kill >= 1.0
    finally:
        stop(coord, th)
    assert final.state is RunState.STOPPED and final.stop_reason == "kill" and off.round <= final.round
    assert out["result"].reason == "stopped"
    f.check(out["result"].statistics)
    err = capfd.readouterr().err
    assert f"{M.LOG_MARKER} spout 1 started" in err  # the coordinator's stderr still shows the workers' lines
