"""``squall rebalance NAME --workers N`` mid-stream (Storm's rebalance): a reliable topology of numbered
ids, keyed and counted by a fields-grouped bolt that records which task saw which key, goes from 2
workers to 3 and back to 2 while ids flow. Every id is acked and reaches the sink; every key was seen by
exactly one task through both rebalances (same task ids, fields grouping kept); ``squall stats`` shows
3, then 2 workers; the second rebalance goes through the REST API (Storm's route, the token required);
the record (2 workers) survives a master restart; an inactive topology is rebalanced inactive; a kill
during a rebalance's wait ends the run."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import defaultdict

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until
from test_node_loss import ids_in

N = 24_000


def post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


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
        "submit", f"{PROJECTS / 'numbered' / 'keyed.py'}:Keyed", "--name", "rebal", "--conf", MASTER_ON_HEAD,
        "--conf", f"test.ids={ids}", "--conf", f"test.acked={acked}", "--conf", f"test.sink={sink}",
        "--conf", "test.rate=1500", "--conf", "squall.cluster.worker.cpus=1.5", "--ui-port", "0", env=env,
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
    # 5 workers of 1.5 CPUs do not fit in the 2 nodes' 6: refused before anything stops
    refused = squall("rebalance", "rebal", "--workers", "5", env=env)
    assert refused.returncode == 1 and "CPUs" in refused.stderr, refused.stderr
    assert live_workers() == ["worker-0.0", "worker-1.0"]
    took = {}
    until(lambda: len(ids_in([acked])) >= N * 0.2, timeout=120, message="a fifth of the ids acked")
    began = time.monotonic()
    got = squall("rebalance", "rebal", "--workers", "3", env=env)
    took[3] = time.monotonic() - began
    assert got.returncode == 0, got.stderr
    assert "3 worker(s), active" in got.stdout, got.stdout
    assert len(workers()) == 3
    first = ray.get(ray.get_actor("master", namespace=ns).info.remote())["last_rebalance"]
    until(lambda: live_workers() == ["worker-0.1", "worker-1.1", "worker-2.0"], timeout=30, message="3 actors")

    # back to 2 through the REST API (Storm's route and body; the run's token required)
    until(lambda: len(ids_in([acked])) >= N * 0.45, timeout=120, message="45 % of the ids acked")
    info = ray.get(ray.get_actor("master", namespace=ns).info.remote())
    route = f"{info['url']}/api/v1/topology/{info['id']}/rebalance/0"
    body = json.dumps({"rebalanceOptions": {"numWorkers": 2}}).encode()
    assert post(route, body, None)[0] == 401
    assert post(route, b"{}", info["token"])[0] == 400
    began = time.monotonic()
    status, answer = post(route, body, info["token"])
    assert status == 200 and answer["topologyOperation"] == "rebalance" and answer["numWorkers"] == 2, answer
    until(lambda: workers() == [0, 1], timeout=120, message="stats show 2 workers")
    took[2] = time.monotonic() - began
    until(lambda: live_workers() == ["worker-0.2", "worker-1.2"], timeout=30, message="index 2's actor gone")

    until(lambda: len(ids_in([acked])) == N, timeout=150, every=1.0, message="every id acked")
    sinks = sorted(tmp_path.glob("sink.*"))
    assert sink_ids(sinks) == set(range(N)), "every id in the sink"
    seen = keys_by_task(sinks)
    assert len(seen) == 37
    assert all(len(tasks) == 1 for tasks in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    inside = ray.get(ray.get_actor("master", namespace=ns).info.remote())["last_rebalance"]
    assert inside["workers"] == 2 and inside["state"] == "active", inside
    print(
        f"rebalance 2->3: {took[3]:.1f} s (the CLI command), 3->2: {took[2]:.1f} s (REST, to stats showing 2), "
        f"in the master (request to the new workers active): {first['secs']:.1f} s and {inside['secs']:.1f} s, "
        f"of which drained and stopped {first['stopped_secs']:.1f} s and {inside['stopped_secs']:.1f} s"
    )

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

    # an inactive topology comes back inactive, on the same count (Storm restores the activation)
    assert squall("deactivate", "rebal", env=env).returncode == 0
    got = squall("rebalance", "rebal", "--workers", "2", env=env)
    assert got.returncode == 0 and "2 worker(s), inactive" in got.stdout, (got.stdout, got.stderr)
    assert live_workers() == ["worker-0.3", "worker-1.3"]

    bad = squall("rebalance", "rebal", "--workers", "0", env=env)
    assert bad.returncode == 2 and "--workers" in bad.stderr
    # killed while a rebalance waits (Storm's -w): the run ends, nothing is left
    info = ray.get(ray.get_actor("master", namespace=ns).info.remote())
    assert post(f"{info['url']}/api/v1/topology/nope/rebalance/0", body, info["token"])[0] == 404
    route = f"{info['url']}/api/v1/topology/{info['id']}/rebalance/30"
    assert post(route, body, info["token"])[0] == 200
    assert post(route, body, info["token"])[0] == 409, "one rebalance at a time"
    killed = squall("kill", "rebal", env=env)
    assert killed.returncode == 0, killed.stderr
    assert ray_cluster.actors(ns) == []
