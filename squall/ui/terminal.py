"""The REST API's answers as terminal tables (``squall list`` and ``squall stats``): pure functions, text out.

Columns follow Storm UI's tables (spouts: emitted, transferred, complete latency, acked, failed;
bolts: capacity, execute latency, executed, process latency...); counts carry thousands separators,
latencies are milliseconds with 3 decimals, capacity 3 decimals. A missing field shows as ``-``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from squall.topology.graph import grouping_label

Row = Mapping[str, Any]


def count(value: Any) -> str:
    """``12,345``; not a number: ``-``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{int(value):,}"


def decimal(value: Any) -> str:
    """``1.234`` (latencies in ms, capacity); not a number: ``-``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{float(value):,.3f}"


def text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def duration(seconds: Any) -> str:
    """``3d 4h 5m 6s`` as Storm UI writes uptimes (``45s``, ``2m 3s``)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "-"
    s = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    parts.append(f"{s}s")
    return " ".join(parts)


def size(value: Any) -> str:
    """Bytes as ``12.3 MB``; not a number: ``-``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    v = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if v < 1000 or unit == "GB":
            return f"{v:,.0f} {unit}" if unit == "B" else f"{v:,.1f} {unit}"
        v /= 1000
    return f"{v:,.1f} GB"  # pragma: no cover (the loop returns)


def clock(epoch: Any) -> str:
    """An epoch time as local ``HH:MM:SS``; anything else as it is."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        return text(epoch)
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


Column = tuple[str, str, Callable[[Any], str]]  # header, key, formatter

#: Formatters whose column is aligned to the right (numbers); any other to the left.
NUMERIC: frozenset[Callable[[Any], str]] = frozenset({count, decimal, duration, size})


def tasks(value: Any) -> str:
    """A worker's tasks, ``count:1 words:3`` (the API's ``[{task, component}]``, or plain task ids)."""
    if not isinstance(value, list):
        return text(value)
    return " ".join(f"{t.get('component')}:{t.get('task')}" if isinstance(t, Mapping) else str(t) for t in value)


def yes_no(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def table(columns: Sequence[Column], rows: Sequence[Row]) -> list[str]:
    """Aligned columns: text to the left, numbers to the right, a header and a rule."""
    cells = [[fmt(row.get(key)) for _, key, fmt in columns] for row in rows]
    headers = [h for h, _, _ in columns]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    right = [fmt in NUMERIC for _, _, fmt in columns]

    def line(values: Sequence[str]) -> str:
        out = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "  ".join(out).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(c) for c in cells)]


LIST_COLUMNS: list[Column] = [
    ("NAME", "name", text),
    ("ID", "id", text),
    ("STATUS", "status", text),
    ("UPTIME", "uptimeSeconds", duration),
    ("WORKERS", "workersTotal", count),
    ("TASKS", "tasksTotal", count),
    ("UI", "url", text),
]

SPOUT_COLUMNS: list[Column] = [
    ("SPOUT", "spoutId", text),
    ("EXECUTORS", "executors", count),
    ("TASKS", "tasks", count),
    ("EMITTED", "emitted", count),
    ("TRANSFERRED", "transferred", count),
    ("COMPLETE LATENCY (ms)", "completeLatency", decimal),
    ("ACKED", "acked", count),
    ("FAILED", "failed", count),
    ("ERRORS", "errorCount", count),
    ("LAST ERROR", "lastError", text),
]

BOLT_COLUMNS: list[Column] = [
    ("BOLT", "boltId", text),
    ("EXECUTORS", "executors", count),
    ("TASKS", "tasks", count),
    ("EMITTED", "emitted", count),
    ("TRANSFERRED", "transferred", count),
    ("CAPACITY", "capacity", decimal),
    ("EXECUTE LATENCY (ms)", "executeLatency", decimal),
    ("EXECUTED", "executed", count),
    ("PROCESS LATENCY (ms)", "processLatency", decimal),
    ("ACKED", "acked", count),
    ("FAILED", "failed", count),
    ("ERRORS", "errorCount", count),
    ("LAST ERROR", "lastError", text),
]

