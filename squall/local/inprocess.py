"""Run a whole topology in the caller's process and thread: one Worker with every task, no sockets.

What ``squall.testing`` uses by default: a topology completes in milliseconds.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from squall.compat.loader import load_topology
from squall.local.result import RunResult
from squall.local.statistics import RunState, StatsBook, peak_rss_bytes, rss_bytes
from squall.runtime.hooks import WorkerHooks
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf


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
    conf = topology_conf(topology.config, overrides, topology.components.values())
    conf["topology.name"] = conf.get("topology.name") or topology.__name__
    worker = Worker(topology, conf, 0, hooks=hooks)
    book = StatsBook(conf["topology.name"], worker.plan, {n: d.kind for n, d in topology.components.items()})
    book.worker_started(0, 0, os.getpid(), time.time())
    book.worker_hello(0, socket.gethostname())
    start = time.monotonic()
    worker.setup()
    worker.activate()
    state, stop_reason = RunState.COMPLETED, None
    idle_turns = 0
    while True:
        did = worker.step()
        now = time.monotonic()
        if duration is not None and now - start >= duration:
            state, stop_reason = RunState.STOPPED, "duration"
            break
        if timeout is not None and now - start >= timeout:
            state, stop_reason = RunState.FAILED, "timeout"
            break
        if worker.spouts_ended:
            worker.draining = True
            if not did and not worker.input_ended and worker.quiet():  # one process: nothing is on its way
                worker.input_ended = True  # windows fire what they hold and release it
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
    drain_until = time.monotonic() + worker.settings.drain_timeout_secs  # in-flight calls and backlogs
    while time.monotonic() < drain_until:
        if not worker.step():
            if worker.idle():
                break
            time.sleep(0.0005)
    worker.close()
    report = hooks.report() if hooks is not None else None
    # One stats round, answered by the one worker: the same snapshot type as a Coordinator's.
    rnd = book.begin([0], time.monotonic() - start)
    answer = {
        "round": rnd,
        "inc": 0,
        "tasks": worker.task_stats(),
        "queued": worker.queued(),
        "rss": rss_bytes(),
        "peak_rss": peak_rss_bytes(),
        "errors": worker.errors.take_new(),
    }
    book.record(0, answer, time.monotonic() - start)
    return RunResult(
        book.snapshot(state, time.monotonic() - start, stop_reason=stop_reason),
        hook_reports=[] if report is None else [report],
    )
