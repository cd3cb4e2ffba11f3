"""The REST API's answers, as JSON-able dicts: Storm UI's paths and field names, plus Squall's own.

Everything here reads one ``RunView``: the coordinator's latest snapshot (``statistics()``: run
state, workers, errors) and the ``History`` of snapshots (counters over the windows 60 s, 600 s and
all time, capacity, rates). Latencies are in ms and capacity a share of the window, as floats with 3
decimals. The ``status`` of a topology is Storm's where Storm has one, Squall's run state otherwise:

=================================  ==========  ==================================================
Squall run state (``squallStatus``)  ``status``  meaning
=================================  ==========  ==================================================
starting                           STARTING    workers starting, ``initialize`` running
active                             ACTIVE      spouts called (Storm's ACTIVE)
inactive                           INACTIVE    deactivated: spouts not called, bolts go on (Storm's)
draining                           DRAINING    ending: in-flight tuples draining
completed                          COMPLETED   every spout exhausted, every tuple processed
stopped                            STOPPED     ``--duration``, Ctrl-C, SIGTERM
stopped by ``kill`` (API, CLI)     KILLED      Storm's KILLED (also while its wait runs)
killed                             KILLED      a second signal: workers killed without draining
failed                             FAILED      a worker could not start or died with restarts off
=================================  ==========  ==================================================
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from squall.local.statistics import ComponentStats, ErrorInfo, RunState, TopologyStatistics
from squall.topology.graph import grouping_label
from squall.ui.history import WINDOW_NAMES, WINDOW_PRETTY, WINDOWS, History, Window, WindowStats
from squall.ui.openapi import VERSION as __version__

#: Config keys never shown by the API (GETs need no token).
SECRET_KEYS = frozenset({"squall.ui.token"})

_STATUS = {
    RunState.STARTING: "STARTING",
    RunState.ACTIVE: "ACTIVE",
    RunState.INACTIVE: "INACTIVE",
    RunState.DRAINING: "DRAINING",
    RunState.COMPLETED: "COMPLETED",
    RunState.STOPPED: "STOPPED",
    RunState.KILLED: "KILLED",
    RunState.FAILED: "FAILED",
}


class NotFound(LookupError):
    """An unknown topology id, component or worker: the API answers 404 with this message."""


class Conflict(RuntimeError):
    """An action the run's state does not allow (activate a completed run): 409."""


def r3(x: float) -> float:
    """3 decimals, and never NaN or infinity (JSON has neither)."""
    return round(x, 3) if math.isfinite(x) else 0.0


def pretty_secs(secs: float) -> str:
    """Storm's uptime format: ``1d 2h 3m 4s``, leading zero units left out (``0s`` at 0)."""
    s = max(0, int(secs))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    mins, s = divmod(s, 60)
    parts = [(days, "d"), (hours, "h"), (mins, "m")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n}{u}" for n, u in [*parts, (s, "s")])


