"""Statistics snapshots: rounds published whole, stale workers, restarts, the one aggregation, views."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from squall.local.result import RunResult
from squall.local.statistics import COUNTERS, ErrorInfo, RunState, StatsBook, TaskStats, aggregate
from squall.local.status import StatusLine, human, render, summary
from squall.topology.plan import Plan

# tasks 1-2: spout "numbers"; 3-5: bolt "tag"; 6-7: ackers. Workers: 0 has 1, 3, 5, 6; 1 has 2, 4, 7.
PLAN = Plan(
    num_workers=2,
    task_component={1: "numbers", 2: "numbers", 3: "tag", 4: "tag", 5: "tag", 6: "__acker", 7: "__acker"},
    component_tasks={"numbers": [1, 2], "tag": [3, 4, 5], "__acker": [6, 7]},
    task_worker={1: 0, 3: 0, 5: 0, 6: 0, 2: 1, 4: 1, 7: 1},
    acker_tasks=(6, 7),
)
KINDS = {"numbers": "spout", "tag": "bolt"}


def book() -> StatsBook:
    b = StatsBook("Topo", PLAN, KINDS)
    b.worker_started(0, 0, 100)
    b.worker_started(1, 0, 101)
    return b


def answer(worker: int, rnd: int, n: int, inc: int = 0, errors: list | None = None) -> dict:
    """Worker ``worker``'s answer to round ``rnd``: every counter of its tasks is ``n``."""
    tasks = {}
    for t in PLAN.worker_tasks(worker):
        comp = PLAN.task_component[t]
        st = {"component": comp, "emitted": {"default": n}, "transferred": n, "acked": n, "failed": 0, "errors": 0}
        if comp != "numbers":
            st["executed"] = n
        if comp == "numbers":
            st.update({"pending": 3, "timed_out": 0, "complete_latency_ms": {"avg": 1.0, "p50": 1.0, "p99": t * 2.0}})
        tasks[str(t)] = st
    return {"t": "stats", "round": rnd, "inc": inc, "tasks": tasks, "queued": 7, "rss": 1 << 20, "errors": errors or []}


def test_a_round_is_published_only_when_every_worker_answered():
    b = book()
    first = b.snapshot(RunState.ACTIVE, 1.0)
    assert first.round == 0 and all(ts.round == 0 and ts.emitted == 0 for ts in first.tasks.values())
    rnd = b.begin([0, 1], 1.0)
    assert not b.record(0, answer(0, rnd, 10), 1.1)
    half = b.snapshot(RunState.ACTIVE, 1.1)
    assert half.round == 0 and all(ts.emitted == 0 for ts in half.tasks.values())  # nothing of round 1 yet
    assert b.record(1, answer(1, rnd, 20), 1.2)
    snap = b.snapshot(RunState.ACTIVE, 1.3)
    assert snap.round == 1 and snap.sampled == 1.2 and snap.uptime == 1.3
    assert {ts.round for ts in snap.tasks.values()} == {1}
    assert [ts.emitted for _, ts in sorted(snap.tasks.items())] == [10, 20, 10, 20, 10, 10, 20]
    assert not any(w.stale for w in snap.workers)


def test_a_worker_that_does_not_answer_keeps_its_numbers_marked_stale():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 10), 0.1)
    b.record(1, answer(1, 1, 20), 0.1)
    b.begin([0, 1], 1.0)
    b.record(0, answer(0, 2, 30), 1.1)
    b.begin([0, 1], 2.0)  # round 2 closed without worker 1
    snap = b.snapshot(RunState.ACTIVE, 2.0)
    assert snap.round == 2
    w0, w1 = snap.workers
    assert not w0.stale and w0.round == 2 and w1.stale and w1.round == 1
    assert {ts.round for ts in snap.tasks.values() if ts.worker == 1} == {1}
    assert snap.tasks[2].emitted == 20 and snap.tasks[1].emitted == 30
    # its late answer to round 2 is newer: shown with its own round number (still stale)
    b.record(1, answer(1, 2, 25), 2.1)
    late = b.snapshot(RunState.ACTIVE, 2.1)
    assert late.tasks[2].emitted == 25 and late.tasks[2].round == 2 and late.round == 2
    # an answer to an older round than the one shown is ignored
    b.record(1, answer(1, 1, 21), 2.2)
    assert b.snapshot(RunState.ACTIVE, 2.2).tasks[2].emitted == 25


