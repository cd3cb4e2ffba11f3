"""Spouts: the sources of a topology (streamparse's ``Spout``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from squall.topology.component import Component, not_running


class Spout(Component):
    """A source of tuples.

    The runtime calls ``next_tuple()`` over and over; each call emits zero or more tuples with
    ``self.emit(values, tup_id=None, stream=None, direct_task=None, need_task_ids=False)``
    (see ``Spout.emit``).
    ``next_tuple`` must not block for long: it shares its thread with the worker's other tasks
    (for a blocking source, set ``concurrency_mode = "threads"``, or make it ``async def``: see
    ``Component.concurrency``).
    Raising ``StopIteration`` means the spout is exhausted (a finite source): once every spout is
    exhausted and every tuple processed, ``squall run`` drains and exits 0.
    """

    #: True when the topology checkpoints state (it has a ``StatefulBolt``); set before ``initialize``.
    #: A rewindable spout (below) then replays nothing in ``fail`` and acknowledges nothing at its
    #: source in ``ack``: checkpoints do that (``commit``), and a crash rewinds it (``seek``).
    checkpointed: bool = False

    def next_tuple(self) -> None:
        """Emit the next tuple(s). Raise StopIteration when there will never be more."""
        raise StopIteration

    # -- the rewind contract (docs/state.md, section 4): a spout that can go back overrides all three --
    def position(self) -> Any:
        """Where the spout is now, between two ``next_tuple`` calls: a msgpack-encodable value from
        which ``seek`` resumes with the next tuple not yet emitted (e.g. an offset per partition).
        Called at each checkpoint, on the worker's thread."""
        raise NotImplementedError(f"{type(self).__name__} cannot rewind: it has no position()")

    def seek(self, position: Any) -> None:
        """Resume from ``position`` (what ``position()`` returned at the last committed checkpoint):
        the next ``next_tuple`` emits what came right after it. Called after ``initialize`` and
        before ``activate`` when the topology restarts from a checkpoint."""
        raise NotImplementedError(f"{type(self).__name__} cannot rewind: it has no seek()")

    @classmethod
    def checkpoint_problems(cls, conf: dict[str, Any], par: int) -> list[tuple[str, str]]:
        """What cannot work when this spout feeds a checkpointed topology, as (problem, fix) pairs;
        validation refuses the topology with them (e.g. a source with one position read by par > 1)."""
        return []

    def commit(self, position: Any) -> None:
        """The checkpoint taken at ``position`` is complete: the source may forget what came
        before it (commit a Kafka offset, XACK, write an offsets file). Never rewound past again."""

    def emit(
        self,
        values: Sequence[Any],
        tup_id: Any = None,
        stream: str | None = None,
        direct_task: int | None = None,
        need_task_ids: bool = False,
    ) -> list[int] | None:
        """Emit a tuple from this spout.

        :param values: the tuple's values, one per field of ``stream`` (a list or tuple). Inside a
            worker they are passed by reference: do not change them after emitting. Values that
            go to another worker must be msgpack-encodable (None, bool, int, float, str, bytes,
            and lists, tuples and dicts of those).
        :param tup_id: a message id (any hashable value). The tuple then starts a tree that is
            tracked: ``ack(tup_id)`` is called once every tuple of the tree was processed,
            ``fail(tup_id)`` if one failed or the tree timed out
            (``topology.message.timeout.secs``). None: not tracked, never acked or failed.
        :param stream: the name of the output stream; None: ``"default"``.
        :param direct_task: on a direct stream, the task id of the consumer that gets the tuple
            (required there, refused elsewhere).
        :param need_task_ids: return the ids of the tasks the tuple was sent to.
        :returns: the list of receiving task ids when ``need_task_ids`` is true, else None.
        :raises EmitError: the number of values does not match the stream's fields, the stream
            is not declared, ``direct_task`` is missing or wrong, or the spout is not running in
            a topology (the runtime gives each running instance its own ``emit``).
        """
        raise not_running(self, "emit")

    def ack(self, tup_id: Any) -> None:
        """The tuple tree started by ``emit(..., tup_id=tup_id)`` was fully processed."""

    def fail(self, tup_id: Any) -> None:
        """The tuple tree failed or timed out; replay it if you want it processed."""

    def activate(self) -> None:
        """The topology was activated: ``next_tuple`` will be called from now on."""

    def deactivate(self) -> None:
        """The topology was deactivated (or is stopping): ``next_tuple`` will not be called."""

    def close(self) -> None:
        """The worker is stopping gracefully (Storm's ``close``): release resources. Not called
        when the process is killed."""


