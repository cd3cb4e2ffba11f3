"""Tuples sampled from a running topology (Storm UI's debug sampling), as the coordinator keeps them.

``Coordinator.sample(component, stream, secs, per_task)`` sends a SAMPLE message to the workers
holding the component's tasks; each captures what those tasks emit (``runtime.sampling``) and
sends it back with its stats answers. ``SampleBook`` keeps the newest ``KEPT`` per component,
numbered across the run (from 1), so a reader follows with ``samples(component, after=last seq)``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KEPT = 1000  # samples kept per component


@dataclass(frozen=True, slots=True)
class Sample:
    """One emitted tuple, captured."""

    seq: int  # across the run, increasing from 1
    time: float  # wall clock (epoch seconds) of the emit
    task: int
    stream: str
    values: list[Any]  # JSON-able: what msgpack or JSON cannot carry is its repr()

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "task": self.task, "stream": self.stream, "values": self.values}


class SampleBook:
    """The samples of each component; ``add`` from the coordinator's loop, ``after`` from any thread."""

    def __init__(self, kept: int = KEPT):
        self.kept = kept
        self._lock = threading.Lock()
        self._seq = 0
        self._by_component: dict[str, deque[Sample]] = {}

    def add(self, component_of: dict[int, str], tasks: Iterable[int], raw: Any) -> int:
        """A worker's ``samples`` (``[[task, stream, time, values], ...]``; ``tasks``: the worker's own).
        Raises ValueError, keeping nothing, if any entry is malformed; returns how many were kept."""
        if type(raw) is not list:
            raise ValueError("samples that are not a list")
        own = set(tasks)
        checked = []
        for entry in raw:
            if type(entry) is not list or len(entry) != 4:
                raise ValueError("a sample that is not [task, stream, time, values]")
            task, stream, t, values = entry
            if (
                type(task) is not int
                or task not in own
                or type(stream) is not str
                or type(t) not in (int, float)
                or type(values) is not list
            ):
                raise ValueError(f"a malformed sample (task {str(task)[:20]})")
            checked.append((component_of[task], task, stream, float(t), values))
        with self._lock:
            for component, task, stream, t, values in checked:
                self._seq += 1
                kept = self._by_component.get(component)
                if kept is None:
                    kept = self._by_component[component] = deque(maxlen=self.kept)
                kept.append(Sample(self._seq, t, task, stream, values))
        return len(checked)

    def after(self, component: str, after: int = 0) -> list[Sample]:
        """The kept samples of ``component`` with ``seq > after``, oldest first."""
        with self._lock:
            return [s for s in self._by_component.get(component, ()) if s.seq > after]
