"""Routing inside a worker: ``emit(values)`` -> grouping -> a channel buffer of the target task.

A *channel* is one (source task, stream, target task) pair with a plain list as its buffer.
``emit`` only appends the values to that list (by reference, nothing is copied or encoded).
The worker later drains local channels into the target bolt in a batch, and flushes remote ones
to the target's worker as one encoded message. So per emitted tuple there is one grouping
decision and one ``list.append``: no lock, no syscall, no counter.

Counting is per batch: a channel's length is added to ``transferred`` when it is drained or
flushed. Emits on the fast paths (one consumer, one target per tuple) are counted from the
channel too; only the general path counts emits one by one.

The compiled senders (``_compile*``) inline the grouping's choice where a call per tuple would
be measurable: the single-field fields grouping's ``stable_hash(v) % n`` (with its shortcut for
str, as ``grouping._key_fn``) appears once per sender. ``tests/unit/test_hotpath_props.py`` runs
every compiled sender against ``Picker.pick`` and fails when a new sender is not covered.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import mmh3

from squall.errors import EmitError
from squall.topology.grouping import CYCLE, FIXED, KEY, Picker, stable_hash
from squall.topology.stream import Stream
from squall.transport.wire import pack

if TYPE_CHECKING:
    from squall.runtime.sampling import Sampler

_mmh3 = mmh3.hash
_getrandbits = random.getrandbits  # edge ids: 64 random bits (not security-relevant)


class Channel:
    """Buffer of tuples from one source task's stream to one target task."""

    __slots__ = (
        "src_task",
        "stream",
        "dest_task",
        "buf",
        "ids",
        "router",
        "counts_emits",
        "transferred",
        "local",
        "peer",
        "deliver",
    )

    def __init__(self, src_task: int, stream: str, dest_task: int, local: bool, peer: int, tracked: bool = False):
        self.src_task = src_task
        self.stream = stream
        self.dest_task = dest_task
        self.buf: list[Any] = []
        #: message ids of tracked tuples, parallel to ``buf`` (None: an untracked channel)
        self.ids: list[Any] | None = [] if tracked else None
        self.router: StreamRouter | None = None
        self.counts_emits = False
        self.transferred = 0
        self.local = local
        self.peer = peer
        #: ``deliver(values, ids)``: hands a batch to the target task (local channels; bound by the worker)
        self.deliver: Callable[[list[Any], list[Any] | None], None] | None = None

    def take(self) -> list[Any]:
        """Return the buffered values and empty the buffer in place (the router holds the list)."""
        buf = self.buf
        batch = buf[:]
        buf.clear()
        n = len(batch)
        self.transferred += n
        if self.counts_emits:
            self.router.emitted += n  # type: ignore[union-attr]
        return batch

    def take_ids(self) -> list[Any] | None:
        """Return the message ids parallel to the last ``take()`` (None: an untracked channel)."""
        ids = self.ids
        if ids is None:
            return None
        batch = ids[:]
        ids.clear()
        return batch


class Consumer:
    """One subscribing component of a stream, compiled for one source task."""

    __slots__ = ("component", "picker", "chans", "bufs", "tchans", "tbufs", "tids")

    def __init__(self, component: str, picker: Picker, chans: list[Channel], tchans: list[Channel] | None = None):
        self.component = component
        self.picker = picker
        self.chans = chans
        self.bufs = [c.buf for c in chans]
        self.tchans = tchans or []  # tracked twins of ``chans`` (when acking is on)
        self.tbufs = [c.buf for c in self.tchans]
        self.tids = cast("list[list[Any]]", [c.ids for c in self.tchans])  # tracked channels all have ids


DEBUG_LINES_PER_SEC = 10  # topology.debug: emits logged per task per second; the rest are counted


class EmitDebugLog:
    """``topology.debug`` for one task: logs its emits (stream and values) on the task's logger,
    at most ``DEBUG_LINES_PER_SEC`` a second; the next line logged says how many were not."""

    def __init__(self, component: str, task: int):
        self.log = logging.getLogger(f"{component}:{task}")
        self.window = float("-inf")
        self.lines = 0
        self.skipped = 0

    def emitted(self, stream: str, values: Any) -> None:
        now = time.monotonic()
        if now - self.window >= 1.0:
            self.window, self.lines = now, 0
        if self.lines >= DEBUG_LINES_PER_SEC:
            self.skipped += 1
            return
        self.lines += 1
        if self.skipped:
            self.log.info("emit [%s] %r (%s emits not logged before this one)", stream, values, f"{self.skipped:,}")
            self.skipped = 0
        else:
            self.log.info("emit [%s] %r", stream, values)

    def close(self) -> None:
        """Say how many emits were not logged since the last line (the task is stopping)."""
        if self.skipped:
            self.log.info(
                "%s more emits not logged (topology.debug logs %d a second)", f"{self.skipped:,}", DEBUG_LINES_PER_SEC
            )
            self.skipped = 0