def rewindable(cls: type) -> bool:
    """Whether a spout class keeps the rewind contract (overrides ``position`` and ``seek``)."""
    return getattr(cls, "position", None) is not Spout.position and getattr(cls, "seek", None) is not Spout.seek


class ReliableSpout(Spout):
    """Keeps every emitted message until it is acked and replays the failed ones.

    Messages emitted with a ``tup_id`` are kept (without one, an emit is unreliable). ``max_fails``
    (None: retry forever) bounds the replays: after that many failures ``give_up(tup_id, values)``
    is called (by default it logs an error) and the message is counted in ``given_up`` -- never
    silently dropped. A finite ReliableSpout may raise StopIteration from ``next_tuple`` when its
    source is empty: the run still waits for (and replays) what is pending. Override
    ``ack``/``fail`` only with a call to ``super()``.

    A failed message is not emitted again inside ``fail``: its id waits in ``replays`` and the
    runtime re-emits it on the ``next_tuple`` path (before calling ``next_tuple``), so replays
    obey ``topology.max.spout.pending`` and backpressure exactly as new messages do.
    """

    max_fails: ClassVar[int | None] = None
    _squall_intercepts_emit: ClassVar[bool] = True

    def _state(self) -> tuple[dict[Any, Any], dict[Any, int], deque[Any]]:
        d = self.__dict__
        if "_unacked" not in d:
            d["_unacked"], d["_fails"], d["_replays"], d["given_up"] = {}, {}, deque(), 0
        return d["_unacked"], d["_fails"], d["_replays"]

    @property
    def unacked(self) -> dict[Any, Any]:
        """tup_id -> (values, stream, direct_task) of every message not yet acked."""
        return self._state()[0]

    @property
    def replays(self) -> deque[Any]:
        """Ids of failed messages waiting to be emitted again (oldest first)."""
        return self._state()[2]

    def emit(
        self,
        values: Any,
        tup_id: Any = None,
        stream: str | None = None,
        direct_task: int | None = None,
        need_task_ids: bool = False,
    ) -> list[int] | None:
        """``Spout.emit``; a message with a ``tup_id`` is also kept until it is acked and replayed
        (emitted again with the same arguments) when it fails."""
        if tup_id is None:  # an unreliable emit: not kept, never replayed
            return self._raw_emit(values, None, stream, direct_task, need_task_ids)
        self._state()[0][tup_id] = (values, stream, direct_task)
        return self._raw_emit(values, tup_id, stream, direct_task, need_task_ids)

    def ack(self, tup_id: Any) -> None:
        unacked, fails, _ = self._state()
        unacked.pop(tup_id, None)
        fails.pop(tup_id, None)

    def fail(self, tup_id: Any) -> None:
        unacked, fails, replays = self._state()
        entry = unacked.get(tup_id)
        if entry is None:
            return
        n = fails[tup_id] = fails.get(tup_id, 0) + 1
        if self.max_fails is not None and n >= self.max_fails:
            del unacked[tup_id]
            del fails[tup_id]
            self.__dict__["given_up"] += 1
            self.give_up(tup_id, entry[0])
            return
        replays.append(tup_id)  # emitted again by _squall_replay, on the next_tuple path

    def _squall_replay(self) -> None:
        """Emit the oldest message in ``replays`` again (the runtime calls it instead of
        ``next_tuple`` while replays wait, within the spout's limits)."""
        unacked, _, replays = self._state()
        tup_id = replays.popleft()
        entry = unacked.get(tup_id)
        if entry is not None:
            values, stream, direct_task = entry
            self._raw_emit(values, tup_id, stream, direct_task, False)

    def give_up(self, tup_id: Any, values: Any) -> None:
        """Called once per message that failed ``max_fails`` times. Override to dead-letter it."""
        self.logger.error("giving up on message %r after %d failures: %r", tup_id, self.max_fails, values)

    def _raw_emit(self, *args: Any) -> list[int] | None:  # replaced by the runtime
        return Spout.emit(self, *args)  # raises: not running