TOPOLOGY_STATS_COLUMNS: list[Column] = [
    ("WINDOW", "windowPretty", text),
    ("EMITTED", "emitted", count),
    ("TRANSFERRED", "transferred", count),
    ("COMPLETE LATENCY (ms)", "completeLatency", decimal),
    ("ACKED", "acked", count),
    ("FAILED", "failed", count),
]

WORKER_COLUMNS: list[Column] = [
    ("WORKER", "index", count),
    ("PID", "pid", count),
    ("HOST", "host", text),
    ("UPTIME", "uptimeSeconds", duration),
    ("RSS", "rss", size),
    ("PEAK RSS", "peakRss", size),
    ("RESTARTS", "restarts", count),
    ("ALIVE", "alive", yes_no),
    ("TASKS", "tasks", tasks),
]

EXECUTOR_COLUMNS: list[Column] = [
    ("EXECUTOR", "id", text),
    ("WORKER", "worker", count),
    ("HOST", "host", text),
    ("UPTIME", "uptimeSeconds", duration),
    ("EMITTED", "emitted", count),
    ("TRANSFERRED", "transferred", count),
]
SPOUT_EXECUTOR_COLUMNS = [
    *EXECUTOR_COLUMNS,
    ("COMPLETE LATENCY (ms)", "completeLatency", decimal),
    ("ACKED", "acked", count),
    ("FAILED", "failed", count),
]
BOLT_EXECUTOR_COLUMNS = [
    *EXECUTOR_COLUMNS,
    ("CAPACITY", "capacity", decimal),
    ("EXECUTE LATENCY (ms)", "executeLatency", decimal),
    ("EXECUTED", "executed", count),
    ("PROCESS LATENCY (ms)", "processLatency", decimal),
    ("ACKED", "acked", count),
    ("FAILED", "failed", count),
]

OUTPUT_COLUMNS: list[Column] = [
    ("STREAM", "stream", text),
    ("EMITTED", "emitted", count),
    ("TRANSFERRED", "transferred", count),
]
INPUT_COLUMNS: list[Column] = [
    ("COMPONENT", "component", text),
    ("STREAM", "stream", text),
    ("GROUPING", "grouping", lambda g: grouping_label(g) if isinstance(g, Mapping) else text(g)),
]

WINDOW_NAMES = {"60": "last 1 min", "600": "last 10 min", ":all-time": "all time"}


def list_lines(rows: Sequence[Row]) -> list[str]:
    """``squall list``: one row per run (registry entry merged with its summary)."""
    if not rows:
        return ["no running topologies"]
    return table(LIST_COLUMNS, rows)


def _header(info: Row) -> list[str]:
    window = str(info.get("window", ""))
    return [
        f"topology {text(info.get('name'))} (id {text(info.get('id'))}): {text(info.get('status'))}, "
        f"uptime {duration(info.get('uptimeSeconds'))}, {count(info.get('workersTotal'))} worker(s), "
        f"{count(info.get('executorsTotal'))} executor(s), {count(info.get('tasksTotal'))} task(s); "
        f"window: {WINDOW_NAMES.get(window, window or '-')}"
    ]


def _section(title: str, columns: Sequence[Column], rows: Sequence[Row]) -> list[str]:
    return ["", title, *(table(columns, rows) if rows else ["(none)"])]


def topology_lines(info: Row, workers: Sequence[Row] | None = None) -> list[str]:
    """``squall stats NAME``: the summary line, the topology's windows, the spouts and bolts tables, workers."""
    out = _header(info)
    out += _section("Topology stats", TOPOLOGY_STATS_COLUMNS, info.get("topologyStats") or [])
    out += _section("Spouts", SPOUT_COLUMNS, info.get("spouts") or [])
    out += _section("Bolts", BOLT_COLUMNS, info.get("bolts") or [])
    if info.get("checkpoints"):
        out += ["", "Checkpoints", checkpoint_line(info["checkpoints"])]
    if workers is not None:
        out += _section("Workers", WORKER_COLUMNS, workers)
    return out


