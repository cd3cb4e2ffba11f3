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

Mistakes are caught, not hidden: an unknown spout name or malformed values in ``mocked_sources``
are refused before the run; every emit is checked to be msgpack-encodable (Storm's
``topology.testing.always.try.serialize``), so a value that could not cross to another worker
fails here with one worker too; errors raised by user code during the run are printed and kept in
``result.errors``, and raised (``UserCodeError``) with ``strict=True``.

One component alone, without a topology (its emits captured, acks and fails recorded):

    bolt = component_harness(WordCountBolt)
    bolt.process(["dog"])
    assert bolt.emitted["default"] == [("dog", 10)]
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from squall.compat.loader import load_topology
from squall.errors import EmitError, SquallError, UserCodeError
from squall.local.coordinator import Coordinator
from squall.local.inprocess import run_in_process
from squall.local.result import RunResult
from squall.runtime.hooks import WorkerHooks
from squall.runtime.router import bad_arity, unencodable, unknown_stream
from squall.topology.bolt import BatchingBolt, Bolt
from squall.topology.config import component_conf, topology_conf
from squall.topology.context import TopologyContext
from squall.topology.dsl import Topology
from squall.topology.plan import make_plan
from squall.topology.spec import ComponentDef
from squall.topology.spout import ReliableSpout, Spout
from squall.topology.stream import DEFAULT_STREAM, normalize_outputs
from squall.topology.tuple import Tuple, make_tuple, tick_tuple
from squall.topology.validate import did_you_mean

__all__ = [
    "complete_topology",
    "read_tuples",
    "run_topology",
    "make_tuple",
    "multiset",
    "Tuple",
    "MockedSpout",
    "HarnessHooks",
    "component_harness",
    "ComponentHarness",
    "Emit",
    "UserCodeError",
]

#: Storm's key: every emit is checked to be msgpack-encodable (squall.testing turns it on).
TRY_SERIALIZE = "topology.testing.always.try.serialize"
MAX_ERROR_GROUPS = 5  # kinds of error (component, place, exception type) printed after a run


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


def check_mocked_sources(topology: Any, mocked_sources: Any) -> dict[str, list[list[Any]]]:
    """``mocked_sources`` as ``{spout: [values list, ...]}``, or a SquallError naming what is wrong:
    a name that is not a spout of ``topology`` (with the closest one), items that are not one
    tuple's values (a plain string, a number), or values whose count differs from the spout's
    default-stream fields."""
    if not mocked_sources:
        return {}
    if not isinstance(mocked_sources, Mapping):
        raise SquallError(f"mocked_sources must be a dict {{spout name: [values, ...]}}, got {mocked_sources!r}")
    spouts = [n for n, d in topology.components.items() if d.kind == "spout"]
    out: dict[str, list[list[Any]]] = {}
    for name, items in mocked_sources.items():
        d = topology.components.get(name)
        if d is None or d.kind != "spout":
            what = f"is a {d.kind}, not a spout" if d is not None else "is not a component of the topology"
            hint = did_you_mean(name, spouts)
            raise SquallError(
                f"mocked_sources: {name!r} {what}"
                + (f": {hint}" if hint else "")
                + f" (its spouts: {', '.join(spouts)})"
            )
        stream = d.outputs.get(DEFAULT_STREAM)
        if stream is None:
            raise SquallError(
                f"mocked_sources[{name!r}]: spout '{name}' has no default stream (it declares {list(d.outputs)}); "
                "a mocked source emits on the default stream"
            )
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise SquallError(
                f"mocked_sources[{name!r}] must be a list of tuples' values (e.g. [['dog'], ['cat']]), got {items!r}"
            )
        fields = list(stream.fields)
        rows = []
        for i, values in enumerate(items):
            example = [f"<{f}>" for f in fields] if len(fields) != 1 else [values]
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
                raise SquallError(
                    f"mocked_sources[{name!r}][{i}] is {values!r} ({type(values).__name__}): each item is one "
                    f"tuple's values, a list with one value per field {fields}, e.g. {example!r}"
                )
            if len(values) != len(fields):
                raise SquallError(
                    f"mocked_sources[{name!r}][{i}] = {list(values)!r} has {len(values)} value(s), but spout "
                    f"'{name}' declares {len(fields)} field(s) {fields}: give one value per field"
                )
            rows.append(list(values))
        out[name] = rows
    return out