def json_safe(value: Any) -> Any:
    """Config values as JSON: non-finite floats as strings, anything not JSON as its ``str``."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    return str(value)


@dataclass
class RunView:
    """What the API serves: one run of one topology, seen from the UI's thread.

    ``coordinator`` is a ``squall.local.coordinator.Coordinator`` (typed loosely: the API reads the
    attributes newer coordinators have with defaults, and tests may hand it anything that has
    ``statistics()``, ``conf``, ``topology`` and the controls).
    """

    coordinator: Any
    topology_id: str
    token: str
    history: History = field(default_factory=History)
    started: float = field(default_factory=time.time)  # wall clock, epoch seconds
    kill_requested: bool = False
    #: ``rebalance(workers, wait)`` of a run that can be rebalanced (a cluster master's), else None
    rebalancer: Callable[[int, float], dict[str, Any]] | None = None
    _described: dict[str, Any] | None = field(default=None, repr=False)

    # -- the run -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.coordinator.conf.get("topology.name") or self.topology_id)

    def snapshot(self) -> TopologyStatistics:
        """The coordinator's latest snapshot (also added to the history: sampling on request)."""
        snap: TopologyStatistics = self.coordinator.statistics()
        self.history.add(snap)
        return snap

    def uptime(self) -> float:
        t0 = getattr(self.coordinator, "t0", None)
        if isinstance(t0, (int, float)):
            return max(0.0, time.monotonic() - t0)
        return max(0.0, time.time() - self.started)

    def status(self, snap: TopologyStatistics) -> str:
        if snap.state in (RunState.COMPLETED, RunState.FAILED):
            return _STATUS[snap.state]
        if self.kill_requested or snap.stop_reason == "kill":
            return "KILLED"
        return _STATUS[snap.state]

    def describe(self) -> dict[str, Any]:
        """The topology's ``describe()`` (it does not change while it runs: computed once)."""
        if self._described is None:
            self._described = self.coordinator.topology.describe()
        return self._described

    def components(self) -> dict[str, dict[str, Any]]:
        """The topology's components as ``describe()`` has them, by name."""
        return {c["name"]: c for c in self.describe()["components"]}

    def check_id(self, topology_id: str) -> None:
        if topology_id not in (self.topology_id, self.name):
            raise NotFound(f"topology {topology_id!r} not found: this process runs {self.topology_id!r}")

    def configuration(self) -> dict[str, Any]:
        conf = {k: v for k, v in self.coordinator.conf.items() if k not in SECRET_KEYS}
        return dict(sorted(json_safe(conf).items()))

    def window(self, secs: float | None) -> Window:
        self.snapshot()
        w = self.history.window(secs)
        assert w is not None  # snapshot() added one
        return w

    # -- shared pieces -----------------------------------------------------------------------
    def _common(self, snap: TopologyStatistics) -> dict[str, Any]:
        up = self.uptime()
        tasks = len(snap.tasks)
        return {
            "id": self.topology_id,
            "name": self.name,
            "status": self.status(snap),
            "squallStatus": snap.state.value,
            "uptime": pretty_secs(up),
            "uptimeSeconds": int(up),
            "tasksTotal": tasks,
            "workersTotal": len(snap.workers),
            "executorsTotal": tasks,
        }


def _last_error(errors: tuple[ErrorInfo, ...], component: str) -> ErrorInfo | None:
    return next((e for e in reversed(errors) if e.component == component), None)


def error_json(e: ErrorInfo, host: str = "") -> dict[str, Any]:
    return {
        "component": e.component,
        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)),
        "errorTime": e.time,
        "errorLapsedSecs": int(max(0.0, time.time() - e.time)),
        "task": e.task,
        "worker": e.worker,
        "errorHost": host,
        "error": e.error,
        "where": e.where,
        "traceback": e.traceback,
    }


def _error_fields(snap: TopologyStatistics, c: ComponentStats) -> dict[str, Any]:
    last = _last_error(snap.errors, c.name)
    return {
        "errorCount": c.errors,
        "lastError": last.error if last else "",
        "errorTime": last.time if last else None,
        "errorLapsedSecs": int(max(0.0, time.time() - last.time)) if last else None,
    }


def spout_window(w: WindowStats) -> dict[str, Any]:
    return {
        "emitted": w.emitted,
        "transferred": w.transferred,
        "acked": w.acked,
        "failed": w.failed,
        "completeLatency": r3(w.complete_latency_ms),
    }


def bolt_window(w: WindowStats) -> dict[str, Any]:
    return {
        "emitted": w.emitted,
        "transferred": w.transferred,
        "executed": w.executed,
        "acked": w.acked,
        "failed": w.failed,
        "executeLatency": r3(w.execute_latency_ms),
        "processLatency": r3(w.process_latency_ms),
        "capacity": r3(w.capacity),
    }


def _window_stats(w: WindowStats) -> dict[str, Any]:
    return {**spout_window(w), **bolt_window(w)}


def _per_window(view: RunView, pick: Any) -> list[dict[str, Any]]:
    out = []
    for secs in WINDOWS:
        w = view.window(secs)
        out.append({"window": WINDOW_NAMES[secs], "windowPretty": WINDOW_PRETTY[secs], **pick(w)})
    return out


