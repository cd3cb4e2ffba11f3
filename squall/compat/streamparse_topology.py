"""Read a streamparse ``Topology`` class into Squall's model.

streamparse's own metaclass has already run when the user's file was imported: it refused what
streamparse refuses (duplicate names, a bolt without inputs, a spout without outputs, unknown
streams or fields, ``par`` < 1 ...). What it built is read from ``Topology.specs`` (each spec's
``name``, ``component_cls``, ``inputs`` {GlobalStreamId: thrift Grouping}, ``outputs``
{stream: StreamInfo}, ``par``, ``config`` as JSON, ``component_object``) and the class's ``config``,
and becomes a Squall ``Topology`` class: Squall's own checks then run on it, as on one written with
``squall.Topology``. Python components run in-process (``pystorm_components``); Java ones are
refused; a ``ShellBolt``/``ShellSpout`` with its own command becomes Squall's multilang spec.
"""

from __future__ import annotations

import importlib
import json
import linecache
import os
import sys
from typing import Any

from squall.errors import InvalidTopologyError, Problem, TopologyLoadError
from squall.topology.dsl import Topology, TopologyType
from squall.topology.grouping import Grouping
from squall.topology.spec import ComponentSpec, StreamId
from squall.topology.stream import Stream

#: the Java class streamparse users name for Storm's partial key grouping (``Grouping.custom_object``)
PARTIAL_KEY_CLASS = "org.apache.storm.grouping.PartialKeyGrouping"
#: the environment variable naming the streamparse environment a ``par`` dict ({env: n}) is read for
ENV_VAR = "SQUALL_ENV"
#: the command streamparse puts in the spec of a Python component (``X.spec()``)
STREAMPARSE_RUN = "streamparse_run"


def is_streamparse_topology(obj: object) -> bool:
    """True for a subclass of streamparse's ``Topology`` (never imports streamparse)."""
    dsl = sys.modules.get("streamparse.dsl.topology")
    if dsl is None or not isinstance(obj, type):
        return False
    return isinstance(obj, dsl.TopologyType) and obj is not dsl.Topology


def to_squall(topology: type) -> type[Topology]:
    """The Squall ``Topology`` class of a streamparse ``Topology`` class (made once per class).

    :raises InvalidTopologyError: a component Squall cannot run (Java, a custom Java grouping, a
        ``par`` dict without an environment) or what Squall's own checks refuse, all listed.
    """
    done = topology.__dict__.get("_squall_topology")
    if done is not None:
        return done  # type: ignore[no-any-return]
    problems: list[Problem] = []
    ns: dict[str, Any] = {
        "__module__": topology.__module__,
        "__qualname__": topology.__qualname__,
        "__doc__": topology.__doc__,
        "config": dict(getattr(topology, "config", None) or {}),
    }
    specs = list(topology.specs)  # type: ignore[attr-defined]
    fields = {(s.name, stream): list(info.output_fields) for s in specs for stream, info in s.outputs.items()}
    for spec in specs:
        squall_spec = _component(spec, fields, problems)
        if squall_spec is not None:
            ns[spec.name] = squall_spec
    if problems:
        raise InvalidTopologyError(topology.__name__, problems)
    converted = TopologyType(topology.__name__, (Topology,), ns)
    type.__setattr__(topology, "_squall_topology", converted)
    return converted  # type: ignore[return-value]


def _component(spec: Any, fields: dict[tuple[str, str], list[str]], problems: list[Problem]) -> ComponentSpec | None:
    from streamparse.dsl.bolt import JavaBoltSpec, ShellBoltSpec
    from streamparse.dsl.component import JavaComponentSpec

    name = spec.name
    is_bolt = isinstance(spec, (JavaBoltSpec, ShellBoltSpec))
    kind = "JavaBolt" if is_bolt else "JavaSpout"
    if isinstance(spec, JavaComponentSpec):
        java = spec.component_object.java_object
        what = java.full_class_name if java is not None else "serialized Java"
        problems.append(
            Problem(
                name,
                f"is a {kind} ({what}): Squall runs no JVM, so Java components cannot run",
                f"write it in Python as a {'Bolt' if is_bolt else 'Spout'} subclass (streamparse's or "
                f"squall.{'Bolt' if is_bolt else 'Spout'}: e.g. a Kafka spout with a Python Kafka client), "
                "or as a multilang ShellBolt/ShellSpout",
            )
        )
        return None
    outputs = [Stream(list(info.output_fields), stream, bool(info.direct)) for stream, info in spec.outputs.items()]
    par = _par(spec, problems)
    config = json.loads(spec.config) if isinstance(spec.config, str) else dict(spec.config or {})
    inputs = {
        StreamId(sid.componentId, sid.streamId): _grouping(name, sid, g, fields, problems)
        for sid, g in spec.inputs.items()
    }
    shell = spec.component_object.shell
    from pystorm.component import Component as PystormComponent

    if (
        shell is not None
        and shell.execution_command == STREAMPARSE_RUN
        and issubclass(spec.component_cls, PystormComponent)
    ):
        from squall.compat.pystorm_components import in_process_class

        cls = in_process_class(spec.component_cls)
        if getattr(spec.component_cls, "secs_between_batches", None) is not None and issubclass(
            spec.component_cls, sys.modules["pystorm.bolt"].TicklessBatchingBolt
        ):
            config.setdefault("topology.tick.tuple.freq.secs", spec.component_cls.secs_between_batches)
        return ComponentSpec(
            cls, name=name, inputs=inputs if is_bolt else None, par=par, config=config, outputs=outputs
        )
    return _shell(spec, is_bolt, inputs, par, config, outputs, problems)


