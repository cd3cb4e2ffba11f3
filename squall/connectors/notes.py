"""What the RabbitMQ and Redis connectors share: counted, throttled log lines for what they give up
on (a poison message, a message past its retry limit, a lost connection: never silent, never a log
line per message), and the check of their integer settings."""

from __future__ import annotations

import logging
import time
from typing import Any

LOG_EVERY_SECS = 10.0  # at most one line per kind of note this often (the count in between is in it)


def int_problems(cls: type, conf: dict[str, Any], limits: dict[str, int]) -> list[tuple[str, str]]:
    """Keys whose value must be None or an integer of at least ``limits[key]``: what is wrong."""
    out: list[tuple[str, str]] = []
    for key, low in limits.items():
        value = conf.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            out.append(
                (
                    f"{cls.__name__}: {key}={value!r} is not an integer >= {low}",
                    f"set {key} to an integer >= {low}, or None",
                )
            )
    return out


class Notes:
    """``note(kind, text)`` counts; the first of a kind is logged at once, then at most one line
    per ``LOG_EVERY_SECS`` carrying how many came since the last line."""

    def __init__(self, logger: logging.Logger, level: int = logging.WARNING):
        self.logger = logger
        self.level = level
        self.counts: dict[str, int] = {}
        self._unlogged: dict[str, int] = {}
        self._next: dict[str, float] = {}

    def note(self, kind: str, text: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self._unlogged[kind] = n = self._unlogged.get(kind, 0) + 1
        now = time.monotonic()
        if now < self._next.get(kind, 0.0):
            return
        self._next[kind] = now + LOG_EVERY_SECS
        self._unlogged[kind] = 0
        more = f" ({n - 1} more like it since the last line; {self.counts[kind]} in all)" if n > 1 else ""
        self.logger.log(self.level, "%s%s", text, more)
