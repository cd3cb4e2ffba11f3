"""(2) A detached named actor: start time, memory, and re-attaching by name from a new driver.

    python bench/ray/detached_actor.py

Starts a cluster (head + 2 nodes), then two driver processes in turn: the first creates a detached
named actor on node1 and exits; the second finds it by name (``ray.get_actor``), reads its state
(counted calls: the same process, not a new one) and kills it. Memory is the actor process's own
PSS/RSS, bare and after importing Squall's worker code (``squall.local.worker_process``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _cluster

NAME, NAMESPACE = "demo/master", "squall-bench"


def actor_class():  # type: ignore[no-untyped-def]
    import ray

    @ray.remote(num_cpus=0)
    class Master:
        def __init__(self) -> None:
            self.calls = 0

        def ping(self) -> int:
            self.calls += 1
            return self.calls

        def memory(self, load_squall: bool = False) -> dict[str, int]:
            import os

            if load_squall:
                import squall.local.worker_process  # noqa: F401  (the worker code an actor would run)
            out = {"pid": os.getpid(), "Pss": 0, "Rss": 0}
            with open("/proc/self/smaps_rollup") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in out:
                        out[key] = int(line.split()[1])
            return out

    return Master


def create(address: str) -> None:
    import ray

    t = time.perf_counter()
    ray.init(address=address, namespace=NAMESPACE)
    connect = time.perf_counter() - t
    t = time.perf_counter()
    a = actor_class().options(name=NAME, lifetime="detached", max_restarts=0, resources={"node1": 0.01}).remote()
    ray.get(a.ping.remote())
    start = time.perf_counter() - t
    bare = ray.get(a.memory.remote())
    loaded = ray.get(a.memory.remote(True))
    print(
        json.dumps(
            {
                "driver": "create",
                "connect_s": round(connect, 2),
                "actor_start_s": round(start, 2),
                "actor_pid": bare["pid"],
                "bare_pss_mib": round(bare["Pss"] / 1024, 1),
                "bare_rss_mib": round(bare["Rss"] / 1024, 1),
                "with_squall_pss_mib": round(loaded["Pss"] / 1024, 1),
                "with_squall_rss_mib": round(loaded["Rss"] / 1024, 1),
            }
        ),
        flush=True,
    )


def attach(address: str) -> None:
    import ray

    t = time.perf_counter()
    ray.init(address=address, namespace=NAMESPACE)
    connect = time.perf_counter() - t
    t = time.perf_counter()
    a = ray.get_actor(NAME, namespace=NAMESPACE)
    calls = ray.get(a.ping.remote())
    found = time.perf_counter() - t
    pid = ray.get(a.memory.remote())["pid"]
    ray.kill(a)
    print(
        json.dumps(
            {"driver": "attach", "connect_s": round(connect, 2), "get_actor_and_call_s": round(found, 3)}
            | {"calls_seen": calls, "actor_pid": pid}
        ),
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--driver", choices=["create", "attach"])
    p.add_argument("--address")
    args = p.parse_args()
    if args.driver == "create":
        return create(args.address)
    if args.driver == "attach":
        return attach(args.address)
    cluster, times = _cluster.start_cluster()
    print(json.dumps({"cluster_start_s": {k: round(v, 2) for k, v in times.items()}}), flush=True)
    try:
        for step in ("create", "attach"):
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--driver", step, "--address", cluster.address], check=True)
            print(json.dumps({f"{step}_driver_process_s": round(time.perf_counter() - t, 2)}), flush=True)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
