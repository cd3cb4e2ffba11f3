"""The UI's history: windows, latencies, capacity and rates from synthetic snapshots (built directly)."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from types import MappingProxyType

import pytest

from squall.local.statistics import Latency, RunState, TaskStats, TopologyStatistics, aggregate
from squall.ui.history import History, parse_window, task_window, window_between


def task(t, component, kind, **kw):
    streams = kw.pop("streams", None)
    if streams is None and kw.get("emitted"):
        streams = {"default": kw["emitted"]}
    return TaskStats(
        task=t, component=component, kind=kind, worker=t % 2, round=1, emitted_by_stream=streams or {}, **kw
    )


def snap(sampled, tasks, state=RunState.ACTIVE, rnd=None):
    by_id = {ts.task: ts for ts in tasks}
    return TopologyStatistics(
        topology="T",
        state=state,
        uptime=sampled,
        sampled=sampled,
        round=int(sampled) if rnd is None else rnd,
        tasks=MappingProxyType(by_id),
        components=MappingProxyType(aggregate(by_id.values())),
        workers=(),
        order=("spout", "bolt"),
    )


def at(secs, spout_emitted, bolt_executed, bolt_ms, bolt2_ms=0.0, complete=(0.0, 0)):
    """A snapshot at ``secs``: one spout task, a bolt with tasks 2 and 3 (task 3 does a third of the work)."""
    return snap(
        secs,
        [
            task(
                1,
                "spout",
                "spout",
                emitted=spout_emitted,
                acked=spout_emitted,
                complete_ms=complete[0],
                complete_count=complete[1],
            ),
            task(
                2,
                "bolt",
                "bolt",
                executed=bolt_executed,
                execute_ms=bolt_ms,
                process_ms=bolt_ms * 2,
                process_count=bolt_executed,
            ),
            task(3, "bolt", "bolt", executed=bolt_executed // 3, execute_ms=bolt2_ms),
        ],
    )


def test_parse_window():
    assert parse_window(None) == 600.0 and parse_window("") == 600.0
    assert parse_window("60") == 60.0 and parse_window("600") == 600.0
    assert parse_window(":all-time") is None
    for bad in ("5", "abc", "-60"):
        with pytest.raises(ValueError, match="60, 600 or :all-time"):
            parse_window(bad)


def test_counters_latencies_and_capacity_are_differences_over_the_window():
    h = History()
    for s in range(0, 121):  # one snapshot a second for two minutes, steady rates
        h.add(at(float(s), 1000 * s, 900 * s, 450.0 * s, 150.0 * s, complete=(20.0 * s, 10 * s)))
    w = h.window(60.0)
    assert w.covered == 60.0
    spout, bolt = w.components["spout"], w.components["bolt"]
    assert spout.emitted == 60_000 and spout.acked == 60_000
    assert spout.complete_latency_ms == pytest.approx(2.0)  # 20 ms per 10 trees
    assert bolt.executed == 60 * 900 + 60 * 300
    assert w.tasks[2].execute_latency_ms == pytest.approx(0.5)  # 450 ms per 900 tuples
    assert w.tasks[2].process_latency_ms == pytest.approx(1.0)
    assert w.tasks[2].capacity == pytest.approx(0.45)  # 450 ms of each second
    assert w.tasks[3].capacity == pytest.approx(0.15)
    assert bolt.capacity == pytest.approx(0.45)  # the busiest task's
    assert bolt.execute_latency_ms == pytest.approx((450 + 150) * 60 / (1200 * 60))
    assert w.tasks[1].rate("emitted") == pytest.approx(1000.0)
    everything = h.window(None)  # all time: from zero at the start
    assert everything.covered == 120.0 and everything.components["spout"].emitted == 120_000
    assert h.window(600.0).components["spout"].emitted == 120_000  # a run younger than the window: what it has


def test_a_window_that_changes_speed_shows_the_recent_speed():
    h = History()
    h.add(at(0.0, 0, 0, 0.0))
    h.add(at(600.0, 600_000, 0, 0.0))  # 1000/s for ten minutes
    h.add(at(660.0, 600_000 + 60 * 5000, 0, 0.0))  # then 5000/s
    assert h.window(60.0).components["spout"].rate("emitted") == pytest.approx(5000.0)
    assert h.window(600.0).covered == 660.0  # the newest snapshot at least 600 s older is the first
    assert h.window(None).components["spout"].emitted == 900_000


def test_no_division_by_zero_and_no_negative_counters():
    first = at(0.0, 0, 0, 0.0)
    w = window_between(first, None, 60.0)
    assert w.covered == 0.0
    b = w.components["bolt"]
    assert b.capacity == 0.0 and b.execute_latency_ms == 0.0 and b.process_latency_ms == 0.0 and b.rate("executed") == 0
    later = task(2, "bolt", "bolt", executed=5)
    earlier = task(2, "bolt", "bolt", executed=9)  # cannot happen; counted as 0, never negative
    assert task_window(later, earlier, 1.0).executed == 0


def test_the_complete_latency_gauge_when_no_sums_are_reported():
    s = snap(5.0, [task(1, "spout", "spout", emitted=10, complete_latency_ms=Latency(7.5, 7.0, 9.0))])
    assert window_between(s, None, None).components["spout"].complete_latency_ms == 7.5


def test_history_keeps_ten_minutes_and_replaces_a_republished_snapshot():
    h = History()
    for s in range(0, 2000, 10):
        h.add(at(float(s), s, s, 0.0))
    pts = h.points()
    assert pts[-1].sampled == 1990.0
    assert h.keep_secs >= 600.0
    assert pts[0].sampled <= 1990.0 - h.keep_secs < pts[1].sampled  # one point older than what is kept
    assert len(pts) <= h.keep_secs / 10 + 2
    assert not h.add(pts[-1]) and not h.add(at(5.0, 5, 5, 0.0))  # the same, or older: ignored
    inactive = dataclasses.replace(pts[-1], state=RunState.INACTIVE)  # the same counters, a new state
    assert h.add(inactive) and h.latest() is inactive and len(h.points()) == len(pts)


def test_series_rates_per_component_between_consecutive_snapshots():
    h = History(max_points=50)
    for s in range(0, 700):
        h.add(at(float(s), 100 * s, 2 * s, 0.0))
    series = h.series(["spout"])
    assert 40 <= len(series) <= 51
    assert series[-1]["time"] == 699.0 and series[0]["time"] >= 699.0 - 600.0
    assert set(series[-1]) == {"time", "spout"}
    assert series[-1]["spout"]["emitted_rate"] == pytest.approx(100.0)
    assert series[-1]["spout"]["acked_rate"] == pytest.approx(100.0)
    full = History()
    full.add(at(0.0, 0, 0, 0.0))
    full.add(at(2.0, 10, 4, 0.0))
    (point,) = full.series()
    assert point["bolt"]["executed_rate"] == pytest.approx((4 + 1) / 2.0)
    assert point["bolt"]["failed_rate"] == 0.0


def test_last_round_is_between_the_two_newest_counters():
    h = History()
    assert h.window(60.0) is None and h.last_round() is None and h.series() == []
    h.add(at(1.0, 100, 0, 0.0))
    h.add(at(3.0, 500, 0, 0.0))
    h.add(dataclasses.replace(at(3.0, 500, 0, 0.0), state=RunState.INACTIVE))
    r = h.last_round()
    assert r.covered == 2.0 and r.components["spout"].rate("emitted") == pytest.approx(200.0)


def test_one_second_rounds_for_long_keep_few_snapshots_and_exact_windows():
    h = History()
    for s in range(0, 1001):
        h.add(at(float(s), 1000 * s, 0, 0.0))
    pts = [p.sampled for p in h.points()]
    assert len(pts) <= 75 + 60 + 3
    fine = [p for p in pts if p >= 1000 - 75]
    assert fine == [float(s) for s in range(925, 1001)]  # every snapshot of the last 75 s
    coarse = [p for p in pts if p < 1000 - 75]
    assert all(b - a >= 10 for a, b in pairwise(coarse))
    assert pts[0] <= 1000 - 660
    assert h.window(60.0).covered == 60.0
    w600 = h.window(600.0)
    assert 600.0 <= w600.covered <= 610.0
    assert w600.components["spout"].rate("emitted") == pytest.approx(1000.0)
    series = h.series(["spout"])
    assert all(p["spout"]["emitted_rate"] == pytest.approx(1000.0) for p in series)
    assert series[0]["time"] >= 1000 - 600 - 10
