"""Spouts: the sources of a topology (streamparse's ``Spout``)."""

from __future__ import annotations

from typing import Any

from .component import Component


class Spout(Component):
    """A source of tuples.

    The runtime calls ``next_tuple()`` over and over; each call emits zero or more tuples with
    ``self.emit(values, tup_id=None, stream=None, direct_task=None, need_task_ids=False)``.
    ``next_tuple`` must not block for long: it shares its thread with the worker's other tasks.
    Raising ``StopIteration`` means the spout is exhausted (a finite source): once every spout is
    exhausted and every tuple processed, ``squall run`` drains and exits 0.
    """

    def next_tuple(self) -> None:
        """Emit the next tuple(s). Raise StopIteration when there will never be more."""
        raise StopIteration

    def ack(self, tup_id: Any) -> None:
        """The tuple tree started by ``emit(..., tup_id=tup_id)`` was fully processed."""

    def fail(self, tup_id: Any) -> None:
        """The tuple tree failed or timed out; replay it if you want it processed."""

    def activate(self) -> None:
        """The topology was activated: ``next_tuple`` will be called from now on."""

    def deactivate(self) -> None:
        """The topology was deactivated (or is stopping): ``next_tuple`` will not be called."""
