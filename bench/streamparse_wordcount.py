"""The streamparse word count on Squall, in-process, next to Storm multilang (a benchmark, not a test).

    python bench/streamparse_wordcount.py [--duration 10] [--workers 2] [--repeat 1] [--json out.json]

It runs, on ``--workers`` worker processes for ``--duration`` seconds each, one after the other:

* ``streamparse``: the seed article's streamparse project, unmodified
  (tests/streamparse_projects/wordcount: ``from streamparse import Spout/Bolt/Grouping/Topology``,
  WordSpout cycling four words, WordCountBolt par=2 on a fields grouping, +10 for dog), its
  components run in-process by squall/compat;
* ``native``: the same words and the same counting through Squall-native components (squall.Spout,
  squall.Bolt, same par and grouping);

and prints words/s for each (count_bolt's executed tuples over the time the spouts were active,
from the activation to the stop), their ratio, and the ratio to the ~8,000 words/s the same
streamparse components reach over Storm's multilang JSON protocol with its synchronous spout round
trip (../shared/reference/streamparse-and-multilang.md: 7.7k-8.9k over 4 runs; issue 10 wants
>= 50x in-process).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter
from itertools import cycle
from typing import Any

from squall import Bolt, Grouping, Spout, Topology
from squall.local.coordinator import Coordinator

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(os.path.dirname(HERE), "tests", "streamparse_projects", "wordcount")
STREAMPARSE_TOPOLOGY = os.path.join(PROJECT, "topologies", "wordcount.py")
MULTILANG_REFERENCE = 8_000.0  # words/s: pystorm components over multilang JSON, Storm's synchronous spout
TARGET = 50.0


class NativeWordSpout(Spout):
    outputs = ["word"]

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.words = cycle(["dog", "cat", "zebra", "elephant"])

    def next_tuple(self) -> None:
        self.emit([next(self.words)])


class NativeWordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.counter: Counter[str] = Counter()
        self.pid = os.getpid()
        self.total = 0

    def process(self, tup: Any) -> None:
        word = tup.values[0]
        inc = 10 if word == "dog" else 1
        self.counter[word] += inc
        self.total += inc
        if self.total % 1000 == 0:
            self.logger.info(f"counted [{self.total:,}] words [pid={self.pid}]")
        self.emit([word, self.counter[word]])


class NativeWordCount(Topology):
    word_spout = NativeWordSpout.spec()
    count_bolt = NativeWordCountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2)


class TimedCoordinator(Coordinator):
    """Records when the spouts were activated and when the run ended."""

    t_active = 0.0
    t_end = 0.0

    def _supervise(self, start: float) -> Any:  # called right after the 'activate' broadcast
        self.t_active = time.monotonic()
        try:
            return super()._supervise(start)
        finally:
            self.t_end = time.monotonic()


def run(topology: Any, workers: int, duration: float) -> dict[str, Any]:
    coord = TimedCoordinator(
        topology,
        {"topology.workers": workers, "squall.log.collapse.secs": 5},
        duration=duration,
        status_out=io.StringIO(),
        log_level="WARNING",
        handle_signals=False,
    )
    result = coord.run()
    totals = result.component_totals()
    executed = totals["count_bolt"]["executed"]
    secs = coord.t_end - coord.t_active
    if totals["count_bolt"]["errors"] or result.errors:
        raise SystemExit(f"errors during the run: {result.errors[:3]}")
    if executed != totals["word_spout"]["emitted"]:
        raise SystemExit(f"count_bolt executed {executed:,} of {totals['word_spout']['emitted']:,} words")
    return {"words": executed, "secs": round(secs, 3), "words_per_sec": round(executed / secs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (alternating)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    import streamparse  # noqa: F401  (the extra: pip install 'squall[streamparse]')

    runs: dict[str, list[dict[str, Any]]] = {"streamparse": [], "native": []}
    for _ in range(args.repeat):
        runs["streamparse"].append(run(STREAMPARSE_TOPOLOGY, args.workers, args.duration))
        runs["native"].append(run(NativeWordCount, args.workers, args.duration))
    best = {k: max(r["words_per_sec"] for r in v) for k, v in runs.items()}
    for kind, rs in runs.items():
        figures = ", ".join(f"{r['words_per_sec']:,}/s ({r['words']:,} words in {r['secs']}s)" for r in rs)
        print(f"{kind:12} {figures}")
    x = best["streamparse"] / MULTILANG_REFERENCE
    print(
        f"streamparse word count in-process on Squall ({args.workers} worker(s)): {best['streamparse']:,} words/s = "
        f"{x:.0f}x the ~{MULTILANG_REFERENCE:,.0f} words/s of Storm multilang (target >= {TARGET:.0f}x: "
        f"{'met' if x >= TARGET else 'MISSED'}); {best['streamparse'] / best['native']:.2f}x the same words "
        f"through Squall-native components ({best['native']:,} words/s)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workers": args.workers, "duration": args.duration, "runs": runs, "best": best}, f, indent=2)
    return 0 if x >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
