"""Tuple sampling (Storm UI's debug sampling): a task's emits captured for a while, made JSON-able.

``Worker.start_sampling`` gives each of a component's local tasks a ``Sampler`` and puts the
routers of the chosen stream(s) on their observed paths (``StreamRouter.sample``); the task's
``emit`` is rebuilt from them. When the time is up (``Worker.timers``) the routers go back to
their fast paths. What was captured leaves with the worker's next stats answer
(``Worker.take_samples``): at most ``limit`` per task per answer, each value made JSON-able
(``jsonable``). Tasks that do not sample pay nothing: their routers never changed.
"""

from __future__ import annotations

import math
from typing import Any

MAX_CHARS = 1000  # a sampled string (or repr) longer than this is cut, with "..." at the end
MAX_ITEMS = 100  # items of a sampled list or dict kept (then "...")
MAX_DEPTH = 8  # nesting below this is shown as its repr()
MAX_INT = 1 << 63  # msgpack carries ints in [-2**63, 2**64); beyond, the repr()


class Sampler:
    """One task's captured emits: ``(stream, epoch time, values)``, at most ``limit`` between two
    ``take()`` calls (the stats answers); the rest are counted in ``skipped``."""

    __slots__ = ("task", "limit", "got", "skipped")

    def __init__(self, task: int, limit: int):
        self.task = task
        self.limit = limit
        self.got: list[tuple[str, float, Any]] = []
        self.skipped = 0

    def take(self) -> list[tuple[str, float, Any]]:
        """What was captured since the last call (the list itself is kept: the routers append to it)."""
        got = self.got[:]
        self.got.clear()
        return got


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as msgpack and JSON both carry it: None, bool, int, float, str, lists and dicts of
    those with string keys; anything else (bytes, a set, an object, NaN, a huge int) as its ``repr()``.
    Long strings and containers are cut (``MAX_CHARS``, ``MAX_ITEMS``): a sample is for looking at."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if -MAX_INT <= value < MAX_INT else _cut(repr(value))
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return _cut(value)
    if depth < MAX_DEPTH:
        if isinstance(value, (list, tuple)):
            out = [jsonable(v, depth + 1) for v in value[:MAX_ITEMS]]
            return [*out, "..."] if len(value) > MAX_ITEMS else out
        if isinstance(value, dict):
            items = list(value.items())
            d = {(k if isinstance(k, str) else _cut(repr(k))): jsonable(v, depth + 1) for k, v in items[:MAX_ITEMS]}
            if len(items) > MAX_ITEMS:
                d["..."] = f"{len(items) - MAX_ITEMS} more"
            return d
    try:
        return _cut(repr(value))
    except Exception as exc:  # a user's __repr__ that raises
        return f"<{type(value).__name__}: repr() raised {type(exc).__name__}>"
