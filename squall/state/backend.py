"""Where checkpoints live: the contract every state backend keeps, and ``open_backend``.

A checkpoint ``n`` is written in two steps (docs/state.md, section 2):

1. each stateful task and each spout **stages** its changes under ``n`` (``write``: pending,
   invisible to ``load``), from its own worker process;
2. once every one of them did, the coordinator **commits** ``n`` (``commit``): in one atomic step
   the committed checkpoint id becomes ``n`` and every pending change of a checkpoint ``<= n`` is
   folded into the committed state, in checkpoint order.

After a crash, ``discard_pending()`` drops what was staged for checkpoints that never committed,
then each task ``load``s its committed state. State belongs to the topology's *name*: a new run
of the same topology resumes from the last committed checkpoint of the previous one.

Keys and values are bytes (``squall.state.kv`` encodes them with msgpack); a change whose value
is None deletes the key. Task ids are the plan's (stable while the topology's components and
parallelism stay the same).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from squall.errors import ConfigError

#: ``topology.state.provider`` values -> module:class (imported when chosen)
PROVIDERS = {
    "sqlite": "squall.state.sqlite:SqliteBackend",
    "redis": "squall.state.redis:RedisBackend",
}


class StateBackend(ABC):
    """Checkpoints of one topology (by name). Safe to use from several processes at once (each
    opens its own); one instance is used by one thread."""

    def __init__(self, topology: str, conf: Mapping[str, Any]):
        self.topology = topology
        self.conf = conf

    @abstractmethod
    def committed(self) -> int:
        """The id of the last committed checkpoint (0: none yet)."""

    @abstractmethod
    def write(self, task: int, checkpoint: int, changes: Mapping[bytes, bytes | None]) -> int:
        """Stage ``task``'s ``changes`` (key -> value, None: deleted) under ``checkpoint``; invisible
        to ``load`` until that checkpoint is committed. Returns the bytes written. Writing the same
        (task, checkpoint) again replaces what was staged. A ``checkpoint`` not above ``committed()``
        is refused (ValueError): a later commit would apply it out of order (a late writer from
        before a restart, or checkpoint ids started again at 1 over an older run's state)."""

    @abstractmethod
    def commit(self, checkpoint: int) -> None:
        """Atomically: the committed id becomes ``checkpoint``, and the changes staged under every
        checkpoint ``<= checkpoint`` are applied to the committed state (older first) and forgotten.
        A ``checkpoint`` not above ``committed()`` is refused (ValueError)."""

    @abstractmethod
    def load(self, task: int) -> dict[bytes, bytes]:
        """``task``'s committed state (empty when it has none)."""

    @abstractmethod
    def discard_pending(self) -> None:
        """Forget every change staged under a checkpoint that was not committed."""

    @abstractmethod
    def size(self, task: int) -> int:
        """Bytes of ``task``'s committed state (keys + values), for the statistics."""

    @abstractmethod
    def tasks(self) -> list[int]:
        """Tasks with committed state."""

    @abstractmethod
    def reset(self) -> None:
        """Delete everything stored for this topology (committed id back to 0)."""

    def close(self) -> None:  # noqa: B027  (optional: a backend with nothing to release keeps it)
        """Release connections and files."""


def open_backend(topology: str, conf: Mapping[str, Any]) -> StateBackend:
    """The backend ``topology.state.provider`` names (``sqlite``: the default), for ``topology``."""
    provider = conf.get("topology.state.provider") or "sqlite"
    ref = PROVIDERS.get(str(provider))
    if ref is None:
        raise ConfigError(
            f"topology.state.provider={provider!r} is not a state backend: use one of {', '.join(sorted(PROVIDERS))}"
        )
    import importlib

    module, _, name = ref.partition(":")
    cls: type[StateBackend] = getattr(importlib.import_module(module), name)
    return cls(topology, conf)