# -- cluster ---------------------------------------------------------------------------------------


def cluster_summary(view: RunView) -> dict[str, Any]:
    snap = view.snapshot()
    up = view.uptime()
    alive = sum(1 for w in snap.workers if w.alive)
    return {
        "stormVersion": f"squall {__version__}",
        "supervisors": len({w.host for w in snap.workers}) or 1,
        "slotsTotal": len(snap.workers),
        "slotsUsed": alive,
        "slotsFree": 0,
        "executorsTotal": len(snap.tasks),
        "tasksTotal": len(snap.tasks),
        "topologies": 1,
        "nimbusUptime": pretty_secs(up),
        "nimbusUptimeSeconds": int(up),
    }


def nimbus_summary(view: RunView) -> dict[str, Any]:
    """Storm's nimbus list: the coordinator of this run, the leader."""
    up = view.uptime()
    return {
        "nimbuses": [
            {
                "host": socket.gethostname(),
                "port": None,
                "status": "Leader",
                "version": f"squall {__version__}",
                "nimbusUpTime": pretty_secs(up),
                "nimbusUpTimeSeconds": int(up),
            }
        ]
    }


def _memory_mb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def supervisor_summary(view: RunView) -> dict[str, Any]:
    """Storm's supervisors: the hosts the workers report (one machine for `squall run`; on a Ray cluster,
    each Ray node holding workers). Memory and CPUs are known for this machine only."""
    snap = view.snapshot()
    up = view.uptime()
    here = socket.gethostname()
    hosts: dict[str, list[Any]] = {}
    for w in snap.workers:
        hosts.setdefault(w.host or here, []).append(w)
    out = []
    for host, workers in sorted(hosts.items()) or [(here, [])]:
        local = host == here
        out.append(
            {
                "id": host,
                "host": host,
                "uptime": pretty_secs(up),
                "uptimeSeconds": int(up),
                "slotsTotal": len(workers),
                "slotsUsed": sum(1 for w in workers if w.alive),
                "totalMem": r3(_memory_mb() or 0.0) if local else None,
                "usedMem": r3(sum(w.rss or 0 for w in workers if w.alive) / 2**20),
                "totalCpu": (os.cpu_count() or 1) * 100 if local else None,
                "version": f"squall {__version__}",
            }
        )
    return {"supervisors": out}


# -- topologies ------------------------------------------------------------------------------------


def topology_summary(view: RunView) -> dict[str, Any]:
    snap = view.snapshot()
    return {"topologies": [{**view._common(snap), "errors": snap.error_count}]}


def topology_page(view: RunView, secs: float | None) -> dict[str, Any]:
    snap = view.snapshot()
    win = view.window(secs)
    spouts, bolts = [], []
    for c in snap.user_components():
        w = win.components.get(c.name) or WindowStats(secs=win.covered)
        common = {"executors": len(c.tasks), "tasks": len(c.tasks), **_error_fields(snap, c)}
        if c.kind == "spout":
            spouts.append({"spoutId": c.name, "encodedSpoutId": c.name, **common, **spout_window(w)})
        else:
            bolts.append({"boltId": c.name, "encodedBoltId": c.name, **common, **bolt_window(w)})
    user = {c.name for c in snap.user_components()}

    def topo(w: Window) -> dict[str, Any]:
        parts = [s for n, s in w.components.items() if n in user and snap.components[n].kind == "spout"]
        emitted = sum(s.emitted for n, s in w.components.items() if n in user)
        transferred = sum(s.transferred for n, s in w.components.items() if n in user)
        count = sum(p.complete_count for p in parts)
        lat = (
            sum(p.complete_ms for p in parts) / count
            if count
            else max((p.complete_gauge_ms for p in parts), default=0.0)
        )
        return {
            "emitted": emitted,
            "transferred": transferred,
            "acked": sum(p.acked for p in parts),
            "failed": sum(p.failed for p in parts),
            "completeLatency": r3(lat),
        }

    return {
        **view._common(snap),
        "window": WINDOW_NAMES[secs],
        "windowHint": WINDOW_PRETTY[secs],
        "windowSecs": r3(win.covered),
        "topologyStats": _per_window(view, topo),
        "spouts": spouts,
        "bolts": bolts,
        "configuration": view.configuration(),
        "droppedMalformed": snap.malformed_total,
        "refusedConnections": snap.refused_total,
        "errorCount": snap.error_count,
        "stopReason": snap.stop_reason,
        "message": snap.message,
        "drainTimedOut": snap.drain_timed_out,
        "inFlight": snap.in_flight(),
        **({"checkpoints": checkpoint_fields(snap.checkpoints)} if snap.checkpoints else {}),
        "round": snap.round,
        "sampled": r3(snap.sampled),
    }


