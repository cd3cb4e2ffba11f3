"""Declarations of components inside a topology: ``Component.spec(...)`` and what it resolves to.

``ComponentSpec`` is what a user writes (streamparse's shape: ``spec(name, inputs, par, config)``).
``ComponentDef`` is the resolved, validated, immutable form the runtime reads: names instead of
spec objects, a grouping for every input, outputs as streams. Building either starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from squall.topology.grouping import Grouping
from squall.topology.stream import DEFAULT_STREAM, Stream

if TYPE_CHECKING:
    from squall.topology.component import Component


class StreamId:
    """One stream of one component, as an input key: ``spec['stream']`` or ``StreamId('name', 'stream')``."""

    __slots__ = ("component", "stream")

    def __init__(self, component: ComponentSpec | str, stream: str = DEFAULT_STREAM):
        self.component = component
        self.stream = stream

    def __repr__(self) -> str:
        comp = self.component if isinstance(self.component, str) else self.component.label
        return f"{comp}[{self.stream!r}]"


class ComponentSpec:
    """A component class placed in a topology, with its inputs, parallelism and config."""

    def __init__(
        self,
        component_cls: type,
        name: str | None = None,
        inputs: Any = None,
        par: Any = None,
        config: dict[str, Any] | None = None,
        outputs: Any = None,
        concurrency: Any = None,
        concurrency_mode: Any = None,
    ):
        self.component_cls = component_cls
        self.name = name
        self.inputs = inputs
        self.par = getattr(component_cls, "par", 1) if par is None else par
        self.config = getattr(component_cls, "config", None) if config is None else config
        self.outputs = getattr(component_cls, "outputs", None) if outputs is None else outputs
        self.concurrency = getattr(component_cls, "concurrency", 1) if concurrency is None else concurrency
        self.concurrency_mode = (
            getattr(component_cls, "concurrency_mode", None) if concurrency_mode is None else concurrency_mode
        )

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        label: str = getattr(self.component_cls, "__name__", repr(self.component_cls))
        return label

    def __getitem__(self, stream: str) -> StreamId:
        return StreamId(self, stream)

    def __repr__(self) -> str:
        return f"<{getattr(self.component_cls, '__name__', '?')}.spec name={self.name!r} par={self.par!r}>"


@dataclass(frozen=True)
class InputDef:
    """A resolved subscription: ``component``'s ``stream``, split by ``grouping``."""

    component: str
    stream: str
    grouping: Grouping


@dataclass(frozen=True)
class ComponentDef:
    """A validated component: what the planner and the workers read."""

    name: str
    cls: type[Component]
    kind: str  # "spout" or "bolt"
    par: int
    config: dict[str, Any]
    outputs: dict[str, Stream]
    inputs: tuple[InputDef, ...] = field(default=())
    #: calls of process / next_tuple in flight at once per task (1: one at a time)
    concurrency: int = 1
    #: "sync" (the plain loop), "async" (``async def``: on the worker's event loop), "threads", or
    #: "shell" (a ShellBolt / ShellSpout: a subprocess per task, squall.runtime.multilang)
    mode: str = "sync"

    @property
    def class_ref(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (for the UI, ``squall describe`` and logs)."""
        return {
            "name": self.name,
            "class": self.class_ref,
            "type": self.kind,
            "par": self.par,
            "config": self.config,
            "concurrency": self.concurrency,
            "mode": self.mode,
            **({"command": self.cls.describe_command()} if self.mode == "shell" else {}),  # type: ignore[attr-defined]
            "outputs": {s.name: {"fields": list(s.fields), "direct": s.direct} for s in self.outputs.values()},
            "inputs": [
                {"component": i.component, "stream": i.stream, "grouping": i.grouping.to_dict()} for i in self.inputs
            ],
        }
