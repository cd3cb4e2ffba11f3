"""``squall rebalance NAME --workers N`` mid-stream (Storm's rebalance): a reliable topology of numbered
ids, keyed and counted by a fields-grouped bolt that records which task saw which key, goes from 2
workers to 3 and back to 2 while ids flow. Every id is acked and reaches the sink; every key was seen by
exactly one task through both rebalances (same task ids, fields grouping kept); ``squall stats`` shows
3, then 2 workers; the record (2 workers) survives a master restart."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until
from test_node_loss import ids_in

N = 24_000


def sink_ids(paths) -> set[int]:
    return {int(line.split()[0]) for path in paths for line in path.read_text().splitlines() if line.strip()}


def keys_by_task(paths) -> dict[str, set[str]]:
    """key -> the sink files (one per task) it appears in."""
    seen: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                seen[parts[1]].add(path.name)
    return seen


@pytest.mark.timeout(300)
def test_rebalance_2_3_2_keeps_fields_grouping_and_loses_nothing(ray_cluster, tmp_path):
    ray = ray_cluster.ray
    env = {"RAY_ADDRESS": ray_cluster.address}
    ids, acked, sink = tmp_path / "ids", tmp_path / "acked", tmp_path / "sink"
    ids.write_text("".join(f"{n}\n" for n in range(N)))
    done = squall(
        "submit", f"{PROJECTS / 'numbered' / 'numbered.py'}:Keyed", "--name", "rebal", "--conf", MASTER_ON_HEAD,
        "--conf", f"test.ids={ids}", "--conf", f"test.acked={acked}", "--conf", f"test.sink={sink}",
        "--conf", "test.rate=1500", "--ui-port", "0", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ns = "squall.rebal"

    def workers():
        got = squall("stats", "rebal", "--json", env=env)
        assert got.returncode == 0, got.stderr
        return sorted(w["index"] for w in json.loads(got.stdout)["workers"] if w["alive"])

    def live_workers():
        return sorted(n for n in ray_cluster.actors(ns) if n.startswith("worker-"))

    assert len(workers()) == 2
    took = {}
    for n, fraction in ((3, 0.2), (2, 0.45)):
        until(lambda f=fraction: len(ids_in([acked])) >= N * f, timeout=120, message=f"{fraction:.0%} of the ids acked")
        began = time.monotonic()
        got = squall("rebalance", "rebal", "--workers", str(n), env=env)
        took[n] = time.monotonic() - began
        assert got.returncode == 0, got.stderr
        assert f"{n} worker(s), active" in got.stdout, got.stdout
        assert len(workers()) == n
        until(lambda n=n: len(live_workers()) == n, timeout=30, message=f"{n} worker actors left")
    assert live_workers() == ["worker-0.2", "worker-1.2"], "each index's next incarnation, index 2 gone"

    until(lambda: len(ids_in([acked])) == N, timeout=150, every=1.0, message="every id acked")
    sinks = sorted(tmp_path.glob("sink.*"))
    assert sink_ids(sinks) == set(range(N)), "every id in the sink"
    seen = keys_by_task(sinks)
    assert len(seen) == 37
    assert all(len(tasks) == 1 for tasks in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    print(f"rebalance 2->3: {took[3]:.1f} s, 3->2: {took[2]:.1f} s (the CLI command, connect included)")

    # the record: a restarted master keeps 2 workers and re-attaches to them
    pid = ray.get(ray.get_actor("master", namespace=ns).where.remote())["pid"]
    ray.kill(ray.get_actor("master", namespace=ns), no_restart=False)

    def back():
        try:
            m = ray.get_actor("master", namespace=ns)
            where, info = ray.get([m.where.remote(), m.info.remote()], timeout=5)
        except Exception:
            return None
        return info if where["pid"] != pid and info["state"] == "active" else None

    info = until(back, timeout=90, every=0.2, message="the master restarted")
    assert info["workers"] == 2 and info["restarted"]
    assert live_workers() == ["worker-0.2", "worker-1.2"], "re-attached, not restarted"

    bad = squall("rebalance", "rebal", "--workers", "0", env=env)
    assert bad.returncode == 2 and "--workers" in bad.stderr
    killed = squall("kill", "rebal", env=env)
    assert killed.returncode == 0, killed.stderr
    assert ray_cluster.actors(ns) == []
