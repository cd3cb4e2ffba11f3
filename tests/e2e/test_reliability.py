"""Guaranteed processing end to end: trees acked, failures replayed, timeouts, user errors."""

from collections import Counter

import reliable_topologies as R

from squall.testing import complete_topology, read_tuples

N = R.N


def spout_stats(res):
    return next(st for st in res.tasks.values() if st["component"] == "numbers")


def test_every_tree_is_acked(workers):
    res = complete_topology(R.AckTreeTopo, workers=workers)
    acked = Counter(v for (v,) in read_tuples(res, "numbers", "acked"))
    assert acked == Counter(range(N))  # each exactly once
    assert read_tuples(res, "numbers", "failed") == []
    sink = read_tuples(res, "sink")
    assert Counter(sink) == Counter((n, c) for n in range(N) for c in (0, 1))
    st = spout_stats(res)
    assert st["acked"] == N and st["pending"] == 0
    assert 0 < st["complete_latency_ms"]["p50"] <= st["complete_latency_ms"]["p99"] < 5000


def test_unacked_tuples_time_out_exactly(workers):
    res = complete_topology(R.TimeoutTopo, workers=workers, conf={"test.max_fails": 1}, timeout=30)
    failed = Counter(v for (v,) in read_tuples(res, "numbers", "failed"))
    assert failed == Counter(n for n in range(N) if n % 7 == 0)
    acked = Counter(v for (v,) in read_tuples(res, "numbers", "acked"))
    assert acked == Counter(n for n in range(N) if n % 7)
    st = spout_stats(res)
    assert st["timed_out"] == len(failed)
    assert 1.0 <= res.elapsed < 10


def test_bolt_errors_fail_and_replay(workers):
    res = complete_topology(R.FlakyTopo, workers=workers)
    assert set(v for (v,) in read_tuples(res, "sink")) == set(range(N))
    failed = Counter(v for (v,) in read_tuples(res, "numbers", "failed"))
    assert failed == Counter(range(0, N, 100))  # failed once, replayed, then processed
    assert Counter(v for (v,) in read_tuples(res, "numbers", "acked")) == Counter(range(N))
    flaky = [st for st in res.tasks.values() if st["component"] == "flaky"]
    assert sum(st["errors"] for st in flaky) == N // 100
    assert sorted(e["error"] for e in res.errors) == sorted(
        f"ValueError: first delivery of {n}" for n in range(0, N, 100)
    )


def test_spout_fanout_trees_are_acked(workers):
    res = complete_topology(R.SpoutFanoutTopo, workers=workers)
    assert Counter(v for (v,) in read_tuples(res, "numbers", "acked")) == Counter(range(N))
    assert read_tuples(res, "numbers", "failed") == []
