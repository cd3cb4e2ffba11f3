"""Run a whole topology in the caller's process and thread: one Worker with every task, no sockets.

What ``squall.testing`` uses by default: a topology completes in milliseconds.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from squall.local.result import RunResult, add_captured
from squall.local.statistics import RunState, StatsBook, peak_rss_bytes, rss_bytes
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.topology.loader import load_topology


def run_in_process(
    topology: Any,
    overrides: dict[str, Any] | None = None,
    *,
    duration: float | None = None,
    timeout: float | None = 60.0,
    capture: bool = False,
    mocked_sources: dict[str, list[Any]] | None = None,
) -> RunResult:
    """Run a whole topology in this process and thread (one worker): fast, for tests.

    Ends when every spout is exhausted and every tuple processed, or after ``duration`` seconds.
    """
    topology = load_topology(topology) if isinstance(topology, str) else topology
    overrides = dict(overrides or {})
    overrides["topology.workers"] = 1
    if capture:
        overrides["squall.capture"] = True
    if mocked_sources:
        overrides["squall.mocked.sources"] = mocked_sources
    conf = topology_conf(topology.config, overrides)
    conf["topology.name"] = conf.get("topology.name") or topology.__name__
    worker = Worker(topology, conf, 0)
    book = StatsBook(conf["topology.name"], worker.plan, {n: d.kind for n, d in topology.components.items()})
    book.worker_started(0, 0, os.getpid())
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
    captured: dict[str, dict[str, list[Any]]] = {}
    for (comp, stream), vals in (worker.captured or {}).items():
        add_captured(captured, comp, stream, vals)
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
    return RunResult(book.snapshot(state, time.monotonic() - start, stop_reason=stop_reason), captured)