def test_a_dead_worker_does_not_hold_the_round():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 10), 0.1)
    assert b.worker_died(1, 0.2)  # completes the round
    snap = b.snapshot(RunState.ACTIVE, 0.2)
    assert snap.round == 1 and snap.workers[1].stale and not snap.workers[1].alive


def test_counters_of_a_restarted_worker_keep_growing():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 10), 0.1)
    b.record(1, answer(1, 1, 20, errors=[{"component": "tag", "task": 4, "error": "E: x", "where": "process"}]), 0.1)
    before = b.snapshot(RunState.ACTIVE, 0.1)
    b.worker_died(1, 0.5)
    b.worker_started(1, 1, 201)  # incarnation 1: its tasks start from zero
    restarted = b.snapshot(RunState.ACTIVE, 0.6)
    assert restarted.tasks[2].emitted == 20 and restarted.tasks[2].pending == 0  # the earlier totals stay
    assert restarted.workers[1].round == 1 and {restarted.tasks[t].round for t in (2, 4, 7)} == {1}
    assert restarted.workers[1].alive and restarted.workers[1].rss is None
    b.begin([0, 1], 1.0)
    b.record(0, answer(0, 2, 12), 1.1)
    # a message from the dead incarnation: its counters are ignored, its errors kept
    b.record(1, answer(1, 2, 99, inc=0, errors=[{"component": "tag", "task": 4, "error": "E: y"}]), 1.1)
    assert b.record(1, answer(1, 2, 3, inc=1), 1.2)
    snap = b.snapshot(RunState.ACTIVE, 1.2)
    assert snap.tasks[2].emitted == 23 and snap.tasks[4].executed == 23  # 20 before the restart + 3 since
    assert snap.tasks[2].emitted_by_stream == {"default": 23}
    assert snap.workers[1].incarnation == 1 and snap.workers[1].restarts == 1 and snap.workers[1].pid == 201
    for t, ts in snap.tasks.items():
        for k in COUNTERS:
            assert getattr(ts, k) >= getattr(before.tasks[t], k)
    assert [e.error for e in snap.errors] == ["E: x", "E: y"] and snap.error_count == 2
    assert snap.errors[0].worker == 1 and snap.errors[0].task == 4


def test_components_are_the_sum_of_their_tasks():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 10), 0.1)
    b.record(1, answer(1, 1, 20), 0.1)
    snap = b.snapshot(RunState.ACTIVE, 0.1)
    tag = snap.components["tag"]
    assert tag.kind == "bolt" and tag.tasks == (3, 4, 5) and tag.executed == 40 and tag.emitted == 40
    numbers = snap.components["numbers"]
    assert numbers.kind == "spout" and numbers.acked == 30 and numbers.pending == 6
    assert numbers.complete_latency_ms is not None and numbers.complete_latency_ms.p99 == 4.0  # the worst task's
    assert snap.components["__acker"].kind == "acker" and snap.components["__acker"].system
    assert [c.name for c in snap.user_components()] == ["numbers", "tag"]
    assert snap.queued == 14
    assert aggregate(snap.tasks.values()) == dict(snap.components)


