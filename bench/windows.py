"""Windowed word count (a benchmark, not a test): see bench/README.md.

    python bench/windows.py [--tuples 3000000] [--in-window 1000000] [--repeat 2]

The same in-process word count (one worker, acking off) with a plain counting bolt and with a
WindowedBolt counting over a 5-minute window sliding every 10 s in event time, the spout stamping
``--in-window / 300`` tuples per second of event time (so a full window holds ``--in-window`` tuples).
Each run is its own process (clean peak RSS). Prints tuples/s of both, their ratio, and the peak RSS
above the plain run's per million tuples held in a window.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def one(variant: str, n: int, in_window: int) -> dict[str, float]:
    sys.path.insert(0, HERE)
    import window_topologies as wt

    from squall.local.inprocess import run_in_process

    topo = wt.Windowed if variant == "windowed" else wt.Plain
    t0 = time.perf_counter()
    run_in_process(topo, {"bench.n": n, "bench.per.sec": in_window / 300.0}, timeout=3600)
    secs = time.perf_counter() - t0
    return {"secs": secs, "rate": n / secs, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tuples", type=int, default=3_000_000)
    ap.add_argument("--in-window", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--one", choices=["plain", "windowed"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.tuples, a.in_window)))
        return 0
    rows: dict[str, list[dict[str, float]]] = {"plain": [], "windowed": []}
    for _ in range(a.repeat):
        for variant in ("plain", "windowed"):  # alternated: the machine's drift hits both
            cmd = [
                sys.executable,
                __file__,
                "--one",
                variant,
                "--tuples",
                str(a.tuples),
                "--in-window",
                str(a.in_window),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            rows[variant].append(r)
            print(
                f"{variant:9} {r['rate'] / 1e3:8.0f}k tuples/s  {r['secs']:6.2f} s  peak RSS {r['maxrss_mb']:6.0f} MB"
            )
    best = {v: max(r["rate"] for r in rs) for v, rs in rows.items()}
    rss = {v: min(r["maxrss_mb"] for r in rs) for v, rs in rows.items()}
    print(f"windowed / plain throughput (best of {a.repeat}): {best['windowed'] / best['plain']:.2f}")
    per_m = (rss["windowed"] - rss["plain"]) / (a.in_window / 1e6)
    print(f"memory: {per_m:.0f} MB per million tuples held in the window (peak RSS above the plain run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
