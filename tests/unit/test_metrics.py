"""Execute, process and complete latencies (measured per slice, summed over tasks and incarnations),
tuple sampling and the workers' captured output, without processes (one Worker in this thread)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import threading
import time
from typing import Any

import pytest

from squall import BatchingBolt, Bolt, Spout, Stream, Topology
from squall.local.samples import SampleBook
from squall.local.statistics import TIMINGS, RunState, StatsBook, TaskStats, aggregate
from squall.local.worker_logs import WorkerLogs
from squall.local.worker_process import WorkerProcess
from squall.runtime.sampling import MAX_CHARS, jsonable
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.topology.plan import Plan
from squall.transport.control import SAMPLE, TO_WORKER

SLEEP = 0.005


# -- the statistics fields ------------------------------------------------------------------------


def test_timings_are_summed_over_incarnations_and_derive_latencies():
    base = TaskStats(task=3, component="b", kind="bolt", worker=0, round=2, executed=10, execute_ms=50.0)
    base = dataclasses.replace(base, process_ms=80.0, process_count=8)
    raw = {"component": "b", "executed": 30, "execute_ms": 90.0, "process_ms": 40.0, "process_count": 2}
    ts = TaskStats.from_report(3, raw, kind="bolt", worker=0, round=3, base=base)
    assert (ts.executed, ts.execute_ms, ts.process_ms, ts.process_count) == (40, 140.0, 120.0, 10)
    assert ts.execute_latency_ms == pytest.approx(3.5) and ts.process_latency_ms == pytest.approx(12.0)
    spout = TaskStats.from_report(1, {"complete_ms": 30.0, "complete_count": 3}, kind="spout", worker=0, round=1)
    assert spout.complete_latency_avg_ms == pytest.approx(10.0)
    empty = TaskStats(task=1, component="s", kind="spout", worker=0, round=0)
    assert (empty.execute_latency_ms, empty.process_latency_ms, empty.complete_latency_avg_ms) == (0.0, 0.0, 0.0)


def test_components_sum_their_tasks_timings_and_to_dict_has_them():
    tasks = [
        TaskStats(3, "b", "bolt", 0, 1, executed=10, execute_ms=20.0, process_ms=30.0, process_count=10),
        TaskStats(4, "b", "bolt", 1, 1, executed=30, execute_ms=100.0, process_ms=90.0, process_count=20),
        TaskStats(1, "s", "spout", 0, 1, complete_ms=12.0, complete_count=4),
    ]
    comps = aggregate(tasks)
    b = comps["b"]
    assert (b.execute_ms, b.process_ms, b.process_count) == (120.0, 120.0, 30)
    assert b.execute_latency_ms == pytest.approx(3.0) and b.process_latency_ms == pytest.approx(4.0)
    assert comps["s"].complete_latency_avg_ms == pytest.approx(3.0)
    d = json.loads(json.dumps(b.to_dict()))
    assert {k: d[k] for k in TIMINGS} == {
        "execute_ms": 120.0,
        "process_ms": 120.0,
        "process_count": 30,
        "complete_ms": 0,
        "complete_count": 0,
    }
    assert d["execute_latency_ms"] == pytest.approx(3.0)
    t = json.loads(json.dumps(tasks[2].to_dict()))
    assert t["complete_ms"] == 12.0 and t["complete_latency_avg_ms"] == pytest.approx(3.0)


PLAN = Plan(
    num_workers=2,
    task_component={1: "numbers", 2: "tag", 3: "tag"},
    component_tasks={"numbers": [1], "tag": [2, 3]},
    task_worker={1: 0, 2: 0, 3: 1},
    acker_tasks=(),
)


def _answer(worker: int, rnd: int, ms: float, inc: int = 0) -> dict[str, Any]:
    tasks = {}
    for t in PLAN.worker_tasks(worker):
        if t == 1:
            tasks["1"] = {"component": "numbers", "emitted": {"default": 1}, "complete_ms": ms, "complete_count": 1}
        else:
            tasks[str(t)] = {
                "component": "tag",
                "executed": 10,
                "execute_ms": ms,
                "process_ms": ms,
                "process_count": 10,
            }
    return {"t": "stats", "round": rnd, "inc": inc, "tasks": tasks}


def test_timings_of_a_restarted_worker_keep_growing_and_workers_say_when_they_started():
    b = StatsBook("T", PLAN, {"numbers": "spout", "tag": "bolt"})
    b.worker_started(0, 0, 100, 1000.0)
    b.worker_started(1, 0, 101, 1000.5)
    b.begin([0, 1], 0.0)
    b.record(0, _answer(0, 1, 40.0), 0.1)
    b.record(1, _answer(1, 1, 40.0), 0.1)
    before = b.snapshot(RunState.ACTIVE, 0.1)
    assert before.components["tag"].execute_ms == 80.0 and before.workers[1].started == 1000.5
    b.worker_died(1, 0.5)
    b.worker_started(1, 1, 201, 1002.0)
    b.begin([0, 1], 1.0)
    b.record(0, _answer(0, 2, 50.0), 1.1)
    b.record(1, _answer(1, 2, 5.0, inc=1), 1.1)
    snap = b.snapshot(RunState.ACTIVE, 1.1)
    assert snap.tasks[3].execute_ms == 45.0 and snap.tasks[3].process_count == 20  # 40 + 5, 10 + 10
    assert snap.components["numbers"].complete_ms == 50.0
    assert snap.workers[1].started == 1002.0 and snap.workers[1].to_dict()["started"] == 1002.0
    for t, ts in snap.tasks.items():
        for k in TIMINGS:
            assert getattr(ts, k) >= getattr(before.tasks[t], k), (t, k)


# -- measured in a worker -----------------------------------------------------------------------


class Numbers(Spout):
    outputs = [Stream(["n", "blob"]), Stream(["square"], name="squares")]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        self.i += 1
        self.emit([self.i, b"\x00raw"], tup_id=self.i)
        self.emit([self.i * self.i], stream="squares")


class Sleepy(Bolt):
    outputs = ["n"]

    def process(self, tup):
        time.sleep(SLEEP)


class LateAcker(Bolt):
    """Acks each tuple on the next one: its process latency is at least one call."""

    def initialize(self, conf, context):
        self.auto_ack = False
        self.held: Any = None

    def process(self, tup):
        time.sleep(SLEEP)
        if self.held is not None:
            self.ack(self.held)
        self.held = tup


class Batcher(BatchingBolt):
    config = {"topology.tick.tuple.freq.secs": 0.01}

    def process_batch(self, key, tups):
        time.sleep(SLEEP)


class Sink(Bolt):
    def process(self, tup):
        pass


class MeasuredTopo(Topology):
    numbers = Numbers.spec()
    sleepy = Sleepy.spec(inputs=[numbers])
    late = LateAcker.spec(inputs=[numbers])
    batcher = Batcher.spec(inputs=[numbers])
    squares = Sink.spec(inputs=[numbers["squares"]])


def start(topology: type, **conf: Any) -> Worker:
    w = Worker(topology, topology_conf(topology.config, {"topology.workers": 1, **conf}))
    w.setup()
    w.activate()
    return w


def by_component(w: Worker) -> dict[str, dict[str, Any]]:
    return {st["component"]: st for st in w.task_stats().values()}


def run_until(w: Worker, pred, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        w.step()
        stats = by_component(w)
        if pred(stats):
            return stats
        assert time.monotonic() < deadline, stats


def test_execute_and_process_latencies_are_measured_per_slice():
    w = start(MeasuredTopo, **{"topology.max.spout.pending": 20})
    stats = run_until(w, lambda s: s["sleepy"]["executed"] >= 40 and s["late"]["process_count"] >= 5)
    sleepy = stats["sleepy"]
    latency = sleepy["execute_ms"] / sleepy["executed"]
    assert SLEEP * 1000 <= latency < SLEEP * 1000 * 4, latency  # sleep() never returns early
    assert sleepy["process_count"] == sleepy["acked"]  # auto ack: every tuple
    assert sleepy["process_ms"] / sleepy["process_count"] >= latency * 0.5
    late = stats["late"]  # explicit acks, sampled: each waits for the next call at least
    assert 0 < late["process_count"] <= late["acked"]
    assert late["process_ms"] / late["process_count"] >= SLEEP * 1000
    batcher = stats["batcher"]  # process() appends; process_batch (in the ticks) sleeps
    assert batcher["execute_ms"] >= SLEEP * 1000 and batcher["process_count"] <= batcher["acked"]
    spout = stats["numbers"]
    assert spout["complete_count"] >= 0 and spout["complete_ms"] >= 0.0
    assert "execute_ms" not in spout


def test_complete_latency_sums_cover_the_sampled_trees():
    w = start(MeasuredTopo, **{"topology.max.spout.pending": 50})
    stats = run_until(w, lambda s: s["numbers"]["complete_count"] >= 3, timeout=60)
    spout = stats["numbers"]
    assert spout["complete_ms"] / spout["complete_count"] >= SLEEP * 1000  # every tree waits for the sleeper
    assert spout["complete_latency_ms"]["avg"] == pytest.approx(spout["complete_ms"] / spout["complete_count"])


# -- sampling -----------------------------------------------------------------------------------


def test_sampling_captures_one_stream_for_a_while_then_the_fast_path_is_back():
    w = start(MeasuredTopo, **{"topology.max.spout.pending": 20})
    (spout,) = w.spouts
    router = spout.routers["default"]
    fast_send, fast_first = router.send, router.send_first
    assert w.take_samples() == [] and not w.samplers
    assert w.start_sampling("numbers", "default", 0.3, 5) == 1
    assert router.sampling and router.send_first is None
    emitted0 = by_component(w)["numbers"]["emitted"]
    samples: list[list[Any]] = []
    deadline = time.monotonic() + 30
    while w.sample_ends or w.samplers:
        w.step()
        got = w.take_samples()
        assert len(got) <= 5  # per task between two answers
        samples += got
        assert time.monotonic() < deadline
    assert samples, "nothing sampled"
    for task, stream, t, values in samples:
        assert (task, stream) == (spout.task, "default") and abs(t - time.time()) < 60
        assert type(values[0]) is int and values[1] == repr(b"\x00raw")  # bytes: JSON cannot carry them
    assert json.loads(json.dumps(samples)) == samples
    assert not router.sampling and router.send is fast_send and router.send_first is fast_first
    run_until(w, lambda s: s["numbers"]["emitted"]["default"] > emitted0["default"] + 10)
    assert w.take_samples() == []  # nothing captured once it ended


def test_emits_are_counted_the_same_while_sampling():
    w = start(MeasuredTopo, **{"topology.max.spout.pending": 20})
    w.start_sampling("numbers", None, 60.0, 1000)
    stats = run_until(w, lambda s: s["sleepy"]["executed"] >= 30)
    spout, sink = stats["numbers"], stats["squares"]
    assert spout["emitted"]["default"] >= stats["sleepy"]["executed"]
    assert spout["emitted"]["squares"] >= sink["executed"] > 0
    streams = {s for _, s, _, _ in w.take_samples()}
    assert streams == {"default", "squares"}


def test_a_sample_message_is_checked_whole():
    assert SAMPLE in TO_WORKER
    w = start(MeasuredTopo)
    good = {"t": SAMPLE, "component": "numbers", "stream": None, "secs": 1, "per_task": 3}
    WorkerProcess.start_sampling(None, w, good)  # type: ignore[arg-type]  # self is not used
    assert w.sample_ends
    for bad in (
        {"secs": -1},
        {"secs": float("nan")},
        {"secs": "1"},
        {"per_task": 1.5},
        {"component": 3},
        {"stream": ["x"]},
    ):
        with pytest.raises(ValueError, match="a sample message whose fields"):
            WorkerProcess.start_sampling(None, w, {**good, **bad})  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        WorkerProcess.start_sampling(None, w, {"t": SAMPLE})  # type: ignore[arg-type]
    assert w.start_sampling("no such component", None, 1.0, 3) == 0


def test_values_are_made_json_able():
    big = 1 << 70
    assert jsonable([1, "a", None, True, 2.5]) == [1, "a", None, True, 2.5]
    assert jsonable((b"x", big, math.nan, {1: {"k": (1, 2)}}, {3})) == [
        "b'x'",
        repr(big),
        "nan",
        {"1": {"k": [1, 2]}},
        "{3}",
    ]
    assert len(jsonable("x" * 10_000)) == MAX_CHARS
    assert jsonable(list(range(1000)))[-1] == "..."

    class Weird:
        def __repr__(self):
            raise RuntimeError("no")

    assert "repr() raised RuntimeError" in jsonable(Weird())


def test_sample_book_keeps_well_formed_samples_only():
    book = SampleBook(kept=3)
    comp = {1: "numbers", 2: "tag"}
    assert book.add(comp, [1, 2], [[1, "default", 5.0, [1]], [2, "default", 6, ["x"]]]) == 2
    for bad in ([[9, "default", 1.0, []]], [[1, "default", 1.0]], [[1, 2, 1.0, []]], [[1, "s", "t", []]], {}):
        with pytest.raises(ValueError, match="sample"):
            book.add(comp, [1, 2], bad)
    assert [s.seq for s in book.after("numbers")] == [1] and book.after("tag")[0].values == ["x"]
    book.add(comp, [1], [[1, "default", float(i), [i]] for i in range(5)])
    assert [s.values for s in book.after("numbers")] == [[2], [3], [4]]  # the newest 3
    assert [s.seq for s in book.after("numbers", after=6)] == [7]
    assert json.loads(json.dumps(book.after("tag")[0].to_dict()))["stream"] == "default"


# -- the workers' output ------------------------------------------------------------------------


def test_worker_logs_keep_the_last_lines_of_each_worker_and_number_them():
    logs = WorkerLogs(keep=3)
    for i in range(5):
        logs.add(0, f"w0 line {i}")
        logs.add(1, f"w1 line {i}")
    assert [e.line for e in logs.lines(0)] == ["w0 line 2", "w0 line 3", "w0 line 4"]
    everything = logs.lines()
    assert [e.seq for e in everything] == [5, 6, 7, 8, 9, 10] and everything[0].line == "w0 line 2"
    assert [e.seq for e in logs.lines(after=8)] == [9, 10]
    assert [e.line for e in logs.lines(1, limit=1)] == ["w1 line 4"]  # the newest, as tail -n
    assert logs.lines(2) == [] and logs.lines(limit=0) == []
    assert json.loads(json.dumps(everything[0].to_dict()))["worker"] == 0


def test_worker_output_is_written_through_unchanged_and_kept():
    logs = WorkerLogs(keep=10)
    out = io.StringIO()
    r, wfd = os.pipe()
    logs.follow(4, os.fdopen(r, "rb"), lambda: out)
    with os.fdopen(wfd, "wb") as pipe:
        pipe.write("first line\nsecond é line\r\nno end".encode())
    assert logs.drain(10)
    assert out.getvalue() == "first line\nsecond é line\r\nno end"
    assert [(e.worker, e.line) for e in logs.lines()] == [(4, "first line"), (4, "second é line"), (4, "no end")]


def test_worker_logs_are_thread_safe():
    logs = WorkerLogs(keep=10_000)

    def add(w: int) -> None:
        for i in range(1000):
            logs.add(w, str(i))

    threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.seq for e in logs.lines(limit=10_000)] == list(range(1, 4001))


# -- the coordinator's side (constructed, not run) ----------------------------------------------


def test_the_coordinator_checks_what_it_is_asked_and_what_workers_send():
    from squall.errors import UnknownComponentError
    from squall.local.coordinator import Coordinator

    coord = Coordinator(MeasuredTopo, {"topology.workers": 2}, status_out=io.StringIO(), handle_signals=False)
    assert coord.started == 0.0 and coord.topology_id.startswith("MeasuredTopo-")
    with pytest.raises(UnknownComponentError, match="unknown component 'nope'"):
        coord.sample("nope")
    with pytest.raises(UnknownComponentError, match="declares no stream 'nope'"):
        coord.sample("numbers", "nope")
    with pytest.raises(ValueError, match="secs"):
        coord.sample("numbers", secs=-1)
    with pytest.raises(ValueError, match="wait_secs"):
        coord.kill(-1)
    coord.sample("numbers", "squares", secs=1, per_task=2)  # queued for the loop
    assert coord.logs() == [] and coord.samples("numbers") == []
    # a worker's stats answer with samples: well-formed ones are kept, a malformed list is dropped and counted
    w = coord.plan.task_worker[coord.plan.component_tasks["numbers"][0]]
    coord.incarnation = {0: 0, 1: 0}
    task = coord.plan.component_tasks["numbers"][0]
    coord._handle(w, {"t": "stats", "round": 0, "inc": 0, "tasks": {}, "samples": [[task, "squares", 1.0, [4]]]})
    assert [(s.task, s.stream, s.values) for s in coord.samples("numbers")] == [(task, "squares", [4])]
    for bad in ("x", [[task, "squares"]], [[999, "squares", 1.0, [4]]]):
        coord._handle(w, {"t": "stats", "round": 0, "inc": 0, "tasks": {}, "samples": bad})
    assert coord.drops.count == 3 and len(coord.samples("numbers")) == 1
    coord._handle(w, {"t": "stats", "round": 0, "inc": 7, "tasks": {}, "samples": [[task, "squares", 1.0, [9]]]})
    assert len(coord.samples("numbers")) == 1  # from an earlier incarnation: not kept
