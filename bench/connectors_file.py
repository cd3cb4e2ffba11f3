"""FileSpout throughput: the word count fed from files, acking on, next to the ceiling (Python
reading the same files line by line and counting their words alone), in the same run.

    python bench/connectors_file.py [--lines 200000] [--files 4] [--workers 2] [--repeat 1]

Writes ``--lines`` sentences of 10 words over ``--files`` files in a temporary folder, then:
(a) the ceiling: ``for line in open(...)`` + ``Counter.update(line.split())`` over every file;
(b) ``FileSpout -> split (par 2) -> count (par 2, fields grouping)`` on real workers with acking,
timed from the spouts' activation until every file's persisted offset (the acked prefix) is at its
end. It fails (exit status 1) unless the counts equal the ceiling's. Prints lines/s of both and
the ratio (b)/(a). For the shared frame of every broker, see bench/connectors.py.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import connectors_file_topologies as T

from squall.connectors.files import read_offsets
from squall.local.coordinator import Coordinator


class TimedCoordinator(Coordinator):
    t_activate = 0.0

    def _supervise(self, start: float) -> str:  # called right after the 'activate' broadcast
        self.t_activate = time.monotonic()
        return super()._supervise(start)


def write_files(folder: str, lines: int, files: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(10_000)]
    for k in range(files):
        with open(os.path.join(folder, f"part-{k}.txt"), "w") as f:
            n = lines * (k + 1) // files - lines * k // files
            f.write("".join(" ".join(rng.choices(vocab, k=10)) + "\n" for _ in range(n)))


def ceiling(folder: str) -> tuple[float, Counter[str]]:
    counts: Counter[str] = Counter()
    t0 = time.monotonic()
    for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
        with open(path) as f:
            for line in f:
                counts.update(line.split())
    return time.monotonic() - t0, counts


def topology_run(folder: str, work: str, workers: int, timeout: float) -> tuple[float, Counter[str]]:
    offsets, out = os.path.join(work, "offsets"), os.path.join(work, "out")
    os.makedirs(out)
    conf = {
        "file.path": os.path.join(folder, "*.txt"),
        "file.offsets.dir": offsets,
        "file.offsets.commit.period.ms": 100,
        "bench.out_dir": out,
        "topology.workers": workers,
    }
    sizes = {p: os.path.getsize(p) for p in glob.glob(os.path.join(folder, "*.txt"))}
    status = sys.stderr if os.environ.get("BENCH_STATUS") else io.StringIO()
    coord = TimedCoordinator(T.FileWordCount, conf, status_out=status, handle_signals=False)
    runner = threading.Thread(target=coord.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runner.is_alive():
        if coord.t_activate and os.path.isdir(offsets) and read_offsets(offsets) == sizes:
            break
        time.sleep(0.02)
    else:
        raise SystemExit(f"not every line was acked after {timeout:.0f} s (or the run ended): {coord.message}")
    elapsed = time.monotonic() - coord.t_activate
    coord.request_stop("bench done")
    runner.join(60)
    counts: Counter[str] = Counter()
    for path in glob.glob(os.path.join(out, "count-*.json")):
        with open(path) as f:
            counts.update(json.load(f))
    return elapsed, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="squall-bench-file-") as tmp:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        write_files(data, args.lines, args.files)
        for r in range(args.repeat):
            secs_a, expected = ceiling(data)
            secs_b, counts = topology_run(data, os.path.join(tmp, f"run-{r}"), args.workers, args.timeout)
            if counts != expected:
                print(f"FAIL: counts differ ({sum(counts.values()):,} words vs {sum(expected.values()):,})")
                return 1
            a, b = args.lines / secs_a, args.lines / secs_b
            print(
                f"file: {args.lines:,} lines ({args.files} files, 10 words each): "
                f"ceiling (read + count alone) {a:,.0f} lines/s; "
                f"FileSpout -> word count, acking on, {args.workers} workers: {b:,.0f} lines/s "
                f"({10 * b:,.0f} words/s); ratio {b / a:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