def report_errors(result: RunResult, strict: bool = False, out: Any = None) -> None:
    """Print the errors user code raised during the run (to stderr), grouped by component, place
    and exception type, with the first traceback of each; with ``strict``, raise ``UserCodeError``
    with the same text instead."""
    n = result.statistics.error_count
    if not n:
        return
    errors = result.errors
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in errors:
        kind = str(e["error"]).partition(":")[0]
        groups.setdefault((e["component"], e["where"], kind), []).append(e)
    lines = [f"{n:,} error(s) raised by user code during the run (result.errors; strict=True raises them):"]
    for i, ((component, where, _kind), group) in enumerate(groups.items()):
        if i == MAX_ERROR_GROUPS:
            lines.append(f"  ... and {len(groups) - i} more kind(s) of error: see result.errors")
            break
        first = group[0]
        more = f" (and {len(group) - 1:,} more like it)" if len(group) > 1 else ""
        lines.append(f"  {component}:{first['task']} in {where}: {first['error']}{more}")
        lines += ["    " + line for line in str(first.get("traceback") or "").splitlines()]
    text = "\n".join(lines)
    if strict:
        raise UserCodeError(text, errors)
    print(f"squall.testing: {text}", file=out or sys.stderr)


def run_topology(
    topology: Any,
    *,
    workers: int = 1,
    conf: dict[str, Any] | None = None,
    mocked_sources: dict[str, list[Any]] | None = None,
    capture: bool = False,
    timeout: float = 60.0,
    duration: float | None = None,
    strict: bool = False,
) -> RunResult:
    """Run ``topology`` until its spouts are exhausted and all tuples processed (or ``duration``).

    Every emit is checked to be msgpack-encodable (``topology.testing.always.try.serialize``;
    ``conf={...: False}`` turns it off). Errors raised by user code are printed and kept in
    ``result.errors``; ``strict=True`` raises ``UserCodeError`` instead.
    """
    cls = load_topology(topology) if isinstance(topology, str) else topology
    mocked_sources = check_mocked_sources(cls, mocked_sources)
    overrides = dict(conf or {})
    overrides.setdefault("squall.stats.interval.secs", 60)
    overrides.setdefault(TRY_SERIALIZE, True)
    result = _run(topology, workers, overrides, mocked_sources, capture, timeout, duration)
    report_errors(result, strict)
    return result


