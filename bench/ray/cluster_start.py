"""(1) Start a ray.cluster_utils.Cluster (head + 2 nodes on 127.0.0.1): seconds and memory.

    python bench/ray/cluster_start.py [--repeat 2] [--nodes 2]

Prints, per repeat: head start, nodes start (add_node x N + wait_for_nodes), driver connect
(ray.init), the Ray processes' PSS/RSS after start, a first actor's start, and shutdown.
"""

from __future__ import annotations

import argparse
import json
import time

import _cluster


def once(nodes: int) -> dict[str, float]:
    import ray

    cluster, times = _cluster.start_cluster(nodes=nodes)
    t = time.perf_counter()
    ray.init(address=cluster.address)
    times["driver_connect"] = time.perf_counter() - t
    time.sleep(2)  # let the per-node agents settle before measuring memory
    times.update({f"after_start_{k}": v for k, v in _cluster.tree_memory_mib().items()})

    @ray.remote(num_cpus=0)
    class Probe:
        def ping(self) -> int:
            return 1

    t = time.perf_counter()
    a = Probe.options(resources={"node1": 0.01}).remote()
    ray.get(a.ping.remote())
    times["first_actor"] = time.perf_counter() - t
    ray.kill(a)
    t = time.perf_counter()
    ray.shutdown()
    cluster.shutdown()
    times["shutdown"] = time.perf_counter() - t
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--nodes", type=int, default=2)
    args = p.parse_args()
    for r in range(args.repeat):
        times = once(args.nodes)
        print(json.dumps({"repeat": r, **{k: round(v, 2) for k, v in times.items()}}), flush=True)


if __name__ == "__main__":
    main()
