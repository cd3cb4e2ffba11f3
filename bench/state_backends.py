"""What a checkpoint costs in each state backend (squall/state), in the same run: per checkpoint,
T tasks each stage K changed keys (``write``) and the coordinator commits (``commit``), over a
committed state of S keys per task; then a task's ``load`` (a restore) and ``size`` (a statistic).

SQLite in a tmp folder of this machine (``--dir`` to choose the disk); Redis on a redis-server this
script starts (append-only file, ``--redis-fsync``) unless ``--redis-url`` names one (its keys
under ``squall:state:bench-...`` are deleted at the end). Changes are KeyValueState's: msgpack-encoded
words -> counts. Fails (exit 1) unless each backend's committed state is the expected one.

    python bench/state_backends.py [--tasks 4] [--keys 10000] [--state 100000] [--checkpoints 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from squall.state import KeyValueState, StateBackend, open_backend


def start_redis(folder: Path, fsync: str) -> tuple[subprocess.Popen[bytes], str]:
    import redis

    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed (apt-get install redis-server), or pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
    options += ["--appendonly", "yes", "--appendfsync", fsync]
    proc = subprocess.Popen([exe, *options], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("redis-server did not start")
            time.sleep(0.05)


def run(backend: StateBackend, args: argparse.Namespace) -> dict[str, float]:
    backend.reset()
    states = [KeyValueState() for _ in range(args.tasks)]
    for state in states:
        state.update({f"word-{i}": 1 for i in range(args.state)})
    for task, state in enumerate(states):
        backend.write(task, 1, state.take_changes())
    backend.commit(1)
    encodes, writes, commits = [], [], []
    for n in range(2, args.checkpoints + 2):
        for state in states:  # K keys of the state change (a sliding range), one new key
            for i in range(n * args.keys, (n + 1) * args.keys):
                state[f"word-{i % args.state}"] += 1
            state[f"new-{n}"] = n
        te = time.perf_counter()
        changes = [state.take_changes() for state in states]
        t0 = time.perf_counter()
        for task, change in enumerate(changes):
            backend.write(task, n, change)
        t1 = time.perf_counter()
        backend.commit(n)
        t2 = time.perf_counter()
        encodes.append(t0 - te)
        writes.append(t1 - t0)
        commits.append(t2 - t1)
    t0 = time.perf_counter()
    loaded = KeyValueState.restored(backend.load(0))
    t1 = time.perf_counter()
    backend.size(0)
    t2 = time.perf_counter()
    if loaded != states[0]:
        sys.exit(f"{type(backend).__name__}: the committed state is not the expected one")
    backend.reset()
    return {
        "encode ms (all tasks)": 1000 * statistics.median(encodes),
        "write ms (all tasks)": 1000 * statistics.median(writes),
        "commit ms": 1000 * statistics.median(commits),
        "checkpoint ms": 1000 * statistics.median(w + c for w, c in zip(writes, commits, strict=True)),
        "load+decode ms (1 task)": 1000 * (t1 - t0),
        "size ms": 1000 * (t2 - t1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=4)
    p.add_argument("--keys", type=int, default=10_000, help="keys changed per task per checkpoint")
    p.add_argument("--state", type=int, default=100_000, help="keys in each task's state")
    p.add_argument("--checkpoints", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3, help="runs per backend, alternating")
    p.add_argument("--dir", help="SQLite's folder (default: a tmp folder)")
    p.add_argument("--redis-url", help="an existing Redis (default: start one)")
    p.add_argument("--redis-fsync", default="always", choices=["always", "everysec", "no"])
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc = None
        url = args.redis_url
        if url is None:
            proc, url = start_redis(Path(tmp), args.redis_fsync)
        try:
            topology = f"bench-{int(time.time())}"
            confs = {
                "sqlite": {"topology.state.provider": "sqlite", "squall.state.dir": args.dir or tmp},
                "redis": {"topology.state.provider": "redis", "topology.state.redis.url": url},
            }
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in confs}
            for r in range(args.repeat):  # alternating which goes first: the machine's noise falls on both
                for name in sorted(confs, reverse=bool(r % 2)):
                    backend = open_backend(topology, confs[name])
                    try:
                        runs[name].append(run(backend, args))
                    finally:
                        backend.close()
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
    print(
        f"{args.tasks} tasks x {args.keys} changed keys per checkpoint, {args.state} keys per task; median of"
        f" {args.checkpoints} checkpoints per run, of {args.repeat} runs (Redis appendfsync:"
        f" {args.redis_fsync if proc else 'theirs'})"
    )
    print(f"{'':24} {'sqlite':>10} {'redis':>10} {'redis/sqlite':>13}")
    for metric in runs["sqlite"][0]:
        a = statistics.median(one[metric] for one in runs["sqlite"])
        b = statistics.median(one[metric] for one in runs["redis"])
        print(f"{metric:24} {a:10.1f} {b:10.1f} {b / a:13.2f}")


if __name__ == "__main__":
    main()
