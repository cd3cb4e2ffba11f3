"""Executors: run one task's component instance inside a worker.

``SpoutExecutor`` calls ``next_tuple`` in bursts; ``BoltExecutor`` runs ``process`` over a batch of
tuples. Both give the instance its ``emit`` and record the user's exceptions (component, task,
time, traceback) without stopping: a bolt that raises fails that tuple and goes on.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .bolt import BatchingBolt, Bolt
from .router import StreamRouter, unknown_stream
from .spout import Spout
from .tuple import Tuple, tick_tuple

ERRORS_KEPT = 100  # per worker, newest kept: what the status line and the UI show
LOG_ERRORS_PER_TASK = 5  # tracebacks logged per task per interval; the rest are only counted
LOG_ERRORS_INTERVAL = 10.0


class ErrorLog:
    """Errors raised by user code in this worker, kept for reporting and logged with a throttle."""

    def __init__(self) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
        self.new: list[dict[str, Any]] = []
        self.count = 0
        self._window: dict[int, tuple[float, int]] = {}
        self.log = logging.getLogger("squall.errors")

    def report(self, component: str, task: int, where: str, exc: BaseException) -> None:
        self.count += 1
        now = time.time()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        entry = {"component": component, "task": task, "time": now, "where": where,
                 "error": f"{type(exc).__name__}: {exc}", "traceback": tb}
        self.recent.append(entry)
        self.new.append(entry)
        start, n = self._window.get(task, (now, 0))
        if now - start > LOG_ERRORS_INTERVAL:
            start, n = now, 0
        self._window[task] = (start, n + 1)
        if n < LOG_ERRORS_PER_TASK:
            logging.getLogger(f"{component}:{task}").error("error in %s (the task goes on):\n%s", where, tb.rstrip())

    def take_new(self) -> list[dict[str, Any]]:
        new, self.new = self.new, []
        return new


class TaskExecutor:
    """What spout and bolt executors share: the instance, its routers, its counters."""

    def __init__(self, task: int, component: str, instance: Any, routers: dict[str, StreamRouter], errors: ErrorLog):
        self.task = task
        self.component = component
        self.instance = instance
        self.routers = routers
        self.errors = errors
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


class SpoutExecutor(TaskExecutor):
    instance: Spout

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.active = False
        self.exhausted = False
        self.to_ack: list[Any] = []  # tup_ids to ack right after emit: tracking is off
        self.next_tuple = self.instance.next_tuple
        self.instance.emit = self._make_emit()

    def _make_emit(self) -> Any:
        default = self.routers.get("default")
        fast = default.send if default is not None and default.fast else None
        to_ack = self.to_ack
        slow_route = self.slow_route

        def emit(values: Sequence[Any], tup_id: Any = None, stream: str | None = None,
                 direct_task: int | None = None, need_task_ids: bool = False) -> list[int] | None:
            if tup_id is not None:
                to_ack.append(tup_id)
            if stream is None and fast is not None and direct_task is None and not need_task_ids:
                return fast(values)
            return slow_route(stream).send_general(values, direct_task, need_task_ids)

        return emit

    @property
    def runnable(self) -> bool:
        return self.active and not self.exhausted

    def burst(self, n: int) -> None:
        """Call ``next_tuple`` up to ``n`` times."""
        next_tuple = self.next_tuple
        try:
            for _ in range(n):
                next_tuple()
        except StopIteration:
            self.exhausted = True
        except Exception as exc:  # a spout error is reported; the spout is called again next turn
            self.report("next_tuple", exc)
        if self.to_ack:
            self.ack_now()

    def ack_now(self) -> None:
        ids = self.to_ack[:]
        self.to_ack.clear()
        ack = self.instance.ack
        for tup_id in ids:
            try:
                ack(tup_id)
            except Exception as exc:
                self.report("ack", exc)
        self.acked += len(ids)

    def activate(self) -> None:
        if not self.active:
            self.active = True
            try:
                self.instance.activate()
            except Exception as exc:
                self.report("activate", exc)

    def deactivate(self) -> None:
        if self.active:
            self.active = False
            try:
                self.instance.deactivate()
            except Exception as exc:
                self.report("deactivate", exc)


class BoltExecutor(TaskExecutor):
    instance: Bolt

    def __init__(self, *args: Any, tick_secs: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.executed = 0
        self.tick_secs = tick_secs
        self.next_tick = time.monotonic() + tick_secs if tick_secs else float("inf")
        inst = self.instance
        self.process = inst.process
        self.auto_fail = inst.auto_fail
        inst.emit = self._make_emit()
        inst.ack = self._ack
        inst.fail = self._fail
        if isinstance(inst, BatchingBolt):
            inst._run_batch = self._run_batch

    def _make_emit(self) -> Any:
        default = self.routers.get("default")
        fast = default.send if default is not None and default.fast else None
        slow_route = self.slow_route

        def emit(values: Sequence[Any], stream: str | None = None, anchors: Any = None,
                 direct_task: int | None = None, need_task_ids: bool = False) -> list[int] | None:
            if stream is None and fast is not None and direct_task is None and not need_task_ids:
                return fast(values)
            return slow_route(stream).send_general(values, direct_task, need_task_ids)

        return emit

    def _ack(self, tup: Tuple) -> None:
        self.acked += 1

    def _fail(self, tup: Tuple) -> None:
        self.failed += 1

    def execute(self, tuples: Iterable[Tuple], n: int) -> None:
        """Run ``process`` over a batch; an exception fails that tuple and the loop goes on."""
        process = self.process
        for tup in tuples:
            try:
                process(tup)
            except Exception as exc:
                self.report("process", exc)
                if self.auto_fail:
                    self._fail(tup)
        self.executed += n

    def tick(self, now: float) -> None:
        self.next_tick = now + self.tick_secs  # type: ignore[operator]
        try:
            self.instance.process_tick(tick_tuple(self.tick_secs))  # type: ignore[arg-type]
        except Exception as exc:
            self.report("process_tick", exc)

    def _run_batch(self, key: Any, tups: list[Tuple]) -> None:
        try:
            self.instance.process_batch(key, tups)  # type: ignore[attr-defined]
        except Exception as exc:
            self.report("process_batch", exc)
            if self.auto_fail:
                for t in tups:
                    self._fail(t)
