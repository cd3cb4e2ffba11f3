"""The streamparse word count on Squall, in-process, next to Storm multilang (a benchmark, not a test).

    python bench/streamparse_wordcount.py [--duration 10] [--workers 2] [--repeat 1] [--json out.json]

It runs, on ``--workers`` worker processes for ``--duration`` seconds each, one after the other:

* ``streamparse``: the seed article's streamparse project, unmodified
  (tests/streamparse_projects/wordcount: ``from streamparse import Spout/Bolt/Grouping/Topology``,
  WordSpout cycling four words, WordCountBolt par=2 on a fields grouping, +10 for dog), its
  components run in-process by squall/compat;
* ``native``: the same words and the same counting through Squall-native components (squall.Spout,
  squall.Bolt, same par and grouping);
* with ``--multilang``, ``multilang``: the streamparse project again with
  ``SQUALL_STREAMPARSE_MODE=multilang``: its components as ``python -m streamparse.run``
  subprocesses speaking Storm's multilang JSON protocol (squall/runtime/multilang.py), as Storm runs them;

and prints words/s for each run (count_bolt's executed tuples over the time the spouts were active,
from the activation to the stop), the median, the ratio of each streamparse run to the native run
after it, and the ratio to the ~8,000 words/s the same
streamparse components reach over Storm's multilang JSON protocol with its synchronous spout round
trip (../shared/reference/streamparse-and-multilang.md: 7.7k-8.9k over 4 runs; issue 10 wants
>= 50x in-process).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
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
MODE_ENV = "SQUALL_STREAMPARSE_MODE"
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

    def _increment(self, word: str, inc_by: int) -> None:
        self.counter[word] += inc_by
        self.total += inc_by

    def process(self, tup: Any) -> None:  # the seed's WordCountBolt.process, line for line
        word = tup.values[0]
        self._increment(word, 10 if word == "dog" else 1)
        if self.total % 1000 == 0:
            self.logger.info("counted [{:,}] words [pid={}]".format(self.total, self.pid))  # noqa: UP032
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
    ap.add_argument("--multilang", action="store_true", help="also run the project in multilang mode")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    import streamparse  # noqa: F401  (the extra: pip install 'squall[streamparse]')

    runs: dict[str, list[dict[str, Any]]] = {"streamparse": [], "native": []}
    if args.multilang:
        runs["multilang"] = []
    for _ in range(args.repeat):
        runs["streamparse"].append(run(STREAMPARSE_TOPOLOGY, args.workers, args.duration))
        runs["native"].append(run(NativeWordCount, args.workers, args.duration))
        if args.multilang:
            os.environ[MODE_ENV] = "multilang"  # read when the topology is loaded, here and in the workers
            try:
                runs["multilang"].append(run(STREAMPARSE_TOPOLOGY, args.workers, args.duration))
            finally:
                del os.environ[MODE_ENV]
    best = {k: max(r["words_per_sec"] for r in v) for k, v in runs.items()}
    median = {k: statistics.median(r["words_per_sec"] for r in v) for k, v in runs.items()}
    pairs = [a["words_per_sec"] / b["words_per_sec"] for a, b in zip(runs["streamparse"], runs["native"], strict=True)]
    for kind, rs in runs.items():
        figures = ", ".join(f"{r['words_per_sec']:,}/s ({r['words']:,} words in {r['secs']}s)" for r in rs)
        print(f"{kind:12} {figures}")
    x = median["streamparse"] / MULTILANG_REFERENCE
    print(
        f"streamparse word count in-process on Squall ({args.workers} worker(s)): median {median['streamparse']:,.0f} "
        f"words/s (best {best['streamparse']:,}) = {x:.0f}x the ~{MULTILANG_REFERENCE:,.0f} words/s of Storm "
        f"multilang (target >= {TARGET:.0f}x: {'met' if x >= TARGET else 'MISSED'}); / the same words through "
        f"Squall-native components, run by run: {', '.join(f'{p:.2f}' for p in pairs)} "
        f"(median {statistics.median(pairs):.2f}; native median {median['native']:,.0f} words/s)"
    )
    if args.multilang:
        ml = median["multilang"]
        print(
            f"the same project in multilang mode (subprocesses, Storm's JSON protocol): median {ml:,.0f} words/s "
            f"({ml / MULTILANG_REFERENCE:.2f}x the Storm reference); "
            f"in-process / multilang: {median['streamparse'] / ml:.0f}x"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workers": args.workers, "duration": args.duration, "runs": runs, "ratios": pairs}, f, indent=2)
    return 0 if x >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
