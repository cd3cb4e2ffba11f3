"""Check a topology before anything starts and report *every* problem, each with its fix.

``resolve(topology_name, named_specs)`` turns user specs into ``ComponentDef``s and a list of
``Problem``s; the Topology metaclass raises ``InvalidTopologyError`` when that list is not empty.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from squall.errors import Problem
from squall.topology.config import component_conf
from squall.topology.grouping import (
    CUSTOM,
    DIRECT,
    FIELDS,
    KINDS,
    PARTIAL_KEY,
    Grouping,
)
from squall.topology.spec import ComponentDef, ComponentSpec, InputDef, StreamId
from squall.topology.stream import DEFAULT_STREAM, Stream, normalize_outputs

AddProblem = Callable[[Problem], None]


def did_you_mean(word: object, choices: list[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def _kind_of(cls: Any) -> str | None:
    from squall.topology.bolt import Bolt
    from squall.topology.spout import Spout

    if isinstance(cls, type) and issubclass(cls, Spout):
        return "spout"
    if isinstance(cls, type) and issubclass(cls, Bolt):
        return "bolt"
    return None


def _is_shell(cls: Any) -> bool:
    from squall.topology.shell import is_shell

    return is_shell(cls)


def _shell_problems(cls: Any) -> list[tuple[str, str]]:
    """A ShellBolt / ShellSpout's problems (a missing script...), as ``(problem, fix)``."""
    out: list[tuple[str, str]] = cls.shell_problems() if _is_shell(cls) else []
    return out


def _raw_inputs(spec: ComponentSpec) -> list[tuple[Any, Grouping | None]]:
    inputs = spec.inputs
    if inputs is None:
        return []
    if isinstance(inputs, dict):
        return list(inputs.items())
    if isinstance(inputs, (list, tuple)):
        return [(key, None) for key in inputs]
    return [(inputs, None)]


def resolve(
    topology: str,
    named: list[tuple[str, ComponentSpec]],
    stray: Sequence[tuple[str, Any]] = (),
    config: dict[str, Any] | None = None,
) -> tuple[list[ComponentDef], list[Problem]]:
    """Validate ``named`` (attribute name, spec) pairs; return the resolved defs and all problems.

    ``config`` is the topology's own config (what a component's config falls back on)."""
    problems: list[Problem] = []
    add = problems.append

    for attr, value in stray:
        add(
            Problem(
                attr,
                f"class attribute {attr} = {value!r} is a component, not a spec",
                f"write {attr} = {getattr(value, '__name__', type(value).__name__)}.spec(...)",
            )
        )
    name_of, named = _names(named, add)
    kinds, outputs = _kinds_and_outputs(named, name_of, add)

    # Inputs.
    all_names = list(outputs)
    defs: list[ComponentDef] = []
    n_spouts = 0
    for _attr, spec in named:
        name = name_of[id(spec)]
        kind = kinds[name]
        if kind == "spout":
            n_spouts += 1
        resolved = _inputs(name, kind, spec, name_of, outputs, all_names, add)
        if kind is not None:
            concurrency, mode = _concurrency(name, kind, spec, add)
            if _is_shell(spec.component_cls):
                mode = "shell"  # a subprocess per task: squall.runtime.multilang
            d = _component_def(name, kind, spec, outputs[name], resolved, concurrency, mode)
            _check_ticks(d, config or {}, add)
            _check_config(d, config or {}, add)
            defs.append(d)
    _check_windows(defs, config or {}, add)
    _check_state(defs, config or {}, add)
    if named and n_spouts == 0:
        add(Problem(topology, "the topology has no spout", "add a Spout: word_spout = WordSpout.spec()"))
    if not named and not stray:
        add(Problem(topology, "the topology has no components", "declare them as class attributes: x = MySpout.spec()"))
    return defs, problems


