"""Test a topology in one call (Storm's ``completeTopology``).

    result = complete_topology(WordCount, mocked_sources={"word_spout": [["dog"], ["cat"]]})
    assert read_tuples(result, "count_bolt") == [("dog", 10), ("cat", 1)]

Spouts named in ``mocked_sources`` are replaced by a spout emitting those values (split among
the spout's tasks) and then exhausted; other spouts run as written and must end by raising
StopIteration. Every tuple each component emits is captured, per stream. ``workers=1`` (the
default) runs in this process in milliseconds; ``workers=N`` runs real worker processes.

Mocked sources and capture reach the workers as hooks (``HarnessHooks``, a
``runtime.hooks.WorkerHooks``): given directly to the in-process worker, and to worker
processes as the reference ``squall.testing:worker_hooks`` plus plain data (the mocked values),
never pickled; each worker sends its captured values back when it stops.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from squall.errors import SquallError
from squall.local.coordinator import Coordinator
from squall.local.inprocess import run_in_process
from squall.local.result import RunResult
from squall.runtime.hooks import WorkerHooks
from squall.topology.spout import Spout
from squall.topology.tuple import Tuple, make_tuple

__all__ = [
    "complete_topology",
    "read_tuples",
    "run_topology",
    "make_tuple",
    "multiset",
    "Tuple",
    "MockedSpout",
    "HarnessHooks",
]


class MockedSpout(Spout):
    """Emits a fixed list of values, one per ``next_tuple``, then is exhausted (a mocked source)."""

    def __init__(self, items: list[Any]):
        self._it = iter(items)

    def next_tuple(self) -> None:
        self.emit(list(next(self._it)))


class HarnessHooks(WorkerHooks):
    """The test doubles of ``run_topology``: mocked sources and capture of every emitted tuple.

    ``mocked_sources`` maps a spout's name to the values it emits instead of running (task ``i``
    of ``n`` emits items ``i, i + n, ...``). With ``capture``, ``report()`` returns
    ``[[component, stream, [values, ...]], ...]`` for everything the worker's tasks emitted.
    """

    def __init__(self, mocked_sources: dict[str, list[Any]] | None = None, capture: bool = False):
        self.mocked = dict(mocked_sources or {})
        self.capturing = capture
        self.captured: dict[tuple[str, str], list[Any]] = {}

    def make_spout(self, component: str, task: int, index: int, n_tasks: int) -> Spout | None:
        items = self.mocked.get(component)
        return None if items is None else MockedSpout(list(items)[index::n_tasks])

    def capture(self, component: str, task: int, stream: str) -> list[Any] | None:
        return self.captured.setdefault((component, stream), []) if self.capturing else None

    def report(self) -> Any:
        return [[c, s, vals] for (c, s), vals in self.captured.items()] if self.capturing else None


def worker_hooks(data: dict[str, Any]) -> HarnessHooks:
    """``squall.testing:worker_hooks``: what a worker process builds its hooks with, from plain data."""
    return HarnessHooks(data.get("mocked_sources"), bool(data.get("capture")))


def _captured(reports: list[Any]) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    out: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for report in reports:
        for component, stream, values in report or []:
            out.setdefault(component, {}).setdefault(stream, []).extend(tuple(v) for v in values)
    return out


def run_topology(
    topology: Any,
    *,
    workers: int = 1,
    conf: dict[str, Any] | None = None,
    mocked_sources: dict[str, list[Any]] | None = None,
    capture: bool = False,
    timeout: float = 60.0,
    duration: float | None = None,
) -> RunResult:
    """Run ``topology`` until its spouts are exhausted and all tuples processed (or ``duration``)."""
    overrides = dict(conf or {})
    overrides.setdefault("squall.stats.interval.secs", 60)
    doubles = bool(mocked_sources or capture)
    if workers == 1:
        hooks = HarnessHooks(mocked_sources, capture) if doubles else None
        result = run_in_process(topology, overrides, hooks=hooks, timeout=timeout, duration=duration)
        result.captured = _captured(result.hook_reports)
        return result
    overrides["topology.workers"] = workers
    import io

    mocked = {name: [list(v) for v in values] for name, values in (mocked_sources or {}).items()}
    coord = Coordinator(
        topology,
        overrides,
        hooks="squall.testing:worker_hooks" if doubles else None,
        hooks_data={"mocked_sources": mocked, "capture": capture},
        timeout=timeout,
        duration=duration,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result = coord.run()
    if result.reason == "error":
        raise SquallError(f"topology run failed: {result.message}")
    result.captured = _captured(result.hook_reports)
    return result


def complete_topology(
    topology: Any,
    mocked_sources: dict[str, list[Any]] | None = None,
    *,
    workers: int = 1,
    conf: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> RunResult:
    """Run to completion and capture every emitted tuple; raise if it does not complete in ``timeout``."""
    result = run_topology(
        topology, workers=workers, conf=conf, mocked_sources=mocked_sources, capture=True, timeout=timeout
    )
    if result.reason != "completed":
        raise SquallError(f"topology did not complete within {timeout}s (ended: {result.reason})")
    return result


def read_tuples(result: RunResult, component: str, stream: str = "default") -> list[tuple[Any, ...]]:
    """The values ``component`` emitted on ``stream``, in emit order per task."""
    return list(result.captured.get(component, {}).get(stream, []))


def multiset(values: Any) -> Counter[Any]:
    """Compare tuples ignoring order (Storm's multiseteq)."""
    return Counter(tuple(v) for v in values)
