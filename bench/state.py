"""Checkpointed state (a benchmark, not a test): see bench/README.md.

    python bench/state.py [--words 4000000] [--repeat 3] [--interval-ms 1000]

The sentence word count on 2 worker processes (acking off), the count a plain Bolt with a dict or a
StatefulBolt checkpointed every ``--interval-ms``, alternated ``--repeat`` times. Prints words/s of
each run (from the topology's activation to the end of the run, the final checkpoint included), the
ratio stateful / plain, and checks that the stateful run's committed state has every word.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def one(variant: str, words: int, interval_ms: int, state_dir: str) -> dict[str, Any]:
    from squall.local.coordinator import Coordinator
    from squall.local.statistics import RunState

    conf = {
        "topology.workers": 2,
        "bench.words": words,
        "squall.state.dir": state_dir,
        "topology.state.checkpoint.interval.ms": interval_ms,
        "topology.name": f"bench-state-{variant}-{time.time_ns()}",
    }
    coord = Coordinator(f"state_topologies:{variant}", conf, status_out=io.StringIO(), handle_signals=False)
    out: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: out.setdefault("r", coord.run()))
    runner.start()
    snap = coord.wait_statistics(timeout=120)
    while snap.state is RunState.STARTING:
        snap = coord.wait_statistics(snap, timeout=120)
    t1 = time.perf_counter()
    runner.join()
    secs = time.perf_counter() - t1
    result = out["r"]
    assert result.reason == "completed", result.message
    row = {"variant": variant, "secs": secs, "rate": words / secs, "checkpoints": coord.statistics().checkpoints}
    if variant == "Stateful":
        from squall.state import open_backend
        from squall.state.kv import decoded

        backend = open_backend(conf["topology.name"], conf)
        total = sum(sum(v for k, v in decoded(backend.load(t)).items() if k != "position") for t in backend.tasks())
        backend.reset()
        backend.close()
        assert total == words // 10 // 2 * 2 * 10, f"the committed state counts {total} words"
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=4_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--interval-ms", type=int, default=1000)
    a = ap.parse_args()
    rates: dict[str, list[float]] = {"Plain": [], "Stateful": []}
    ratios = []
    with tempfile.TemporaryDirectory() as state_dir:
        for r in range(a.repeat):
            pair = {}
            for variant in ("Plain", "Stateful"):  # alternated: the machine's drift hits both
                row = one(variant, a.words, a.interval_ms, state_dir)
                pair[variant] = row["rate"]
                rates[variant].append(row["rate"])
                cp = row["checkpoints"]
                extra = f", {cp['count']} checkpoints, last {cp['last'].get('duration_ms', 0):.1f} ms" if cp else ""
                print(
                    f"round {r + 1} {variant:8s} {row['rate']:>12,.0f} words/s ({row['secs']:.2f} s{extra})", flush=True
                )
            ratios.append(pair["Stateful"] / pair["Plain"])
            print(f"round {r + 1} stateful / plain: {ratios[-1]:.2f}", flush=True)
    plain, stateful = statistics.median(rates["Plain"]), statistics.median(rates["Stateful"])
    each = ", ".join(f"{x:.2f}" for x in ratios)
    print(
        f"median words/s: plain {plain:,.0f}, stateful {stateful:,.0f}; "
        f"stateful / plain per round: {each} (median {statistics.median(ratios):.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
