"""Exactly-once state on the Ray cluster (issue 13): a stateful word count checkpointed in a real Redis
(Debian's redis-server, the connector tests' fixture), fed by a rewindable spout of 200,000 words, loses
the node hosting one of its workers mid-run (a node is added), then its master together with another
worker: each time every worker restarts from the last committed checkpoint (new incarnations, the
spouts rewound), and the final state in Redis equals ``collections.Counter`` of the input exactly."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until

from squall.state.kv import decode_key, decode_value
from squall.state.redis import RedisBackend

HERE = Path(__file__).resolve().parent
N = 200_000
RATE = 5000  # words a second per spout task (2 tasks): ~20 s for the input, without the replays
NAME = "statecount"
NS = "squall." + NAME


def _module(name: str, path: Path):
    """A module of another test folder, by path (its folder need not be on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


redis_server = _module("redis_server", HERE.parent / "connectors" / "redis_server.py").redis_server  # session fixture
topology = _module("cluster_stateful_topology", PROJECTS / "stateful" / "stateful.py")


def final_counts(backend: RedisBackend, tasks: list[int]) -> Counter[str]:
    """The committed state of the counting tasks, summed (fields grouping: each word in one task)."""
    total: Counter[str] = Counter()
    for task in tasks:
        state = {decode_key(k): decode_value(v) for k, v in backend.load(task).items()}
        assert not set(state) & set(total), f"task {task} counts words another task counts too"
        total.update(state)
    return total


@pytest.mark.timeout(300)
def test_stateful_word_count_exactly_once_through_node_and_master_loss(ray_cluster, redis_server, tmp_path):
    ray = ray_cluster.ray
    env = {"RAY_ADDRESS": ray_cluster.address}
    backend = RedisBackend(NAME, {"topology.state.redis.url": redis_server.url})
    backend.reset()  # a fresh topology name in a fresh server; nothing from an earlier run
    started = time.monotonic()
    done = squall(
        "submit", str(PROJECTS / "stateful" / "stateful.py"), "--name", NAME, "--conf", MASTER_ON_HEAD,
        "-c", "topology.state.provider=redis", "-c", f"topology.state.redis.url={redis_server.url}",
        "-c", f"test.n={N}", "-c", f"test.rate={RATE}", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    master = ray.get_actor("master", namespace=NS)

    def info():
        try:
            return ray.get(ray.get_actor("master", namespace=NS).info.remote(), timeout=10)
        except Exception:  # restarting
            return {}

    def stats():
        def answer():
            try:
                return ray.get(ray.get_actor("master", namespace=NS).statistics.remote(), timeout=10)
            except Exception:  # restarting
                return None

        return until(answer, timeout=60, message="the master's statistics")

    snap = stats()
    count_tasks = sorted(t["task"] for t in snap["tasks"] if t["component"] == "count")
    task_worker = {t["task"]: t["worker"] for t in snap["tasks"]}
    nodes = ray_cluster.worker_nodes(NS)  # actor name -> node id
    assert len(nodes) == 3 and len(set(nodes.values())) == 2, nodes
    counting = {task_worker[t] for t in count_tasks}
    victim = next(node for name, node in nodes.items() if int(name.split("-")[1].split(".")[0]) in counting)
    lost = sorted(int(name.split("-")[1].split(".")[0]) for name, node in nodes.items() if node == victim)

    # 1. the node of a worker holding a counting task goes, mid-run; another node joins
    before = until(
        lambda: (lambda i: i if i.get("checkpoints", {}).get("committed", 0) >= 3 else None)(info()),
        timeout=60,
        message="three checkpoints committed",
    )["checkpoints"]["committed"]
    removed_at, removed_wall = time.monotonic(), time.time()
    ray_cluster.remove_node(victim)
    ray_cluster.add_node()

    def running_again():
        i = info()
        cp = i.get("checkpoints", {})
        if i.get("state") != "active" or cp.get("committed", 0) <= before or cp["last"]["at"] <= removed_wall:
            return None
        workers = stats()["workers"]
        return cp if all(w["incarnation"] >= 1 for w in workers) else None

    cp = until(running_again, timeout=90, every=0.1, message="every worker restarted and a checkpoint committed")
    recovered = time.monotonic() - removed_at
    first_commit = cp["last"]["at"] - removed_wall
    names = ray_cluster.actors(NS)
    assert not [n for n in names if n.endswith(".0")], f"a first incarnation outlived the rollback: {names}"
    snap = stats()
    assert snap["state"] in ("active", "draining"), "the input ended before the node loss was recovered"
    deaths = [e for e in snap["errors"] if e["where"].startswith("worker ")]
    assert {e["worker"] for e in deaths} & set(lost), deaths  # the master's statistics name the dead worker
    noticed = min(e["time"] for e in deaths) - removed_wall

    # 2. the master dies, and a worker with it: the restarted master rolls every worker back again
    incarnations = {w["index"]: w["incarnation"] for w in stats()["workers"]}
    committed = cp["committed"]
    ray.kill(master, no_restart=False)
    ray.kill(ray.get_actor(f"worker-1.{incarnations[1]}", namespace=NS), no_restart=True)

    def rolled_back_again():
        i = info()
        if not i.get("restarted") or i.get("state") not in ("active", "draining", "completed"):
            return None
        workers = stats()["workers"]
        return i if all(w["incarnation"] > incarnations[w["index"]] for w in workers) else None

    until(rolled_back_again, timeout=90, every=0.2, message="the restarted master restarted every worker")

    # 3. the input ends: the final checkpoint holds every word once
    end = until(lambda: (lambda i: i if i.get("state") == "completed" else None)(info()), timeout=150, every=0.5)
    took = time.monotonic() - started
    counts = final_counts(backend, count_tasks)
    want = topology.expected(N)
    assert sum(counts.values()) == N, f"{sum(counts.values()) - N:+d} words counted (duplicates or losses)"
    assert counts == want, {w: (counts[w], want[w]) for w in want if counts[w] != want[w]}
    assert end["checkpoints"]["committed"] > committed and backend.committed() == end["checkpoints"]["committed"]
    final = stats()
    assert all(w["incarnation"] >= 2 for w in final["workers"]), final["workers"]
    print(
        f"stateful word count on Ray: workers {lost} lost with their node (noticed at +{noticed:.2f} s); every "
        f"worker restarted from checkpoint {before} or later, running again (a checkpoint committed) "
        f"{recovered:.1f} s after the node was removed (commit at +{first_commit:.1f} s); "
        f"{end['checkpoints']['count']} checkpoints committed in the last master's run; {N:,} words counted "
        f"exactly once; {took:.1f} s from submit to completed"
    )

    killed = squall("kill", NAME, env=env)
    assert killed.returncode == 0, killed.stderr
    until(lambda: ray_cluster.actors(NS) == [], timeout=30, message="the topology's actors removed")


def test_submit_refuses_a_checkpointed_topology_on_sqlite(ray_cluster):
    """The nodes share no disk: `squall submit` refuses SQLite checkpoints before anything reaches the cluster."""
    got = squall(
        "submit", str(PROJECTS / "stateful" / "stateful.py"), "--name", "sqlitestate", "--conf", MASTER_ON_HEAD,
        env={"RAY_ADDRESS": ray_cluster.address},
    )  # fmt: skip
    assert got.returncode == 2, got.stderr
    assert "component 'count'" in got.stderr and "topology.state.provider=sqlite" in got.stderr, got.stderr
    assert "-c topology.state.provider=redis -c topology.state.redis.url=redis://HOST:6379/0" in got.stderr
    assert ray_cluster.actors("squall.sqlitestate") == []
