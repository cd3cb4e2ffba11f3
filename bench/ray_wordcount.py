"""Word count on a Ray cluster (``squall submit``) vs the same topology on ``squall run``, in one run.

    python bench/ray_wordcount.py [--rounds 3] [--warmup 4] [--measure 10] [--workers 2] [--json out.json]

One ``ray.cluster_utils`` cluster on this machine (a head with no CPU, where the master goes, and two
nodes with one CPU each: one worker actor per node), pinned to 127.0.0.1, token auth on. Each round
runs, alternating (local first on odd rounds, cluster first on even ones):

* local: ``Coordinator`` (what ``squall run`` runs) with ``--workers`` worker processes, in this process;
* cluster: ``squall submit bench/ray/wordcount_topology.py --workers N`` as a subprocess (the user's
  command: interpreter start, connect and upload included), then the master's ``statistics()``
  through Ray.

The topology (``bench/ray/wordcount_topology.py``): sentences -> split (shuffle) -> count (fields),
par 2 each, no acking. words/s = the count bolt's ``executed`` growth over ``--measure`` s, after
``--warmup`` s. "To first tuple": from the start (the ``squall submit`` subprocess, or the Coordinator's
construction) to the first statistics showing the count bolt executed a tuple (polled every 0.1 s,
stats rounds every 0.25 s: about 0.3 s of resolution). Memory: PSS and RSS of each worker
process (a local worker's pid from its hello, a worker actor's from its ``where()``), read with psutil
after the warm-up. CPU: cores used over the measured seconds by the workers and by everything else of
the run (this process, where the local Coordinator runs; the master actor, Ray's raylets, GCS and
agents, all descendants of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ray"))

import _cluster  # noqa: E402  (sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before ray is imported)

TOPOLOGY = os.path.join(HERE, "ray", "wordcount_topology.py")
NAME = "benchwc"
STATS = {"squall.stats.round.secs": 0.25, "squall.stats.interval.secs": 0.25}
MiB = 1024 * 1024


def count_executed(stats: dict[str, Any]) -> int:
    return sum(t["executed"] for t in stats.get("tasks", []) if t["component"] == "count")


def memory(pids: list[int]) -> list[dict[str, float]]:
    import psutil

    out = []
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        out.append({"pss_mib": info.pss / MiB, "rss_mib": info.rss / MiB})
    return out


def local_pids(stats: dict[str, Any]) -> list[int]:
    return [int(w["pid"]) for w in stats.get("workers", []) if w.get("pid")]


def actor_pids(ray: Any, namespace: str) -> list[int]:
    """The worker actors' pids (their stats say 0: an actor has no child process of the master)."""
    pids = []
    for e in ray.util.list_named_actors(all_namespaces=True):
        if e["namespace"] == namespace and str(e["name"]).startswith("worker-"):
            actor = ray.get_actor(e["name"], namespace=namespace)
            pids.append(int(ray.get(actor.where.remote(), timeout=30)["pid"]))
    return pids


def cpu_seconds(workers: list[int]) -> tuple[float, float]:
    """CPU seconds so far of (the worker processes, every other process below this one and this one:
    the coordinator, the master actor, Ray's raylets, GCS and agents)."""
    import psutil

    me = psutil.Process()
    work = other = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        used = t.user + t.system
        if proc.pid in workers:
            work += used
        else:
            other += used
    return work, other


def measure(poll: Any, pids: Any, t0: float, warmup: float, secs: float) -> dict[str, Any]:
    """From ``t0``: the first tuple counted, then words/s over ``secs`` after ``warmup``, and the CPU used
    meanwhile (in cores) by the workers and by everything else of the run."""
    first = None
    while first is None:
        stats = poll()
        if stats and count_executed(stats) > 0:
            first = time.perf_counter() - t0
        elif time.perf_counter() - t0 > 180:
            raise RuntimeError("no tuple counted within 180 s")
        else:
            time.sleep(0.1)
    time.sleep(warmup)
    workers = pids(poll())
    w1, o1 = cpu_seconds(workers)
    s1, c1 = time.perf_counter(), count_executed(poll())
    time.sleep(secs)
    stats = poll()
    s2, c2 = time.perf_counter(), count_executed(stats)
    w2, o2 = cpu_seconds(workers)
    return {
        "first_tuple_s": first,
        "words_per_s": (c2 - c1) / (s2 - s1),
        "memory": memory(workers),
        "cpu_workers": (w2 - w1) / (s2 - s1),
        "cpu_other": (o2 - o1) / (s2 - s1),
    }


def run_local(workers: int, warmup: float, secs: float) -> dict[str, Any]:
    from squall.local.coordinator import Coordinator

    t0 = time.perf_counter()
    overrides = dict(STATS, **{"topology.workers": workers, "topology.name": NAME})
    quiet = open(os.devnull, "w")  # noqa: SIM115  (the status lines: the bench prints its own)
    coord = Coordinator(
        TOPOLOGY,
        overrides,
        duration=warmup + secs + 30,
        handle_signals=False,
        log_level="WARNING",
        status_out=quiet,
    )
    thread = threading.Thread(target=coord.run, daemon=True)
    thread.start()
    try:
        return measure(lambda: coord.statistics().to_dict(), local_pids, t0, warmup, secs)
    finally:
        coord.request_stop("bench")
        thread.join(60)
        quiet.close()