def _names(
    named: list[tuple[str, ComponentSpec]], add: AddProblem
) -> tuple[dict[int, str], list[tuple[str, ComponentSpec]]]:
    """Each spec's name (its attribute name unless spec(name=...) overrides it), by ``id(spec)``;
    and ``named`` without a second attribute holding the same spec object."""
    name_of: dict[int, str] = {}
    seen: dict[str, str] = {}
    first_attr: dict[int, str] = {}
    for attr, spec in named:
        if id(spec) in first_attr:
            add(
                Problem(
                    attr,
                    f"attributes '{first_attr[id(spec)]}' and '{attr}' are the same spec object",
                    f"declare another spec: {attr} = {spec.component_cls.__name__}.spec(...)",
                )
            )
            continue
        first_attr[id(spec)] = attr
        name = spec.name or attr
        if not isinstance(name, str) or not name:
            add(Problem(attr, f"component name {name!r} is not a non-empty string", "pass name='...' to spec()"))
            name = attr
        if name in seen:
            add(
                Problem(
                    name,
                    f"two components are named '{name}' (attributes '{seen[name]}' and '{attr}')",
                    "give one of them another name with spec(name=...)",
                )
            )
        seen[name] = attr
        if name.startswith("__"):
            add(Problem(name, "names starting with '__' are reserved for system components", "rename it"))
        name_of[id(spec)] = name
    return name_of, [(attr, spec) for attr, spec in named if first_attr.get(id(spec)) == attr]


def _kinds_and_outputs(
    named: list[tuple[str, ComponentSpec]], name_of: dict[int, str], add: AddProblem
) -> tuple[dict[str, str | None], dict[str, dict[str, Stream]]]:
    """Each component's kind (None: neither a Spout nor a Bolt) and declared streams; checks par and config."""
    outputs: dict[str, dict[str, Stream]] = {}
    kinds: dict[str, str | None] = {}
    for _attr, spec in named:
        name = name_of[id(spec)]
        kind = _kind_of(spec.component_cls)
        kinds[name] = kind
        if kind is None:
            add(
                Problem(
                    name,
                    f"{spec.component_cls!r} is not a Spout or Bolt subclass",
                    "derive the class from squall.Spout or squall.Bolt",
                )
            )
        for text, fix in _shell_problems(spec.component_cls):
            add(Problem(name, text, fix))
        par = spec.par
        if isinstance(par, bool) or not isinstance(par, int) or par < 1:
            add(
                Problem(name, f"par={par!r} is invalid", "set par to a positive integer (the number of parallel tasks)")
            )
        if spec.config is not None and not isinstance(spec.config, dict):
            add(Problem(name, f"config={spec.config!r} is not a dict", "pass config={'key': value}"))
        streams, output_problems = normalize_outputs(spec.outputs)
        for text in output_problems:
            add(Problem(name, text, "declare outputs = ['field', ...] or [Stream([...], name='...'), ...]"))
        outputs[name] = streams
    return kinds, outputs


def _inputs(
    name: str,
    kind: str | None,
    spec: ComponentSpec,
    name_of: dict[int, str],
    outputs: dict[str, dict[str, Stream]],
    all_names: list[str],
    add: AddProblem,
) -> list[InputDef]:
    """The resolved subscriptions of one component (a spout has none)."""
    raw = _raw_inputs(spec)
    if kind == "spout":
        if raw:
            add(Problem(name, "a spout cannot have inputs", "remove inputs=..., or make it a Bolt"))
        raw = []
    elif kind == "bolt" and not raw:
        add(
            Problem(
                name,
                "a bolt needs at least one input",
                "pass inputs=[some_spout] (or a dict with groupings) to spec()",
            )
        )
    resolved: list[InputDef] = []
    for key, grouping in raw:
        inp = _resolve_input(name, key, grouping, name_of, outputs, all_names, add)
        if inp is None:
            continue
        if any((i.component, i.stream) == (inp.component, inp.stream) for i in resolved):
            add(
                Problem(
                    name,
                    f"subscribes twice to '{inp.component}' stream '{inp.stream}'",
                    "keep one subscription per stream",
                )
            )
        resolved.append(inp)
    return resolved


def _component_def(
    name: str,
    kind: str,
    spec: ComponentSpec,
    outputs: dict[str, Stream],
    inputs: list[InputDef],
    concurrency: int = 1,
    mode: str = "sync",
) -> ComponentDef:
    par = spec.par if isinstance(spec.par, int) and not isinstance(spec.par, bool) and spec.par > 0 else 1
    return ComponentDef(
        name=name,
        cls=spec.component_cls,
        kind=kind,
        par=par,
        config=dict(spec.config) if isinstance(spec.config, dict) else {},
        outputs=outputs,
        inputs=tuple(inputs),
        concurrency=concurrency,
        mode=mode,
    )


