"""The run's recent statistics snapshots, and what the UI derives from them.

Every counter of a snapshot is a total over the run (``local/statistics.py``: monotonic, summed over
a worker's incarnations), so what a task or a component did within a window is the difference
between the newest snapshot and the newest one at least the window older (a run younger than the
window: the difference from zero at its start). Time is the snapshots' ``sampled`` (seconds since
the run started, when their counters were complete), never the time a request came in.

* counters (emitted, transferred, executed, acked, failed, errors): differences;
* latencies: the difference of the sums over the difference of the counts (execute latency =
  delta ``execute_ms`` / delta ``executed``; process and complete latency from their sums and counts);
* capacity (Storm's): the share of the window a task spent in ``process``, delta ``execute_ms`` /
  (1000 x delta seconds); a component's is its busiest task's;
* rates over time: per component, between consecutive snapshots, for the last ``series_secs``.

Memory: every snapshot of the last 75 s is kept, older ones 10 s apart (each holds every task's
counters), up to the newest one older than 660 s: about 135 snapshots for one-second rounds.

Pure logic over immutable snapshots: ``add`` is called by a thread that follows the run
(``Coordinator.wait_statistics``) and on each request; a lock guards the deque only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from squall.local.statistics import TaskStats, TopologyStatistics

#: The windows of the REST API, in seconds (None: the whole run), and their names (Storm's).
WINDOWS: tuple[float | None, ...] = (60.0, 600.0, None)
WINDOW_NAMES = {60.0: "60", 600.0: "600", None: ":all-time"}
WINDOW_PRETTY = {60.0: "1m 0s", 600.0: "10m 0s", None: "All time"}
DEFAULT_WINDOW = 600.0

COUNTERS = ("emitted", "transferred", "executed", "acked", "failed", "errors")
#: Cumulative sums of latencies (ms) and their counts; read with a default of 0 (older snapshots lack them).
SUMS = ("execute_ms", "process_ms", "process_count", "complete_ms", "complete_count")
RATES = ("emitted", "executed", "acked", "failed")  # per component in the time series

_EMPTY: Mapping[str, int] = MappingProxyType({})


def parse_window(text: str | None) -> float | None:
    """``60`` | ``600`` | ``:all-time`` (Storm's values; also ``all-time``) -> seconds or None; ValueError else."""
    if text is None or text == "":
        return DEFAULT_WINDOW
    if text in (":all-time", "all-time", "all"):
        return None
    try:
        secs = float(text)
    except ValueError:
        raise ValueError(f"window={text!r}: expected 60, 600 or :all-time") from None
    if secs not in (60.0, 600.0):
        raise ValueError(f"window={text!r}: expected 60, 600 or :all-time")
    return secs


def _num(obj: Any, name: str) -> float:
    value = getattr(obj, name, 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What one task (or a component: its tasks together) did within a window."""

    secs: float  # the time the window really covers (less than asked for in a younger run)
    emitted: int = 0
    transferred: int = 0
    executed: int = 0
    acked: int = 0
    failed: int = 0
    errors: int = 0
    execute_ms: float = 0.0
    process_ms: float = 0.0
    process_count: int = 0
    complete_ms: float = 0.0
    complete_count: int = 0
    capacity: float = 0.0  # a task's share of the window spent executing; a component's: its busiest task's
    emitted_by_stream: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    complete_gauge_ms: float = 0.0  # the snapshot's sampled complete latency, when no sums are reported

    @property
    def execute_latency_ms(self) -> float:
        return self.execute_ms / self.executed if self.executed else 0.0

    @property
    def process_latency_ms(self) -> float:
        return self.process_ms / self.process_count if self.process_count else 0.0

    @property
    def complete_latency_ms(self) -> float:
        return self.complete_ms / self.complete_count if self.complete_count else self.complete_gauge_ms

    def rate(self, counter: str) -> float:
        """Per second over the window."""
        return float(getattr(self, counter)) / self.secs if self.secs > 0 else 0.0


def task_window(cur: TaskStats, base: TaskStats | None, secs: float) -> WindowStats:
    """``cur`` minus ``base`` (None: zero), over ``secs`` seconds. A counter never goes back: a
    negative difference (which the statistics rule out) counts as 0."""

    def delta(name: str) -> float:
        return max(0.0, _num(cur, name) - (_num(base, name) if base is not None else 0.0))

    before = base.emitted_by_stream if base is not None else _EMPTY
    streams = {s: max(0, n - before.get(s, 0)) for s, n in cur.emitted_by_stream.items()}
    execute_ms = delta("execute_ms")
    lat = cur.complete_latency_ms
    return WindowStats(
        secs=secs,
        **{k: int(delta(k)) for k in COUNTERS},
        execute_ms=execute_ms,
        process_ms=delta("process_ms"),
        process_count=int(delta("process_count")),
        complete_ms=delta("complete_ms"),
        complete_count=int(delta("complete_count")),
        capacity=execute_ms / (1000.0 * secs) if secs > 0 else 0.0,
        emitted_by_stream=MappingProxyType(streams),
        complete_gauge_ms=lat.avg if lat is not None else 0.0,
    )


def combine(parts: Iterable[WindowStats], secs: float) -> WindowStats:
    """A component's window from its tasks': sums, latencies over the sums, the busiest task's capacity."""
    items = list(parts)
    streams: dict[str, int] = {}
    for w in items:
        for s, n in w.emitted_by_stream.items():
            streams[s] = streams.get(s, 0) + n
    return WindowStats(
        secs=secs,
        **{k: sum(getattr(w, k) for w in items) for k in (*COUNTERS, *SUMS)},
        capacity=max((w.capacity for w in items), default=0.0),
        emitted_by_stream=MappingProxyType(streams),
        complete_gauge_ms=max((w.complete_gauge_ms for w in items), default=0.0),
    )


@dataclass(frozen=True, slots=True)
class Window:
    """Every task's and component's ``WindowStats`` over one window of a run."""

    secs: float | None  # the window asked for (None: all time)
    covered: float  # seconds it really covers
    tasks: Mapping[int, WindowStats]
    components: Mapping[str, WindowStats]


def window_between(cur: TopologyStatistics, base: TopologyStatistics | None, secs: float | None) -> Window:
    """The window from ``base`` (None: the run's start, every counter 0) to ``cur``."""
    covered = max(0.0, cur.sampled - (base.sampled if base is not None else 0.0))
    before = base.tasks if base is not None else {}
    tasks = {t: task_window(ts, before.get(t), covered) for t, ts in cur.tasks.items()}
    components = {
        name: combine((tasks[t] for t in c.tasks if t in tasks), covered) for name, c in cur.components.items()
    }
    return Window(secs, covered, MappingProxyType(tasks), MappingProxyType(components))


class History:
    """The snapshots of the last ``keep_secs`` (plus the newest one older than that), newest last."""

    def __init__(
        self,
        keep_secs: float = 660.0,
        series_secs: float = 600.0,
        max_points: int = 600,
        fine_secs: float = 75.0,
        coarse_secs: float = 10.0,
    ):
        self.keep_secs = max(keep_secs, *(w for w in WINDOWS if w is not None))
        self.series_secs = series_secs
        self.max_points = max_points
        #: every snapshot of the last ``fine_secs`` is kept (the 60 s window's start among them); older
        #: ones ``coarse_secs`` apart at least: ~135 snapshots for ten minutes of one-second rounds
        self.fine_secs = max(fine_secs, 60.0 + coarse_secs)
        self.coarse_secs = coarse_secs
        self._points: deque[TopologyStatistics] = deque()
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}

    def add(self, snap: TopologyStatistics) -> bool:
        """Keep ``snap`` if its counters are newer than the newest kept (the same counters: it replaces
        it, e.g. a new run state); older ones are ignored. True when something changed."""
        with self._lock:
            if self._points:
                last = self._points[-1]
                if snap is last or snap.sampled < last.sampled:
                    return False
                if snap.sampled == last.sampled and snap.round == last.round:
                    self._points[-1] = snap
                    self._cache.clear()
                    return True
            self._points.append(snap)
            edge = snap.sampled - self.keep_secs
            while len(self._points) > 2 and self._points[1].sampled <= edge:
                self._points.popleft()
            self._thin(snap.sampled - self.fine_secs)
            self._cache.clear()
            return True

    def _thin(self, fine_edge: float) -> None:
        """Snapshots older than ``fine_edge``: at least ``coarse_secs`` apart (the oldest always kept)."""
        pts = self._points
        if len(pts) < 3 or pts[1].sampled >= fine_edge:
            return
        kept = [pts[0]]
        for p in list(pts)[1:]:
            if p.sampled >= fine_edge or p.sampled - kept[-1].sampled >= self.coarse_secs:
                kept.append(p)
        if len(kept) != len(pts):
            self._points = deque(kept)

    def latest(self) -> TopologyStatistics | None:
        with self._lock:
            return self._points[-1] if self._points else None

    def points(self) -> list[TopologyStatistics]:
        with self._lock:
            return list(self._points)

    def window(self, secs: float | None) -> Window | None:
        """The counters over the last ``secs`` seconds (None: the whole run); None before any snapshot."""
        with self._lock:
            if not self._points:
                return None
            key = ("window", secs)
            hit = self._cache.get(key)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
            cur = self._points[-1]
            base = None
            if secs is not None:
                edge = cur.sampled - secs
                for p in reversed(self._points):
                    if p.sampled <= edge:
                        base = p
                        break
        result = window_between(cur, base, secs)
        with self._lock:
            if self._points and self._points[-1] is cur:
                self._cache[key] = result
        return result

    def last_round(self) -> Window | None:
        """The counters between the last two snapshots with different counters (rates "now")."""
        with self._lock:
            pts = list(self._points)
        if not pts:
            return None
        cur = pts[-1]
        base = next((p for p in reversed(pts) if p.sampled < cur.sampled), None)
        return window_between(cur, base, None)

    def series(self, components: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Per consecutive pair of snapshots of the last ``series_secs``: ``{time, COMPONENT: {emitted_rate,
        executed_rate, acked_rate, failed_rate}}`` (``time``: seconds since the run started); at most
        ``max_points`` points (evenly thinned)."""
        pts = self.points()
        if not pts:
            return []
        edge = pts[-1].sampled - self.series_secs
        pts = [p for p in pts if p.sampled >= edge] if len(pts) > 1 else pts
        if len(pts) > self.max_points + 1:
            step = len(pts) / (self.max_points + 1)
            pts = [pts[int(i * step)] for i in range(self.max_points)] + [pts[-1]]
        wanted = None if components is None else set(components)
        out = []
        for prev, cur in pairwise(pts):
            dt = cur.sampled - prev.sampled
            if dt <= 0:
                continue
            point: dict[str, Any] = {"time": round(cur.sampled, 3)}
            for name, c in cur.components.items():
                if wanted is not None and name not in wanted:
                    continue
                p = prev.components.get(name)
                point[name] = {
                    f"{k}_rate": round(max(0.0, (getattr(c, k) - (getattr(p, k) if p is not None else 0)) / dt), 3)
                    for k in RATES
                }
            out.append(point)
        return out
