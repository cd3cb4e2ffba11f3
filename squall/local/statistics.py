"""What a run reports about itself: immutable snapshots of its counters, and the one place they add up.

``Coordinator.statistics()`` returns a ``TopologyStatistics``: the run's state, its uptime, the
counters of every task (and, summed here and nowhere else, of every component), every worker,
the recent errors. Every object in it is frozen: a reader in another thread (a web UI) holds a
snapshot that never changes under it, and the coordinator replaces the whole snapshot with one
attribute assignment (atomic in CPython) when a stats round is complete.

**Rounds.** Every ``squall.stats.interval.secs`` the coordinator asks each live worker for its
counters with a round number; each worker answers with that number, and every task's stats carry
the round they come from. A round is published when every worker asked has answered (or died).
A worker that has not answered when the next round starts keeps the numbers of its last answer:
they are not mixed in silently, its ``WorkerStats.stale`` is true and its tasks carry their older
round number (a worker busy in a long ``process`` call cannot hide the others' progress).

**Counters only grow.** A restarted worker's tasks start from zero; the totals of its earlier
incarnations (as last reported: what a dead worker did after its last answer is lost) are kept
and added, so every counter of a task, a component and the run is monotonic over the run.
``pending`` and latencies are gauges: the current incarnation's.

System components (names starting with ``__``, e.g. the ackers) are in the snapshot; views for a
user (status line, summary) leave them out with ``user_components()``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from squall.topology.plan import Plan

ERRORS_KEPT = 1000  # newest errors kept in a snapshot; error_count counts them all
COUNTERS = ("emitted", "transferred", "executed", "acked", "failed", "errors")
_EXTRA_COUNTERS = ("timed_out", "completed", "expired")  # also summed over incarnations
#: cumulative timings (milliseconds) and their counts, summed over tasks and incarnations like the counters:
#: any window's latency is the difference of two snapshots' sums over the difference of their counts
TIMINGS = ("execute_ms", "process_ms", "process_count", "complete_ms", "complete_count")
_EMPTY: Mapping[str, int] = MappingProxyType({})


class RunState(StrEnum):
    """Where a run is. The last four are final."""

    STARTING = "starting"  # workers starting, initialize() running
    ACTIVE = "active"  # spouts called
    INACTIVE = "inactive"  # deactivate(): spouts not called, bolts go on; activate() resumes
    DRAINING = "draining"  # ending: spouts exhausted or a stop requested, in-flight tuples draining
    COMPLETED = "completed"  # every spout exhausted, every tuple processed
    STOPPED = "stopped"  # --duration, Ctrl-C, SIGTERM, request_stop()
    KILLED = "killed"  # a second signal: workers killed without draining
    FAILED = "failed"  # a worker failed to start or died with restarts off, or the run timed out

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({RunState.COMPLETED, RunState.STOPPED, RunState.KILLED, RunState.FAILED})


@dataclass(frozen=True, slots=True)
class Latency:
    """Complete latency of spout trees, in milliseconds (sampled)."""

    avg: float
    p50: float
    p99: float

    def to_dict(self) -> dict[str, float]:
        return {"avg": self.avg, "p50": self.p50, "p99": self.p99}


@dataclass(frozen=True, slots=True)
class TaskStats:
    """One task's counters, as of ``round``; counters are totals over the worker's incarnations."""

    task: int
    component: str
    kind: str  # spout | bolt | acker
    worker: int
    round: int  # the stats round these numbers were reported in (0: none yet)
    emitted: int = 0
    transferred: int = 0
    executed: int = 0
    acked: int = 0
    failed: int = 0
    errors: int = 0
    emitted_by_stream: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    pending: int = 0  # spouts: trees in flight; ackers: trees in the ledger
    timed_out: int = 0  # spouts: trees failed by the message timeout
    given_up: int | None = None  # ReliableSpout: messages given up after max_fails
    completed: int = 0  # ackers: trees completed
    expired: int = 0  # ackers: trees dropped by the timeout
    complete_latency_ms: Latency | None = None
    replays: int = 0  # spouts: failed trees whose fail() or re-emit waits for the spout's turn
    max_pending: int | None = None  # spouts: the pending cap in force (0: unbounded; automatic when unset)
    execute_ms: float = 0.0  # bolts: time in process / process_batch / process_tick (measured per slice)
    process_ms: float = 0.0  # bolts: sum of process latencies (batch received in the worker -> ack)
    process_count: int = 0  # ... over this many tuples (every auto-acked one; sampled for explicit acks)
    complete_ms: float = 0.0  # spouts: sum of complete latencies (emit -> tree complete; 1 tree in 16)
    complete_count: int = 0  # ... over this many trees
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # the bolt's own counters (windows fired)
    gauges: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # ... and current values (tuples held)

    @property
    def execute_latency_ms(self) -> float:
        """Mean time in ``process`` per executed tuple, over the run (0 without one)."""
        return self.execute_ms / self.executed if self.executed else 0.0

    @property
    def process_latency_ms(self) -> float:
        """Mean process latency over the run (0 without a measured tuple)."""
        return self.process_ms / self.process_count if self.process_count else 0.0

    @property
    def complete_latency_avg_ms(self) -> float:
        """Mean complete latency over the run (0 without a sampled tree)."""
        return self.complete_ms / self.complete_count if self.complete_count else 0.0

    @classmethod
    def from_report(
        cls, task: int, raw: Mapping[str, Any], *, kind: str, worker: int, round: int, base: TaskStats | None = None
    ) -> TaskStats:
        """From a worker's report (``Worker.task_stats()``), plus the totals of earlier incarnations."""
        by_stream = dict(raw.get("emitted") or {})
        if base is not None:
            for s, n in base.emitted_by_stream.items():
                by_stream[s] = by_stream.get(s, 0) + n
        lat = raw.get("complete_latency_ms")
        given_up = raw.get("given_up")
        if base is not None and base.given_up is not None:
            given_up = (given_up or 0) + base.given_up

        def total(key: str) -> int:
            return int(raw.get(key) or 0) + (getattr(base, key) if base is not None else 0)

        def total_ms(key: str) -> float:
            return float(raw.get(key) or 0.0) + (getattr(base, key) if base is not None else 0.0)

        metrics = _numbers(raw.get("metrics"))
        if base is not None:
            for k, v in base.metrics.items():
                metrics[k] = metrics.get(k, 0) + v

        return cls(
            task=task,
            component=str(raw.get("component", "")),
            kind=kind,
            worker=worker,
            round=round,
            emitted=sum(by_stream.values()),
            transferred=total("transferred"),
            executed=total("executed"),
            acked=total("acked"),
            failed=total("failed"),
            errors=total("errors"),
            emitted_by_stream=MappingProxyType(by_stream),
            pending=int(raw.get("pending") or 0),
            timed_out=total("timed_out"),
            given_up=given_up,
            completed=total("completed"),
            expired=total("expired"),
            complete_latency_ms=Latency(lat["avg"], lat["p50"], lat["p99"]) if lat else None,
            replays=int(raw.get("replays") or 0),
            max_pending=raw.get("max_pending"),
            execute_ms=total_ms("execute_ms"),
            process_ms=total_ms("process_ms"),
            process_count=total("process_count"),
            complete_ms=total_ms("complete_ms"),
            complete_count=total("complete_count"),
            metrics=MappingProxyType(metrics),
            gauges=MappingProxyType(_numbers(raw.get("gauges"))),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "component": self.component,
            "kind": self.kind,
            "worker": self.worker,
            "round": self.round,
            "emitted": self.emitted,
            "transferred": self.transferred,
            "executed": self.executed,
            "acked": self.acked,
            "failed": self.failed,
            "errors": self.errors,
            "emitted_by_stream": dict(self.emitted_by_stream),
            "pending": self.pending,
            "timed_out": self.timed_out,
            "given_up": self.given_up,
            "completed": self.completed,
            "expired": self.expired,
            "complete_latency_ms": self.complete_latency_ms.to_dict() if self.complete_latency_ms else None,
            "replays": self.replays,
            "max_pending": self.max_pending,
            **{k: getattr(self, k) for k in TIMINGS},
            "execute_latency_ms": self.execute_latency_ms,
            "process_latency_ms": self.process_latency_ms,
            "complete_latency_avg_ms": self.complete_latency_avg_ms,
            "metrics": dict(self.metrics),
            "gauges": dict(self.gauges),
        }