#: Methods the runtime calls that must be plain ``def`` (only the main method may be ``async def``;
#: ``initialize``, ``cleanup`` and ``close`` may be too: they are run to completion).
PLAIN_METHODS = ("ack", "fail", "activate", "deactivate", "process_tick", "process_batch", "group_key")
MODES = ("async", "threads")


def _concurrency(name: str, kind: str, spec: ComponentSpec, add: AddProblem) -> tuple[int, str]:
    """``(concurrency, mode)`` of a component: mode "sync", "async" or "threads" (see ComponentDef)."""
    from squall.topology.bolt import BatchingBolt

    cls = spec.component_cls
    method = "next_tuple" if kind == "spout" else "process"
    fn = getattr(cls, method, None)
    for other in PLAIN_METHODS:
        if inspect.iscoroutinefunction(getattr(cls, other, None)):
            add(
                Problem(
                    name,
                    f"{cls.__name__}.{other} is async def, which the runtime would never await",
                    f"make {other} a plain def (only {method}, initialize, cleanup and close may be async def)",
                )
            )
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        add(
            Problem(
                name,
                f"{cls.__name__}.{method} contains yield: it would return a generator that nothing runs",
                "emit with self.emit(values) instead of yield",
            )
        )
    n, mode = spec.concurrency, spec.concurrency_mode
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        add(
            Problem(
                name,
                f"concurrency={n!r} is invalid",
                f"set concurrency to a positive integer (calls of {method} in flight per task)",
            )
        )
        n = 1
    if mode is not None and mode not in MODES:
        add(
            Problem(
                name, f"concurrency_mode={mode!r} is invalid", f"use one of {list(MODES)}, or None (async def: async)"
            )
        )
        return n, "sync"  # one problem at a time for this declaration
    is_async = inspect.iscoroutinefunction(fn)
    if isinstance(cls, type) and issubclass(cls, BatchingBolt) and (n != 1 or mode is not None or is_async):
        add(
            Problem(
                name,
                "a BatchingBolt runs its batches on the worker's loop: it takes no concurrency",
                "drop concurrency / concurrency_mode, or derive from Bolt",
            )
        )
        return 1, "sync"
    if mode == "threads" and is_async:
        add(
            Problem(
                name,
                f"concurrency_mode='threads' but {cls.__name__}.{method} is async def",
                "drop concurrency_mode: async def runs on the worker's event loop",
            )
        )
    elif mode == "async" and not is_async:
        add(
            Problem(
                name,
                f"concurrency_mode='async' but {cls.__name__}.{method} is a plain def",
                f"declare async def {method}, or set concurrency_mode = 'threads' for blocking code",
            )
        )
    elif mode is None and not is_async and n > 1:
        add(
            Problem(
                name,
                f"concurrency={n} but {cls.__name__}.{method} is a plain def: one call at a time on the worker's loop",
                f"set concurrency_mode = 'threads' to run it on {n} threads per task, or declare async def {method}",
            )
        )
    if is_async:
        return n, "async"
    return n, "threads" if mode == "threads" else "sync"


def _resolve_input(
    consumer: str,
    key: Any,
    grouping: Any,
    name_of: dict[int, str],
    outputs: dict[str, dict[str, Stream]],
    all_names: list[str],
    add: AddProblem,
) -> InputDef | None:
    source = _source(consumer, key, name_of, outputs, all_names, add)
    if source is None:
        return None
    src_name, stream = source
    s = outputs[src_name][stream]
    if grouping is None:
        grouping = Grouping.DIRECT if s.direct else Grouping.SHUFFLE
    if not isinstance(grouping, Grouping) or grouping.kind not in KINDS:
        add(
            Problem(
                consumer,
                f"input '{src_name}' stream '{stream}': {grouping!r} is not a Grouping",
                "use Grouping.SHUFFLE, Grouping.fields('f'), Grouping.ALL, ...",
            )
        )
        return None
    _check_grouping(consumer, src_name, stream, s, grouping, add)
    return InputDef(component=src_name, stream=stream, grouping=grouping)


