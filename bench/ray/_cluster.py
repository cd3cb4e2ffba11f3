"""Shared by the bench/ray scripts: a Ray cluster on this machine pinned to 127.0.0.1, and memory figures.

Importing this module sets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (before ``ray`` is imported): with it
Ray's node address is 127.0.0.1 instead of the machine's network address (see
``../shared/reference/peers-and-ray.md``, section 4(b)); every node is also given
``node_ip_address="127.0.0.1"``.
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

LOOPBACK = "127.0.0.1"


def start_cluster(nodes: int = 2, cpus: int = 2, head_cpus: int = 1) -> tuple[Any, dict[str, float]]:
    """A ``ray.cluster_utils.Cluster``: a head and ``nodes`` nodes, node ``i`` with the custom resource
    ``node{i}`` (to place actors on it); returns it and the seconds each step took."""
    from ray.cluster_utils import Cluster

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": head_cpus, "node_ip_address": LOOPBACK, "resources": {"head": 1}},
    )
    times["head"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(1, nodes + 1):
        cluster.add_node(num_cpus=cpus, node_ip_address=LOOPBACK, resources={f"node{i}": 1})
    cluster.wait_for_nodes()
    times["nodes"] = time.perf_counter() - t1
    times["total"] = time.perf_counter() - t0
    return cluster, times


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(name))
    return tree


def descendants(pid: int | None = None) -> list[int]:
    """Every process below ``pid`` (this one by default): what cluster_utils started, and their children."""
    tree = _children()
    out: list[int] = []
    todo = list(tree.get(pid or os.getpid(), []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """``Pss`` and ``Rss`` (KiB) of one process, from /proc/PID/smaps_rollup (0 when it is gone)."""
    out = {"Pss": 0, "Rss": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in out:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def tree_memory_mib(pid: int | None = None) -> dict[str, float]:
    """PSS and RSS summed over the descendants of ``pid`` (MiB) and how many processes they are."""
    pids = descendants(pid)
    pss = rss = 0
    for p in pids:
        m = memory_kib(p)
        pss += m["Pss"]
        rss += m["Rss"]
    return {"processes": len(pids), "pss_mib": pss / 1024, "rss_mib": rss / 1024}


def procs_named(*names: str) -> list[int]:
    """Pids whose command name (``/proc/PID/comm``) is one of ``names`` (raylet, gcs_server...)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().strip() in names:
                        out.append(int(name))
            except OSError:
                continue
    return out
