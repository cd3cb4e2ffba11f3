"""Summarise a py-spy raw profile of Squall worker processes: inclusive and self % per function.

    py-spy record --subprocesses --format raw -r 250 --nonblocking -o prof.txt -- \\
        python bench/wordcount.py --variant sentences --words 3000000
    python bench/pyspy_summary.py prof.txt [--top 40] [--process worker_process]

Only processes whose command line contains --process (default: worker processes) are counted,
and samples in start-up (initialize, data generation, imports) and shutdown are left out.
py-spy samples the main Python thread of each process (not ZeroMQ's I/O thread) and counts a
runnable-but-descheduled thread as busy, so on a loaded 2-core machine a syscall that wakes
another thread (Socket.send) can look bigger than its CPU cost.
"""

from __future__ import annotations

import argparse
import collections
import re

SKIP = ("initialize", "make_share", "WorkerProcess.start", "_find_and_load", "WorkerProcess.finish", "dump_all")
FRAME = re.compile(r"(.*?) \((.*?):(\d+)\)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--process", default="worker_process")
    args = ap.parse_args()
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.path) as f:
        for line in f:
            stack, _, n_text = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            if len(frames) < 3 or args.process not in frames[1]:
                continue
            if any(any(w in fr for w in SKIP) for fr in frames):
                continue
            funcs = []
            for fr in frames[2:]:
                m = FRAME.match(fr)
                funcs.append(f"{m.group(1)} ({m.group(2).split('/')[-1]})" if m else fr)
            n = int(n_text)
            total += n
            for fn in set(funcs):
                incl[fn] += n
            self_[funcs[-1]] += n
    print(f"{total} samples")
    for title, counter in (("inclusive", incl), ("self", self_)):
        print(f"--- {title}")
        for fn, n in counter.most_common(args.top):
            print(f"{100 * n / max(total, 1):6.1f}%  {fn}")


if __name__ == "__main__":
    main()