def checkpoint_fields(c: Mapping[str, Any]) -> dict[str, Any]:
    """The coordinator's checkpoint figures (a topology with a StatefulBolt), as the REST API names them."""
    last = c.get("last") or {}
    return {
        "committed": c.get("committed", 0),
        "inProgress": c.get("in_progress"),
        "count": c.get("count", 0),
        "aborted": c.get("aborted", 0),
        "intervalMs": r3(c.get("interval_ms", 0.0)),
        "lastDurationMs": r3(last.get("duration_ms", 0.0)) if last else None,
        "lastBytes": int(last.get("bytes", 0)) if last else None,
        "stateKeys": int(last.get("state_keys", 0)) if last else None,
        "lastTime": last.get("at"),
    }


def _component_or_404(view: RunView, snap: TopologyStatistics, component: str) -> ComponentStats:
    c = snap.components.get(component)
    if c is None:
        known = ", ".join(x.name for x in snap.user_components())
        raise NotFound(f"component {component!r} not found in topology {view.topology_id!r} (components: {known})")
    return c


def component_page(view: RunView, component: str, secs: float | None) -> dict[str, Any]:
    snap = view.snapshot()
    c = _component_or_404(view, snap, component)
    win = view.window(secs)
    workers = {w.index: w for w in snap.workers}
    up = view.uptime()
    executors = []
    for t in c.tasks:
        ts = snap.tasks[t]
        w = win.tasks.get(t) or WindowStats(secs=win.covered)
        ws = workers.get(ts.worker)
        started = getattr(ws, "started", 0.0) if ws is not None else 0.0
        task_up = time.time() - started if isinstance(started, (int, float)) and started > 0 else up
        executors.append(
            {
                "id": f"[{t}-{t}]",
                "task": t,
                "worker": ts.worker,
                "host": ws.host if ws is not None else "",
                "port": None,  # Storm's worker port: a Squall worker is named by its index and pid
                "pid": ws.pid if ws is not None else None,
                "uptime": pretty_secs(task_up),
                "uptimeSeconds": int(task_up),
                "stale": ws.stale if ws is not None else False,
                "pending": ts.pending,
                **_window_stats(w),
            }
        )
    described = view.components().get(component, {})
    inputs = [
        {
            "component": i["component"],
            "stream": i["stream"],
            "grouping": grouping_label(i.get("grouping", {})),
        }
        for i in described.get("inputs", [])
    ]
    streams = sorted(set(c.emitted_by_stream) | set(described.get("outputs", {})))
    single = len(streams) == 1
    output = [
        {
            "stream": s,
            "emitted": win.components[c.name].emitted_by_stream.get(s, 0) if c.name in win.components else 0,
            "transferred": win.components[c.name].transferred if single and c.name in win.components else None,
        }
        for s in streams
    ]
    errors = [error_json(e, workers[e.worker].host if e.worker in workers else "") for e in snap.errors]
    is_spout = c.kind == "spout"
    per_window = _per_window(view, lambda w: (spout_window if is_spout else bolt_window)(w.components[c.name]))
    return {
        "id": c.name,
        "name": view.name,
        "topologyId": view.topology_id,
        "componentType": "spout" if is_spout else "bolt",
        "executors": len(c.tasks),
        "tasks": len(c.tasks),
        "window": WINDOW_NAMES[secs],
        "windowHint": WINDOW_PRETTY[secs],
        "windowSecs": r3(win.covered),
        ("spoutSummary" if is_spout else "boltStats"): per_window,
        "executorStats": executors,
        "outputStats": output,
        "inputStats": inputs,
        "componentErrors": [e for e in errors if e["component"] == c.name],
        "errorCount": c.errors,
        # the bolt's own figures over the run (a windowed bolt: windows fired, late tuples) and now
        "metrics": dict(c.metrics),
        "gauges": dict(c.gauges),
    }