def run_cluster(ray: Any, address: str, workers: int, warmup: float, secs: float) -> dict[str, Any]:
    ns = f"squall.{NAME}"
    conf = [a for k, v in STATS.items() for a in ("--conf", f"{k}={json.dumps(v)}")]
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "squall.cli", "submit", TOPOLOGY, "--name", NAME, "--workers", str(workers)]
    proc = subprocess.Popen(
        [*cmd, "--address", address, "--ui-port", "0", "--log-level", "WARNING", *conf],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    master: list[Any] = []
    ended: dict[str, Any] = {}

    def wait_submit() -> None:
        ended["out"], ended["err"] = proc.communicate(timeout=180)
        ended["s"] = time.perf_counter() - t0

    waiter = threading.Thread(target=wait_submit, daemon=True)
    waiter.start()

    def poll() -> dict[str, Any]:
        if not master:
            try:
                master.append(ray.get_actor("master", namespace=ns))
            except ValueError:
                if proc.poll() not in (None, 0):
                    waiter.join(10)
                    raise RuntimeError(f"squall submit failed: {ended.get('err', '')[-2000:]}") from None
                return {}
        try:
            got: dict[str, Any] = ray.get(master[0].statistics.remote(), timeout=30)
        except ray.exceptions.RayError:
            return {}
        return got

    try:
        result = measure(poll, lambda _stats: actor_pids(ray, ns), t0, warmup, secs)
        waiter.join(180)
        if proc.returncode != 0:
            raise RuntimeError(f"squall submit exited {proc.returncode}: {ended.get('err', '')[-2000:]}")
        result["submit_returned_s"] = ended["s"]
        took = re.search(r"worker\(s\), ([0-9.]+) s\)", ended.get("err", ""))  # the CLI's connect + submit
        result["connect_and_submit_s"] = float(took.group(1)) if took else None
    finally:
        if master:
            ray.get(master[0].kill.remote(0), timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            e["namespace"] == ns for e in ray.util.list_named_actors(all_namespaces=True)
        ):
            time.sleep(0.25)
    return result


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    mem = [m for r in rows for m in r["memory"]]
    return {
        "words_per_s_median": med("words_per_s"),
        "first_tuple_s_median": med("first_tuple_s"),
        **({"submit_returned_s_median": med("submit_returned_s")} if "submit_returned_s" in rows[0] else {}),
        "pss_mib_median": statistics.median(m["pss_mib"] for m in mem) if mem else None,
        "rss_mib_median": statistics.median(m["rss_mib"] for m in mem) if mem else None,
        "cpu_workers_median": med("cpu_workers"),
        "cpu_other_median": med("cpu_other"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=float, default=4.0)
    p.add_argument("--measure", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--conf", action="append", default=[], help="key=value (JSON value) for both runs' topology")
    args = p.parse_args()
    for pair in args.conf:
        key, _, value = pair.partition("=")
        STATS[key] = json.loads(value)

    import secrets

    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    import ray

    cluster, times = _cluster.start_cluster(nodes=args.workers, cpus=1, head_cpus=0)
    print(f"cluster: head + {args.workers} nodes in {times['total']:.1f} s", file=sys.stderr)
    ray.init(address=cluster.address, namespace="bench", log_to_driver=False)
    rows: dict[str, list[dict[str, Any]]] = {"local": [], "cluster": []}
    try:
        for r in range(args.rounds):
            order = ["local", "cluster"] if r % 2 == 0 else ["cluster", "local"]
            for mode in order:
                if mode == "local":
                    got = run_local(args.workers, args.warmup, args.measure)
                else:
                    got = run_cluster(ray, cluster.address, args.workers, args.warmup, args.measure)
                rows[mode].append(got)
                mem = ", ".join(f"{m['pss_mib']:.0f}/{m['rss_mib']:.0f}" for m in got["memory"])
                print(
                    f"round {r + 1} {mode:7s}: {got['words_per_s']:>10,.0f} words/s, first tuple after "
                    f"{got['first_tuple_s']:.2f} s"
                    + (
                        f" (squall submit returned after {got['submit_returned_s']:.2f} s, its connect + submit "
                        f"{got['connect_and_submit_s']} s)"
                        if mode == "cluster"
                        else ""
                    )
                    + f", workers PSS/RSS MiB {mem}, CPU cores workers {got['cpu_workers']:.2f}"
                    + f" other {got['cpu_other']:.2f}",
                    file=sys.stderr,
                )
            ratio = rows["cluster"][-1]["words_per_s"] / rows["local"][-1]["words_per_s"]
            print(f"round {r + 1} ratio cluster/local: {ratio:.2f}", file=sys.stderr)
    finally:
        ray.shutdown()
        cluster.shutdown()
    ratios = [c["words_per_s"] / loc["words_per_s"] for c, loc in zip(rows["cluster"], rows["local"], strict=True)]
    result = {
        "rounds": rows,
        "local": summary(rows["local"]),
        "cluster": summary(rows["cluster"]),
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
        "target_ratio": 0.6,
        "cluster_start_s": times["total"],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
