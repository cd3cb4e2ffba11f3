"""Exactly-once sinks vs at-least-once (a benchmark, not a test): see bench/README.md.

    python bench/sinks.py [--words 300000] [--repeat 2] [--redis-url redis://127.0.0.1:6379/0]

A checkpointed word count (a rewindable spout and a StatefulBolt, par 2 each, 2 worker processes,
checkpoints every second) whose running counts go to: no sink (the baseline), a plain bolt appending
each pair to a file (at-least-once), SqliteTransactionalSink, SqliteIdempotentSink, and with
``--redis-url`` RedisTransactionalSink and RedisIdempotentSink. Variants alternate in each round
(the machine's drift hits all). Words/s is words / the whole run (workers' start and the final
checkpoint included: the same for every variant). Every run's output is checked (each pair once in a
transactional sink, the final counts in an idempotent one): exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sink_topologies as st  # noqa: E402

from squall.local.coordinator import Coordinator  # noqa: E402


def check(variant: str, folder: str, n: int, redis_url: str | None) -> str | None:
    """What is wrong with the run's output (None: exactly what it should be)."""
    counts = Counter(st.word(i) for i in range(n))
    pairs = Counter((w, c) for w, k in counts.items() for c in range(1, k + 1))
    if variant in ("sqlite-tx", "sqlite-last"):
        db = sqlite3.connect(os.path.join(folder, "out.sqlite3"))
        if variant == "sqlite-tx":
            got = Counter(db.execute("SELECT word, count FROM tx").fetchall())
            return None if got == pairs else f"{sum(got.values())} rows for {n} pairs"
        return None if dict(db.execute("SELECT word, count FROM last").fetchall()) == counts else "wrong counts"
    if variant in ("redis-tx", "redis-last"):
        import redis

        r = redis.Redis.from_url(redis_url)
        if variant == "redis-tx":
            got = Counter()
            for key in r.zrange("benchsinks:batches", 0, -1):
                for v in r.hvals(key):
                    got.update((w, c) for w, c in json.loads(v))
            return None if got == pairs else f"{sum(got.values())} records for {n} pairs"
        last = {k.decode(): int(v) for k, v in r.hgetall("benchsinks:last").items()}
        return None if last == counts else "wrong counts"
    if variant == "append":
        lines = 0
        for name in os.listdir(folder):
            if name.startswith("appended-"):
                with open(os.path.join(folder, name)) as f:
                    lines += sum(1 for _ in f)
        return None if lines == n else f"{lines} lines for {n} pairs"
    return None


def run(variant: str, n: int, redis_url: str | None) -> tuple[float, str | None]:
    if redis_url and variant.startswith("redis"):
        import redis

        r = redis.Redis.from_url(redis_url)
        old = list(r.scan_iter("benchsinks:*"))
        if old:
            r.delete(*old)
    with tempfile.TemporaryDirectory() as folder:
        conf = {
            "topology.workers": 2,
            "topology.state.checkpoint.interval.ms": 1000,
            "squall.state.dir": os.path.join(folder, "state"),
            "sqlite.path": os.path.join(folder, "out.sqlite3"),
            "redis.url": redis_url or "redis://127.0.0.1:6379/0",
            "bench.n": n,
            "bench.dir": folder,
        }
        coord = Coordinator(st.VARIANTS[variant], conf, timeout=3600, status_out=io.StringIO(), handle_signals=False)
        t0 = time.perf_counter()
        result = coord.run()
        secs = time.perf_counter() - t0
        if result.reason != "completed":
            return secs, f"run {result.reason}: {result.message}"
        return secs, check(variant, folder, n, redis_url)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--redis-url", help="also the Redis sinks, against this server")
    a = ap.parse_args()
    variants = ["none", "append", "sqlite-tx", "sqlite-last"] + (["redis-tx", "redis-last"] if a.redis_url else [])
    rates: dict[str, list[float]] = {v: [] for v in variants}
    failed = False
    for _ in range(a.repeat):
        base = None
        for v in variants:
            secs, problem = run(v, a.words, a.redis_url)
            rate = a.words / secs
            rates[v].append(rate)
            base = base or rate
            verdict = problem or "output ok"
            print(
                f"{v:12} {rate / 1e3:7.1f}k words/s  {secs:6.2f} s  / none in this round {rate / base:.2f}  {verdict}"
            )
            failed = failed or problem is not None
    best = {v: max(r) for v, r in rates.items()}
    print("best of each / best of none: " + ", ".join(f"{v} {best[v] / best['none']:.2f}" for v in variants))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
