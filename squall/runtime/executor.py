"""Executors: run one task's component instance inside a worker.

``SpoutExecutor`` (``spout_executor.py``) calls ``next_tuple`` in bursts; ``BoltExecutor``
(``bolt_executor.py``) runs ``process`` over a batch of tuples. Both give the instance its
``emit`` and record the user's exceptions (component, task, time, traceback) without stopping:
a bolt that raises fails that tuple and goes on. This module holds what they share.
"""

from __future__ import annotations

import inspect
from typing import Any

from squall.runtime.error_log import ErrorLog
from squall.runtime.router import StreamRouter, unknown_stream

TURN_SECS = 0.01  # a loop turn's budget for user calls: then the worker looks at control messages again
SLICE_SECS = 0.001  # executors check the clock after a slice of tuples sized to take about this long
MAX_SLICE = 4096  # tuples per slice, at most (a fast bolt: one clock read per batch)


class Turn:
    """The worker's current loop turn, shared with its executors (one per worker, one thread).

    ``deadline`` is when the turn's time is up; an executor that finds it passed after a slice sets
    ``over`` and leaves the rest of its batch in its own ``waiting`` queue (in order), registered in
    ``backlog`` (insertion ordered: the worker resumes them oldest first, next turn). ``waiting``
    counts the tuples in every executor's queue: the worker stops reading its socket above a bound.
    """

    __slots__ = ("deadline", "over", "backlog", "waiting")

    def __init__(self) -> None:
        self.deadline = float("inf")
        self.over = False
        self.backlog: dict[Any, None] = {}  # executors with work left over
        self.waiting = 0


def next_slice(dt: float, n: int) -> int:
    """How many tuples the next slice takes, after ``n`` took ``dt`` seconds: about ``SLICE_SECS`` worth."""
    if dt <= 0.0:
        return MAX_SLICE
    k = int(SLICE_SECS * n / dt)
    return 1 if k < 1 else MAX_SLICE if k > MAX_SLICE else k


def unawaited(component: str, cls: type, method: str, result: Any) -> Exception | None:
    """The error for a plain-def user method that returned work nothing will run (a coroutine, an
    awaitable, a generator), after closing it; None for any other result. Only called when the result
    is not None, so the hot path pays one ``is not None`` per call."""
    where = f"{cls.__name__}.{method} of component '{component}'"
    if inspect.isgenerator(result):
        result.close()
        return TypeError(f"{where} returned a generator that nothing runs: emit with self.emit(values), not yield")
    if inspect.iscoroutine(result):
        result.close()  # no "never awaited" warning later: the error says it now
    elif not inspect.isawaitable(result):
        return None
    return TypeError(
        f"{where} returned a coroutine that nothing awaits: declare it `async def {method}` "
        "(the runtime then awaits it, see concurrency in docs/architecture.md)"
    )


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
        turn: Turn | None = None,
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
        self.turn = turn if turn is not None else Turn()
        if hasattr(instance, "_squall_report"):  # a component reporting errors itself (pystorm's raise_exception)
            instance._squall_report = self.report

    def check_result(self, method: str, result: Any) -> None:
        """Raise if a plain-def ``method`` returned a coroutine (or other work nothing runs)."""
        exc = unawaited(self.component, type(self.instance), method, result)
        if exc is not None:
            raise exc

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
