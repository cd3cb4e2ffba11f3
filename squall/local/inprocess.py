"""Run a whole topology in the caller's process and thread: one Worker with every task, no sockets.

What ``squall.testing`` uses by default: a topology completes in milliseconds.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from squall.compat.loader import load_topology
from squall.local.checkpoints import CheckpointCoordinator
from squall.local.result import RunResult
from squall.local.statistics import RunState, StatsBook, peak_rss_bytes, rss_bytes
from squall.runtime.hooks import WorkerHooks
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.topology.stateful_bolt import checkpointed


class NoCheckpoints:
    """A topology without state: nothing to checkpoint."""

    def turn(self, now: float, spouts_done: bool) -> None:
        pass

    def final(self, deadline: float) -> None:
        pass

    def close(self) -> None:
        pass


class InProcessCheckpoints(NoCheckpoints):
    """The coordinator's checkpoint role for the one in-process worker (a topology with a StatefulBolt):
    periodic checkpoints while spouts run, and a final one when the run completes."""

    def __init__(self, worker: Worker, topology: Any, conf: dict[str, Any]):
        self.worker = worker
        self.cp = CheckpointCoordinator(conf["topology.name"], conf, worker.plan, topology.components)
        self.cp.begin()  # before setup: what an earlier run staged and did not commit is forgotten

    def turn(self, now: float, spouts_done: bool) -> None:
        wc = self.worker.checkpoints
        assert wc is not None
        if not spouts_done:
            n = self.cp.due(now)
            if n is not None:
                wc.start(n)
        for report in wc.take_reports():
            done = self.cp.on_report(report)
            if done is not None:
                wc.committed(done)

    def final(self, deadline: float) -> None:
        """A checkpoint started now (one under way began before the input ended), stepped to its commit."""
        wc = self.worker.checkpoints
        assert wc is not None
        final: int | None = None
        while (final is None or self.cp.committed < final) and time.monotonic() < deadline:
            if self.cp.current is None:
                final = self.cp.start(time.monotonic())
                wc.start(final)
            self.worker.step()
            self.turn(time.monotonic(), True)

    def close(self) -> None:
        self.cp.close()


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
    checkpoints = InProcessCheckpoints(worker, topology, conf) if checkpointed(topology.components) else NoCheckpoints()
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
        checkpoints.turn(now, worker.spouts_ended)
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
                    checkpoints.final(start + (timeout or 3600.0))  # the state then holds every input
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
    checkpoints.close()
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
