"""Errors raised by user code in a worker: kept for reporting (status line, UI), logged with a throttle.

Storm's ``reportError``: each error keeps its component, task, time and traceback. Logging is
throttled per task so that a bolt raising on every tuple cannot drown the run's log.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from typing import Any

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
        entry = {
            "component": component,
            "task": task,
            "time": now,
            "where": where,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": tb,
        }
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
