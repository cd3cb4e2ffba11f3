"""Config values of 0 mean 0, end to end: flush every loop turn; stop without waiting for in-flight tuples."""

import io
from collections import Counter

import reliable_topologies as R
import topologies as T

from squall.local.coordinator import Coordinator
from squall.local.status import summary
from squall.testing import complete_topology, read_tuples

FLUSH_EVERY_TURN = {"topology.batch.flush.interval.millis": 0}


def test_flush_interval_zero_completes_with_exact_output(workers):
    res = complete_topology(T.FieldsTopo, workers=workers, conf=FLUSH_EVERY_TURN)
    rows = read_tuples(res, "tag")
    assert Counter(r[0] for r in rows) == Counter(T.WordSpout.WORDS[i % len(T.WordSpout.WORDS)] for i in range(T.N))
    tasks_per_word: dict[str, set[int]] = {}
    for value, _comp, task, _pid in rows:
        tasks_per_word.setdefault(value, set()).add(task)
    assert all(len(tasks) == 1 for tasks in tasks_per_word.values())


def test_flush_interval_zero_with_acking_acks_every_tree(workers):
    res = complete_topology(R.AckTreeTopo, workers=workers, conf=FLUSH_EVERY_TURN)
    assert Counter(v for (v,) in read_tuples(res, "numbers", "acked")) == Counter(range(R.N))
    assert read_tuples(res, "numbers", "failed") == []


def test_drain_timeout_zero_stops_without_waiting_for_in_flight_tuples():
    # The bolt is ~50x slower than the spout: at the stop, seconds of tuples are queued. With the
    # default drain timeout they would all be processed (test_backpressure); with 0 the run stops.
    coord = Coordinator(
        T.BackpressureTopo,
        {"topology.workers": 2, "squall.drain.timeout.secs": 0},
        duration=2,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result = coord.run()
    assert result.reason == "stopped"
    totals = result.component_totals()
    assert totals["source"]["emitted"] > totals["slow"]["executed"] > 0
    # the snapshot says so, and the summary `squall run` prints shows it
    assert result.statistics.drain_timed_out
    assert summary(result.statistics)[1].startswith("[squall] the drain timed out (squall.drain.timeout.secs): ")
