"""Executors: run one task's component instance inside a worker.

``SpoutExecutor`` calls ``next_tuple`` in bursts; ``BoltExecutor`` runs ``process`` over a batch of
tuples. Both give the instance its ``emit`` and record the user's exceptions (component, task,
time, traceback) without stopping: a bolt that raises fails that tuple and goes on.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .acker import FAIL, TASK_BITS, TASK_MASK, RotatingMap
from .bolt import BatchingBolt, Bolt
from .router import StreamRouter, unknown_stream
from .spout import Spout
from .tuple import Tuple, tick_tuple

BURST_SECS = 0.002  # a spout's burst of next_tuple calls ends after this long
ERRORS_KEPT = 100  # per worker, newest kept: what the status line and the UI show
LOG_ERRORS_PER_TASK = 5  # tracebacks logged per task per interval; the rest are only counted
LOG_ERRORS_INTERVAL = 10.0


class ErrorLog:
    """Errors raised by user code in this worker, kept for reporting and logged with a throttle."""

    def __init__(self) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
        self.new: list[dict[str, Any]] = []
        self.count = 0
        self._window: dict[int, tuple[float, int]] = {}
        self.log = logging.getLogger("squall.errors")

    def report(self, component: str, task: int, where: str, exc: BaseException) -> None:
        self.count += 1
        now = time.time()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        entry = {"component": component, "task": task, "time": now, "where": where,
                 "error": f"{type(exc).__name__}: {exc}", "traceback": tb}
        self.recent.append(entry)
        self.new.append(entry)
        start, n = self._window.get(task, (now, 0))
        if now - start > LOG_ERRORS_INTERVAL:
            start, n = now, 0
        self._window[task] = (start, n + 1)
        if n < LOG_ERRORS_PER_TASK:
            logging.getLogger(f"{component}:{task}").error("error in %s (the task goes on):\n%s", where, tb.rstrip())

    def take_new(self) -> list[dict[str, Any]]:
        new, self.new = self.new, []
        return new


class TaskExecutor:
    """What spout and bolt executors share: the instance, its routers, its counters.

    ``ack_bufs`` / ``ctl_bufs`` are the channel buffers to the acker tasks (one per acker, in task
    order) for acks and announcements (flat ``root, xor`` ints) and for FAIL messages; None when tracking is off
    (``topology.acker.executors = 0``).
    """

    def __init__(self, task: int, component: str, instance: Any, routers: dict[str, StreamRouter], errors: ErrorLog,
                 ack_bufs: list[list[Any]] | None = None, ctl_bufs: list[list[Any]] | None = None,
                 done_bufs: dict[int, list[Any]] | None = None):
        self.task = task
        self.component = component
        self.instance = instance
        self.routers = routers
        self.errors = errors
        self.ack_bufs = ack_bufs
        self.ctl_bufs = ctl_bufs
        self.done_bufs = done_bufs  # spout task -> buffer of completed roots (first-hop shortcut)
        self.n_ackers = len(ack_bufs) if ack_bufs else 0
        self.failed = 0
        self.acked = 0
        self.error_count = 0

    def emitted(self) -> dict[str, int]:
        return {name: r.emitted for name, r in self.routers.items()}

    def report(self, where: str, exc: BaseException) -> None:
        self.error_count += 1
        self.errors.report(self.component, self.task, where, exc)

    def slow_route(self, stream: Any) -> StreamRouter:
        router = self.routers.get("default" if stream is None else stream)
        if router is None:
            raise unknown_stream(self.component, stream, list(self.routers))
        return router

    def stats(self) -> dict[str, Any]:
        return {}


class SpoutExecutor(TaskExecutor):
    """Calls ``next_tuple`` in bursts; tracks the trees its tuples start (when acking is on)."""

    instance: Spout

    def __init__(self, *args: Any, max_pending: int | None = None, home_acker: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.active = False
        self.exhausted = False
        self.to_ack: list[Any] = []  # tup_ids to ack right after emit: tracking is off
        self.pending = RotatingMap()  # root -> tup_id
        self.started: dict[int, float] = {}  # root -> emit time, for 1 tree in 16 (complete latency)
        self.max_pending = max_pending or 0
        self.home_acker = home_acker  # roots are drawn so that root % n_ackers picks an acker in this worker
        self.timed_out = 0
        self.latencies: deque[float] = deque(maxlen=4096)  # complete latency samples (s)
        self.latency_sum = 0.0
        self.latency_n = 0
        self._bufs: list[list[Any]] | None = None
        self.next_tuple = self.instance.next_tuple
        if getattr(self.instance, "_squall_intercepts_emit", False):
            self.instance._raw_emit = self._make_emit()  # e.g. ReliableSpout keeps what it emits
        else:
            self.instance.emit = self._make_emit()

    def _make_emit(self) -> Any:
        default = self.routers.get("default")
        fast = default.send if default is not None and default.fast else None
        first = default.send_first if default is not None else None
        to_ack = self.to_ack
        slow_route = self.slow_route
        task = self.task
        pending = self.pending
        started = self.started
        home, n_ackers = self.home_acker, self.n_ackers
        home_buf = self.ack_bufs[home] if self.ack_bufs else None
        rand = random.getrandbits
        now = time.monotonic

        def emit(values: Sequence[Any], tup_id: Any = None, stream: str | None = None,
                 direct_task: int | None = None, need_task_ids: bool = False) -> list[int] | None:
            if tup_id is not None:
                if home_buf is None:
                    to_ack.append(tup_id)
                    tasks = None
                else:
                    root = ((rand(40) * n_ackers + home) << TASK_BITS) | task  # acker.make_root, inline
                    if stream is None and first is not None and direct_task is None and not need_task_ids:
                        # One target: the tuple's id is its root. No announcement: the bolt that
                        # acks it tells this spout (no children) or announces its children.
                        first(values, root)
                        tasks = None
                    else:
                        xor, tasks = slow_route(stream).send_tracked(values, (root,), direct_task, need_task_ids)
                        if xor == 0:  # the tuple went nowhere: its tree is already complete
                            to_ack.append(tup_id)
                            return tasks
                        home_buf.append(root)  # announce the tree to its acker
                        home_buf.append(xor)
                    pending.buckets[0][root] = tup_id  # RotatingMap.put, inline
                    pending.size += 1
                    if not (root >> 24) & 15:
                        started[root] = now()
                    return tasks
            if stream is None and fast is not None and direct_task is None and not need_task_ids:
                return fast(values)
            return slow_route(stream).send_general(values, direct_task, need_task_ids)

        return emit

    @property
    def done(self) -> bool:
        """Will not emit again and has no tree in flight."""
        return (self.exhausted or not self.active) and not self.pending.size

    def out_buffers(self) -> list[list[Any]]:
        """Every buffer this spout's emits land in (to tell whether a burst emitted anything)."""
        bufs = [b for r in self.routers.values() for c in r.consumers for b in c.bufs + c.tbufs]
        return bufs + list(self.ack_bufs or [])

    def burst(self, n: int) -> int:
        """Call ``next_tuple`` up to ``n`` times (fewer at ``topology.max.spout.pending``, or when
        the first calls emit nothing: Storm's spout wait strategy). Returns how much it emitted."""
        bufs = self._bufs
        if bufs is None:
            bufs = self._bufs = self.out_buffers()
        before = sum(map(len, bufs))
        to_ack_before = len(self.to_ack)
        next_tuple = self.next_tuple
        clock = time.monotonic
        deadline = clock() + BURST_SECS  # a slow next_tuple must not delay ticks, timeouts, control
        try:
            if self.max_pending:
                pending, limit = self.pending, self.max_pending
                for i in range(n):
                    if pending.size >= limit:
                        break
                    next_tuple()
                    if not i % 8 and clock() > deadline:
                        break
            else:
                for chunk in range(0, n, 8):
                    for _ in range(8):
                        next_tuple()
                    if clock() > deadline:
                        break
                    if not chunk and sum(map(len, bufs)) == before and len(self.to_ack) == to_ack_before:
                        break  # nothing to emit now: let the worker wait instead of spinning
        except StopIteration:
            self.exhausted = True
        except Exception as exc:  # a spout error is reported; the spout is called again next turn
            self.report("next_tuple", exc)
        emitted = sum(map(len, bufs)) - before + len(self.to_ack) - to_ack_before
        if self.to_ack:
            self.ack_now()
        return emitted

    def ack_now(self) -> None:
        ids = self.to_ack[:]
        self.to_ack.clear()
        ack = self.instance.ack
        for tup_id in ids:
            try:
                ack(tup_id)
            except Exception as exc:
                self.report("ack", exc)
        self.acked += len(ids)

    def execute_acks(self, roots: list[int], n: int) -> None:
        """Trees the ackers found complete."""
        pop = self.pending.pop
        started = self.started
        ack = self.instance.ack
        now = time.monotonic()
        acked = 0
        for root in roots:
            tup_id = pop(root)
            if tup_id is None:
                continue  # already failed by timeout
            if not (root >> 24) & 15:
                t0 = started.pop(root, None)
                if t0 is not None:
                    self.latencies.append(now - t0)
                    self.latency_sum += now - t0
                    self.latency_n += 1
            acked += 1
            try:
                ack(tup_id)
            except Exception as exc:
                self.report("ack", exc)
        self.acked += acked
        if self.to_ack:
            self.ack_now()

    def execute(self, batch: Iterable[tuple[int, int]], n: int) -> None:
        """Trees that failed: (FAILED, root)."""
        fail = self.instance.fail
        for _kind, root in batch:
            tup_id = self.pending.pop(root)
            if tup_id is None:
                continue
            self.started.pop(root, None)
            self.failed += 1
            try:
                fail(tup_id)
            except Exception as exc:
                self.report("fail", exc)
        if self.to_ack:
            self.ack_now()

    def rotate(self) -> None:
        """Fail the trees older than the message timeout."""
        expired = self.pending.rotate()
        if not expired:
            return
        self.timed_out += len(expired)
        self.failed += len(expired)
        fail = self.instance.fail
        for root, tup_id in expired.items():
            self.started.pop(root, None)
            try:
                fail(tup_id)
            except Exception as exc:
                self.report("fail", exc)

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        out: dict[str, Any] = {"pending": self.pending.size, "timed_out": self.timed_out}
        given_up = getattr(self.instance, "given_up", None)
        if given_up is not None:
            out["given_up"] = given_up
        if lat:
            out["complete_latency_ms"] = {
                "avg": 1000 * self.latency_sum / max(self.latency_n, 1),
                "p50": 1000 * lat[len(lat) // 2],
                "p99": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            }
        return out

    def activate(self) -> None:
        if not self.active:
            self.active = True
            try:
                self.instance.activate()
            except Exception as exc:
                self.report("activate", exc)

    def deactivate(self) -> None:
        if self.active:
            self.active = False
            try:
                self.instance.deactivate()
            except Exception as exc:
                self.report("deactivate", exc)


class BoltExecutor(TaskExecutor):
    """Runs ``process`` over batches; anchors, acks and fails inside tuple trees."""

    instance: Bolt

    def __init__(self, *args: Any, tick_secs: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.executed = 0
        self.tick_secs = tick_secs
        self.next_tick = time.monotonic() + tick_secs if tick_secs else float("inf")
        inst = self.instance
        self.process = inst.process
        self.auto_fail = inst.auto_fail
        self.auto_anchor = inst.auto_anchor
        self.batching = isinstance(inst, BatchingBolt)
        self.auto_ack = inst.auto_ack and not self.batching  # a batching bolt acks per batch
        self.current: Tuple | None = None  # the tracked tuple in process(): emits anchor to it
        self.batch_anchors: list[Tuple] | None = None  # a batching bolt's batch in process_batch()
        self.children: dict[Any, int] = {}  # tuple id -> XOR of the edges anchored to it
        inst.emit = self._make_emit()
        inst.ack = self._ack
        inst.fail = self._fail
        if self.batching:
            inst._run_batch = self._run_batch

    def _make_emit(self) -> Any:
        default = self.routers.get("default")
        fast = default.send if default is not None and default.fast else None
        fast_t = default.send_tracked_fast if default is not None else None
        slow_route = self.slow_route
        emit_tracked = self.emit_tracked
        children = self.children
        ex = self

        def emit(values: Sequence[Any], stream: str | None = None, anchors: Any = None,
                 direct_task: int | None = None, need_task_ids: bool = False) -> list[int] | None:
            if anchors is None:
                cur = ex.current
                if cur is not None:
                    mid = cur[0]
                    if fast_t is not None and stream is None and direct_task is None and not need_task_ids:
                        if type(mid) is int:  # a spout's tuple (first hop): its id is its root
                            edge = fast_t(values, mid)
                        elif len(mid) == 2:
                            edge = fast_t(values, mid[0])
                        else:
                            return emit_tracked(values, stream, (cur,), direct_task, need_task_ids)
                        children[mid] = children.get(mid, 0) ^ edge
                        return None
                    return emit_tracked(values, stream, (cur,), direct_task, need_task_ids)
                if ex.batch_anchors:
                    return emit_tracked(values, stream, ex.batch_anchors, direct_task, need_task_ids)
            elif anchors:
                return emit_tracked(values, stream, anchors, direct_task, need_task_ids)
            if stream is None and fast is not None and direct_task is None and not need_task_ids:
                return fast(values)
            return slow_route(stream).send_general(values, direct_task, need_task_ids)

        return emit

    def emit_tracked(self, values: Sequence[Any], stream: str | None, anchors: Any, direct_task: int | None,
                     need_task_ids: bool) -> list[int] | None:
        ids = [a.id if isinstance(a, Tuple) else a for a in anchors]
        ids = [i for i in ids if i is not None]
        router = self.slow_route(stream)
        if not ids or self.ack_bufs is None:
            return router.send_general(values, direct_task, need_task_ids)
        roots = [r for m in ids for r in ((m,) if type(m) is int else m[0::2])]
        xor, tasks = router.send_tracked(values, roots, direct_task, need_task_ids)
        children = self.children
        for mid in ids:
            children[mid] = children.get(mid, 0) ^ xor
        return tasks

    def _ack(self, tup: Any) -> None:
        self.acked += 1
        self._send_ack(tup.id if isinstance(tup, Tuple) else tup)

    def _send_ack(self, mid: Any) -> None:
        if mid is None or self.ack_bufs is None:
            return
        x = self.children.pop(mid, 0)
        bufs, n = self.ack_bufs, self.n_ackers
        if type(mid) is int:  # first hop: done, or its children now stand for the tree
            if x:
                buf = bufs[(mid >> TASK_BITS) % n]
                buf.append(mid)
                buf.append(x)
            else:
                self.done_bufs[mid & TASK_MASK].append(mid)  # type: ignore[index]
            return
        for i in range(0, len(mid), 2):
            root = mid[i]
            buf = bufs[(root >> TASK_BITS) % n]
            buf.append(root)
            buf.append(mid[i + 1] ^ x)

    def _fail(self, tup: Any) -> None:
        mid = tup.id if isinstance(tup, Tuple) else tup
        self.failed += 1
        if mid is None or self.ack_bufs is None:
            return
        self.children.pop(mid, None)
        bufs, n = self.ctl_bufs, self.n_ackers
        for root in ((mid,) if type(mid) is int else mid[0::2]):
            bufs[(root >> TASK_BITS) % n].append((FAIL, root))  # type: ignore[index]

    def execute(self, tuples: Iterable[Tuple], n: int) -> None:
        """Run ``process`` over untracked tuples; an exception is reported and the loop goes on."""
        process = self.process
        for tup in tuples:
            try:
                process(tup)
            except Exception as exc:
                self.report("process", exc)
                if self.auto_fail:
                    self._fail(tup)
        self.executed += n

    def execute_tracked(self, tuples: Iterable[Tuple], n: int) -> None:
        """Run ``process`` over tracked tuples: auto-anchor emits, auto-ack, fail on exception."""
        process = self.process
        auto_ack, auto_anchor, auto_fail = self.auto_ack, self.auto_anchor, self.auto_fail
        send_ack, fail = self._send_ack, self._fail
        children, bufs, n_ackers, done_bufs = self.children, self.ack_bufs, self.n_ackers, self.done_bufs
        acked = 0
        for tup in tuples:
            if auto_anchor:
                self.current = tup
            try:
                process(tup)
            except Exception as exc:
                self.report("process", exc)
                if auto_fail:
                    fail(tup)
                continue
            if auto_ack:
                mid = tup[0]
                if type(mid) is int and not children:  # a spout's tuple, no children: its tree is done
                    done_bufs[mid & TASK_MASK].append(mid)  # type: ignore[index]
                elif type(mid) is tuple and len(mid) == 2:  # one root: the common case, inline
                    root = mid[0]
                    buf = bufs[(root >> TASK_BITS) % n_ackers]  # type: ignore[index]
                    buf.append(root)
                    buf.append(mid[1] ^ children.pop(mid, 0) if children else mid[1])
                else:
                    send_ack(mid)
                acked += 1
        self.current = None
        self.acked += acked
        self.executed += n

    def tick(self, now: float) -> None:
        self.next_tick = now + self.tick_secs  # type: ignore[operator]
        try:
            self.instance.process_tick(tick_tuple(self.tick_secs))  # type: ignore[arg-type]
        except Exception as exc:
            self.report("process_tick", exc)

    def _run_batch(self, key: Any, tups: list[Tuple]) -> None:
        if self.auto_anchor:
            self.batch_anchors = tups
        try:
            self.instance.process_batch(key, tups)  # type: ignore[attr-defined]
        except Exception as exc:
            self.report("process_batch", exc)
            if self.auto_fail:
                for t in tups:
                    self._fail(t)
            return
        finally:
            self.batch_anchors = None
        if self.instance.auto_ack:
            for t in tups:
                self._ack(t)
