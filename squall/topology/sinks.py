"""Exactly-once output (issue 13): sinks whose writes a rollback cannot double.

A checkpointed topology rolls back after a crash and replays what came after the last committed
checkpoint (docs/state.md), so a plain sink that writes each tuple at once writes the replayed ones
twice (at-least-once). Two ways out, both documented in docs/connectors.md, "Exactly-once output":

* ``TransactionalSink`` (Flink's two-phase commit sink, in Storm's words): what ``process`` buffers
  between barrier n-1 and barrier n is moved into the task's checkpointed state at barrier n
  (``pre_commit``) and written out only once checkpoint n is committed (``checkpoint_committed``),
  by the user's ``write(n, records)``. A batch is never written before it is final, and one that was
  committed but not yet written when a worker died is still in the restored state: it is written at
  the first commit after the restart. Each batch thus reaches the external system at least once,
  always with the same records under the same (checkpoint, task); a write keyed by them (a primary
  key, a Redis hash named by them, a file named by them) makes it exactly once. Output is delayed by
  one checkpoint interval.
* ``IdempotentSink``: writes at once (every ``flush_interval``), each record under a deterministic key
  the user gives (the word of a word count): a replay overwrites instead of adding, the last value
  wins. No delay, but between a crash and the end of the replay a reader may see a value from
  before the rollback (never a double count).

Nothing here runs per tuple but a list append (``buffer``) or the user's ``key_value``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from squall.state.kv import decode_value, encode
from squall.topology.bolt import BatchingBolt
from squall.topology.stateful_bolt import StatefulBolt
from squall.topology.tuple import Tuple

#: A TransactionalSink keeps the records of checkpoint ``n`` not yet written under the state key
#: ``(BATCH_KEY, n)`` (reserved: a subclass using ``self.state`` for itself must not use such keys).
BATCH_KEY = "$sink"
TICK_KEY = "topology.tick.tuple.freq.secs"

log = logging.getLogger("squall.sinks")


class TransactionalSink(StatefulBolt):
    """Writes what ``process`` buffered once the checkpoint holding it is committed (exactly once
    with writes keyed by ``(checkpoint_id, task)``).

    Implement ``write(checkpoint_id, records)``; by default ``process`` buffers ``record(tup)`` (the
    tuple's values as a list): override ``record``, or ``process`` and call ``self.buffer(record)``.
    Records must be msgpack-encodable (they are checkpointed); they come back to ``write`` as msgpack
    returns them (tuples as lists). A record that cannot be encoded is dropped, counted and logged.
    ``write`` may be called again with the same batch after a crash (or after it raised: the batch is
    retried at the next commit, batches stay in order); make it idempotent by keying what it writes
    by ``(checkpoint_id, self.task_id, position in records)``, or implement ``already_written``.
    A subclass overriding ``pre_commit`` or ``checkpoint_committed`` calls ``super()``'s.
    """

    # Set on first use (a subclass need not call __init__): the open batch, the ids of the batches
    # in the state (oldest first), [batches written, records written, records dropped].
    _open: list[Any]
    _batch_ids: list[int]
    _sink_counts: list[int]

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        if cls.write is TransactionalSink.write:
            out.append(
                (
                    f"{cls.__name__} is a TransactionalSink without write(checkpoint_id, records)",
                    "implement write() to put a committed checkpoint's records in the external system, keyed "
                    "by (checkpoint_id, self.task_id) (docs/connectors.md, 'Exactly-once output')",
                )
            )
        return out

    def record(self, tup: Tuple) -> Any:
        """What ``process`` buffers for ``tup`` (default: its values, as a list)."""
        return list(tup.values)

    def process(self, tup: Tuple) -> None:
        self.buffer(self.record(tup))

    def buffer(self, record: Any) -> None:
        """Add ``record`` to the batch of the checkpoint in progress (written once it is committed)."""
        try:
            self._open.append(record)
        except AttributeError:
            self._open = [record]

    def write(self, checkpoint_id: int, records: list[Any]) -> None:
        """Write the records of ``checkpoint_id`` (this task's, in the order they were buffered) to
        the external system, keyed by ``(checkpoint_id, self.task_id)`` so that writing them again
        changes nothing. Raise to have the batch retried at the next commit."""
        raise NotImplementedError(f"{type(self).__name__} must implement write(checkpoint_id, records)")

    def already_written(self, checkpoint_id: int) -> bool:
        """Whether the batch of ``checkpoint_id`` is already in the external system (then ``write`` is
        not called for it): for a sink that cannot overwrite (an append-only log). Default: False."""
        return False

    # -- the checkpoint's calls ----------------------------------------------------------------------
    def pre_commit(self, checkpoint_id: int) -> None:
        """Barrier ``checkpoint_id`` came on every input: the open batch goes into the state, encoded
        once (so it is checkpointed with it, and a record that cannot be encoded is found here)."""
        records = self.__dict__.get("_open")
        if not records:
            return
        self._open = []
        data: bytes | None
        try:
            data = encode(records)
        except (TypeError, ValueError, OverflowError):
            data = self._encode_good(records)
            if data is None:
                return
        self._unwritten().append(checkpoint_id)
        self.state[(BATCH_KEY, checkpoint_id)] = data

    def checkpoint_committed(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is final: write every batch up to it not written yet (older
        first: after a restart, those the restored state holds), then drop it from the state."""
        ids = self._unwritten()
        while ids and ids[0] <= checkpoint_id:
            n = ids[0]
            key = (BATCH_KEY, n)
            records = decode_value(self.state[key])
            if not self.already_written(n):
                self.write(n, records)  # raises: the batch stays, retried at the next commit
            del self.state[key]
            ids.pop(0)
            self._sink_counts[0] += 1
            self._sink_counts[1] += len(records)

    def cleanup(self) -> None:
        """Say what this run leaves unwritten (a run stopped between checkpoints): a later run of the
        topology with the same state writes it (its input replayed from the last checkpoint, its
        batches restored)."""
        left = len(self.__dict__.get("_open") or ())
        batches = len(self.__dict__.get("_batch_ids") or ())
        if left or batches:
            self.__dict__.get("logger", log).warning(
                "%s stops with %d record(s) buffered after the last committed checkpoint and %d committed "
                "batch(es) not written: not written by this run (a later run from the same state writes "
                "them)",
                type(self).__name__,
                left,
                batches,
            )

    # -- helpers -------------------------------------------------------------------------------------
    def _unwritten(self) -> list[int]:
        """The checkpoint ids of the batches in the state, oldest first (found once per task start:
        the restored state may hold batches committed but not written before a crash)."""
        ids: list[int] | None = self.__dict__.get("_batch_ids")
        if ids is None:
            ids = self._batch_ids = sorted(
                k[1] for k in self.state if type(k) is tuple and len(k) == 2 and k[0] == BATCH_KEY
            )
            self._sink_counts = [0, 0, 0]  # batches written, records written, records dropped
        return ids

    def _encode_good(self, records: list[Any]) -> bytes | None:
        """The batch without the records msgpack cannot encode (counted and logged); None: none left."""
        good = []
        bad: Exception | None = None
        for r in records:
            try:
                encode(r)
                good.append(r)
            except (TypeError, ValueError, OverflowError) as exc:
                bad = exc
        self._unwritten()
        dropped = len(records) - len(good)
        self._sink_counts[2] += dropped
        logger = self.__dict__.get("logger", log)
        logger.warning(
            "%s dropped %d record(s) it cannot checkpoint (%s); records must be msgpack-encodable: "
            "None, bool, int, float, str, bytes, and lists and dicts of those",
            type(self).__name__,
            dropped,
            bad,
        )
        return encode(good) if good else None

    def _squall_metrics(self) -> tuple[dict[str, float], dict[str, float]]:
        c = self.__dict__.get("_sink_counts") or [0, 0, 0]
        counters = {"sink_batches_written": c[0], "sink_records_written": c[1], "sink_records_dropped": c[2]}
        return counters, {"sink_batches_unwritten": len(self.__dict__.get("_batch_ids") or ())}


class IdempotentSink(BatchingBolt):
    """Writes every ``flush_interval`` seconds (and at each checkpoint barrier), each record under a
    deterministic key: a replay after a rollback overwrites the same keys, the last value wins.

    Implement ``key_value(tup) -> (key, value)`` and ``upsert(items)`` (a dict key -> value, the
    last value of each key in the batch; an SQL upsert, a Redis ``HSET``). For exactly the values a
    run without crashes would leave, the keys must be deterministic (the same input gives the same
    key), each key must go to one task (a fields grouping on the key) and the values must come in
    the same order again after a rollback (a checkpointed topology replays in order). ``upsert``
    raising fails the batch's tuples (an acking topology replays them) and keeps its items: they are
    written again, under what came after them, at the next flush.
    """

    _retry: dict[Any, Any]  # items whose upsert raised: written again at the next flush
    _upserts: int

    #: seconds between writes: the tick period this bolt gets by default (``topology.tick.tuple.freq.secs``)
    flush_interval: ClassVar[float] = 0.1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("config")
        conf = dict(own if own is not None else getattr(cls, "config", None) or {})
        if own is None and "flush_interval" in cls.__dict__:  # a new interval over the inherited tick
            conf[TICK_KEY] = cls.flush_interval
        conf.setdefault(TICK_KEY, cls.flush_interval)
        cls.config = conf

    @classmethod
    def spec(
        cls,
        name: str | None = None,
        inputs: Any = None,
        par: int | None = None,
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``Bolt.spec``; ``config`` adds to the class's (its flush ticks stay) instead of replacing it."""
        return super().spec(name, inputs, par, {**(cls.config or {}), **(config or {})}, **kwargs)

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        missing = [m for m in ("key_value", "upsert") if getattr(cls, m) is getattr(IdempotentSink, m)]
        if missing:
            out.append(
                (
                    f"{cls.__name__} is an IdempotentSink without {' and '.join(f'{m}()' for m in missing)}",
                    "implement key_value(tup) -> (key, value) and upsert(items) (an insert-or-overwrite of "
                    "each key; docs/connectors.md, 'Exactly-once output')",
                )
            )
        return out

    def key_value(self, tup: Tuple) -> tuple[Any, Any]:
        """The key ``tup`` is written under and its value (the key must be hashable)."""
        raise NotImplementedError(f"{type(self).__name__} must implement key_value(tup) -> (key, value)")

    def upsert(self, items: dict[Any, Any]) -> None:
        """Write ``items`` (key -> value): insert or overwrite each, never add to what is there."""
        raise NotImplementedError(f"{type(self).__name__} must implement upsert(items)")

    def process_batch(self, key: Any, tups: list[Tuple]) -> None:
        items: dict[Any, Any] = self.__dict__.pop("_retry", None) or {}
        kv = self.key_value
        for tup in tups:
            k, v = kv(tup)
            items[k] = v
        if not items:
            return
        try:
            self.upsert(items)
        except Exception:
            self._retry = items
            raise
        self._upserts = self.__dict__.get("_upserts", 0) + len(items)

    def _squall_metrics(self) -> tuple[dict[str, float], dict[str, float]]:
        return {"sink_upserts": self.__dict__.get("_upserts", 0)}, {
            "sink_retry_items": len(self.__dict__.get("_retry") or ())
        }
