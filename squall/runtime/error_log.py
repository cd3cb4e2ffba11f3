"""Errors raised by user code in a worker: kept for reporting (status line, UI), logged with a throttle.

Storm's ``reportError``: each error keeps its component, task, time and traceback. Logging is
throttled per task so that a bolt raising on every tuple cannot drown the run's log.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from squall.errors import user_traceback

ERRORS_KEPT = 100  # per worker, newest kept: what the status line and the UI show
LOG_ERRORS_PER_TASK = 5  # tracebacks logged per task per interval; the rest are only counted
LOG_ERRORS_INTERVAL = 10.0


class ErrorLog:
    """Errors raised by user code in this worker, kept for reporting and logged with a throttle.

    Per task, the first ``LOG_ERRORS_PER_TASK`` errors of an interval of ``LOG_ERRORS_INTERVAL``
    seconds are logged with their traceback; the rest are counted, and their number is logged when
    the task's next interval starts or the worker stops (``close``): none is dropped without notice.
    """

    def __init__(self) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
        self.new: list[dict[str, Any]] = []
        self.count = 0
        self._window: dict[int, tuple[str, float, int]] = {}  # task -> (component, interval start, errors in it)
        self.log = logging.getLogger("squall.errors")

    def report(self, component: str, task: int, where: str, exc: BaseException) -> None:
        self.count += 1
        now = time.time()
        tb = user_traceback(exc)
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
        logger = logging.getLogger(f"{component}:{task}")
        _, start, n = self._window.get(task, (component, now, 0))
        if now - start > LOG_ERRORS_INTERVAL:
            _report_unlogged(logger, n, now - start)
            start, n = now, 0
        self._window[task] = (component, start, n + 1)
        if n < LOG_ERRORS_PER_TASK - 1:
            logger.error("error in %s (the task goes on):\n%s", where, tb)
        elif n == LOG_ERRORS_PER_TASK - 1:
            logger.error(
                "error in %s (the task goes on):\n%s\n(%d errors in %.0fs: the next ones of this task in the "
                "following %.0fs are counted, not logged)",
                where,
                tb,
                LOG_ERRORS_PER_TASK,
                now - start,
                LOG_ERRORS_INTERVAL - (now - start),
            )

    def close(self) -> None:
        """Log, per task, how many errors were counted but not logged yet (the worker is stopping)."""
        now = time.time()
        for task, (component, start, n) in self._window.items():
            _report_unlogged(logging.getLogger(f"{component}:{task}"), n, now - start)
        self._window.clear()

    def take_new(self) -> list[dict[str, Any]]:
        new, self.new = self.new, []
        return new


def _report_unlogged(logger: logging.Logger, n: int, secs: float) -> None:
    """``n`` errors in the last ``secs``: say how many of them were not logged."""
    if n > LOG_ERRORS_PER_TASK:
        logger.error(
            "%s more error(s) in the last %.0fs were not logged (throttled)", f"{n - LOG_ERRORS_PER_TASK:,}", secs
        )