def visualization(view: RunView, secs: float | None) -> dict[str, Any]:
    """Storm's ``/visualization``: per component its type, capacity, latency, counters and inputs,
    with ``:rate`` = tuples per second over the last stats round (emitted for a component, the
    source's emits on that stream for an input)."""
    snap = view.snapshot()
    win = view.window(secs)
    now = view.history.last_round()
    out: dict[str, Any] = {}
    for name, d in view.components().items():
        c = snap.components.get(name)
        w = win.components.get(name) or WindowStats(secs=win.covered)
        r = now.components.get(name) if now is not None else None
        spout = d.get("type") == "spout"
        inputs = []
        for i in d.get("inputs", []):
            src = now.components.get(i["component"]) if now is not None else None
            inputs.append(
                {
                    ":component": i["component"],
                    ":stream": i["stream"],
                    ":sani-stream": "s" + "".join(ch if ch.isalnum() else "_" for ch in i["stream"]),
                    ":grouping": grouping_label(i.get("grouping", {})),
                    ":rate": r3(src.emitted_by_stream.get(i["stream"], 0) / src.secs) if src and src.secs else 0.0,
                }
            )
        out[name] = {
            ":type": "spout" if spout else "bolt",
            ":capacity": r3(w.capacity),
            ":latency": r3(w.complete_latency_ms if spout else w.execute_latency_ms),
            ":transferred": w.transferred,
            ":emitted": w.emitted,
            ":executed": w.executed,
            ":acked": w.acked,
            ":failed": w.failed,
            ":errors": c.errors if c is not None else 0,
            ":tasks": len(c.tasks) if c is not None else d.get("par", 0),
            ":rate": r3(r.rate("emitted")) if r is not None else 0.0,
            ":executedRate": r3(r.rate("executed")) if r is not None else 0.0,
            ":inputs": inputs,
        }
    return out


# -- Squall's extras -------------------------------------------------------------------------------


def workers_page(view: RunView) -> dict[str, Any]:
    snap = view.snapshot()
    comp = {t: ts.component for t, ts in snap.tasks.items()}
    out = []
    for w in snap.workers:
        started = getattr(w, "started", 0.0)
        up = time.time() - started if isinstance(started, (int, float)) and started > 0 else None
        out.append(
            {
                "index": w.index,
                "pid": w.pid,
                "host": w.host,
                "uptime": pretty_secs(up) if up is not None else None,
                "uptimeSeconds": int(up) if up is not None else None,
                "rss": w.rss,
                "peakRss": w.peak_rss,
                "tasks": [{"task": t, "component": comp.get(t, "")} for t in w.tasks],
                "restarts": w.restarts,
                "alive": w.alive,
                "stale": w.stale,
                "queued": w.queued,
                "silentSecs": r3(w.silent_secs),
                "malformed": w.malformed,
                "refused": w.refused,
            }
        )
    return {"workers": out}


def errors_page(view: RunView) -> dict[str, Any]:
    snap = view.snapshot()
    hosts = {w.index: w.host for w in snap.workers}
    return {
        "errors": [error_json(e, hosts.get(e.worker, "")) for e in snap.errors],
        "errorCount": snap.error_count,
    }


def timeseries(view: RunView, component: str | None) -> dict[str, Any]:
    snap = view.snapshot()
    if component is not None:
        _component_or_404(view, snap, component)
        names = [component]
    else:
        names = [c.name for c in snap.user_components()]
    points = view.history.series(names)
    interval = (points[-1]["time"] - points[0]["time"]) / (len(points) - 1) if len(points) > 1 else 0.0
    return {"interval": r3(interval), "components": names, "points": points}


