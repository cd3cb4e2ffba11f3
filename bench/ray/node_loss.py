"""(4) Losing the node that hosts a detached worker actor, and restarting the master.

    python bench/ray/node_loss.py [--graceful]

A head + 2 nodes cluster. A detached named master actor (on the head, ``max_restarts=-1``) creates a
detached named worker actor on node1 (``max_restarts=0, max_task_retries=0``: Squall's choice) and keeps
the pending ``run()`` call of it, as a RayLauncher's WorkerHandle would. Then:

1. ``cluster.remove_node(node1)`` (not graceful unless ``--graceful``): how long until the master's
   ``ray.wait`` on the pending call returns, what ``ray.get`` raises, what the state API says;
2. the master kills the old actor (`ray.kill`) and starts the next incarnation under a new name on node2 at once;
   then a replacement under the old name, retried until Ray frees the name: how long that takes;
3. a node is added (what "add a new node" costs);
4. the master actor is killed (``ray.kill(no_restart=False)``): seconds until Ray restarted it, and whether
   its constructor found the (still running) worker actor again by name.
"""

from __future__ import annotations

import argparse
import json
import time

import _cluster

NS = "squall-bench"
RECORD = {"topology": "topologies/wordcount.py:WordCount", "keys": "the run's CURVE keys", "version": 1}


def build():  # type: ignore[no-untyped-def]
    import ray

    @ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0, max_concurrency=2)
    class Worker:
        def __init__(self) -> None:
            self.stopping = False

        def run(self) -> int:  # what WorkerProcess(spec).run() is to the actor: returns the exit status
            while not self.stopping:
                time.sleep(0.01)
            return 0

        def where(self) -> str:
            return ray.get_runtime_context().get_node_id()

    @ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=4)
    class Master:
        def __init__(self, record: dict[str, object]) -> None:
            self.record = record  # Ray keeps the constructor's arguments: a restart gets them again
            self.started = time.monotonic()
            self.runs: dict[str, object] = {}
            try:  # a restarted master re-attaches by name
                ray.get_actor("wordcount/worker-0", namespace=NS)
                self.found = True
            except ValueError:
                self.found = False

        def info(self) -> dict[str, object]:
            return {"found_worker_by_name": self.found, "started": self.started, "record": self.record}

        def start_worker(self, resource: str, name: str = "wordcount/worker-0") -> dict[str, object]:
            t = time.monotonic()
            w = Worker.options(name=name, namespace=NS, lifetime="detached", resources={resource: 0.01}).remote()
            node = ray.get(w.where.remote())
            self.runs["w0"] = w.run.remote()
            return {"start_s": round(time.monotonic() - t, 3), "node": node[:8]}

        def watch(self) -> dict[str, object]:
            ref = self.runs["w0"]
            ray.wait([ref], timeout=120)
            noticed = time.monotonic()
            try:
                ray.get(ref, timeout=0)
                error = "none"
            except Exception as exc:
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return {"noticed": noticed, "error": error}

    return Master


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graceful", action="store_true")
    args = p.parse_args()
    import ray
    from ray.util.state import list_actors

    cluster, times = _cluster.start_cluster()
    ray.init(address=cluster.address, namespace=NS)
    out: dict[str, object] = {"cluster_start_s": round(times["total"], 2)}
    node1 = next(n for n in cluster.worker_nodes if "node1" in (n._ray_params.resources or {}))
    try:
        master = build().options(name="wordcount/master", lifetime="detached", resources={"head": 0.01}).remote(RECORD)
        out["worker_start"] = ray.get(master.start_worker.remote("node1"))
        watching = master.watch.remote()
        time.sleep(0.5)
        t = time.monotonic()
        cluster.remove_node(node1, allow_graceful=args.graceful)
        out["remove_node_call_s"] = round(time.monotonic() - t, 3)
        seen = ray.get(watching)
        out["master_noticed_after_s"] = round(seen["noticed"] - t, 3)
        out["pending_run_call_raised"] = seen["error"]
        # the next incarnation under a new name, at once (what the master will do), after fencing the old one
        t_inc = time.monotonic()
        ray.kill(ray.get_actor("wordcount/worker-0"), no_restart=True)
        out["next_incarnation_at_once"] = ray.get(master.start_worker.remote("node2", "wordcount/worker-0.1"))
        out["next_incarnation_ready_after_remove_s"] = round(time.monotonic() - t, 2)
        out["kill_and_start_s"] = round(time.monotonic() - t_inc, 2)
        time.sleep(1)
        states = list_actors(filters=[("name", "=", "wordcount/worker-0")], detail=True)
        out["state_api"] = [{"state": a.state, "death_cause": str(a.death_cause)[:300]} for a in states]
        print(json.dumps(out), flush=True)
        # the same name again: Ray frees a dead actor's name only after a while; retry, and say how long
        while True:
            try:
                out["replacement_on_node2"] = ray.get(master.start_worker.remote("node2"))
                break
            except ray.exceptions.ActorAlreadyExistsError:
                if time.monotonic() - t > 90:
                    out["replacement_on_node2"] = "name still taken after 90 s"
                    break
                time.sleep(0.2)
        out["same_name_free_after_remove_s"] = round(time.monotonic() - t, 2)
        print(json.dumps(out), flush=True)
        t = time.monotonic()
        cluster.add_node(num_cpus=2, node_ip_address=_cluster.LOOPBACK, resources={"node3": 1})
        cluster.wait_for_nodes()
        out["add_node_s"] = round(time.monotonic() - t, 2)
        before = ray.get(master.info.remote())["started"]
        t = time.monotonic()
        ray.kill(master, no_restart=False)
        while True:
            try:
                info = ray.get(ray.get_actor("wordcount/master").info.remote(), timeout=5)
                if info["started"] != before:
                    break
            except Exception:
                pass
            time.sleep(0.05)
        out["master_restarted_after_s"] = round(time.monotonic() - t, 2)
        out["restarted_master_found_worker"] = info["found_worker_by_name"]
        out["restarted_master_got_its_arguments"] = info["record"] == RECORD
        w = ray.get_actor("wordcount/worker-0")
        out["worker_still_answers"] = bool(ray.get(w.where.remote(), timeout=5))
        print(json.dumps(out, indent=1), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