def _shell(
    spec: Any, is_bolt: bool, inputs: Any, par: Any, config: Any, outputs: Any, problems: list[Problem]
) -> ComponentSpec | None:
    """A ``ShellBolt.spec(command=..., script=...)``: Squall's multilang ShellBolt/ShellSpout."""
    shell = spec.component_object.shell
    try:
        module = importlib.import_module("squall.topology.shell")
    except ImportError:
        problems.append(
            Problem(
                spec.name,
                f"is a multilang Shell{'Bolt' if is_bolt else 'Spout'} ({shell.execution_command} "
                f"{shell.script}), which this Squall cannot run yet",
                "write it as a Python Bolt/Spout",
            )
        )
        return None
    cls = module.ShellBolt if is_bolt else module.ShellSpout
    kwargs: dict[str, Any] = {"command": shell.execution_command, "script": shell.script, "outputs": outputs}
    if is_bolt:
        kwargs["inputs"] = inputs
    spec_out: ComponentSpec = cls.spec(name=spec.name, par=par, config=config, **kwargs)
    return spec_out


def _par(spec: Any, problems: list[Problem]) -> Any:
    par = spec.par
    if not isinstance(par, dict):
        return par
    env = os.environ.get(ENV_VAR)
    if env is not None and env in par:
        return par[env]
    if env is None and len(par) == 1:
        return next(iter(par.values()))
    problems.append(
        Problem(
            spec.name,
            f"par is per environment ({par!r}) and "
            + (f"${ENV_VAR}={env!r} is not one of them" if env is not None else f"${ENV_VAR} names none"),
            f"set {ENV_VAR} to one of {sorted(par)}",
        )
    )
    return 1


def _grouping(
    component: str, sid: Any, g: Any, fields: dict[tuple[str, str], list[str]], problems: list[Problem]
) -> Grouping:
    """streamparse's thrift Grouping (exactly one field set) as Squall's."""
    if g.fields is not None:
        return Grouping.fields(list(g.fields)) if g.fields else Grouping.GLOBAL
    for attr, grouping in (
        ("shuffle", Grouping.SHUFFLE),
        ("all", Grouping.ALL),
        ("none", Grouping.NONE),
        ("direct", Grouping.DIRECT),
        ("local_or_shuffle", Grouping.LOCAL_OR_SHUFFLE),
    ):
        if getattr(g, attr, None) is not None:
            return grouping
    custom = getattr(g, "custom_object", None)
    if custom is not None and custom.full_class_name == PARTIAL_KEY_CLASS:
        # its arguments are the key's field names; none: the whole tuple is the key (Storm's default)
        names = [v for a in custom.args_list or [] for v in vars(a).values() if isinstance(v, str)]
        return Grouping.partial_key(names or fields.get((sid.componentId, sid.streamId), []))
    what = custom.full_class_name if custom is not None else "a serialized Java grouping"
    problems.append(
        Problem(
            component,
            f"input {sid.componentId}[{sid.streamId!r}] uses a custom Java grouping ({what}), "
            "which cannot run without a JVM",
            "use a Python grouping: squall.Grouping.custom(obj) with prepare() and choose_tasks()",
        )
    )
    return Grouping.SHUFFLE


def load_error(what: str, exc: BaseException) -> TopologyLoadError | None:
    """A clear message for streamparse refusing a topology while its file was imported (its DSL
    raises ValueError/TypeError/KeyError from the class statement), or for streamparse missing."""
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("streamparse", "pystorm", "thriftpy2", "simplejson"):
        return TopologyLoadError(
            f"cannot load {what}: it imports {exc.name}, which is not installed here; "
            "install Squall with streamparse support: pip install 'squall[streamparse]'"
        )
    sp = sys.modules.get("streamparse")
    if sp is None or not isinstance(exc, (ValueError, TypeError, KeyError)):
        return None
    sp_dir = os.path.dirname(os.path.abspath(sp.__file__ or "")) + os.sep
    tb = exc.__traceback__
    user: tuple[str, int, str] | None = None  # the innermost frame of the user's code
    inner = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if not os.path.abspath(code.co_filename).startswith(sp_dir):
            user = (code.co_filename, tb.tb_lineno, code.co_name)
        inner = code.co_filename
        tb = tb.tb_next
    if inner is None or not os.path.abspath(inner).startswith(sp_dir) or user is None:
        return None
    filename, line, where = user
    if where.startswith("<"):  # raised by the class statement itself (the metaclass): its line names the class
        words = linecache.getline(filename, line).replace("(", " ").replace(":", " ").split()
        where = words[1] if len(words) > 1 and words[0] == "class" else ""
    in_class = f" (class {where})" if where else ""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return TopologyLoadError(
        f"streamparse refuses the topology in {filename}, line {line}{in_class}: {type(exc).__name__}: {message}"
    )
