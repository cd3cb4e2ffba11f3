"""The multilang word count (a benchmark, not a test): words/s through a pystorm bolt run as a
subprocess per task (ShellBolt, JSON over pipes), next to the same bolt run natively, in one run.

    python bench/multilang_wordcount.py [--words 200000] [--native-words 2000000] [--workers 2]
                                        [--acking] [--repeat 1] [--conf key=value ...]

Topology: a native spout emitting words -> fields grouping -> 2 count tasks (emitting [word, count],
as streamparse's word count bolt does). Storm's figure for the same components over multilang JSON
with its synchronous spout round trip is about 8,000 tuples/s on this machine class
(../shared/reference/streamparse-and-multilang.md, section 3). Checks that every word was executed
(and acked with --acking); the elapsed time includes starting the subprocesses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import multilang_topologies as mt  # noqa: E402

from squall.testing import run_topology  # noqa: E402
from squall.topology.config import parse_pairs  # noqa: E402

STORM_MULTILANG = 8_000.0  # tuples/s: pystorm over Storm's multilang JSON, synchronous spout (reference note)


def run(topo: type, words: int, workers: int, acking: bool, extra: dict[str, object]) -> float:
    conf = {"bench.words": words, "bench.acking": acking, "topology.testing.always.try.serialize": False}
    conf.update(extra)
    t0 = time.monotonic()
    res = run_topology(topo, workers=workers, conf=conf, timeout=600)
    elapsed = time.monotonic() - t0
    if res.reason != "completed":
        sys.exit(f"{topo.__name__}: the run did not complete ({res.reason})")
    executed = sum(st.get("executed", 0) for st in res.tasks.values() if st["component"] == "count")
    if executed != words:
        sys.exit(f"{topo.__name__}: {executed:,} words executed, expected {words:,}")
    if acking:
        acked = sum(st["acked"] for st in res.tasks.values() if st["component"] == "words")
        if acked != words:
            sys.exit(f"{topo.__name__}: {acked:,} words acked, expected {words:,}")
    return words / elapsed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", type=int, default=200_000, help="words through the multilang run")
    ap.add_argument("--native-words", type=int, default=2_000_000, help="words through the native run")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (1: in this process)")
    ap.add_argument("--acking", action="store_true", help="track every word (tup_id) to its ack")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--conf", action="append", default=[], help="extra topology conf key=value")
    args = ap.parse_args(argv)
    extra = parse_pairs(args.conf)
    what = f"{args.workers} worker(s), acking {'on' if args.acking else 'off'}"
    print(f"multilang word count: native spout -> fields -> 2 count tasks; {what}")
    for _ in range(args.repeat):
        ml = run(mt.Multilang, args.words, args.workers, args.acking, extra)
        native = run(mt.Native, args.native_words, args.workers, args.acking, extra)
        print(
            f"  multilang (pystorm subprocesses): {ml:10,.0f} words/s = {ml / STORM_MULTILANG:4.1f}x Storm's "
            f"~{STORM_MULTILANG:,.0f} | native: {native:12,.0f} words/s ({native / ml:.0f}x multilang)"
        )


if __name__ == "__main__":
    main()