def checkpoint_line(c: Row) -> str:
    """The state's checkpoints (a topology with a StatefulBolt): the last committed one and its figures."""
    if not c.get("committed"):
        return f"none committed yet (every {decimal(c.get('intervalMs'))} ms)"
    every = decimal(c.get("intervalMs"))
    return (
        f"last committed {count(c.get('committed'))} at {clock(c.get('lastTime'))}: "
        f"{decimal(c.get('lastDurationMs'))} ms, {size(c.get('lastBytes'))} written, "
        f"{count(c.get('stateKeys'))} keys in state; {count(c.get('count'))} committed in this run, "
        f"{count(c.get('aborted'))} abandoned (rollbacks); every {every} ms"
    )


def figure_lines(info: Row) -> list[str]:
    """A component's own figures: windows (fired, late tuples, held), state (keys, last checkpoint)."""
    rows = [{"name": k.replace("_", " "), "value": v, "kind": "total"} for k, v in (info.get("metrics") or {}).items()]
    rows += [{"name": k.replace("_", " "), "value": v, "kind": "now"} for k, v in (info.get("gauges") or {}).items()]
    if not rows:
        return []
    return _section("Figures", [("FIGURE", "name", text), ("VALUE", "value", decimal), ("", "kind", text)], rows)


def _first_line(value: Any) -> str:
    lines = str(value or "").strip().splitlines()
    return lines[-1] if lines else "-"


def error_lines(errors: Sequence[Row], traceback: bool = False) -> list[str]:
    """A component's errors, newest last: ``HH:MM:SS task T worker W: error`` (+ the traceback)."""
    out = []
    for e in errors:
        when = clock(e.get("time"))
        out.append(f"{when}  task {text(e.get('task'))}  worker {text(e.get('worker'))}: {_first_line(e.get('error'))}")
        if traceback and e.get("traceback"):
            out += ["    " + line for line in str(e["traceback"]).rstrip().splitlines()]
    return out


def component_lines(info: Row, traceback: bool = False) -> list[str]:
    """``squall stats NAME --component C``: its windows, the per-executor (task) table, streams, errors."""
    kind = str(info.get("componentType", ""))
    window = str(info.get("window", ""))
    out = [
        f"{kind or 'component'} {text(info.get('id'))} of topology {text(info.get('name'))} "
        f"(id {text(info.get('topologyId'))}): {count(info.get('executors'))} executor(s), "
        f"{count(info.get('tasks'))} task(s); window: {WINDOW_NAMES.get(window, window or '-')}"
    ]
    if kind == "spout":
        windows: Sequence[Row] = info.get("spoutSummary") or []
        stats_columns = [("WINDOW", "windowPretty", text), *SPOUT_COLUMNS[3:8]]
        executor_columns = SPOUT_EXECUTOR_COLUMNS
    else:
        windows = info.get("boltStats") or []
        stats_columns = [("WINDOW", "windowPretty", text), *BOLT_COLUMNS[3:11]]
        executor_columns = BOLT_EXECUTOR_COLUMNS
    out += _section("Stats", stats_columns, windows)
    out += _section("Executors (tasks)", executor_columns, info.get("executorStats") or [])
    out += _section("Output streams", OUTPUT_COLUMNS, info.get("outputStats") or [])
    if kind != "spout":
        out += _section("Inputs", INPUT_COLUMNS, info.get("inputStats") or [])
    out += figure_lines(info)
    errors = info.get("componentErrors") or []
    out += ["", "Errors", *(error_lines(errors, traceback) or ["(none)"])]
    return out
