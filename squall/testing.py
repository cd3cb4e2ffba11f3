"""Test a topology in one call (Storm's ``completeTopology``).

    result = complete_topology(WordCount, mocked_sources={"word_spout": [["dog"], ["cat"]]})
    assert read_tuples(result, "count_bolt") == [("dog", 10), ("cat", 1)]

Spouts named in ``mocked_sources`` are replaced by a spout emitting those values (split among
the spout's tasks) and then exhausted; other spouts run as written and must end by raising
StopIteration. Every tuple each component emits is captured, per stream. ``workers=1`` (the
default) runs in this process in milliseconds; ``workers=N`` runs real worker processes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from squall.errors import SquallError
from squall.local.coordinator import Coordinator
from squall.local.inprocess import run_in_process
from squall.local.result import RunResult
from squall.topology.tuple import Tuple, make_tuple

__all__ = ["complete_topology", "read_tuples", "run_topology", "make_tuple", "multiset", "Tuple"]


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
    if workers == 1:
        return run_in_process(
            topology, overrides, capture=capture, mocked_sources=mocked_sources, timeout=timeout, duration=duration
        )
    overrides["topology.workers"] = workers
    import io

    coord = Coordinator(
        topology,
        overrides,
        capture=capture,
        mocked_sources=mocked_sources,
        timeout=timeout,
        duration=duration,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result = coord.run()
    if result.reason == "error":
        raise SquallError(f"topology run failed: {result.message}")
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
