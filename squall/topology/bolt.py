"""Bolts: the processing steps of a topology (streamparse's ``Bolt`` and ``BatchingBolt``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from squall.topology.component import Component, not_running
from squall.topology.tuple import Tuple


class Bolt(Component):
    """Receives tuples in ``process(tup)`` and may ``emit`` new ones.

    ``self.emit(values, stream=None, anchors=None, direct_task=None, need_task_ids=False)``
    (see ``Bolt.emit``).
    Switches, as in streamparse: ``auto_ack`` acks each tuple after ``process`` returns,
    ``auto_anchor`` anchors emits made inside ``process`` to the tuple being processed,
    ``auto_fail`` fails the tuple when ``process`` raises (the error is reported and the task
    goes on with the next tuple).
    ``async def process`` runs on the worker's event loop, ``concurrency`` calls in flight per task;
    ``concurrency_mode = "threads"`` runs a blocking ``process`` on ``concurrency`` threads per task
    (see ``Component.concurrency``).
    """

    auto_ack: ClassVar[bool] = True
    auto_anchor: ClassVar[bool] = True
    auto_fail: ClassVar[bool] = True
    #: What the bolt holds back (``_pending``) is released only at the end of its input, not as soon
    #: as the run drains (a window must not fire early while tuples are still on their way).
    _squall_holds_to_end: ClassVar[bool] = False

    def process(self, tup: Tuple) -> None:
        """Handle one tuple."""

    def process_tick(self, tup: Tuple) -> None:
        """Handle a tick tuple (``topology.tick.tuple.freq.secs``)."""

    def emit(
        self,
        values: Sequence[Any],
        stream: str | None = None,
        anchors: Sequence[Any] | None = None,
        direct_task: int | None = None,
        need_task_ids: bool = False,
    ) -> list[int] | None:
        """Emit a tuple from this bolt.

        :param values: the tuple's values, one per field of ``stream`` (a list or tuple). Inside a
            worker they are passed by reference: do not change them after emitting. Values that
            go to another worker must be msgpack-encodable (None, bool, int, float, str, bytes,
            and lists, tuples and dicts of those).
        :param stream: the name of the output stream; None: ``"default"``.
        :param anchors: the input tuples (or their ids) the new tuple belongs to: it joins their
            trees, so they complete only once it is processed too, and fail if it fails. None:
            with ``auto_anchor``, the tuple being processed (or, in ``process_batch``, the
            batch); an empty list: unanchored (never replayed).
        :param direct_task: on a direct stream, the task id of the consumer that gets the tuple
            (required there, refused elsewhere).
        :param need_task_ids: return the ids of the tasks the tuple was sent to.
        :returns: the list of receiving task ids when ``need_task_ids`` is true, else None.
        :raises EmitError: the number of values does not match the stream's fields, the stream
            is not declared, ``direct_task`` is missing or wrong, or the bolt is not running in
            a topology (the runtime gives each running instance its own ``emit``).
        """
        raise not_running(self, "emit")

    def ack(self, tup: Tuple) -> None:
        """Mark ``tup`` as fully processed by this bolt (``auto_ack`` does it after ``process``).

        :param tup: a tuple this task received (or its id).
        :returns: None. Without tracking (an untracked tuple, ``topology.acker.executors=0``)
            only the ``acked`` count changes; outside a running topology this does nothing, so
            a bolt can be unit-tested with ``make_tuple``.
        """

    def fail(self, tup: Tuple) -> None:
        """Mark ``tup`` as failed: its tree fails and the spout's ``fail(tup_id)`` is called (it may replay it).

        :param tup: a tuple this task received (or its id).
        :returns: None. ``auto_fail`` does it when ``process`` raises. Outside a running topology
            this does nothing.
        """

    def cleanup(self) -> None:
        """The worker is stopping gracefully (Storm's ``cleanup``): flush and release resources.
        Not called when the process is killed."""

    def _pending(self) -> int:
        """Tuples held back by the bolt itself (a batching bolt's open batches)."""
        return 0

    def _squall_metrics(self) -> tuple[dict[str, float], dict[str, float]] | None:
        """Figures of the bolt's own shown in the statistics and the UI (windows fired...): counters
        (totals that only grow) and gauges (current values), or None. Read once per stats round."""
        return None

    def _flush_pending(self) -> None:
        """Process whatever is held back; called when a finite run drains."""


class BatchingBolt(Bolt):
    """Groups tuples by ``group_key`` and hands each group to ``process_batch`` on every
    ``ticks_between_batches``-th tick tuple (set ``topology.tick.tuple.freq.secs``).

    With ``auto_ack`` the tuples of a batch are acked after ``process_batch`` returns; with
    ``auto_fail`` they are all failed if it raises.
    """

    ticks_between_batches: ClassVar[int] = 1
    # Set on first use (a subclass need not call __init__): open batches by key, ticks since the last flush.
    _batches: defaultdict[Any, list[Tuple]]
    _ticks: int

    def group_key(self, tup: Tuple) -> Any:
        """The key to batch ``tup`` under; all tuples share one batch by default."""
        return None

    def process_batch(self, key: Any, tups: list[Tuple]) -> None:
        """Handle one batch of tuples that share ``key``."""

    def process(self, tup: Tuple) -> None:
        batches = self.__dict__.get("_batches")
        if batches is None:
            batches = self._batches = defaultdict(list)
        batches[self.group_key(tup)].append(tup)

    def process_tick(self, tup: Tuple) -> None:
        self._ticks = self.__dict__.get("_ticks", 0) + 1
        if self._ticks >= self.ticks_between_batches:
            self._ticks = 0
            self._flush_pending()

    def _pending(self) -> int:
        return sum(len(b) for b in self.__dict__.get("_batches", {}).values())

    def _flush_pending(self) -> None:
        batches = self.__dict__.get("_batches")
        if not batches:
            return
        self._batches = defaultdict(list)
        for key, tups in batches.items():
            self._run_batch(key, tups)

    def _run_batch(self, key: Any, tups: list[Tuple]) -> None:
        """Set by the executor so that acking, anchoring and error reporting apply to the batch."""
        self.process_batch(key, tups)
