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
#: how Python components run: "inprocess" (the default) or "multilang" (a subprocess per task);
#: the component's config, else the topology's, else the environment variable, decides
MODE_KEY = "squall.streamparse.mode"
MODE_ENV = "SQUALL_STREAMPARSE_MODE"
MODES = ("inprocess", "multilang")


def is_streamparse_topology(obj: object) -> bool:
    """True for a subclass of streamparse's ``Topology`` (never imports streamparse)."""
    dsl = sys.modules.get("streamparse.dsl.topology")
    if dsl is None or not isinstance(obj, type):
        return False
    return isinstance(obj, dsl.TopologyType) and obj is not dsl.Topology


def to_squall(topology: type) -> type[Topology]:
    """The Squall ``Topology`` class of a streamparse ``Topology`` class (made once per class and
    environment: ``$SQUALL_ENV``, ``$SQUALL_STREAMPARSE_MODE``).

    :raises InvalidTopologyError: a component Squall cannot run (Java, a custom Java grouping, a
        ``par`` dict without an environment) or what Squall's own checks refuse, all listed.
    """
    made: dict[Any, type[Topology]] = topology.__dict__.get("_squall_topologies") or {}
    key = (os.environ.get(ENV_VAR), os.environ.get(MODE_ENV))  # what else decides the result
    if key in made:
        return made[key]
    problems: list[Problem] = []
    ns: dict[str, Any] = {
        "__module__": topology.__module__,
        "__qualname__": topology.__qualname__,
        "__doc__": topology.__doc__,
        "config": dict(getattr(topology, "config", None) or {}),
    }
    specs = list(topology.specs)  # type: ignore[attr-defined]
    base_dir = _base_dir(topology)
    fields = {(s.name, stream): list(info.output_fields) for s in specs for stream, info in s.outputs.items()}
    for spec in specs:
        squall_spec = _component(spec, fields, problems, base_dir, ns["config"])
        if squall_spec is not None:
            ns[spec.name] = squall_spec
    if problems:
        raise InvalidTopologyError(topology.__name__, problems)
    converted: type[Topology] = TopologyType(topology.__name__, (Topology,), ns)  # type: ignore[assignment]
    made[key] = converted
    type.__setattr__(topology, "_squall_topologies", made)
    return converted


def _component(
    spec: Any, fields: dict[tuple[str, str], list[str]], problems: list[Problem], base_dir: str, topo: dict[str, Any]
) -> ComponentSpec | None:
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
        if _mode(name, config, topo, problems) == "multilang":
            return _streamparse_run(spec, is_bolt, inputs, par, config, outputs, problems)
        from squall.compat.pystorm_components import in_process_class

        cls = in_process_class(spec.component_cls)
        if getattr(spec.component_cls, "secs_between_batches", None) is not None and issubclass(
            spec.component_cls, sys.modules["pystorm.bolt"].TicklessBatchingBolt
        ):
            config.setdefault("topology.tick.tuple.freq.secs", spec.component_cls.secs_between_batches)
        return ComponentSpec(
            cls, name=name, inputs=inputs if is_bolt else None, par=par, config=config, outputs=outputs
        )
    return _shell(spec, is_bolt, inputs, par, config, outputs, problems, base_dir)


def _shell(
    spec: Any, is_bolt: bool, inputs: Any, par: Any, config: Any, outputs: Any, problems: list[Problem], base_dir: str
) -> ComponentSpec | None:
    """A ``ShellBolt.spec(command=..., script=...)``: Squall's multilang ShellBolt/ShellSpout.

    streamparse's ``script`` holds the command's arguments separated by spaces: the first is the
    script, the rest go after it. Storm runs the command in the topology jar's resources, which a
    streamparse project fills from ``src/``: the script is looked for there first (``base_dir``).
    """
    shell = spec.component_object.shell
    try:
        module = importlib.import_module("squall.topology.shell")
    except ImportError:
        problems.append(
            Problem(
                spec.name,
                f"is a multilang Shell{'Bolt' if is_bolt else 'Spout'} ({shell.execution_command} "
                f"{shell.script}), which this Squall cannot run",
                "write it as a Python Bolt/Spout",
            )
        )
        return None
    words = str(shell.script).split()
    cls = module.ShellBolt if is_bolt else module.ShellSpout
    kwargs: dict[str, Any] = {
        "command": shell.execution_command,
        "script": words[0] if words else None,
        "args": words[1:],
        "outputs": outputs,
        "base_dir": base_dir,
    }
    if is_bolt:
        kwargs["inputs"] = inputs
    spec_out: ComponentSpec = cls.spec(name=spec.name, par=par, config=config, **kwargs)
    return spec_out


def _mode(name: str, config: dict[str, Any], topo: dict[str, Any], problems: list[Problem]) -> str:
    mode = config.get(MODE_KEY) or topo.get(MODE_KEY) or os.environ.get(MODE_ENV) or "inprocess"
    if mode not in MODES:
        problems.append(Problem(name, f"{MODE_KEY}={mode!r} is not a mode", f"use one of {list(MODES)}"))
    return str(mode)


def _streamparse_run(
    spec: Any, is_bolt: bool, inputs: Any, par: Any, config: Any, outputs: Any, problems: list[Problem]
) -> ComponentSpec | None:
    """A Python component as Storm runs it: ``python -m streamparse.run module.Class`` per task,
    a multilang subprocess, from the folder its module's top package is in (streamparse.run puts
    the current directory on ``sys.path``)."""
    cls = spec.component_cls
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        problems.append(Problem(spec.name, f"{cls.__qualname__} has no module file a subprocess could import"))
        return None
    root = os.path.dirname(os.path.abspath(path))
    for _ in range(cls.__module__.count(".")):
        root = os.path.dirname(root)
    kwargs: dict[str, Any] = {
        "command": sys.executable,
        "script": None,
        "args": ["-m", "streamparse.run", spec.component_object.shell.script],
        "outputs": outputs,
        "base_dir": root,
    }
    shell = importlib.import_module("squall.topology.shell")
    if is_bolt:
        kwargs["inputs"] = inputs
    out: ComponentSpec = (shell.ShellBolt if is_bolt else shell.ShellSpout).spec(
        name=spec.name, par=par, config=config, **kwargs
    )
    return out


def _base_dir(topology: type) -> str:
    """Where a multilang script is looked for: the project's ``src/`` (what streamparse ships as the
    jar's resources) when there is one beside ``topologies/``, else the topology file's folder."""
    path = getattr(sys.modules.get(topology.__module__), "__file__", None) or os.path.join(os.getcwd(), "x.py")
    here = os.path.dirname(os.path.abspath(path))
    src = os.path.join(os.path.dirname(here), "src")
    return src if os.path.isdir(src) else here


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
