"""The ``Topology`` class DSL (streamparse's): class attributes are component specs.

    class WordCount(Topology):
        word_spout = WordSpout.spec()
        count_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields('word')}, par=2)

Defining the class validates it: a wrong topology raises ``InvalidTopologyError`` listing every
problem, before any process starts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from squall.errors import InvalidTopologyError
from squall.topology.component import Component
from squall.topology.spec import ComponentDef, ComponentSpec
from squall.topology.validate import resolve


class TopologyType(type):
    """Collects specs in definition order (inherited ones first) and validates them."""

    # What __new__ sets on each Topology subclass (declared for type checkers; see Topology).
    _named_specs: dict[str, ComponentSpec]
    components: dict[str, ComponentDef]
    config: dict[str, Any]

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> TopologyType:
        cls = super().__new__(mcs, name, bases, ns)
        if not any(isinstance(b, TopologyType) for b in bases):
            return cls  # the Topology base class itself
        named: dict[str, ComponentSpec] = {}
        for base in reversed(cls.__mro__[1:]):
            named.update(getattr(base, "_named_specs", {}))
        stray: list[tuple[str, Any]] = []
        for attr, value in ns.items():
            if isinstance(value, ComponentSpec):
                named[attr] = value
            elif (isinstance(value, type) and issubclass(value, Component)) or isinstance(value, Component):
                stray.append((attr, value))
        config: dict[str, Any] = {}
        for base in reversed(cls.__mro__):
            config.update(base.__dict__.get("config") or {})
        defs, problems = resolve(name, list(named.items()), stray, config)
        if problems:
            raise InvalidTopologyError(name, problems)
        cls._named_specs = named
        cls.components = {d.name: d for d in defs}
        cls.config = config
        return cls


class Topology(metaclass=TopologyType):
    """Subclass this and declare components as class attributes (see module docstring)."""

    #: Topology-wide config with Storm's key names, e.g. {"topology.max.spout.pending": 1000}.
    config: ClassVar[dict[str, Any]] = {}
    #: Resolved components by name, in definition order (set by the metaclass).
    components: ClassVar[dict[str, ComponentDef]] = {}
    _named_specs: ClassVar[dict[str, ComponentSpec]] = {}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """A JSON-able description of the topology (components, streams, groupings, config)."""
        return {
            "name": cls.__name__,
            "config": dict(cls.config),
            "components": [d.to_dict() for d in cls.components.values()],
        }
