"""Concurrent components end to end: ``async def`` and ``concurrency_mode = "threads"``, in this process
and on 2 worker processes: every tuple acked once, anchoring inside concurrent calls, failures,
throughput, and coroutines that nothing would have run."""

from collections import Counter

import concurrency_topologies as C
import pytest

from squall.testing import complete_topology, read_tuples

N = C.N


def acked_and_failed(res, spout="numbers"):
    return (
        Counter(v for (v,) in read_tuples(res, spout, "acked")),
        Counter(v for (v,) in read_tuples(res, spout, "failed")),
    )


@pytest.mark.parametrize("topo", [C.AsyncTreeTopo, C.ThreadTreeTopo], ids=["async", "threads"])
def test_concurrent_calls_ack_every_tree_once(workers, topo):
    """Two children per input, emitted across awaits / sleeps while other calls run: each anchors to
    its own input, so every tree completes (a wrong anchor would leave it to time out and fail)."""
    res = complete_topology(topo, workers=workers, conf={"topology.message.timeout.secs": 20}, timeout=60)
    acked, failed = acked_and_failed(res)
    assert acked == Counter(range(N))  # each exactly once
    assert failed == Counter()
    assert Counter(read_tuples(res, "sink")) == Counter((n, c) for n in range(N) for c in (0, 1))
    totals = res.component_totals()
    assert totals["echo"]["executed"] == N and totals["echo"]["acked"] == N
    assert totals["echo"]["errors"] == 0 and res.errors == []


@pytest.mark.parametrize("topo", [C.AsyncFlakyTopo, C.ThreadFlakyTopo], ids=["async", "threads"])
def test_a_raising_call_fails_its_tuple(workers, topo):
    res = complete_topology(topo, workers=workers, timeout=60)
    acked, failed = acked_and_failed(res)
    assert failed == Counter(range(0, N, 10))  # failed once each, then replayed
    assert acked == Counter(range(N))
    assert Counter(v for (v,) in read_tuples(res, "sink")) == Counter(range(N))
    assert sorted(e["error"] for e in res.errors) == sorted(
        f"ValueError: first delivery of {n}" for n in range(0, N, 10)
    )
    assert {e["component"] for e in res.errors} == {"flaky"}
    assert res.component_totals()["flaky"]["failed"] == N // 10


@pytest.mark.parametrize("stop", [False, True], ids=["StopIteration", "StopAsyncIteration"])
def test_async_spout(workers, stop):
    res = complete_topology(C.AsyncSpoutTopo, workers=workers, conf={"test.async_stop": stop}, timeout=60)
    acked, failed = acked_and_failed(res)
    assert acked == Counter(range(N)) and failed == Counter()
    assert Counter(v for (v,) in read_tuples(res, "sink")) == Counter(range(N))
    assert res.errors == []


def test_threaded_spout(workers):
    res = complete_topology(C.ThreadSpoutTopo, workers=workers, timeout=60)
    acked, failed = acked_and_failed(res)
    assert acked == Counter(range(N)) and failed == Counter()
    assert Counter(v for (v,) in read_tuples(res, "sink")) == Counter(range(N))
    assert res.errors == []


def test_async_process_is_run(workers):
    """``async def process`` without any concurrency declared: every coroutine runs (it used to be
    created and dropped: tuples "executed", none processed)."""
    res = complete_topology(C.AsyncDefaultTopo, workers=workers, timeout=60)
    assert Counter(v for (v,) in read_tuples(res, "work")) == Counter(range(N))
    assert Counter(v for (v,) in read_tuples(res, "sink")) == Counter(range(N))
    acked, failed = acked_and_failed(res)
    assert acked == Counter(range(N)) and failed == Counter()


def test_a_plain_process_returning_a_coroutine_is_an_error(workers):
    """A decorator hides ``async def``: the coroutine ``process`` returns is reported (naming the
    component) and its tuple failed, never dropped as if processed."""
    res = complete_topology(C.ReturnsCoroutineTopo, workers=workers, conf={"test.n": 20}, timeout=60)
    acked, failed = acked_and_failed(res)
    assert failed == Counter(range(20)) and acked == Counter()
    assert read_tuples(res, "sink") == []
    assert len(res.errors) == 20
    err = res.errors[0]
    assert err["component"] == "work" and err["where"] == "process"
    assert "ReturnsCoroutine.process of component 'work' returned a coroutine" in err["error"]
    assert "async def process" in err["error"]


@pytest.mark.parametrize(
    "topo", [C.AsyncThroughputTopo, C.ThreadThroughputTopo, C.PlainThroughputTopo], ids=["async", "threads", "plain"]
)
def test_io_bound_calls_run_concurrently(topo):
    """400 calls of 50 ms at par 4 on 2 workers: one call at a time per worker needs 10 s of calls;
    4 tasks x 4 calls in flight need ~1.3 s. The plain variant shows the test can tell them apart."""
    conf = {"test.sleep": 0.05, "topology.workers": 2}
    res = complete_topology(topo, workers=2, conf=conf, timeout=60)
    acked, failed = acked_and_failed(res)
    assert acked == Counter(range(N)) and failed == Counter()
    assert res.component_totals()["work"]["executed"] == N
    if topo is C.PlainThroughputTopo:
        assert res.elapsed >= N * 0.05 / 2
    else:
        assert res.elapsed < 6.0, f"{N} calls took {res.elapsed:.1f} s"