def unencodable(component: str, task: int, stream: str, fields: Sequence[str], values: Any) -> EmitError | None:
    """The error for ``values`` that msgpack cannot encode (they could not go to another worker),
    naming the component, the stream and the first value at fault; None when they can go."""
    try:
        pack(values)
        return None
    except (TypeError, ValueError, OverflowError):
        pass
    culprit = f"{values!r}"
    for name, v in zip(fields, values, strict=False):
        try:
            pack(v)
        except (TypeError, ValueError, OverflowError):
            culprit = f"field '{name}' = {v!r} ({type(v).__name__})"
            break
    return EmitError(
        f"component '{component}' (task {task}) emitted on stream '{stream}' a value that cannot be sent to "
        f"another worker: {culprit}; emit only None, bool, int, float, str, bytes, and lists, tuples and "
        "dicts of those (checked at each emit: topology.testing.always.try.serialize)"
    )


class StreamRouter:
    """Routes one source task's emits on one stream. ``send(values)`` is the hot path.

    ``capture`` (a list: every emitted values is appended), ``debug`` (an ``EmitDebugLog``:
    ``topology.debug``) and ``check_encodable`` (``topology.testing.always.try.serialize``)
    observe each emit: any of them takes this router off its fast paths, so when all are off
    the fast paths pay nothing for them.
    """

    def __init__(
        self,
        component: str,
        task: int,
        stream: Stream,
        consumers: list[Consumer],
        capture: list[Any] | None = None,
        debug: EmitDebugLog | None = None,
        check_encodable: bool = False,
    ):
        self.component = component
        self.task = task
        self.stream = stream.name
        self.fields = stream.fields
        self.direct = stream.direct
        self.arity = len(stream.fields)
        self.consumers = consumers
        self.emitted = 0
        self.capture = capture
        #: called with each emit's values on the general paths (None: nothing observes them)
        self.observe: Callable[[Any], None] | None = self._observer(capture, debug, check_encodable)
        self.send: Callable[[Sequence[Any]], list[int] | None] = self._compile()
        # Emits are counted from the channel when every emit lands in exactly one channel.
        self.fast = self.send != self.send_general
        #: ``send_tracked_fast(values, root) -> edge``: one anchor root, one consumer (None otherwise)
        self.send_tracked_fast: Callable[[Sequence[Any], int], int] | None = (
            self._compile_tracked() if self.fast and consumers[0].tchans else None
        )
        #: ``send_first(values, root)``: a spout's tuple to its one target, with the root as its id
        self.send_first: Callable[[Sequence[Any], int], None] | None = (
            self._compile_first() if self.fast and consumers[0].tchans else None
        )
        if self.fast:
            for c in consumers[0].chans + consumers[0].tchans:
                c.counts_emits = True
                c.router = self
        #: while sampling: ``(observe, send, send_tracked_fast, send_first)`` as they were before
        self._unsampled: tuple[Any, ...] | None = None

    @property
    def sampling(self) -> bool:
        return self._unsampled is not None

    def sample(self, sampler: Sampler) -> None:
        """Capture this stream's emits into ``sampler`` until ``unsample()``: the router takes its
        general paths (which observe each emit) meanwhile; emits are still counted the same way
        (``fast`` is unchanged: a fast router's emits still land in exactly one channel). The
        executor must rebuild its ``emit`` afterwards (``TaskExecutor.rebind_emit``)."""
        if self._unsampled is None:
            self._unsampled = (self.observe, self.send, self.send_tracked_fast, self.send_first)
        base = self._unsampled[0]
        got, limit, stream, clock = sampler.got, sampler.limit, self.stream, time.time

        def observe(values: Any) -> None:
            if base is not None:
                base(values)
            if len(got) < limit:
                got.append((stream, clock(), values))
            else:
                sampler.skipped += 1

        self.observe = observe
        self.send = self.send_general
        self.send_tracked_fast = None
        self.send_first = None

    def unsample(self) -> None:
        """Back to the paths the router had before ``sample()``."""
        if self._unsampled is not None:
            self.observe, self.send, self.send_tracked_fast, self.send_first = self._unsampled
            self._unsampled = None

    def _observer(
        self, capture: list[Any] | None, debug: EmitDebugLog | None, check: bool
    ) -> Callable[[Any], None] | None:
        if debug is None and not check:
            return None if capture is None else capture.append
        component, task, stream, fields = self.component, self.task, self.stream, self.fields

        def observe(values: Any) -> None:
            if check:
                error = unencodable(component, task, stream, fields, values)
                if error is not None:
                    raise error
            if debug is not None:
                debug.emitted(stream, values)
            if capture is not None:
                capture.append(values)

        return observe

    # -- errors -------------------------------------------------------------------------------
    def bad_arity(self, values: Any) -> EmitError:
        return bad_arity(self.component, self.task, self.stream, self.fields, values)

    # -- paths --------------------------------------------------------------------------------
    def _compile(self) -> Callable[[Sequence[Any]], list[int] | None]:
        arity = self.arity
        bad = self.bad_arity
        if self.observe is not None or self.direct or len(self.consumers) != 1:
            return self.send_general
        c = self.consumers[0]
        mode, fn, bufs = c.picker.mode, c.picker.fn, c.bufs
        if mode == CYCLE:

            def send_cycle(values: Sequence[Any]) -> None:
                if len(values) != arity:
                    raise bad(values)
                bufs[fn()].append(values)

            return send_cycle
        if mode == KEY and c.picker.key_index is not None:
            i, n = c.picker.key_index, len(bufs)

            def send_key1(values: Sequence[Any]) -> None:  # fields grouping on one field: Picker.pick, inline
                if len(values) != arity:
                    raise bad(values)
                v = values[i]
                bufs[(_mmh3(v) if type(v) is str else stable_hash(v)) % n].append(values)

            return send_key1
        if mode == KEY:

            def send_key(values: Sequence[Any]) -> None:
                if len(values) != arity:
                    raise bad(values)
                bufs[fn(values)].append(values)

            return send_key
        if mode == FIXED:
            buf = bufs[fn]

            def send_fixed(values: Sequence[Any]) -> None:
                if len(values) != arity:
                    raise bad(values)
                buf.append(values)

            return send_fixed
        return self.send_general

    def _compile_tracked(self) -> Callable[[Sequence[Any], int], int]:
        """The tracked twin of the fast paths: a new edge id per tuple, appended beside the values."""
        arity = self.arity
        bad = self.bad_arity
        c = self.consumers[0]
        mode, fn, tbufs, tids = c.picker.mode, c.picker.fn, c.tbufs, c.tids
        rand = _getrandbits
        if mode == CYCLE:

            def send_cycle(values: Sequence[Any], root: int) -> int:
                if len(values) != arity:
                    raise bad(values)
                i = fn()
                edge = rand(64)
                tbufs[i].append(values)
                tids[i].append((root, edge))
                return edge

            return send_cycle
        if mode == KEY and c.picker.key_index is not None:
            k, n = c.picker.key_index, len(tbufs)

            def send_key1(values: Sequence[Any], root: int) -> int:
                if len(values) != arity:
                    raise bad(values)
                v = values[k]
                i = (_mmh3(v) if type(v) is str else stable_hash(v)) % n
                edge = rand(64)
                tbufs[i].append(values)
                tids[i].append((root, edge))
                return edge

            return send_key1

        def send_other(values: Sequence[Any], root: int) -> int:  # grouping by a function, or global
            if len(values) != arity:
                raise bad(values)
            i = fn(values) if mode == KEY else fn
            edge = rand(64)
            tbufs[i].append(values)
            tids[i].append((root, edge))
            return edge

        return send_other

    def _compile_first(self) -> Callable[[Sequence[Any], int], None]:
        """A spout's tracked tuple with exactly one target: its message id is the root itself."""
        arity = self.arity
        bad = self.bad_arity
        c = self.consumers[0]
        mode, fn, tbufs, tids = c.picker.mode, c.picker.fn, c.tbufs, c.tids
        if mode == KEY and c.picker.key_index is not None:
            k, n = c.picker.key_index, len(tbufs)

            def first_key1(values: Sequence[Any], root: int) -> None:
                if len(values) != arity:
                    raise bad(values)
                v = values[k]
                i = (_mmh3(v) if type(v) is str else stable_hash(v)) % n
                tbufs[i].append(values)
                tids[i].append(root)

            return first_key1

        def first(values: Sequence[Any], root: int) -> None:
            if len(values) != arity:
                raise bad(values)
            i = fn() if mode == CYCLE else fn(values) if mode == KEY else fn
            tbufs[i].append(values)
            tids[i].append(root)

        return first

    def _check(self, values: Any) -> None:
        try:
            if len(values) != self.arity:
                raise self.bad_arity(values)
        except TypeError:
            raise self.bad_arity(values) from None

    def validate(self, values: Any, direct_task: int | None = None) -> None:
        """Raise the ``EmitError`` an emit of ``values`` would raise, without sending anything and
        without touching a picker's state: for emits made in another thread (``concurrency_mode =
        "threads"``) and handed to the worker's thread, so the error still reaches the caller."""
        self._check(values)
        if self.direct or direct_task is not None:
            self._targets(values, direct_task)  # only the direct-stream checks: stateless

    def _targets(self, values: Sequence[Any], direct_task: int | None) -> list[tuple[Consumer, int]]:
        """(consumer, target index) for every task this tuple goes to. The general, slower path."""
        if self.direct:
            if direct_task is None:
                raise EmitError(
                    f"component '{self.component}' emitted on direct stream '{self.stream}' without direct_task: "
                    f"pass emit(values, stream='{self.stream}', direct_task=<task id of a consumer>)"
                )
            hits = [(c, c.picker.targets.index(direct_task)) for c in self.consumers if direct_task in c.picker.targets]
            if not hits:
                valid = sorted(t for c in self.consumers for t in c.picker.targets)
                raise EmitError(
                    f"component '{self.component}' emitted on direct stream '{self.stream}' to task {direct_task}, "
                    f"which does not consume it; consumer tasks are {valid}"
                )
            return hits
        if direct_task is not None:
            raise EmitError(
                f"component '{self.component}' passed direct_task={direct_task} on stream '{self.stream}', "
                "which is not declared direct: declare Stream(..., direct=True) or drop direct_task"
            )
        return [(c, i) for c in self.consumers for i in c.picker.pick(values)]

    def send_general(
        self, values: Sequence[Any], direct_task: int | None = None, need_task_ids: bool = False
    ) -> list[int] | None:
        """Any untracked emit: several consumers, ALL/custom groupings, direct streams, task ids."""
        self._check(values)
        if not self.fast:
            self.emitted += 1
        if self.observe is not None:
            self.observe(values)
        targets = self._targets(values, direct_task)
        for c, i in targets:
            c.bufs[i].append(values)
        return [c.picker.targets[i] for c, i in targets] if need_task_ids else None

    def send_tracked(
        self, values: Sequence[Any], roots: Sequence[int], direct_task: int | None = None, need_task_ids: bool = False
    ) -> tuple[int, list[int] | None]:
        """An emit inside tuple trees ``roots``: every delivered tuple gets a new random edge id.

        Returns the XOR of the new edge ids (the caller folds it into each anchor's ack value)
        and the target task ids when asked.
        """
        self._check(values)
        if not self.fast:
            self.emitted += 1
        if self.observe is not None:
            self.observe(values)
        xor = 0
        rand = _getrandbits
        targets = self._targets(values, direct_task)
        for c, i in targets:
            edge = rand(64)
            if len(roots) == 1:
                mid: tuple[int, ...] = (roots[0], edge)
            else:
                acc: dict[int, int] = {}
                for r in roots:
                    acc[r] = acc.get(r, 0) ^ edge
                mid = tuple(x for pair in acc.items() for x in pair)
            c.tbufs[i].append(values)
            c.tids[i].append(mid)
            xor ^= edge
        return xor, ([c.picker.targets[i] for c, i in targets] if need_task_ids else None)


def bad_arity(component: str, task: int, stream: str, fields: Sequence[str], values: Any) -> EmitError:
    """The error of an emit whose values do not match the stream's fields (or are not a sequence)."""
    arity = len(fields)
    try:
        n = len(values)
    except TypeError:
        return EmitError(
            f"component '{component}' (task {task}) emitted {values!r} on stream '{stream}': "
            f"values must be a list or tuple of {arity} value(s) for fields {list(fields)}"
        )
    return EmitError(
        f"component '{component}' (task {task}) emitted {n} value(s) {list(values)!r} on stream "
        f"'{stream}', which declares {arity} field(s) {list(fields)}: emit one value per field"
    )


def unknown_stream(component: str, stream: Any, declared: list[str]) -> EmitError:
    return EmitError(
        f"component '{component}' emitted on stream {stream!r}, which it does not declare "
        f"(declared: {declared}); add Stream([...], name={stream!r}) to its outputs"
    )