def _source(
    consumer: str,
    key: Any,
    name_of: dict[int, str],
    outputs: dict[str, dict[str, Stream]],
    all_names: list[str],
    add: AddProblem,
) -> tuple[str, str] | None:
    """The (component name, stream) an input key names, if the topology declares both."""
    stream = DEFAULT_STREAM
    source: Any = key
    if isinstance(key, StreamId):
        source, stream = key.component, key.stream
    if isinstance(source, ComponentSpec):
        src_name = name_of.get(id(source))
        if src_name is None:
            cls_name = getattr(source.component_cls, "__name__", repr(source.component_cls))
            add(
                Problem(
                    consumer,
                    f"input {source.label!r} ({cls_name}) is not part of this topology",
                    "declare that spec as a class attribute of the topology too",
                )
            )
            return None
    elif isinstance(source, str):
        src_name = source
        if src_name not in outputs:
            hint = did_you_mean(src_name, all_names)
            add(
                Problem(
                    consumer,
                    f"unknown input component '{src_name}'",
                    hint or f"use one of: {', '.join(all_names) or '(none)'}",
                )
            )
            return None
    else:
        add(
            Problem(
                consumer,
                f"input {key!r} is not a component spec, spec['stream'] or component name",
                "use inputs={other_spec: Grouping...} or inputs=[other_spec]",
            )
        )
        return None

    streams = outputs[src_name]
    if stream not in streams:
        declared = list(streams)
        hint = did_you_mean(stream, declared)
        add(
            Problem(
                consumer,
                f"input '{src_name}' has no stream '{stream}' (it declares: {declared or 'no outputs'})",
                hint or f"subscribe to one of {declared}, or declare the stream in {src_name}'s outputs",
            )
        )
        return None
    return src_name, stream


def _check_grouping(consumer: str, src_name: str, stream: str, s: Stream, grouping: Grouping, add: AddProblem) -> None:
    """Problems of ``grouping`` on stream ``s`` (fields it lacks, direct mismatches, custom objects)."""
    if grouping.kind in (FIELDS, PARTIAL_KEY):
        for f in grouping.field_names:
            if f not in s.fields:
                hint = did_you_mean(f, list(s.fields))
                add(
                    Problem(
                        consumer,
                        f"{grouping!r} on input '{src_name}' stream '{stream}', which has no field '{f}' "
                        f"(it declares {list(s.fields)})",
                        hint or "group on one of the declared fields, or add the field to the stream's outputs",
                    )
                )
        if grouping.kind == PARTIAL_KEY and not grouping.field_names:
            add(Problem(consumer, "Grouping.partial_key() needs at least one field", "name the key field(s)"))
    if grouping.kind == DIRECT and not s.direct:
        add(
            Problem(
                consumer,
                f"Grouping.DIRECT on input '{src_name}' stream '{stream}', which is not declared direct",
                f"declare Stream({list(s.fields)}, name='{stream}', direct=True) in {src_name}.outputs, "
                "or use another grouping",
            )
        )
    if s.direct and grouping.kind != DIRECT:
        add(
            Problem(
                consumer,
                f"input '{src_name}' stream '{stream}' is direct but subscribed with {grouping!r}",
                "subscribe to a direct stream with Grouping.DIRECT",
            )
        )
    if grouping.kind == CUSTOM:
        obj = grouping.custom_obj
        if not callable(getattr(obj, "choose_tasks", None)) or not callable(getattr(obj, "prepare", None)):
            add(
                Problem(
                    consumer,
                    f"custom grouping {obj!r} lacks prepare(context, stream, targets) / choose_tasks(task_id, values)",
                    "implement both methods",
                )
            )


def _check_config(d: ComponentDef, topology_config: dict[str, Any], add: AddProblem) -> None:
    """The component's own checks of its config (``Component.config_problems``: connectors' keys)."""
    check = getattr(d.cls, "config_problems", None)
    if not callable(check):
        return
    for text, fix in check(component_conf(topology_config, d.config)):
        add(Problem(d.name, text, fix))