def _numbers(raw: Any) -> dict[str, float]:
    """A worker's metrics map, kept only where names are strings and values numbers (it crossed a socket)."""
    if not isinstance(raw, Mapping):
        return {}
    return {
        k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


@dataclass(frozen=True, slots=True)
class ComponentStats:
    """A component's counters: the sum of its tasks' (latency: the worst task's)."""

    name: str
    kind: str
    tasks: tuple[int, ...]
    emitted: int = 0
    transferred: int = 0
    executed: int = 0
    acked: int = 0
    failed: int = 0
    errors: int = 0
    pending: int = 0
    timed_out: int = 0
    emitted_by_stream: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    complete_latency_ms: Latency | None = None
    execute_ms: float = 0.0  # sums over the tasks (see TaskStats)
    process_ms: float = 0.0
    process_count: int = 0
    complete_ms: float = 0.0
    complete_count: int = 0
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # sums over the tasks
    gauges: Mapping[str, float] = field(default_factory=lambda: _EMPTY)

    @property
    def execute_latency_ms(self) -> float:
        """Mean time in ``process`` per executed tuple, over the run and the tasks (0 without one)."""
        return self.execute_ms / self.executed if self.executed else 0.0

    @property
    def process_latency_ms(self) -> float:
        """Mean process latency over the run and the tasks (0 without a measured tuple)."""
        return self.process_ms / self.process_count if self.process_count else 0.0

    @property
    def complete_latency_avg_ms(self) -> float:
        """Mean complete latency over the run and the tasks (0 without a sampled tree)."""
        return self.complete_ms / self.complete_count if self.complete_count else 0.0

    @property
    def system(self) -> bool:
        """A component squall adds (ackers), not the user's."""
        return self.name.startswith("__")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "tasks": list(self.tasks),
            **{k: getattr(self, k) for k in (*COUNTERS, "pending", "timed_out")},
            "emitted_by_stream": dict(self.emitted_by_stream),
            "complete_latency_ms": self.complete_latency_ms.to_dict() if self.complete_latency_ms else None,
            **{k: getattr(self, k) for k in TIMINGS},
            "execute_latency_ms": self.execute_latency_ms,
            "process_latency_ms": self.process_latency_ms,
            "complete_latency_avg_ms": self.complete_latency_avg_ms,
            "metrics": dict(self.metrics),
            "gauges": dict(self.gauges),
        }


