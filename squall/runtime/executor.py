"""Executors: run one task's component instance inside a worker.

``SpoutExecutor`` (``spout_executor.py``) calls ``next_tuple`` in bursts; ``BoltExecutor``
(``bolt_executor.py``) runs ``process`` over a batch of tuples. Both give the instance its
``emit`` and record the user's exceptions (component, task, time, traceback) without stopping:
a bolt that raises fails that tuple and goes on. This module holds what they share.
"""

from __future__ import annotations

from typing import Any

from squall.runtime.error_log import ErrorLog
from squall.runtime.router import StreamRouter, unknown_stream


class TaskExecutor:
    """What spout and bolt executors share: the instance, its routers, its counters.

    ``ack_bufs`` / ``ctl_bufs`` are the channel buffers to the acker tasks (one per acker, in task
    order) for acks and announcements (flat ``root, xor`` ints) and for FAIL messages; None when tracking is off
    (``topology.acker.executors = 0``).
    """

    def __init__(
        self,
        task: int,
        component: str,
        instance: Any,
        routers: dict[str, StreamRouter],
        errors: ErrorLog,
        ack_bufs: list[list[Any]] | None = None,
        ctl_bufs: list[list[Any]] | None = None,
        done_bufs: dict[int, list[Any]] | None = None,
    ):
        self.task = task
        self.component = component
        self.instance = instance
        self.routers = routers
        self.errors = errors
        self.ack_bufs = ack_bufs
        self.ctl_bufs = ctl_bufs
        self.done_bufs = done_bufs  # spout task -> buffer of completed roots (first-hop shortcut)
        self.n_ackers = len(ack_bufs) if ack_bufs else 0
        self.failed = 0
        self.acked = 0
        self.error_count = 0

    def emitted(self) -> dict[str, int]:
        return {name: r.emitted for name, r in self.routers.items()}

    def report(self, where: str, exc: BaseException) -> None:
        self.error_count += 1
        self.errors.report(self.component, self.task, where, exc)

    def slow_route(self, stream: Any) -> StreamRouter:
        router = self.routers.get("default" if stream is None else stream)
        if router is None:
            raise unknown_stream(self.component, stream, list(self.routers))
        return router

    def stats(self) -> dict[str, Any]:
        return {}
