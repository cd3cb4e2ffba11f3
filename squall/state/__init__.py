"""Checkpointed state (issue 13): the keyed state a ``StatefulBolt`` holds and where checkpoints live.

A low layer: it needs nothing of Squall but ``squall.errors``, so declarations (``topology``),
the runtime (workers write checkpoints) and the coordinators (they commit them) can all use it.
See ``docs/state.md``.
"""

from squall.state.backend import StateBackend, open_backend
from squall.state.kv import KeyValueState

__all__ = ["KeyValueState", "StateBackend", "open_backend"]