def aggregate(tasks: Iterable[TaskStats]) -> dict[str, ComponentStats]:
    """Per-component totals: the one place task counters are summed."""
    acc: dict[str, dict[str, Any]] = {}
    for ts in sorted(tasks, key=lambda t: t.task):
        a = acc.get(ts.component)
        if a is None:
            a = acc[ts.component] = {"kind": ts.kind, "tasks": [], "streams": {}, "lat": None, "m": {}, "g": {}}
            for k in (*COUNTERS, "pending", "timed_out", *TIMINGS):
                a[k] = 0
        a["tasks"].append(ts.task)
        for k in (*COUNTERS, "pending", "timed_out", *TIMINGS):
            a[k] += getattr(ts, k)
        for s, n in ts.emitted_by_stream.items():
            a["streams"][s] = a["streams"].get(s, 0) + n
        for key, own in (("m", ts.metrics), ("g", ts.gauges)):
            for k, v in own.items():
                a[key][k] = a[key].get(k, 0) + v
        lat = ts.complete_latency_ms
        if lat is not None:
            worst = a["lat"]
            a["lat"] = (
                lat
                if worst is None
                else Latency(max(worst.avg, lat.avg), max(worst.p50, lat.p50), max(worst.p99, lat.p99))
            )
    return {
        name: ComponentStats(
            name=name,
            kind=a["kind"],
            tasks=tuple(a["tasks"]),
            **{k: a[k] for k in (*COUNTERS, "pending", "timed_out", *TIMINGS)},
            emitted_by_stream=MappingProxyType(a["streams"]),
            complete_latency_ms=a["lat"],
            metrics=MappingProxyType(a["m"]),
            gauges=MappingProxyType(a["g"]),
        )
        for name, a in sorted(acc.items())
    }


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker process, as of its last answer (``round``)."""

    index: int
    pid: int | None
    host: str
    incarnation: int  # 0 for the first process, +1 per restart
    restarts: int
    alive: bool
    tasks: tuple[int, ...]
    round: int = 0  # the round of its last answer
    stale: bool = False  # it did not answer the snapshot's round: these are older numbers
    rss: int | None = None  # bytes
    peak_rss: int | None = None
    queued: int = 0  # tuples waiting in the worker's channels, and sent to peers but not processed there
    silent_secs: float = 0.0  # unresponsive: seconds since it last sent anything (0: it answers)
    malformed: int = 0  # messages it dropped as malformed or unknown (all its processes together)
    refused: int = 0  # connections its data socket refused: peers without a key of this run
    started: float = 0.0  # wall clock (epoch seconds) when its current process was started (0: not yet)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": self.pid,
            "host": self.host,
            "incarnation": self.incarnation,
            "restarts": self.restarts,
            "alive": self.alive,
            "tasks": list(self.tasks),
            "round": self.round,
            "stale": self.stale,
            "rss": self.rss,
            "peak_rss": self.peak_rss,
            "queued": self.queued,
            "silent_secs": self.silent_secs,
            "malformed": self.malformed,
            "refused": self.refused,
            "started": self.started,
        }


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error: raised by user code in a task (Storm's reportError), or a worker that died (task -1)."""

    component: str
    task: int
    worker: int
    time: float  # wall clock (epoch seconds)
    where: str  # process, next_tuple, ack, fail, initialize, emit, ... or "worker N"
    error: str  # "Type: message"
    traceback: str = ""

    @classmethod
    def from_report(cls, d: Mapping[str, Any], worker: int) -> ErrorInfo:
        return cls(
            component=str(d.get("component", "-")),
            task=int(d.get("task", -1)),
            worker=worker,
            time=float(d.get("time", 0.0)),
            where=str(d.get("where", "")),
            error=str(d.get("error", "")),
            traceback=str(d.get("traceback", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "task": self.task,
            "worker": self.worker,
            "time": self.time,
            "where": self.where,
            "error": self.error,
            "traceback": self.traceback,
        }


@dataclass(frozen=True, slots=True)
class TopologyStatistics:
    """A whole run at one moment. Built by ``StatsBook.snapshot()``; never changes once built."""

    topology: str
    state: RunState
    uptime: float  # seconds since the run started, when this snapshot was made
    sampled: float  # seconds since the run started, when its counters were complete (rates: between two)
    round: int  # the newest stats round in it (0: none yet)
    tasks: Mapping[int, TaskStats]
    components: Mapping[str, ComponentStats]  # every component, system ones included
    workers: tuple[WorkerStats, ...]
    errors: tuple[ErrorInfo, ...] = ()  # newest last, at most ERRORS_KEPT
    error_count: int = 0  # every error reported, including those no longer kept
    stop_reason: str | None = None  # why a stop was requested: duration, SIGINT, SIGTERM, timeout, ...
    message: str = ""  # why a run failed, or what a stop whose drain timed out left in flight
    drain_timed_out: bool = False  # a stop gave up waiting for in-flight tuples (squall.drain.timeout.secs)
    order: tuple[str, ...] = ()  # the user's components in topology (definition) order
    malformed: int = 0  # control messages the coordinator dropped as malformed (workers': WorkerStats)
    refused: int = 0  # connections the coordinator's control socket refused (no key of this run)
    #: checkpointed state (a topology with a StatefulBolt; empty otherwise): committed id, count,
    #: aborted, interval_ms, and ``last`` (id, duration_ms, bytes, state_keys, at)
    checkpoints: Mapping[str, Any] = field(default_factory=dict)

    def user_components(self) -> list[ComponentStats]:
        """The user's components (no ackers): spouts first, then bolts, each in topology order.

        The one order every view lists them in (status line, summary); names not in ``order`` go last, by name.
        """
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(
            (c for c in self.components.values() if not c.system),
            key=lambda c: (c.kind != "spout", rank.get(c.name, len(rank)), c.name),
        )

    @property
    def queued(self) -> int:
        return sum(w.queued for w in self.workers)

    def in_flight(self) -> dict[str, Any]:
        """What the run still held, per its workers' last answers: trees pending and failed trees
        waiting for a replay per spout task (``"component:task"``), and tuples queued (in channels,
        and sent between workers but not processed). After a stop, the final counters."""
        spouts = [t for t in self.tasks.values() if t.kind == "spout"]
        return {
            "pending": {f"{t.component}:{t.task}": t.pending for t in spouts if t.pending},
            "replays": {f"{t.component}:{t.task}": t.replays for t in spouts if t.replays},
            "queued": self.queued,
        }

    @property
    def given_up(self) -> int:
        """Messages ReliableSpouts gave up on (after ``max_fails``)."""
        return sum(t.given_up or 0 for t in self.tasks.values())

    @property
    def malformed_total(self) -> int:
        """Malformed messages dropped in the whole run: by the coordinator and by every worker."""
        return self.malformed + sum(w.malformed for w in self.workers)

    @property
    def refused_total(self) -> int:
        """Connections refused in the whole run (peers without a key of this run)."""
        return self.refused + sum(w.refused for w in self.workers)

    @property
    def outcome(self) -> str:
        """How the run ended, in ``RunResult.reason``'s words ("" while it runs)."""
        if self.state is RunState.FAILED:
            return "timeout" if self.stop_reason == "timeout" else "error"
        return self.state.value if self.state.final else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (string keys, lists, numbers): what a REST API serves."""
        return {
            "topology": self.topology,
            "state": self.state.value,
            "uptime": self.uptime,
            "sampled": self.sampled,
            "round": self.round,
            "stop_reason": self.stop_reason,
            "message": self.message,
            "drain_timed_out": self.drain_timed_out,
            "in_flight": self.in_flight(),
            "components": [c.to_dict() for c in self.user_components()]
            + [c.to_dict() for c in self.components.values() if c.system],
            "tasks": [t.to_dict() for _, t in sorted(self.tasks.items())],
            "workers": [w.to_dict() for w in self.workers],
            "errors": [e.to_dict() for e in self.errors],
            "error_count": self.error_count,
            "malformed": self.malformed,
            "refused": self.refused,
        }


# -- the coordinator's bookkeeping ------------------------------------------------------------------


@dataclass(slots=True)
class _Answer:
    """A worker's answer to a stats round (or its BYE), as received."""

    round: int
    tasks: dict[int, dict[str, Any]]
    queued: int = 0
    rss: int | None = None
    peak_rss: int | None = None
    malformed: int = 0
    refused: int = 0


@dataclass(slots=True)
class _WorkerMeta:
    pid: int | None = None
    host: str = ""
    incarnation: int = 0
    alive: bool = False
    silent: float = 0.0  # seconds without a message, once named unresponsive
    malformed: int = 0  # the drop counts of its earlier processes
    refused: int = 0
    started: float = 0.0  # epoch seconds: when its current process was started


class StatsBook:
    """The counters the coordinator (or the in-process runner) collects, a round at a time.

    Not thread-safe: one thread (the coordinator's loop) feeds it; what it hands out
    (``snapshot()``) is immutable and may be read anywhere.
    """

    def __init__(self, topology: str, plan: Plan, kinds: Mapping[str, str]):
        """``kinds``: ``{component: kind}`` of the user's components, in topology order (system ones are ackers)."""
        self.topology = topology
        self.task_component = dict(plan.task_component)
        self.task_worker = dict(plan.task_worker)
        self.kinds = dict(kinds)
        self.worker_tasks = {w: tuple(sorted(plan.worker_tasks(w))) for w in range(plan.num_workers)}
        self.meta = {w: _WorkerMeta() for w in self.worker_tasks}
        self.round = 0  # the round last begun
        self.published = 0  # the newest round whose answers are in ``current``
        self.waiting: set[int] = set()  # workers yet to answer the round in progress
        self.current: dict[int, _Answer] = {}  # per worker: the answer the snapshots show
        self.incoming: dict[int, _Answer] = {}  # answers to the round in progress
        self.base: dict[int, TaskStats] = {}  # per task: the totals of its worker's earlier incarnations
        self.checkpoints: dict[str, Any] = {}  # the coordinator's checkpoint figures (CheckpointCoordinator)
        self.errors: deque[ErrorInfo] = deque(maxlen=ERRORS_KEPT)
        self.error_count = 0
        self.sampled = 0.0
        self._counts: tuple[Mapping[int, TaskStats], Mapping[str, ComponentStats]] | None = None

    def kind_of(self, component: str) -> str:
        return self.kinds.get(component) or ("acker" if component.startswith("__") else "bolt")

    # -- workers ---------------------------------------------------------------------------------
    def worker_started(self, index: int, incarnation: int, pid: int | None, started: float = 0.0) -> None:
        """A worker process started (``incarnation`` > 0: a restart; its predecessor's totals are kept);
        ``started``: when (epoch seconds)."""
        m = self.meta[index]
        if incarnation != m.incarnation:
            tasks, _ = self._counters()
            for t in self.worker_tasks.get(index, ()):
                self.base[t] = tasks[t]
            old = self.current.get(index)
            if old is not None:
                m.malformed += old.malformed
                m.refused += old.refused
            self.current[index] = _Answer(round=old.round if old else 0, tasks={})  # all in base now
            self.incoming.pop(index, None)
            self._counts = None
        m.incarnation, m.pid, m.alive, m.silent, m.started = incarnation, pid, True, 0.0, started

    def worker_silent(self, index: int, secs: float) -> None:
        """A worker has sent nothing for ``secs`` (0: it answers again)."""
        self.meta[index].silent = secs

    def worker_hello(self, index: int, host: str) -> None:
        self.meta[index].host = host

    def worker_died(self, index: int, now: float) -> bool:
        """A worker died: the round in progress does not wait for it. True if that completes the round."""
        self.meta[index].alive = False
        if index in self.waiting:
            self.waiting.discard(index)
            if not self.waiting:
                self.close(now)
                return True
        return False

    # -- rounds ----------------------------------------------------------------------------------
    def begin(self, workers: Iterable[int], now: float) -> int:
        """Start the next round, asking ``workers``; a round still open is closed first, as it is."""
        if self.waiting:
            self.close(now)
        self.round += 1
        self.waiting = set(workers)
        self.incoming = {}
        return self.round

    def record(self, index: int, msg: Mapping[str, Any], now: float) -> bool:
        """A worker's STATS or BYE. Returns True when it completes the round in progress.

        Errors are kept whatever the round; counters from an earlier incarnation are ignored.
        """
        m = self.meta[index]
        for e in msg.get("errors") or ():
            self.add_error(ErrorInfo.from_report(e, index))
        if int(msg.get("inc", m.incarnation)) != m.incarnation:
            return False
        rnd = int(msg.get("round", 0))
        answer = _Answer(
            round=rnd,
            tasks={int(t): st for t, st in (msg.get("tasks") or {}).items()},
            queued=int(msg.get("queued") or 0),
            rss=msg.get("rss"),
            peak_rss=msg.get("peak_rss"),
            malformed=int(msg.get("malformed") or 0),
            refused=int(msg.get("refused") or 0),
        )
        if rnd == self.round and index in self.waiting:
            self.incoming[index] = answer
            self.waiting.discard(index)
            if not self.waiting:
                self.close(now)
                return True
        elif rnd > self.current.get(index, _Answer(-1, {})).round:
            # A late answer (its round was closed without it): newer than what is shown, labelled
            # with its own round, so it shows as stale rather than as part of a later round.
            self.current[index] = answer
            self._counts = None
        return False

    def close(self, now: float) -> None:
        """Make the answers to the round in progress the ones shown (the missing workers: stale)."""
        self.current.update(self.incoming)
        self.incoming = {}
        self.waiting = set()
        self.published = self.round
        self.sampled = now
        self._counts = None

    def add_error(self, error: ErrorInfo) -> None:
        self.errors.append(error)
        self.error_count += 1

    # -- snapshots -------------------------------------------------------------------------------
    def _counters(self) -> tuple[Mapping[int, TaskStats], Mapping[str, ComponentStats]]:
        if self._counts is None:
            tasks: dict[int, TaskStats] = {}
            for t, comp in sorted(self.task_component.items()):
                w = self.task_worker[t]
                answer = self.current.get(w)
                raw = answer.tasks.get(t) if answer is not None else None
                base = self.base.get(t)
                kind = self.kind_of(comp)
                if raw is not None and answer is not None:
                    tasks[t] = TaskStats.from_report(t, raw, kind=kind, worker=w, round=answer.round, base=base)
                elif base is not None:  # restarted, no answer from the new process yet
                    rnd = answer.round if answer is not None else base.round
                    tasks[t] = replace(base, round=rnd, pending=0, replays=0, complete_latency_ms=None)
                else:
                    tasks[t] = TaskStats(task=t, component=comp, kind=kind, worker=w, round=0)
            self._counts = (MappingProxyType(tasks), MappingProxyType(aggregate(tasks.values())))
        return self._counts

    def snapshot(
        self,
        state: RunState,
        uptime: float,
        *,
        stop_reason: str | None = None,
        message: str = "",
        drain_timed_out: bool = False,
        malformed: int = 0,
        refused: int = 0,
    ) -> TopologyStatistics:
        tasks, components = self._counters()
        workers = []
        for w, wtasks in sorted(self.worker_tasks.items()):
            m = self.meta[w]
            a = self.current.get(w)
            workers.append(
                WorkerStats(
                    index=w,
                    pid=m.pid,
                    host=m.host,
                    incarnation=m.incarnation,
                    restarts=m.incarnation,
                    alive=m.alive,
                    tasks=wtasks,
                    round=a.round if a else 0,
                    stale=(a.round if a else 0) < self.published,
                    rss=a.rss if a else None,
                    peak_rss=a.peak_rss if a else None,
                    queued=a.queued if a else 0,
                    silent_secs=m.silent,
                    malformed=m.malformed + (a.malformed if a else 0),
                    refused=m.refused + (a.refused if a else 0),
                    started=m.started,
                )
            )
        return TopologyStatistics(
            topology=self.topology,
            state=state,
            uptime=uptime,
            sampled=self.sampled,
            round=self.published,
            tasks=tasks,
            components=components,
            workers=tuple(workers),
            errors=tuple(self.errors),
            error_count=self.error_count,
            stop_reason=stop_reason,
            message=message,
            drain_timed_out=drain_timed_out,
            order=tuple(self.kinds),
            malformed=malformed,
            refused=refused,
            checkpoints=dict(self.checkpoints),
        )


# -- this process ---------------------------------------------------------------------------------


def rss_bytes() -> int | None:
    """This process's resident set size; None where it cannot be read (not Linux, and no psutil)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux, or no file descriptor left: never fail a stats answer for this
        try:
            import psutil  # optional: not a runtime dependency

            return int(psutil.Process().memory_info().rss)
        except (ImportError, OSError):
            return None


def peak_rss_bytes() -> int | None:
    """This process's own peak resident set size (Linux: ``VmHWM``); None where it cannot be read.

    Not ``getrusage().ru_maxrss``: Linux carries it over from the parent across fork and exec, so
    a worker started by a 160 MB coordinator would report 160 MB whatever its own peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux (or no file descriptor left)
        import psutil  # optional: not a runtime dependency

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))  # Windows has a peak; elsewhere the current
    except (ImportError, OSError):
        return None
