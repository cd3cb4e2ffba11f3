"""Windowed bolts in running topologies (in-process and on 2 worker processes): count, event-time
and processing-time windows; tuples acked when they leave their windows, so finite runs complete;
late tuples on the late stream."""

from __future__ import annotations

import pytest
import window_topologies as W

from squall import InvalidTopologyError, Spout, Topology
from squall.testing import complete_topology, read_tuples
from squall.topology.windowed_bolt import WindowedBolt
from squall.topology.windows import Count, Sliding, Tumbling


def test_sliding_count_window(workers):
    result = complete_topology(W.CountWindowTopo, workers=workers, conf={"test.n": 100})
    rows = read_tuples(result, "sums")
    expected = []
    for k in range(5, 101, 5):  # fires every 5 tuples with the last 10
        ns = list(range(max(0, k - 10), k))
        expected.append((ns[0], ns[-1], sum(ns), len(ns), 5, 5 if k >= 15 else 0))
    assert rows == expected
    spout = result.component_totals()["numbers"]
    assert spout["acked"] == 100 and spout["failed"] == 0  # every tuple acked once it left its windows
    sums = result.statistics.components["sums"]  # the bolt's own figures, in the statistics and the UI
    assert dict(sums.metrics) == {"windows_fired": 20, "late_tuples": 0}
    assert dict(sums.gauges) == {"tuples_in_windows": 0}


def test_event_time_windows_and_late_tuples(workers):
    result = complete_topology(W.EventTimeTopo, workers=workers)
    rows = read_tuples(result, "windows")
    assert rows[:3] == [(0.0, 10.0, "ab", "ab", ""), (10.0, 20.0, "cd", "cd", "ab"), (20.0, 30.0, "e", "e", "cd")]
    assert [r[2] for r in rows[3:]] == ["f"] + [""] * (len(rows) - 4)  # f fired at the end of the run
    assert sorted(w for (w,) in read_tuples(result, "late")) == ["late1", "late2"]
    assert result.statistics.components["windows"].metrics["late_tuples"] == 2
    assert result.component_totals()["events"]["acked"] == 8


def test_processing_time_windows_see_every_tuple_once(workers):
    result = complete_topology(W.ProcessingTimeTopo, workers=workers, conf={"test.n": 5000})
    assert sum(n for (n,) in read_tuples(result, "counts")) == 5000  # tumbling: each tuple in one window
    assert result.component_totals()["numbers"]["acked"] == 5000


class Source(Spout):
    outputs = ["word", "ts"]


def build(bolt, config):
    return type("T", (Topology,), {"src": Source.spec(), "win": bolt.spec(inputs=[Source.spec()]), "config": config})


def refused(bolt_attrs, config):
    bolt = type("B", (WindowedBolt,), bolt_attrs)
    src = Source.spec()
    attrs = {"src": src, "win": bolt.spec(inputs=[src]), "config": config}
    with pytest.raises(InvalidTopologyError) as e:
        type("T", (Topology,), attrs)
    return str(e.value)


def test_a_window_must_fit_in_the_message_timeout():
    text = refused({"window": Sliding(300, 10)}, {"topology.max.spout.pending": 0})
    assert "topology.message.timeout.secs=30 does not exceed the window's length + every (310 s)" in text
    assert "more than 310" in text


def test_a_window_needs_a_pending_limit_that_holds_it():
    text = refused({"window": Tumbling(Count(1000))}, {"topology.max.spout.pending": 100})
    assert "needs 1000" in text and "at least 1000" in text
    text = refused({"window": Tumbling(5)}, {})
    assert "topology.max.spout.pending is unset for spout 'src'" in text


def test_window_declaration_mistakes():
    assert "without a window" in refused({}, {"topology.max.spout.pending": 0})
    assert "more than length" in refused({"window": Sliding(5, 10)}, {"topology.max.spout.pending": 0})
    text = refused({"window": Tumbling(5), "timestamp_field": "time"}, {"topology.max.spout.pending": 0})
    assert "timestamp_field 'time' is not a field of its input src:default ['word', 'ts']" in text
    assert "needs a time window" in refused(
        {"window": Tumbling(Count(5)), "timestamp_field": "ts"}, {"topology.max.spout.pending": 0}
    )


def test_acking_off_needs_no_pending_limit():
    bolt = type("B", (WindowedBolt,), {"window": Sliding(300, 10)})
    src = Source.spec()
    type("T", (Topology,), {"src": src, "win": bolt.spec(inputs=[src]), "config": {"topology.acker.executors": 0}})