def _check_windows(defs: list[ComponentDef], topology_config: dict[str, Any], add: AddProblem) -> None:
    """Windowed bolts: a usable window, and (Storm's rule) trees that can wait in a window: the
    message timeout above length + every, and a spout pending limit set for a window's worth."""
    from squall.topology.windowed_bolt import WindowedBolt, window_problems

    spouts = [d for d in defs if d.kind == "spout"]
    by_name = {d.name: d for d in defs}
    for d in defs:
        if isinstance(d.cls, type) and issubclass(d.cls, WindowedBolt):
            conf = component_conf(topology_config, d.config)
            upstream = _upstream(d.name, by_name)
            spout_confs = [
                (s.name, s.par, component_conf(topology_config, s.config)) for s in spouts if s.name in upstream
            ]
            inputs = {
                f"{i.component}:{i.stream}": by_name[i.component].outputs[i.stream].fields
                for i in d.inputs
                if i.component in by_name and i.stream in by_name[i.component].outputs
            }
            for text, fix in window_problems(d.cls, inputs, conf, spout_confs):
                add(Problem(d.name, text, fix))


def _check_state(defs: list[ComponentDef], topology_config: dict[str, Any], add: AddProblem) -> None:
    """A topology with a StatefulBolt is checkpointed: every spout must rewind (else its state would be
    at-least-once), run on the worker's thread (its position is read between two calls), and
    nothing may hold tuples across checkpoints where a rollback cannot find them (windows, shells)."""
    from squall.topology.spout import rewindable
    from squall.topology.stateful_bolt import is_stateful
    from squall.topology.windowed_bolt import WindowedBolt

    stateful = [d.name for d in defs if is_stateful(d.cls)]
    if not stateful:
        return
    why = f"the topology checkpoints state ({', '.join(stateful)} is a StatefulBolt)"
    interval = topology_config.get("topology.state.checkpoint.interval.ms", 1000)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval <= 0:
        add(
            Problem(
                stateful[0],
                f"topology.state.checkpoint.interval.ms is {interval!r}",
                "set it to a positive number of milliseconds (Storm's default: 1000)",
            )
        )
    for d in defs:
        name = getattr(d.cls, "__name__", str(d.cls))
        if d.kind == "spout" and not rewindable(d.cls):
            add(
                Problem(
                    d.name,
                    f"{why}, but spout {name} cannot rewind (it has no position() and seek()): after a crash "
                    "the state would count its tuples again",
                    "use a spout that rewinds (FileSpout, KafkaSpout, RedisStreamSpout) or implement "
                    "position(), seek(position) and commit(position) (docs/state.md)",
                )
            )
        elif d.kind == "spout" and d.mode != "sync":
            add(
                Problem(
                    d.name,
                    f"{why}, but spout {name} runs {d.mode}: its position is read between two next_tuple calls",
                    "make next_tuple a plain def without concurrency_mode (it must not block)",
                )
            )
        if d.mode == "shell":
            add(
                Problem(
                    d.name,
                    f"{why}, but {name} runs in a multilang subprocess, which checkpoints do not reach yet",
                    "port it to a Python Bolt, or run it in a topology without StatefulBolts",
                )
            )
        if isinstance(d.cls, type) and issubclass(d.cls, WindowedBolt):
            add(
                Problem(
                    d.name,
                    f"{why}, but {name} is a WindowedBolt: the tuples its windows hold are not checkpointed, so a "
                    "rollback would lose them",
                    "run windows in a topology without StatefulBolts (at-least-once), or keep rolling counts "
                    "in a StatefulBolt's state keyed by time bucket",
                )
            )


def _upstream(name: str, by_name: dict[str, ComponentDef]) -> set[str]:
    """Every component whose tuples can reach ``name``."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        d = by_name.get(todo.pop())
        for i in d.inputs if d is not None else ():
            if i.component not in seen:
                seen.add(i.component)
                todo.append(i.component)
    return seen


def _check_ticks(d: ComponentDef, topology_config: dict[str, Any], add: AddProblem) -> None:
    """A BatchingBolt flushes its batches on tick tuples: without them it would never process one."""
    from squall.topology.bolt import BatchingBolt

    if not (isinstance(d.cls, type) and issubclass(d.cls, BatchingBolt)):
        return
    key = "topology.tick.tuple.freq.secs"
    if d.config.get(key, topology_config.get(key)):
        return
    add(
        Problem(
            d.name,
            f"{d.cls.__name__} is a BatchingBolt but {key} is not set for it: with no tick tuples "
            "its batches are never processed",
            f"give it ticks, e.g. {d.cls.__name__}.spec(..., config={{'{key}': 1}}), or set "
            f"config = {{'{key}': 1}} in the bolt class or the topology",
        )
    )
