"""Building Tuples in batches, in C: the receiving side of every channel.

A batch of values from one source (task, stream) becomes Tuples with ``map``/``zip``/``repeat``
and ``tuple.__new__``: no Python ``__init__`` and no per-tuple bytecode in the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any

from squall.topology.tuple import Tuple, values_class

_new = tuple.__new__


def tuples_maker(component: str, stream: str, task: int, fields: tuple[str, ...]) -> Callable[..., Any]:
    """Return ``make(values_batch, ids=None) -> iterator of Tuple`` for tuples from one source.

    Everything runs in C: ``map``/``zip``/``repeat`` and ``tuple.__new__``. ``ids`` are the
    message ids of tracked tuples (parallel to the values); untracked tuples get id None.
    """
    values_cls = values_class(component, stream, fields)

    def make(batch: Iterable[Sequence[Any]], ids: Iterable[Any] | None = None) -> Any:
        # map(f, a, b) calls f(a_i, b_i) in C: tuple.__new__(cls, iterable), no partial() layer.
        return map(
            _new,
            repeat(Tuple),
            zip(
                repeat(None) if ids is None else ids,
                repeat(component),
                repeat(stream),
                repeat(task),
                map(_new, repeat(values_cls), batch),
            ),
        )

    return make
