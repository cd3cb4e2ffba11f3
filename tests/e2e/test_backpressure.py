"""A bolt far slower than its spout: the spout is slowed down and memory stays flat."""

import contextlib
import io
import threading
import time

import psutil
import pytest
import topologies as T

from squall.local.coordinator import Coordinator
from squall.local.status import summary

DURATION = 30
PEAK_RSS_BOUND_MB = 120  # measured ~41 MB (spout's worker) and ~31 MB (bolt's worker) on 2 cores
GROWTH_BOUND_MB = 15  # RSS from t=10 s to the end


@pytest.mark.slow
def test_slow_bolt_slows_the_spout_and_memory_stays_flat():
    coord = Coordinator(
        T.BackpressureTopo, {"topology.workers": 2}, duration=DURATION, status_out=io.StringIO(), handle_signals=False
    )
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", coord.run()))
    th.start()
    samples: dict[int, list[tuple[float, int]]] = {}
    start = time.monotonic()
    while th.is_alive():
        for i, h in list(coord.handles.items()):
            with contextlib.suppress(psutil.Error):
                samples.setdefault(i, []).append((time.monotonic() - start, psutil.Process(h.pid).memory_info().rss))
        time.sleep(0.5)  # the RSS sampling period
    th.join()
    result = out["r"]
    assert result.reason == "stopped"
    totals = result.component_totals()
    emitted, executed = totals["source"]["emitted"], totals["slow"]["executed"]
    assert emitted == executed  # everything emitted was processed before the stop
    assert not result.statistics.drain_timed_out
    assert summary(result.statistics)[1:] == ["[squall] nothing was in flight at the stop"]
    rate = executed / DURATION
    assert rate < 60_000  # the spout ran at the bolt's pace, not its own (it can emit ~1M/s)
    for i, pts in samples.items():
        peak = max(r for _, r in pts) / 2**20
        at10 = min((r for t, r in pts if t >= 10), default=0) / 2**20
        end = pts[-1][1] / 2**20
        assert peak < PEAK_RSS_BOUND_MB, f"worker {i} peak RSS {peak:.0f} MB"
        assert end - at10 < GROWTH_BOUND_MB, f"worker {i} RSS grew {end - at10:.0f} MB after t=10s"