def _run(
    topology: Any,
    workers: int,
    overrides: dict[str, Any],
    mocked_sources: dict[str, list[list[Any]]],
    capture: bool,
    timeout: float,
    duration: float | None,
) -> RunResult:
    doubles = bool(mocked_sources or capture)
    if workers == 1:
        hooks = HarnessHooks(mocked_sources, capture) if doubles else None
        result = run_in_process(topology, overrides, hooks=hooks, timeout=timeout, duration=duration)
        result.captured = _captured(result.hook_reports)
        return result
    overrides["topology.workers"] = workers
    import io

    coord = Coordinator(
        topology,
        overrides,
        hooks="squall.testing:worker_hooks" if doubles else None,
        hooks_data={"mocked_sources": mocked_sources, "capture": capture},
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
    strict: bool = False,
) -> RunResult:
    """Run to completion and capture every emitted tuple; raise if it does not complete in ``timeout``.

    ``mocked_sources`` maps a spout's name to the values it emits instead (a list of value lists,
    one value per field); a name that is not a spout, or values that do not fit its fields, are
    refused before the run. Errors raised by user code are printed and kept in ``result.errors``
    (a topology may raise on purpose, to show replay); ``strict=True`` raises ``UserCodeError``.
    """
    result = run_topology(
        topology,
        workers=workers,
        conf=conf,
        mocked_sources=mocked_sources,
        capture=True,
        timeout=timeout,
        strict=strict,
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


# -- one component alone ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Emit:
    """One emit of a component under a ``ComponentHarness``."""

    stream: str
    values: tuple[Any, ...]
    anchors: tuple[Any, ...] = ()  # a bolt's anchors (tuples or ids), auto-anchoring included
    tup_id: Any = None  # a spout's message id
    direct_task: int | None = None


class ComponentHarness:
    """A spout or bolt instance running alone, for unit tests: ``component_harness(...)`` builds it.

    The instance has its ``logger``, ``task_id`` and ``component_name``, a config and a
    ``TopologyContext`` as in a topology, and ``initialize(conf, context)`` has run. Its emits are
    checked as the runtime checks them (stream declared, one value per field, direct task,
    msgpack-encodable) and recorded instead of sent: ``emits`` (every ``Emit``) and ``emitted``
    (values per stream). A bolt's ``ack``/``fail`` calls are recorded in ``acked``/``failed``
    (``auto_ack`` and ``auto_fail`` apply around ``process`` as in a topology).
    """

    def __init__(
        self,
        instance: Any,
        definition: ComponentDef,
        conf: dict[str, Any],
        context: Any,
        task: int,
        fields: Sequence[str] | None = None,
    ) -> None:
        self.instance = instance
        self.definition = definition
        self.name = definition.name
        self.task = task
        self.conf = conf
        self.context = context
        self.logger = logging.getLogger(f"{self.name}:{task}")
        self.emits: list[Emit] = []
        self.acked: list[Any] = []
        self.failed: list[Any] = []
        self.check_encodable = bool(conf.get(TRY_SERIALIZE, True))
        self.fields = list(fields) if fields is not None else None  # of the values given to process()
        self._current: Any = None  # the tuple in process(): auto-anchored emits join it
        self._batch: list[Tuple] | None = None
        instance.task_id = task
        instance.component_name = self.name
        instance.logger = self.logger
        if isinstance(instance, Spout):
            if getattr(instance, "_squall_intercepts_emit", False):
                instance._raw_emit = self._spout_emit  # type: ignore[attr-defined]
            else:
                instance.emit = self._spout_emit  # type: ignore[method-assign]
        else:
            instance.emit = self._bolt_emit
            instance.ack = self.acked.append
            instance.fail = self.failed.append
            if isinstance(instance, BatchingBolt):
                instance._run_batch = self._run_batch  # type: ignore[method-assign]
        instance.initialize(conf, context)

    @property
    def emitted(self) -> dict[str, list[tuple[Any, ...]]]:
        """The values emitted so far, per stream, in order."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for e in self.emits:
            out.setdefault(e.stream, []).append(e.values)
        return out

    def clear(self) -> None:
        """Forget the emits, acks and fails recorded so far."""
        self.emits.clear()
        self.acked.clear()
        self.failed.clear()

    # -- driving the component ----------------------------------------------------------------------
    def process(
        self,
        tup: Any,
        *,
        source: str | None = None,
        stream: str = DEFAULT_STREAM,
        fields: Sequence[str] | None = None,
        id: Any = None,
    ) -> None:
        """Call the bolt's ``process`` with ``tup``: a ``Tuple`` (``make_tuple``) or a list of values,
        made into a tuple from ``source``'s ``stream`` (its declared fields when the harness was
        built from a topology, else ``fields``). With ``auto_ack`` the tuple is acked when
        ``process`` returns; if it raises, the tuple is failed (``auto_fail``) and the error raised."""
        bolt = self._bolt()
        if not isinstance(tup, Tuple):
            source, fields = self._source(source, stream, fields, tup)
            tup = make_tuple(tup, component=source, stream=stream, fields=fields, id=id)
        self._current = tup if bolt.auto_anchor else None
        try:
            bolt.process(tup)
        except Exception:
            if bolt.auto_fail:
                self.failed.append(tup)
            raise
        finally:
            self._current = None
        if bolt.auto_ack and not isinstance(bolt, BatchingBolt):
            self.acked.append(tup)

    def tick(self) -> None:
        """Deliver a tick tuple (``process_tick``; a BatchingBolt processes its batches on it)."""
        self._bolt().process_tick(tick_tuple(self.conf.get("topology.tick.tuple.freq.secs") or 1))

    def next_tuple(self) -> bool:
        """Call the spout's ``next_tuple`` once; False when it raised StopIteration (exhausted).

        As in a run, a ReliableSpout's failed messages waiting in ``replays`` are emitted again first,
        one per call, instead of ``next_tuple``."""
        spout = self.instance
        if not isinstance(spout, Spout):
            raise SquallError(f"{type(spout).__name__} is not a spout: it has no next_tuple()")
        if isinstance(spout, ReliableSpout) and spout.replays:
            spout._squall_replay()
            return True
        try:
            spout.next_tuple()
        except StopIteration:
            return False
        return True

    def ack(self, tup_id: Any) -> None:
        """Tell the spout its tuple tree ``tup_id`` completed (``Spout.ack``)."""
        self.instance.ack(tup_id)

    def fail(self, tup_id: Any) -> None:
        """Tell the spout its tuple tree ``tup_id`` failed (``Spout.fail``; a ReliableSpout replays it)."""
        self.instance.fail(tup_id)

    # -- what the instance calls ----------------------------------------------------------------------
    def _bolt(self) -> Bolt:
        if not isinstance(self.instance, Bolt):
            raise SquallError(f"{type(self.instance).__name__} is not a bolt: drive it with next_tuple()")
        return self.instance

    def _source(
        self, source: str | None, stream: str, fields: Sequence[str] | None, values: Any
    ) -> tuple[str, Sequence[str] | None]:
        fields = fields or self.fields
        inputs = [i for i in self.definition.inputs if i.stream == stream and (source is None or i.component == source)]
        if inputs and isinstance(self.context, TopologyContext):
            src = inputs[0].component
            return src, fields or self.context.components[src].outputs[stream].fields
        return source or "test", fields

    def _check(self, stream: str | None, values: Any, direct_task: int | None) -> tuple[str, tuple[Any, ...]]:
        name = DEFAULT_STREAM if stream is None else stream
        s = self.definition.outputs.get(name)
        if s is None:
            raise unknown_stream(self.name, stream, list(self.definition.outputs))
        try:
            ok = len(values) == len(s.fields)
        except TypeError:
            ok = False
        if not ok:
            raise bad_arity(self.name, self.task, name, s.fields, values)
        if s.direct and direct_task is None:
            raise EmitError(f"component '{self.name}' emitted on direct stream '{name}' without direct_task")
        if not s.direct and direct_task is not None:
            raise EmitError(f"component '{self.name}' passed direct_task on stream '{name}', which is not direct")
        if self.check_encodable:
            error = unencodable(self.name, self.task, name, s.fields, values)
            if error is not None:
                raise error
        return name, tuple(values)

    def _bolt_emit(
        self,
        values: Sequence[Any],
        stream: str | None = None,
        anchors: Any = None,
        direct_task: int | None = None,
        need_task_ids: bool = False,
    ) -> list[int] | None:
        name, vals = self._check(stream, values, direct_task)
        if anchors is None:
            anchors = [self._current] if self._current is not None else (self._batch or [])
        self.emits.append(Emit(name, vals, tuple(anchors), None, direct_task))
        return self._task_ids(direct_task) if need_task_ids else None

    def _spout_emit(
        self,
        values: Sequence[Any],
        tup_id: Any = None,
        stream: str | None = None,
        direct_task: int | None = None,
        need_task_ids: bool = False,
    ) -> list[int] | None:
        name, vals = self._check(stream, values, direct_task)
        self.emits.append(Emit(name, vals, (), tup_id, direct_task))
        return self._task_ids(direct_task) if need_task_ids else None

    @staticmethod
    def _task_ids(direct_task: int | None) -> list[int]:
        return [] if direct_task is None else [direct_task]

    def _run_batch(self, key: Any, tups: list[Tuple]) -> None:
        bolt = self.instance
        self._batch = tups if bolt.auto_anchor else None
        try:
            bolt.process_batch(key, tups)
        except Exception:
            if bolt.auto_fail:
                self.failed.extend(tups)
            raise
        finally:
            self._batch = None
        if bolt.auto_ack:
            self.acked.extend(tups)


def component_harness(
    component: Any,
    name: str | None = None,
    *,
    conf: dict[str, Any] | None = None,
    context: Any = None,
    task_index: int = 0,
    fields: Sequence[str] | None = None,
) -> ComponentHarness:
    """One spout or bolt, initialized alone for a unit test (a ``ComponentHarness``).

    ``component`` is a Spout or Bolt class (or an instance), or a Topology class with ``name``
    naming one of its components: then its config, inputs and a context of that topology are
    used (``task_index``: which of its tasks). ``conf`` overrides the config it gets (defaults <
    topology < component < ``conf``); ``context`` replaces the ``TopologyContext``. ``fields``
    names the values ``process([...])`` gets (default: the input's fields when ``component`` is
    a topology, else ``f0, f1, ...``).

        bolt = component_harness(WordCountBolt)
        bolt.process(["dog"])
        assert bolt.emitted["default"] == [("dog", 10)] and len(bolt.acked) == 1
    """
    topo_config: dict[str, Any] = {}
    if isinstance(component, type) and issubclass(component, Topology):
        topology: Any = component
        if name not in topology.components:
            hint = did_you_mean(name, list(topology.components))
            raise SquallError(
                f"topology {topology.__name__} has no component {name!r}"
                + (f": {hint}" if hint else "")
                + f" (its components: {', '.join(topology.components)})"
            )
        components = dict(topology.components)
        d = components[name]
        topo_config, topo_name = dict(topology.config), topology.__name__
        instance = d.cls()
    else:
        instance = component() if isinstance(component, type) else component
        if not isinstance(instance, (Spout, Bolt)):
            raise SquallError(f"component_harness needs a Spout or Bolt (class or instance), got {component!r}")
        cls = type(instance)
        outputs, problems = normalize_outputs(cls.outputs)
        if problems:
            raise SquallError(f"{cls.__name__}: " + "; ".join(problems))
        name = name or cls.__name__
        kind = "spout" if isinstance(instance, Spout) else "bolt"
        d = ComponentDef(name, cls, kind, 1, dict(cls.config or {}), outputs)
        components, topo_name = {name: d}, f"{cls.__name__}Harness"
    plan = make_plan(components, 1, 0)
    tasks = plan.component_tasks[d.name]
    task = tasks[task_index]
    base = topology_conf(topo_config, {"topology.workers": 1}, components.values())
    full = component_conf(base, d.config)
    full[TRY_SERIALIZE] = True  # as in complete_topology; conf may turn it off
    full.update(conf or {})
    full["topology.name"] = full.get("topology.name") or topo_name
    ctx = context if context is not None else TopologyContext(full["topology.name"], task, components, plan, 0)
    return ComponentHarness(instance, d, full, ctx, task, fields)
