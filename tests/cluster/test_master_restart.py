"""The topology master's process dies mid-stream (``ray.kill`` with restarts allowed): Ray starts it
again with its constructor argument, it re-attaches to the running workers (same incarnations, told
the new control address), its UI comes back, and nothing is lost: every id is acked and in the sink,
and the counters keep growing. The record it replicated to the workers (inactive) survives it too."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until
from test_node_loss import ids_in

N = 40_000


@pytest.mark.timeout(300)
def test_master_restart_reattaches_and_loses_nothing(ray_cluster, tmp_path):
    ray = ray_cluster.ray
    env = {"RAY_ADDRESS": ray_cluster.address}
    ids, acked, sink = tmp_path / "ids", tmp_path / "acked", tmp_path / "sink"
    ids.write_text("".join(f"{n}\n" for n in range(N)))
    done = squall(
        "submit", str(PROJECTS / "numbered" / "numbered.py"), "--name", "phoenix", "--conf", MASTER_ON_HEAD,
        "--conf", f"test.ids={ids}", "--conf", f"test.acked={acked}", "--conf", f"test.sink={sink}",
        "--conf", "test.rate=3000", "--ui-port", "0", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    topology_id = done.stdout.strip()
    ns = "squall.phoenix"
    workers_before = [n for n in ray_cluster.actors(ns) if n.startswith("worker-")]
    assert workers_before == ["worker-0.0", "worker-1.0", "worker-2.0"]

    def emitted():
        got = squall("stats", "phoenix", "--json", "--window", "all", env=env)
        assert got.returncode == 0, got.stderr
        info = json.loads(got.stdout)
        return {s["spoutId"]: s["emitted"] for s in info["spouts"]}["numbers"], info

    until(lambda: len(ids_in([acked])) >= N // 5, timeout=120, message="a fifth of the ids acked")
    before, _ = emitted()
    master = ray.get_actor("master", namespace=ns)
    old = ray.get(master.where.remote())
    assert not old["restarted"]
    killed_at = time.monotonic()
    ray.kill(master, no_restart=False)  # the process dies; Ray restarts the actor (max_restarts=-1)

    def back():
        try:
            m = ray.get_actor("master", namespace=ns)
            info = ray.get(m.info.remote(), timeout=5)
        except Exception:
            return None
        return info if info["restarted"] and info["state"] == "active" and info["url"] else None

    info = until(back, timeout=90, every=0.2, message="the master restarted and re-attached")
    took = time.monotonic() - killed_at
    assert info["id"] == topology_id
    assert ray.get(ray.get_actor("master", namespace=ns).where.remote())["pid"] != old["pid"]
    assert [n for n in ray_cluster.actors(ns) if n.startswith("worker-")] == workers_before, "workers kept"
    with urllib.request.urlopen(f"{info['url']}/api/v1/topology/summary", timeout=10) as resp:
        assert json.loads(resp.read())["topologies"][0]["id"] == topology_id
    _after, stats = until(lambda: (lambda e: e if e[0] > before else None)(emitted()), message="emitted grows")
    assert all(w["restarts"] == 0 and w["alive"] for w in stats["workers"]), stats["workers"]

    until(lambda: len(ids_in([acked])) == N, timeout=150, every=1.0, message="every id acked")
    assert ids_in(sorted(tmp_path.glob("sink.*"))) == set(range(N))
    print(f"master restart: re-attached and active {took:.1f} s after it was killed")

    # the record in the workers: deactivated, then the master dies again: it comes back inactive
    assert squall("deactivate", "phoenix", env=env).returncode == 0
    pid = ray.get(ray.get_actor("master", namespace=ns).where.remote())["pid"]
    ray.kill(ray.get_actor("master", namespace=ns), no_restart=False)

    def inactive_again():
        try:
            m = ray.get_actor("master", namespace=ns)
            where, info = ray.get([m.where.remote(), m.info.remote()], timeout=5)
        except Exception:
            return None
        return where["pid"] != pid and info["state"] == "inactive"

    until(inactive_again, timeout=90, every=0.2, message="the restarted master is inactive, as recorded")

    killed = squall("kill", "phoenix", env=env)
    assert killed.returncode == 0, killed.stderr
    assert ray_cluster.actors(ns) == []