def logs_page(view: RunView, worker: int | None, after: int, limit: int) -> dict[str, Any]:
    logs = getattr(view.coordinator, "logs", None)
    if worker is not None and worker not in {w.index for w in view.snapshot().workers}:
        raise NotFound(f"worker {worker} not found in topology {view.topology_id!r}")
    if logs is None:  # a coordinator that keeps no worker logs
        return {"lines": [], "next": after, "available": False}
    lines = logs(worker=worker, after=after, limit=limit)
    out = [{"seq": x.seq, "worker": x.worker, "time": x.time, "line": x.line} for x in lines]
    return {"lines": out, "next": out[-1]["seq"] if out else after, "available": True}


def samples_page(view: RunView, component: str, after: int) -> dict[str, Any]:
    _component_or_404(view, view.snapshot(), component)
    samples = getattr(view.coordinator, "samples", None)
    if samples is None:
        return {"samples": [], "next": after, "available": False}
    got = samples(component, after=after)
    out = [
        {"seq": s.seq, "time": s.time, "task": s.task, "stream": s.stream, "values": json_safe(list(s.values))}
        for s in got
    ]
    return {"samples": out, "next": out[-1]["seq"] if out else after, "available": True}


# -- actions ---------------------------------------------------------------------------------------


def _check_running(view: RunView, action: str) -> None:
    snap = view.snapshot()
    if snap.state.final or snap.state is RunState.DRAINING:
        raise Conflict(f"cannot {action} topology {view.topology_id!r}: it is {snap.state.value}")
    if view.kill_requested or snap.stop_reason == "kill":
        raise Conflict(f"cannot {action} topology {view.topology_id!r}: it is being killed")


def activate(view: RunView) -> dict[str, Any]:
    _check_running(view, "activate")
    view.coordinator.activate()
    return {"topologyOperation": "activate", "topologyId": view.topology_id, "status": "success"}


def deactivate(view: RunView) -> dict[str, Any]:
    _check_running(view, "deactivate")
    view.coordinator.deactivate()
    return {"topologyOperation": "deactivate", "topologyId": view.topology_id, "status": "success"}


def kill(view: RunView, wait: float) -> dict[str, Any]:
    """Storm's kill: spouts deactivated now, the run stopped (drained) after ``wait`` seconds."""
    snap = view.snapshot()
    if snap.state.final:
        raise Conflict(f"cannot kill topology {view.topology_id!r}: it is {snap.state.value}")
    view.kill_requested = True
    coord_kill = getattr(view.coordinator, "kill", None)
    if coord_kill is not None:
        coord_kill(wait)
    else:  # a coordinator without kill(): stop now, as --duration does
        view.coordinator.request_stop("kill")
    return {"topologyOperation": "kill", "topologyId": view.topology_id, "status": "success", "waitSecs": wait}


def rebalance(view: RunView, wait: float, body: bytes) -> dict[str, Any]:
    """Storm's rebalance (``{"rebalanceOptions": {"numWorkers": N}}``): only a cluster run has one."""
    if view.rebalancer is None:
        raise Conflict(
            f"topology {view.topology_id!r} runs on one machine (squall run): only a topology submitted to a Ray "
            "cluster (squall submit) can be rebalanced"
        )
    try:
        options = json.loads(body or b"{}").get("rebalanceOptions") or {}
        workers = options["numWorkers"]
    except (ValueError, AttributeError, KeyError):
        raise ValueError('rebalance: expected the body {"rebalanceOptions": {"numWorkers": N}}') from None
    return view.rebalancer(workers, wait)


def debug_enable(view: RunView, component: str, secs: float, stream: str | None) -> dict[str, Any]:
    """Storm UI's debug sampling of a component's emitted tuples, for ``secs`` seconds."""
    _component_or_404(view, view.snapshot(), component)
    sample = getattr(view.coordinator, "sample", None)
    if sample is None:
        raise Conflict("this run cannot sample tuples")
    sample(component, stream, secs)
    return {
        "topologyOperation": "debug",
        "topologyId": view.topology_id,
        "component": component,
        "stream": stream,
        "secs": secs,
        "status": "success",
    }
