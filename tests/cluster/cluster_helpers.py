"""The cluster tests' helpers (a module of its own: a `conftest` import would clash with tests/e2e's).

One Ray cluster for the whole session: a head and two nodes, all on 127.0.0.1, token auth on.

``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (set before ``ray`` is imported, and inherited by every Ray
process and every ``squall`` subprocess) keeps Ray's node address on 127.0.0.1: traffic to the
machine's own network address is not allowed here (../shared/reference/peers-and-ray.md, 4(b)).
The head offers no CPU and the resource ``head`` (the topology masters ask for it: removing a node
never takes a master); each node offers 3 CPUs (worker actors take one each) and ``node<i>``.

Each node has its own temporary folder, as separate machines do. With the head's shared by all, the
nodes' runtime_env agents unpacked the job's working_dir into one folder: a node that unpacked it
again (``overwrite``) deleted the folder under the other nodes' running actors (their ``os.getcwd()``
failed), so a worker restarted on one node could die when another node started one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROJECTS = HERE / "projects"
LOOPBACK = "127.0.0.1"
MASTER_ON_HEAD = 'squall.cluster.master.resources={"head": 0.01}'

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ["RAY_AUTH_MODE"] = "token"  # never disabled: tests run with Ray's token authentication
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")


class RayCluster:
    """The session's ``ray.cluster_utils.Cluster`` and what the tests do with it."""

    def __init__(self) -> None:
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK, "resources": {"head": 1}},
        )
        self.nodes = {}
        self.added = 0
        self.folders = Path(tempfile.mkdtemp(prefix="sq-ray-"))  # the nodes' own temporary folders
        for _ in range(2):
            self.add_node()
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address
        import ray

        ray.init(address=self.address, namespace="squall-tests", log_to_driver=False)
        self.ray = ray

    def add_node(self):
        self.added += 1
        name = f"node{self.added}"
        folder = self.folders / name
        folder.mkdir()
        self.nodes[name] = self.cluster.add_node(
            num_cpus=3, node_ip_address=LOOPBACK, resources={name: 1}, temp_dir=str(folder)
        )
        return name

    def remove_node(self, node_id: str) -> str:
        """Remove the cluster_utils node whose Ray node id is ``node_id``; its name."""
        for name, node in list(self.nodes.items()):
            if node.node_id == node_id:
                self.cluster.remove_node(node)
                del self.nodes[name]
                return name
        raise AssertionError(f"no removable node {node_id} (the head holds no workers)")

    def actors(self, namespace: str) -> list[str]:
        return sorted(
            e["name"] for e in self.ray.util.list_named_actors(all_namespaces=True) if e["namespace"] == namespace
        )

    def worker_nodes(self, namespace: str) -> dict[str, str]:
        """Each live worker actor of ``namespace`` (by name) -> the Ray node id it runs on."""
        out = {}
        for name in self.actors(namespace):
            if name.startswith("worker-"):
                actor = self.ray.get_actor(name, namespace=namespace)
                try:
                    out[name] = self.ray.get(actor.where.remote(), timeout=10)["node_id"]
                except Exception:  # dying meanwhile
                    continue
        return out

    def shutdown(self) -> None:
        self.ray.shutdown()
        self.cluster.shutdown()
        shutil.rmtree(self.folders, ignore_errors=True)


def squall(*args: str, timeout: float = 240, cwd: Path = ROOT, env: dict | None = None):
    """``python -m squall.cli ARGS`` to its end: the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "squall.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


def until(what, timeout: float = 60, every: float = 0.25, message: str = ""):
    """Call ``what()`` until it returns something true; that value. Fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {message or what}")
        time.sleep(every)
