"""Replays go through the same limits as new tuples; queues between workers stay small (issue 7, section 3).

A fast spout into a bolt that sleeps per tuple, in another worker process. Before: a ReliableSpout
re-emitted every failed message inside ``fail``, straight from the timeout rotation, while
backpressure had paused its worker's spouts: 0 acked, millions failed, memory climbing; and
~800k untracked tuples queued in socket buffers before backpressure started.
"""

import contextlib
import io
import threading
import time

import psutil
import pytest
import reliable_topologies as R

from squall.local.coordinator import Coordinator


def run_sampling(coord, period=0.5):
    """Run ``coord`` in a thread; sample every snapshot it publishes and each worker's RSS."""
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", coord.run()))
    th.start()
    snaps, rss = [], {}
    snap = None
    while th.is_alive():
        snap = coord.wait_statistics(snap, timeout=period)
        snaps.append(snap)
        for i, h in list(coord.handles.items()):
            with contextlib.suppress(psutil.Error):
                rss.setdefault(i, []).append((snap.uptime, psutil.Process(h.pid).memory_info().rss))
    th.join()
    return out["r"], snaps, rss


def first_after(snaps, t):
    return next(s for s in snaps if s.sampled >= t and s.round)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_slow_consumer_acks_steadily_with_flat_memory():
    """The reproduction: 60 s, topology.message.timeout.secs=5, topology.max.spout.pending unset."""
    coord = Coordinator(
        R.SlowConsumerTopo,
        {"topology.message.timeout.secs": 5, "squall.stats.interval.secs": 1},
        duration=60,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result, snaps, rss = run_sampling(coord)
    assert result.reason == "stopped", result.message
    start, end = first_after(snaps, 15), [s for s in snaps if s.round][-1]
    assert end.sampled - start.sampled >= 40
    acked = end.components["source"].acked - start.components["source"].acked
    executed = end.components["slow"].executed - start.components["slow"].executed
    rate = executed / (end.sampled - start.sampled)
    assert rate > 40, f"the bolt ran at {rate:.0f}/s (it sleeps 10 ms per tuple)"
    assert acked >= 0.9 * executed, f"acked {acked} of {executed} executed after the warm-up"
    # Steadily: every 5 s window after the warm-up acks something.
    t = start.sampled
    while t + 5 <= end.sampled:
        a, b = first_after(snaps, t), first_after(snaps, t + 5)
        assert b.components["source"].acked > a.components["source"].acked, f"no ack between {t:.0f} and {t + 5:.0f} s"
        t += 5
    for i, pts in rss.items():
        at15 = min(r for u, r in pts if u >= 15) / 2**20
        last = pts[-1][1] / 2**20
        peak = max(r for _, r in pts) / 2**20
        assert last - at15 < 10, f"worker {i} RSS grew from {at15:.0f} to {last:.0f} MB after t=15 s"
        assert peak < 100, f"worker {i} peak RSS {peak:.0f} MB"
    failed = end.components["source"].failed - start.components["source"].failed
    assert failed <= 0.05 * acked, f"{failed:,} trees failed after the warm-up ({acked:,} acked)"


QUEUE_BOUND = 8000  # tuples: a few batches


@pytest.mark.timeout(90)
def test_untracked_tuples_queue_no_more_than_a_few_batches_between_workers():
    """Without acking only backpressure slows the spout: it starts within about a batch, not 800k tuples."""
    coord = Coordinator(
        R.SlowConsumerUntrackedTopo,
        {"test.sleep": 0.002, "squall.stats.interval.secs": 0.5},
        duration=6,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result, snaps, _ = run_sampling(coord)
    assert result.reason == "stopped", result.message
    # A few batches (of 1,000): the peer's in-flight limit (about a second of its rate, at least a
    # batch), up to two batches held in the slow bolt's executor queue while its worker stops reading
    # (section 1's time-bounded turns), and the sender's channel buffers. Not 800k.
    most = max(s.queued for s in snaps)
    assert 0 < most <= QUEUE_BOUND, f"{most:,} tuples queued"
    totals = result.statistics.components
    assert totals["source"].emitted - totals["slow"].executed <= QUEUE_BOUND
    assert totals["slow"].executed > 500


def test_fail_waits_while_the_spout_may_not_emit():
    """A spout that re-emits inside fail(): with the pending cap and backpressure, it cannot run away."""
    coord = Coordinator(
        R.SlowConsumerFailEmitsTopo,
        {"test.sleep": 0.002, "topology.message.timeout.secs": 1, "squall.stats.interval.secs": 0.5},
        duration=6,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    started = time.monotonic()
    result, snaps, _ = run_sampling(coord)
    assert result.reason == "stopped", result.message
    spout = result.statistics.components["source"]
    worst = max(s.components["source"].pending for s in snaps)
    assert worst <= 1000, f"{worst:,} trees pending at once"  # the automatic cap's ceiling
    assert max(s.queued for s in snaps) <= QUEUE_BOUND
    assert spout.acked > 500
    assert spout.emitted <= spout.acked + spout.failed + 1000
    assert time.monotonic() - started < 60
