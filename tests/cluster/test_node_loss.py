"""A node holding a worker is removed mid-stream and a new node added: nothing is lost.

A reliable topology reads 100,000 numbered ids from a file; its spout appends each acked id to a file
(a restarted spout emits only the ids not acked yet: a replayable source), its sink appends each id it
sees. The node hosting a bolt's worker (not the spout's) is removed while the ids flow; the master
starts the worker's next incarnation on a live node. Every id ends up acked and in the sink, the
topology keeps running, and `squall list`/`stats` show it with the new incarnation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until

N = 100_000


def ids_in(paths: list[Path]) -> set[int]:
    out: set[int] = set()
    for path in paths:
        if path.exists():
            out.update(int(line) for line in path.read_text().split() if line.strip())
    return out


@pytest.mark.timeout(360)
def test_node_loss_loses_nothing(ray_cluster, tmp_path):
    env = {"RAY_ADDRESS": ray_cluster.address}
    ids, acked, sink = tmp_path / "ids", tmp_path / "acked", tmp_path / "sink"
    ids.write_text("".join(f"{n}\n" for n in range(N)))
    done = squall(
        "submit", str(PROJECTS / "numbered" / "numbered.py"), "--name", "numbered", "--conf", MASTER_ON_HEAD,
        "--conf", f"test.ids={ids}", "--conf", f"test.acked={acked}", "--conf", f"test.sink={sink}",
        "--conf", "test.rate=4000", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ns = "squall.numbered"

    def stats():
        got = squall("stats", "numbered", "--json", env=env)
        assert got.returncode == 0, got.stderr
        return json.loads(got.stdout)

    workers = {w["index"]: {t["component"] for t in w["tasks"]} for w in stats()["workers"]}
    nodes = ray_cluster.worker_nodes(ns)  # actor name -> node id
    assert len(nodes) == 3 and len(set(nodes.values())) == 2, nodes
    spout_node = nodes[next(f"worker-{i}.0" for i, c in workers.items() if "numbers" in c)]
    victim = next(n for n in nodes.values() if n != spout_node)
    lost = sorted(int(name.split("-")[1].split(".")[0]) for name, n in nodes.items() if n == victim)
    assert any("relay" in workers[i] for i in lost), (workers, lost)

    until(lambda: len(ids_in([acked])) >= N // 5, timeout=120, message="a fifth of the ids acked")
    removed_at = time.monotonic()
    ray_cluster.remove_node(victim)
    ray_cluster.add_node()

    def replaced():
        by_index = {w["index"]: w for w in stats()["workers"]}
        return all(by_index[i]["restarts"] >= 1 and by_index[i]["alive"] for i in lost)

    until(replaced, timeout=90, message=f"workers {lost} restarted (a new incarnation)")
    recovery = time.monotonic() - removed_at
    names = ray_cluster.actors(ns)
    for i in lost:
        assert f"worker-{i}.0" not in names and any(n.startswith(f"worker-{i}.") for n in names), names

    until(lambda: len(ids_in([acked])) == N, timeout=150, every=1.0, message="every id acked")
    sinks = sorted(tmp_path.glob("sink.*"))
    seen = ids_in(sinks)
    assert seen == set(range(N)), f"{N - len(seen)} ids never reached the sink"
    assert ids_in([acked]) == set(range(N))

    info = stats()
    assert info["status"] == "ACTIVE", info["status"]
    listed = [r for r in json.loads(squall("list", "--json", env=env).stdout) if r["name"] == "numbered"]
    assert listed and listed[0]["status"] == "ACTIVE", listed
    print(f"node loss: workers {lost} replaced {recovery:.1f} s after the node was removed")

    killed = squall("kill", "numbered", env=env)
    assert killed.returncode == 0, killed.stderr
    assert ray_cluster.actors(ns) == []
