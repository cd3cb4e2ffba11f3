"""Stateful bolts (Storm's ``IStatefulBolt``): keyed state that Squall checkpoints.

``self.state`` is a ``KeyValueState`` (a dict) restored from the last committed checkpoint before
``initialize``. Every ``topology.state.checkpoint.interval.ms`` the coordinator starts a checkpoint:
barriers flow with the tuples from the spouts; when a task has its barrier from every input, the keys
its state changed since the last checkpoint are staged, and once every spout and stateful task has
staged, the checkpoint is committed at once. After a crash every task goes back to the last
committed checkpoint and the spouts rewind to where they were then, so each input affects the
state exactly once (docs/state.md).
"""

from __future__ import annotations

from typing import Any

from squall.state.kv import KeyValueState
from squall.topology.bolt import Bolt


class StatefulBolt(Bolt):
    """A bolt whose ``self.state`` (a dict) is checkpointed and restored after a crash.

    Keys and values must be msgpack-encodable. Change the state only in ``process`` /
    ``process_tick`` (or ``initialize``): what a checkpoint holds is the state between two tuples.
    """

    state: KeyValueState

    def pre_commit(self, checkpoint_id: int) -> None:
        """Called when this task's barrier ``checkpoint_id`` has come on every input, just before its
        state's changes are staged (Storm's ``preCommit``): a last chance to update ``self.state``."""

    def checkpoint_committed(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is complete in every task (its state will never be rolled
        back): e.g. write out what it made final (``TransactionalSink``)."""


def is_stateful(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, StatefulBolt)


def checkpointed(components: Any) -> bool:
    """Whether a topology (its ``ComponentDef`` by name) checkpoints state: it has a stateful bolt."""
    return any(is_stateful(d.cls) for d in components.values())
