"""Run a whole topology in the caller's process and thread: one Worker with every task, no sockets.

What ``squall.testing`` uses by default: a topology completes in milliseconds.
"""

from __future__ import annotations

import time
from typing import Any

from squall.local.result import RunResult
from squall.runtime.hooks import WorkerHooks
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.topology.loader import load_topology


def run_in_process(
    topology: Any,
    overrides: dict[str, Any] | None = None,
    *,
    duration: float | None = None,
    timeout: float | None = 60.0,
    hooks: WorkerHooks | None = None,
) -> RunResult:
    """Run a whole topology in this process and thread (one worker): fast, for tests.

    Ends when every spout is exhausted and every tuple processed, or after ``duration`` seconds.
    ``hooks`` go to the Worker as they are; their ``report()`` ends up in ``hook_reports``.
    """
    topology = load_topology(topology) if isinstance(topology, str) else topology
    overrides = dict(overrides or {})
    overrides["topology.workers"] = 1
    conf = topology_conf(topology.config, overrides)
    conf["topology.name"] = conf.get("topology.name") or topology.__name__
    worker = Worker(topology, conf, 0, hooks=hooks)
    start = time.monotonic()
    worker.setup()
    worker.activate()
    reason = "completed"
    idle_turns = 0
    while True:
        did = worker.step()
        now = time.monotonic()
        if duration is not None and now - start >= duration:
            reason = "stopped"
            break
        if timeout is not None and now - start >= timeout:
            reason = "timeout"
            break
        if worker.spouts_done:
            worker.draining = True
            if not did and worker.idle():
                idle_turns += 1
                if idle_turns >= 2:
                    break
                continue
        idle_turns = 0
        if not did:
            time.sleep(0.0005)
    worker.deactivate()
    while worker.step():
        pass
    worker.close()
    report = hooks.report() if hooks is not None else None
    return RunResult(
        reason,
        0 if reason != "timeout" else 1,
        time.monotonic() - start,
        worker.task_stats(),
        list(worker.errors.recent),
        hook_reports=[] if report is None else [report],
    )
