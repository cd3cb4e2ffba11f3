"""I/O-bound bolt benchmark (a benchmark, not a test): see bench/README.md.

    python bench/io_bolt.py [--workers 2] [--par 8] [--sleep-ms 50] [--tuples 480] [--concurrency 1]

A spout emits ``--tuples`` tracked tuples (``tup_id``) to a bolt whose ``process`` waits
``--sleep-ms`` (an HTTP call, a database write) at ``par = --par``, on ``--workers`` worker
processes, in three variants, in the same run:

* ``plain``: a blocking ``time.sleep`` in a plain ``def process``: one call at a time per worker
  (what every bolt got before concurrency existed; the baseline);
* ``async``: ``await asyncio.sleep`` in ``async def process``: calls in flight on the worker's event loop;
* ``threads``: the same blocking ``time.sleep`` with ``concurrency_mode = "threads"``.

Each run ends when every tree is acked (the coordinator's "completed"); tuples/s = tuples /
(activation -> completion). The run fails (exit status 1) unless every tuple was executed once and
acked, none failed and no error was reported.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from squall import Bolt, Spout, Topology  # noqa: E402
from squall.local.coordinator import Coordinator  # noqa: E402

TARGET = 120.0  # tuples/s for par=8 on 2 workers, 50 ms per call (issue 7)


class NumberSpout(Spout):
    """Emits 0..n-1 as tracked tuples; at close, writes when it was activated and got its last ack
    (``time.monotonic``: system-wide on Linux, so the benchmark compares it with its own clock)."""

    outputs = ["n"]

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.left = iter(range(int(conf["bench.tuples"])))
        self.out = conf["bench.out"]
        self.acked: set[int] = set()
        self.activated = self.last_ack = 0.0

    def activate(self) -> None:
        self.activated = self.activated or time.monotonic()

    def next_tuple(self) -> None:
        i = next(self.left)
        self.emit([i], tup_id=i)

    def ack(self, tup_id: Any) -> None:
        self.acked.add(tup_id)
        self.last_ack = time.monotonic()

    def close(self) -> None:
        with open(self.out, "w") as f:
            json.dump({"activated": self.activated, "last_ack": self.last_ack, "acked": len(self.acked)}, f)


class PlainSleepBolt(Bolt):
    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.secs = float(conf["bench.sleep.ms"]) / 1000

    def process(self, tup: Any) -> None:
        time.sleep(self.secs)


class AsyncSleepBolt(Bolt):
    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.secs = float(conf["bench.sleep.ms"]) / 1000

    async def process(self, tup: Any) -> None:
        await asyncio.sleep(self.secs)


class ThreadSleepBolt(PlainSleepBolt):
    concurrency_mode = "threads"


BOLTS = {"plain": PlainSleepBolt, "async": AsyncSleepBolt, "threads": ThreadSleepBolt}
PARS = (1, 2, 4, 8, 16)
CONCURRENCY = (1, 2, 4, 8)


def _topology(variant: str, par: int, concurrency: int) -> type:
    bolt_cls = BOLTS[variant]
    spout = NumberSpout.spec()
    extra = {} if variant == "plain" else {"concurrency": concurrency}
    ns = {"spout": spout, "bolt": bolt_cls.spec(inputs=[spout], par=par, **extra)}
    return type(Topology)(f"{variant}_p{par}_c{concurrency}", (Topology,), ns)


# Module level, so worker processes import them by reference (io_bolt:async_p8_c1).
for _v in BOLTS:
    for _p in PARS:
        for _c in (1,) if _v == "plain" else CONCURRENCY:
            _t = _topology(_v, _p, _c)
            globals()[_t.__name__] = _t


def run(variant: str, workers: int, par: int, concurrency: int, tuples: int, sleep_ms: float) -> dict[str, Any]:
    name = f"{variant}_p{par}_c{1 if variant == 'plain' else concurrency}"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "spout.json")
        conf = {
            "topology.workers": workers,
            "bench.tuples": tuples,
            "bench.sleep.ms": sleep_ms,
            "bench.out": out,
        }
        coord = Coordinator(
            f"io_bolt:{name}", conf, status_out=io.StringIO(), log_level="WARNING", handle_signals=False
        )
        result = coord.run()
        with open(out) as f:
            spout_report = json.load(f)
    snap = result.statistics
    spout, bolt = snap.components["spout"], snap.components["bolt"]
    secs = spout_report["last_ack"] - spout_report["activated"]  # activation -> the last tree acked
    problems = []
    if result.reason != "completed":
        problems.append(f"reason {result.reason}")
    counts = (bolt.executed, spout.acked, spout_report["acked"], spout.failed, bolt.errors)
    if counts != (tuples, tuples, tuples, 0, 0):
        problems.append(
            "executed {}, acked {} ({} distinct ids), failed {}, errors {}".format(*counts)
            + f" (expected {tuples} executed and acked, 0 failed, 0 errors)"
        )
    return {"variant": variant, "tuples": tuples, "secs": secs, "rate": tuples / secs, "problems": problems}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--par", type=int, default=8, choices=PARS)
    ap.add_argument("--concurrency", type=int, default=1, choices=CONCURRENCY, help="calls in flight per task")
    ap.add_argument("--sleep-ms", type=float, default=50.0)
    ap.add_argument("--tuples", type=int, default=480, help="per concurrent variant (the plain one gets a third)")
    ap.add_argument("--variant", choices=["all", *BOLTS], default="all")
    args = ap.parse_args()
    variants = list(BOLTS) if args.variant == "all" else [args.variant]
    print(
        f"I/O-bound bolt: {args.sleep_ms:g} ms per call, par={args.par}, {args.workers} worker(s), "
        f"concurrency={args.concurrency} per task (async, threads)",
        flush=True,
    )
    failed = False
    figures = {}
    for variant in variants:
        n = max(1, args.tuples // 3) if variant == "plain" else args.tuples
        r = run(variant, args.workers, args.par, args.concurrency, n, args.sleep_ms)
        figures[variant] = r["rate"]
        status = "; ".join(r["problems"]) or "every tuple executed once and acked"
        print(f"  {variant:8} {r['rate']:8.1f} tuples/s  ({n} tuples in {r['secs']:.2f} s; {status})", flush=True)
        failed = failed or bool(r["problems"])
    if "plain" in figures:
        for v in ("async", "threads"):
            if v in figures:
                print(f"  {v} / plain: {figures[v] / figures['plain']:.1f}x")
    if args.workers == 2 and args.par == 8 and args.sleep_ms == 50:
        for v in ("async", "threads"):
            if v in figures:
                print(f"  target >= {TARGET:.0f} tuples/s ({v}): {'MET' if figures[v] >= TARGET else 'NOT MET'}")
    if failed:
        print("FAILED: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
