"""Where a topology master lands: soft vs hard node affinity to the submitting driver's node (the head).

    python bench/ray/master_affinity.py [--head-cpus 0] [--actors 8]

One cluster (a head with ``--head-cpus`` CPUs and two 3-CPU nodes, 127.0.0.1, token auth). A driver
subprocess attached to the head (Ray picks the head for a driver on its host), with a job working_dir
as ``squall submit`` has, creates ``--actors`` detached actors one after the other with the master's
options (num_cpus=0, max_restarts=-1, max_concurrency=8) and each strategy: none (Ray's default),
``NodeAffinitySchedulingStrategy(head, soft=True)``, the same with ``soft=False``. Prints how many
landed on the head.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile

import _cluster

DRIVER = """
import os, sys, time
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

ray.init(address=sys.argv[1], log_to_driver=False, runtime_env={"working_dir": sys.argv[2]} if sys.argv[2] else None)
me = ray.get_runtime_context().get_node_id()


@ray.remote
class Master:
    def node(self):
        return ray.get_runtime_context().get_node_id()


VARIANTS = (("default", None, {}), ("soft", True, {}), ("hard", False, {}), ("soft, memory=1", True, {"memory": 1}))
for label, strategy, extra in VARIANTS:
    hits = 0
    for i in range(int(sys.argv[3])):
        options = dict(name=f"m{i}", namespace="affinity", num_cpus=0, lifetime="detached", max_restarts=-1,
                       max_concurrency=8)
        if strategy is not None:
            options["scheduling_strategy"] = Affinity(node_id=me, soft=strategy)
        options.update(extra)
        actor = Master.options(**options).remote()
        hits += ray.get(actor.node.remote(), timeout=120) == me
        ray.kill(actor)
        time.sleep(0.5)
    print(f"{label}: {hits}/{sys.argv[3]} on the driver's node", flush=True)
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--head-cpus", type=int, default=0)
    p.add_argument("--actors", type=int, default=8)
    p.add_argument("--no-working-dir", action="store_true", help="the driver's job has no runtime_env")
    args = p.parse_args()
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    cluster, _ = _cluster.start_cluster(nodes=2, cpus=3, head_cpus=args.head_cpus)
    try:
        with tempfile.TemporaryDirectory() as wd:
            done = subprocess.run(
                [sys.executable, "-c", DRIVER, cluster.address, "" if args.no_working_dir else wd, str(args.actors)],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        print(f"head with {args.head_cpus} CPU(s), {'no' if args.no_working_dir else 'a'} job working_dir:")
        print(done.stdout.strip() or done.stderr[-2000:])
    finally:
        cluster.shutdown()
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