def test_snapshots_are_immutable():
    b = book()
    snap = b.snapshot(RunState.ACTIVE, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.round = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.tasks[1] = snap.tasks[2]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.tasks[1].emitted = 5  # type: ignore[misc]


def test_to_dict_is_json_and_run_result_is_a_view_of_the_snapshot():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 10, errors=[{"component": "tag", "task": 3, "error": "E: z", "traceback": "tb"}]), 0.1)
    b.record(1, answer(1, 1, 20), 0.1)
    b.add_error(ErrorInfo("-", -1, 1, 5.0, "worker 1", "worker 1 died"))
    snap = b.snapshot(RunState.STOPPED, 2.5, stop_reason="SIGINT")
    d = json.loads(json.dumps(snap.to_dict()))
    assert d["state"] == "stopped" and d["round"] == 1 and len(d["tasks"]) == 7 and len(d["workers"]) == 2
    assert {c["name"]: c["executed"] for c in d["components"]}["tag"] == 40
    r = RunResult(snap, {})
    assert (r.reason, r.exit_code, r.elapsed) == ("stopped", 0, 2.5)
    assert r.tasks[4]["executed"] == 20 and r.tasks[4]["component"] == "tag"
    assert r.errors[0]["error"] == "E: z" and r.errors[0]["worker"] == 0 and r.errors[1]["task"] == -1
    assert r.workers[1]["pid"] == 101 and r.workers[0]["queued"] == 7
    assert r.component_totals()["tag"] == {
        "emitted": 40,
        "transferred": 40,
        "executed": 40,
        "acked": 40,
        "failed": 0,
        "errors": 0,
    }


@pytest.mark.parametrize(
    ("state", "stop_reason", "reason", "code"),
    [
        (RunState.COMPLETED, None, "completed", 0),
        (RunState.STOPPED, "duration", "stopped", 0),
        (RunState.FAILED, "timeout", "timeout", 1),
        (RunState.FAILED, None, "error", 1),
        (RunState.KILLED, "SIGINT", "killed", 130),
        (RunState.ACTIVE, None, "", 1),
    ],
)
def test_reason_and_exit_code_come_from_the_state(state, stop_reason, reason, code):
    r = RunResult(book().snapshot(state, 1.0, stop_reason=stop_reason))
    assert (r.reason, r.exit_code) == (reason, code)


def test_task_stats_from_a_report_with_earlier_incarnations():
    base = TaskStats(task=1, component="s", kind="spout", worker=0, round=4, emitted=5, acked=2, given_up=1)
    base = dataclasses.replace(base, emitted_by_stream={"default": 4, "other": 1})
    raw = {"component": "s", "emitted": {"default": 3}, "acked": 1, "pending": 2, "given_up": 2}
    ts = TaskStats.from_report(1, raw, kind="spout", worker=0, round=5, base=base)
    assert (ts.emitted, ts.acked, ts.pending, ts.given_up) == (8, 3, 2, 3)
    assert dict(ts.emitted_by_stream) == {"default": 7, "other": 1}


def test_status_line_rates_from_two_snapshots():
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 100), 1.0)
    b.record(1, answer(1, 1, 100), 1.0)
    s1 = b.snapshot(RunState.ACTIVE, 1.0)
    b.begin([0, 1], 1.0)
    b.record(0, answer(0, 2, 1100), 3.0)
    b.record(1, answer(1, 2, 2100), 3.0)
    s2 = b.snapshot(RunState.ACTIVE, 3.0)
    line = render(s1, s2)  # numbers: 200 -> 3200 in 2 s; tag: 300 -> 4300
    # rates since the previous snapshot, running totals beside them
    assert (
        "] numbers emitted 1.5k/s (3.2k) acked 1.5k/s (3.2k) failed 0 p99 4.0ms | tag executed 2.0k/s (4.3k) |" in line
    )
    assert "queued 14 | errors 0" in line and "__acker" not in line
    assert "numbers emitted 200/s (200)" in render(None, s1)  # since the start
    out = io.StringIO()
    status = StatusLine(out)
    status.print(s1)
    status.print(s2)
    assert out.getvalue().splitlines()[1] == line


