"""The coordinator's side of checkpointed state: Flink's checkpoint coordinator, in Storm's words.

Every ``topology.state.checkpoint.interval.ms`` (after the previous checkpoint ended) it starts
checkpoint ``n`` (CHECKPOINT to every worker: spouts record their position and send barriers, see
``runtime.checkpoint``). Each spout task and each stateful task stages its part and reports it
(CHECKPOINTED); when all have, ``commit(n)`` makes it the one to roll back to, in one atomic step of
the backend, and every worker is told (COMMITTED: spouts acknowledge at their source).

A checkpoint in progress when a worker dies is abandoned: the coordinator restarts every worker
(``Coordinator._restart_all``), each task loads checkpoint ``committed`` and each spout seeks to its
position in it. Nothing here runs per tuple: one message per worker per checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from squall.state.backend import StateBackend, open_backend
from squall.topology.plan import Plan
from squall.topology.stateful_bolt import is_stateful

log = logging.getLogger("squall.run")

SLOW_CHECKPOINT_SECS = 30.0  # a checkpoint not complete after this long is named in the log (once)


class CheckpointCoordinator:
    """Starts checkpoints, collects the reports, commits; keeps the figures the statistics show."""

    def __init__(self, name: str, conf: Mapping[str, Any], plan: Plan, components: Mapping[str, Any]):
        self.name = name
        self.interval = float(conf.get("topology.state.checkpoint.interval.ms") or 1000) / 1000.0
        self.backend: StateBackend = open_backend(name, conf)
        #: every task that must stage a checkpoint: spouts (their positions) and stateful bolts
        self.expected = frozenset(
            t for n, d in components.items() if d.kind == "spout" or is_stateful(d.cls) for t in plan.component_tasks[n]
        )
        self.committed = 0
        self.next_id = 1
        self.current: int | None = None  # the checkpoint in progress
        self.started_at = 0.0
        self.staged: dict[int, list[int]] = {}  # task -> [keys, bytes] for ``current``
        self.next_at = 0.0
        self.warned = False
        #: figures for the statistics: the last committed checkpoint
        self.last: dict[str, float] = {}
        self.count = 0  # checkpoints committed in this run
        self.aborted = 0

    def begin(self) -> int:
        """At the start of a run (before any worker stages anything): forget what a previous run staged
        and did not commit; returns the committed checkpoint the workers restore."""
        self.backend.discard_pending()
        self.committed = self.backend.committed()
        self.next_id = max(self.next_id, self.committed + 1)
        self.next_at = time.monotonic() + self.interval
        return self.committed

    def due(self, now: float) -> int | None:
        """The id of a checkpoint to start now (None: one is in progress, or not yet time)."""
        if self.current is not None:
            if not self.warned and now - self.started_at > SLOW_CHECKPOINT_SECS:
                self.warned = True
                missing = sorted(self.expected - set(self.staged))
                log.warning(
                    "checkpoint %d not complete after %.0fs: waiting for tasks %s",
                    self.current,
                    now - self.started_at,
                    missing,
                )
            return None
        if now < self.next_at:
            return None
        return self.start(now)

    def start(self, now: float) -> int:
        n = self.current = self.next_id
        self.next_id += 1
        self.started_at, self.staged, self.warned = now, {}, False
        return n

    def on_report(self, msg: Mapping[str, Any]) -> int | None:
        """A CHECKPOINTED message; returns the checkpoint id it completed (committed), else None."""
        n = int(msg["n"])
        if n != self.current:
            return None  # an abandoned checkpoint's
        for task, figures in msg["tasks"].items():
            keys, written = figures
            self.staged[int(task)] = [int(keys), int(written)]
        if not self.expected <= set(self.staged):
            return None
        self.backend.commit(n)
        now = time.monotonic()
        self.committed, self.current, self.count = n, None, self.count + 1
        self.next_at = now + self.interval
        staged = list(self.staged.values())  # [keys, bytes] per task
        self.last = {
            "id": float(n),
            "duration_ms": 1000.0 * (now - self.started_at),
            "bytes": float(sum(v[1] for v in staged)),
            "state_keys": float(sum(v[0] for v in staged)),
            "at": time.time(),
        }
        return n

    def abort(self) -> None:
        """Workers are being restarted: the checkpoint in progress will never complete."""
        if self.current is not None:
            self.aborted += 1
            log.info("checkpoint %d abandoned (workers restart from checkpoint %d)", self.current, self.committed)
        self.current = None
        self.backend.discard_pending()
        self.next_at = time.monotonic() + self.interval

    def figures(self) -> dict[str, Any]:
        """What the statistics, the REST API and the UI show."""
        return {
            "committed": self.committed,
            "in_progress": self.current,
            "count": self.count,
            "aborted": self.aborted,
            "interval_ms": 1000.0 * self.interval,
            "last": dict(self.last),
        }

    def close(self) -> None:
        self.backend.close()
