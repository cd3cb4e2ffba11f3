"""What the connector tests share: a sink that records the ids it sees, and a run of a topology on
real worker processes whose spout's worker is killed with SIGKILL while it runs.

The sink writes each id before its tuple is acked, so an id it acked is on disk even when its own
worker is killed the next moment.
"""

from __future__ import annotations

import glob
import io
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from squall import Bolt
from squall.local.coordinator import Coordinator
from squall.local.result import RunResult
from squall.local.statistics import RunState


class RecordingSink(Bolt):
    """Appends the value of field ``test.id.field`` (default "id") of each tuple to
    ``<test.dir>/seen-<task>-<pid>.log``, one per line, flushed before the tuple is acked."""

    def initialize(self, conf, context):
        self.field = conf.get("test.id.field", "id")
        path = os.path.join(conf["test.dir"], f"seen-{context.task_id}-{os.getpid()}.log")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 (closed when the worker ends)

    def process(self, tup):
        self.out.write(f"{getattr(tup.values, self.field)}\n")


def read_seen(folder: str) -> list[str]:
    """Every id the sinks recorded (duplicates kept: at-least-once may repeat some)."""
    out: list[str] = []
    for path in glob.glob(os.path.join(folder, "seen-*.log")):
        with open(path) as f:
            out.extend(line.strip() for line in f if line.strip())
    return out


@dataclass
class KilledRun:
    """What ``run_killing`` saw: the result, the pids it killed, the snapshots while it ran."""

    result: RunResult
    killed: list[int] = field(default_factory=list)
    snapshots: list[Any] = field(default_factory=list)


def worker_of(coord: Coordinator, component: str) -> int:
    """The index of the worker hosting ``component``'s first task."""
    return coord.plan.task_worker[coord.plan.component_tasks[component][0]]


def run_killing(
    topology: Any,
    conf: dict[str, Any],
    victim: str,
    done: Callable[[], bool],
    kills: int = 2,
    progress: Callable[[], int] | None = None,
    timeout: float = 150.0,
) -> KilledRun:
    """Run ``topology`` on real workers; ``kills`` times, once the spout made progress since the
    last kill (``progress()`` grew) and the victim's worker is back, SIGKILL the worker hosting
    ``victim``; then wait until ``done()`` and stop the run. Fails (AssertionError) on timeout."""
    coord = Coordinator(
        topology,
        {"squall.stats.interval.secs": 0.5, **conf},
        status_out=io.StringIO(),
        handle_signals=False,
    )
    out: dict[str, RunResult] = {}
    runner = threading.Thread(target=lambda: out.setdefault("r", coord.run()), daemon=True)
    runner.start()
    run = KilledRun(result=None)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    snap = coord.wait_statistics(timeout=60)
    while snap.state is RunState.STARTING and time.monotonic() < deadline:
        snap = coord.wait_statistics(snap, timeout=60)
    assert snap.state is RunState.ACTIVE, (snap.state, coord.message)
    index = worker_of(coord, victim)
    seen_at_kill = progress() if progress else 0
    try:
        while time.monotonic() < deadline and runner.is_alive() and not done():
            time.sleep(0.2)
            run.snapshots.append(coord.statistics())
            if len(run.killed) >= kills:
                continue
            handle = coord.handles.get(index)
            if handle is None or index in coord.restart_at or handle.poll() is not None:
                continue  # the last victim is not back yet
            now = progress() if progress else 0
            if progress and now <= seen_at_kill:
                continue  # no progress since the last kill (or since the start)
            if progress is None and time.monotonic() < deadline - timeout + 2 * (len(run.killed) + 1):
                continue
            try:
                os.kill(handle.pid, signal.SIGKILL)
                run.killed.append(handle.pid)
                seen_at_kill = now
            except ProcessLookupError:
                pass
        assert done(), f"not done after {timeout:.0f} s ({len(run.killed)} kills): {coord.message}"
    finally:
        coord.request_stop("test done")
        runner.join(timeout=60)
    run.result = out["r"]
    return run
