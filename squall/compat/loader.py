"""Load a topology the way every front end does: a Squall ``Topology`` or a streamparse one.

``load_topology(ref)`` is ``squall.topology.loader.load_topology`` that also finds streamparse
``Topology`` subclasses (read into Squall's model by ``streamparse_topology``) and explains
streamparse's refusals and a missing streamparse in one clear message. The CLI, the coordinator,
the worker processes and ``squall.testing`` all load through it, so a reference means the same
topology everywhere.
"""

from __future__ import annotations

from typing import Any

from squall.errors import SquallError
from squall.topology import loader


class Streamparse:
    """``loader.Foreign`` for streamparse's DSL (streamparse is imported only by the user's file)."""

    def is_topology(self, obj: object) -> bool:
        from squall.compat.streamparse_topology import is_streamparse_topology

        return is_streamparse_topology(obj)

    def to_squall(self, obj: type) -> type:
        from squall.compat.streamparse_topology import to_squall

        return to_squall(obj)

    def load_error(self, what: str, exc: BaseException) -> SquallError | None:
        from squall.compat.streamparse_topology import load_error

        return load_error(what, exc)


STREAMPARSE = Streamparse()


def load_topology(ref: str) -> Any:
    """The Topology class named by ``ref`` (``file.py``, ``file.py:Class``, ``module:Class``): a Squall
    one, or the Squall class of a streamparse one."""
    return loader.load_topology(ref, STREAMPARSE)
