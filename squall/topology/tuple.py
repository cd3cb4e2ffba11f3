"""The Tuple a bolt receives.

Shaped exactly like streamparse/pystorm's ``Tuple`` (a namedtuple ``id, component, stream, task,
values``) so user code moves over unchanged. ``values`` is itself a namedtuple of the source
stream's fields: ``tup.values.word`` and ``tup.values[0]`` both work.

Tuples are built in batches with C-level ``tuple.__new__`` (see ``squall.runtime.tuples``), never through a
Python ``__init__``. Still two allocations per delivered tuple (the Tuple and its values
namedtuple): about 250-300 ns, the largest single cost of a hop (see bench/README.md).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

TICK_STREAM = "__tick"
SYSTEM_COMPONENT = "__system"


class Tuple(namedtuple("Tuple", ["id", "component", "stream", "task", "values"])):
    """A tuple delivered to ``Bolt.process``: ``id, component, stream, task, values``."""

    __slots__ = ()

    if TYPE_CHECKING:  # the fields' types, for type checkers (namedtuple() declares them as Any)
        id: Any
        component: str
        stream: str
        task: int
        values: Any

    @property
    def is_tick(self) -> bool:
        """True for tick tuples (``__system``/``__tick``), as pystorm tests it."""
        return self.stream == TICK_STREAM and self.component == SYSTEM_COMPONENT

    def __repr__(self) -> str:
        return (
            f"Tuple(id={self.id!r}, component={self.component!r}, stream={self.stream!r}, "
            f"task={self.task!r}, values={tuple(self.values)!r})"
        )


_new = tuple.__new__


@cache
def values_class(component: str, stream: str, fields: tuple[str, ...]) -> type:
    """The namedtuple class of one (component, stream)'s values, named like pystorm's."""
    name = "".join(p.capitalize() for p in f"{component}_{stream}".replace("-", "_").split("_")) + "Tuple"
    safe = name if name.isidentifier() else "ValuesTuple"
    try:
        return namedtuple(safe, fields)
    except ValueError:  # a field that is not an identifier: positional access only
        return namedtuple(safe, [f"_{i}" for i in range(len(fields))], rename=True)


def make_tuple(
    values: Sequence[Any],
    component: str = "test",
    stream: str = "default",
    task: int = 0,
    fields: Sequence[str] | None = None,
    id: Any = None,
) -> Tuple:
    """Build one Tuple by hand, e.g. to unit-test a bolt's ``process``."""
    names = tuple(fields) if fields is not None else tuple(f"f{i}" for i in range(len(values)))
    vals: tuple[Any, ...] = _new(values_class(component, stream, names), tuple(values))
    return Tuple(id, component, stream, task, vals)


def tick_tuple(freq_secs: float) -> Tuple:
    """A tick tuple as Storm and pystorm shape it."""
    return Tuple(None, SYSTEM_COMPONENT, TICK_STREAM, -1, (freq_secs,))
