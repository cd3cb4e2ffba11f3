"""Squall's exceptions: one root, each message says what is wrong and how to fix it.

    SquallError
    ├── TopologyError             a topology definition is wrong (raised before anything starts)
    │   └── InvalidTopologyError  carries every Problem found, not just the first
    ├── ConfigError               a configuration key or value is wrong
    ├── TopologyLoadError         a topology file / reference cannot be loaded
    ├── EmitError                 an emit() at run time does not match the declared outputs
    └── WorkerError               a worker process failed (crashed, could not start)

A user's exception inside ``process()`` is *not* turned into a SquallError: it fails that
tuple, is reported, and the task goes on.
"""

from __future__ import annotations

from dataclasses import dataclass


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


class EmitError(SquallError, ValueError):
    """An emit does not match what the component declared (stream, arity, direct task)."""


class WorkerError(SquallError):
    """A worker process failed: it crashed or could not start."""


class ResourceError(WorkerError):
    """The machine ran out of something a run needs (open files, processes, memory): restarting a
    worker would not help. The message says which limit and what to change."""
