"""Squall's exceptions: one root, each message says what is wrong and how to fix it.

    SquallError
    ├── TopologyError             a topology definition is wrong (raised before anything starts)
    │   └── InvalidTopologyError  carries every Problem found, not just the first
    ├── ConfigError               a configuration key or value is wrong
    ├── TopologyLoadError         a topology file / reference cannot be loaded
    ├── EmitError                 an emit() at run time does not match the declared outputs
    ├── WorkerError               a worker process failed (crashed, could not start)
    ├── StateError                a state backend cannot store or read checkpoints (file, server)
    └── UserCodeError             user code raised during a run (``squall.testing``, ``strict=True``)

A user's exception inside ``process()`` is *not* turned into a SquallError: it fails that
tuple, is reported, and the task goes on.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from types import TracebackType


class SquallError(Exception):
    """Root of every error Squall raises on purpose."""


class TopologyError(SquallError):
    """A topology is wrong: unknown input, bad grouping, bad parallelism..."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a topology: where it is, what is wrong, how to fix it."""

    component: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"component '{self.component}': {self.message}"
        if self.fix:
            text += f" -> {self.fix}"
        return text


class InvalidTopologyError(TopologyError):
    """Raised with *all* the problems found, so a user fixes them in one round."""

    def __init__(self, topology: str, problems: list[Problem]):
        self.topology = topology
        self.problems = list(problems)
        lines = [f"topology '{topology}' is invalid ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ConfigError(SquallError):
    """A configuration key or value cannot be used."""


class TopologyLoadError(SquallError):
    """A topology file or 'module:Class' reference cannot be loaded."""


class UnknownComponentError(TopologyError, KeyError):
    """A component name the topology does not declare (a ``KeyError`` too, for code that expects one)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EmitError(SquallError, ValueError):
    """An emit does not match what the component declared (stream, arity, direct task)."""


class WorkerError(SquallError):
    """A worker process failed: it crashed or could not start."""


class StateError(SquallError):
    """A state backend cannot store or read checkpoints: its database file cannot be opened or
    written, or its server cannot be reached. The message names the file or URL and the fix."""


class DeliveryError(SquallError):
    """A broker refused what a connector's sink sent (nacked, unroutable, an error reply): the
    tuple fails, so its spout may replay it."""


class UserCodeError(SquallError):
    """User code (``process``, ``next_tuple``, ...) raised during a run; ``errors`` lists each one
    (component, task, where, error, traceback). ``squall.testing`` raises it with ``strict=True``."""

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None):
        super().__init__(message)
        self.errors = list(errors or [])


class ResourceError(WorkerError):
    """The machine ran out of something a run needs (open files, processes, memory): restarting a
    worker would not help. The message says which limit and what to change."""


_SQUALL_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_user_frame(filename: str) -> bool:
    """A frame of the user's code: not Squall's own, not the import machinery's."""
    return not (filename.startswith(_SQUALL_DIR) or filename.startswith("<frozen "))


def user_traceback(exc: BaseException) -> str:
    """``exc`` formatted like a traceback, keeping only the user's frames (not Squall's, not importlib's).

    A SyntaxError shows its file, line and caret; an exception raised by user code shows the
    user's frames down to the raise. Notes (``add_note``) and chained exceptions are kept. A
    SquallError raised by Squall itself is its message; any other exception with no user frame
    (a bug in Squall) keeps its whole traceback.
    """
    tb: TracebackType | None = exc.__traceback__
    frames = []
    while tb is not None:
        if _is_user_frame(tb.tb_frame.f_code.co_filename):
            frames.append(tb)
        tb = tb.tb_next
    if not frames and not isinstance(exc, (SyntaxError, SquallError)):  # a bug in Squall: show where
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    # Rebuild the chain from the user's frames only (a traceback's frames are linked by tb_next).
    head: TracebackType | None = None
    for t in reversed(frames):
        head = TracebackType(head, t.tb_frame, t.tb_lasti, t.tb_lineno)
    lines = traceback.format_exception(type(exc), exc, head)
    if head is None and lines and lines[0].startswith("Traceback"):
        lines = lines[1:]
    return "".join(lines).rstrip()