def test_components_are_listed_spouts_first_then_in_topology_order():
    plan = Plan(
        num_workers=1,
        task_component={1: "zeta", 2: "alpha", 3: "source", 4: "__acker"},
        component_tasks={"zeta": [1], "alpha": [2], "source": [3], "__acker": [4]},
        task_worker={1: 0, 2: 0, 3: 0, 4: 0},
        acker_tasks=(4,),
    )
    # declared: zeta (bolt), source (spout), alpha (bolt): not alphabetical, spout not first
    b = StatsBook("Topo", plan, {"zeta": "bolt", "source": "spout", "alpha": "bolt"})
    b.worker_started(0, 0, 100)
    snap = b.snapshot(RunState.ACTIVE, 1.0)
    assert [c.name for c in snap.user_components()] == ["source", "zeta", "alpha"]
    assert [c["name"] for c in snap.to_dict()["components"]] == ["source", "zeta", "alpha", "__acker"]
    line = render(None, snap)
    assert line.index("source emitted") < line.index("zeta executed") < line.index("alpha executed")
    assert (
        summary(snap)[0].split(": ", 1)[1]
        == "source: emitted 0 | zeta: emitted 0 executed 0 | alpha: emitted 0 executed 0"
    )


def test_numbers_carry_thousands_separators():
    assert [human(n) for n in (0, 999, 1_000, 612_345, 3_140_000, 1_234_567_890)] == [
        "0",
        "999",
        "1.0k",
        "612.3k",
        "3.1M",
        "1,234.6M",
    ]
    b = book()
    b.begin([0, 1], 0.0)
    b.record(0, answer(0, 1, 1_000_000), 1.0)
    b.record(1, answer(1, 1, 1_000_000), 1.0)
    for _i in range(1234):
        b.add_error(ErrorInfo("tag", 3, 0, 1.0, "process", "E: x"))
    snap = dataclasses.replace(
        b.snapshot(RunState.ACTIVE, 1234.5),
        workers=tuple(dataclasses.replace(w, queued=12_345) for w in b.snapshot(RunState.ACTIVE, 0).workers),
    )
    line = render(None, snap)
    assert line.startswith("[squall 1,234.5s] numbers emitted 2.0M/s (2.0M)")
    assert "| queued 24,690 | errors 1,234 (last: tag:3 E: x)" in line
    assert summary(snap)[0].startswith("[squall] active after 1,234.5s: numbers: emitted 2,000,000 acked 2,000,000")


def stopped(queued: int = 0, pending: int = 0, state=RunState.STOPPED, drain_timed_out=False):
    """A final snapshot: ``queued`` tuples in worker 0, ``pending`` trees at spout task 1."""
    b = book()
    b.begin([0, 1], 0.0)
    a0, a1 = answer(0, 1, 10), answer(1, 1, 10)
    a0["queued"] = queued
    a1["queued"] = 0
    a0["tasks"]["1"]["pending"] = pending
    a1["tasks"]["2"]["pending"] = 0
    b.record(0, a0, 1.0)
    b.record(1, a1, 1.0)
    return b.snapshot(state, 2.0, stop_reason="duration", drain_timed_out=drain_timed_out)


def test_summary_says_what_was_dropped_at_the_stop():
    lines = summary(stopped(queued=1_500, pending=2_000))
    assert lines[0] == (
        "[squall] stopped after 2.0s: numbers: emitted 20 acked 20 failed 0 | tag: emitted 30 executed 30"
    )
    assert lines[1:] == [
        "[squall] dropped at the stop: 1,500 tuple(s) queued in the workers; "
        "2,000 tuple tree(s) pending at spouts (numbers 2,000), never acked"
    ]
    assert summary(stopped())[1:] == ["[squall] nothing was in flight at the stop"]
    assert summary(stopped(state=RunState.COMPLETED)) == [
        "[squall] completed after 2.0s: numbers: emitted 20 acked 20 failed 0 | tag: emitted 30 executed 30"
    ]
    timed_out = summary(stopped(queued=7, drain_timed_out=True))
    assert timed_out[1] == (
        "[squall] the drain timed out (squall.drain.timeout.secs): "
        "dropped at the stop: 7 tuple(s) queued in the workers"
    )
    assert summary(stopped(state=RunState.KILLED, pending=3))[1].endswith(
        "3 tuple tree(s) pending at spouts (numbers 3), never acked"
    )
