"""The bolt executor: ``process`` over batches; anchoring, acking and failing inside tuple trees."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import chain, islice
from typing import Any

from squall.runtime.acker import FAIL, TASK_MASK, acker_of
from squall.runtime.executor import TaskExecutor, next_slice
from squall.topology.bolt import BatchingBolt, Bolt
from squall.topology.plan import TASK_BITS
from squall.topology.tuple import Tuple, tick_tuple

#: how a batch runs: ``run(tuples, n, arrival)`` -> how many are left (``arrival``: when it came, 0.0: now)
Run = Callable[[Iterator[Tuple], int, float], int]
#: a batch (or what is left of it) waiting in an executor: (how to run it, its tuples, how many are
#: left, when it came into the executor: monotonic)
Waiting = tuple[Run, Iterator[Tuple], int, float]
ACK_SAMPLES = 64  # explicit acks: tuples whose process latency is being measured, at most (per task)


class BoltExecutor(TaskExecutor):
    """Runs ``process`` over batches; anchors, acks and fails inside tuple trees.

    Work is bounded by time, not by counts: a batch runs in slices (one clock read per slice, sized
    by ``next_slice`` to take about ``SLICE_SECS``); when the turn's deadline has passed, the rest of
    the batch, and every batch delivered after it, waits in ``waiting`` (FIFO, so each channel keeps
    its order) until the worker calls ``resume`` in a later turn.

    **Metrics** come from those clock reads, never one per tuple: ``exec_secs`` adds up each run of
    slices (and ticks, and ``process_batch``); ``proc_secs`` / ``proc_n`` the process latency, from
    when the batch came into the executor to each tuple's ack. With ``auto_ack`` every tuple counts:
    in a slice of ``k`` tuples that began at ``t0`` and ended at ``t1``, the ``j``-th is taken as
    acked at ``t0 + j (t1 - t0) / k`` (exact when the calls cost the same). Explicit acks are
    sampled: the first tuple of each batch is remembered (at most ``ACK_SAMPLES`` at once, oldest
    dropped) and its ``ack`` reads the clock.
    """

    instance: Bolt

    def __init__(self, *args: Any, tick_secs: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.executed = 0
        self.tick_secs = tick_secs
        self.next_tick = time.monotonic() + tick_secs if tick_secs else float("inf")
        inst = self.instance
        self.process: Callable[..., Any] = inst.process  # Any: a user's method may return a coroutine
        self.auto_fail = inst.auto_fail
        self.auto_anchor = inst.auto_anchor
        self.batching = isinstance(inst, BatchingBolt)
        self.auto_ack = inst.auto_ack and not self.batching  # a batching bolt acks per batch
        self.current: Tuple | None = None  # the tracked tuple in process(): emits anchor to it
        self.batch_anchors: list[Tuple] | None = None  # a batching bolt's batch in process_batch()
        self.children: dict[Any, int] = {}  # tuple id -> XOR of the edges anchored to it
        self.waiting: deque[Waiting] = deque()  # batches left for a later turn, in delivery order
        self.n_waiting = 0  # tuples in ``waiting``
        self.slice_n = 1  # tuples per slice (adapted to the measured cost of a call)
        self.exec_secs = 0.0  # time in process / process_batch / process_tick
        self.proc_secs = 0.0  # process latencies (batch received -> ack), summed ...
        self.proc_n = 0  # ... over this many tuples
        self.run_t0 = 0.0  # when the last run of slices began: the arrival of what it left over
        self.ack_samples: dict[int, tuple[Any, float]] = {}  # explicit acks: id(tuple) -> (tuple, arrival)
        self.in_tick = False  # process_tick is running (its process_batch calls are timed with it)
        # The runtime's emit/ack/fail replace the instance's stubs.
        self.bind_emit()
        inst.ack = self._ack  # type: ignore[method-assign]
        inst.fail = self._fail  # type: ignore[method-assign]
        if self.batching:
            inst._run_batch = self._run_batch  # type: ignore[attr-defined]  # a BatchingBolt

    def bind_emit(self) -> None:
        """Give the instance the runtime's ``emit``, compiled from its routers' current paths (again
        when they change: sampling)."""
        self.instance.emit = self._make_emit()  # type: ignore[method-assign]

    def _make_emit(self) -> Any:
        default = self.routers.get("default")
        fast = default.send if default is not None and default.fast else None
        fast_t = default.send_tracked_fast if default is not None else None
        slow_route = self.slow_route
        emit_tracked = self.emit_tracked
        children = self.children
        ex = self

        def emit(
            values: Sequence[Any],
            stream: str | None = None,
            anchors: Any = None,
            direct_task: int | None = None,
            need_task_ids: bool = False,
        ) -> list[int] | None:
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

    def emit_tracked(
        self, values: Sequence[Any], stream: str | None, anchors: Any, direct_task: int | None, need_task_ids: bool
    ) -> list[int] | None:
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
        if self.ack_samples:
            sampled = self.ack_samples.pop(id(tup), None)
            if sampled is not None:
                self.proc_secs += time.monotonic() - sampled[1]
                self.proc_n += 1
        self._send_ack(tup.id if isinstance(tup, Tuple) else tup)

    def _sample_first(self, tuples: Iterator[Tuple], arrival: float) -> Iterator[Tuple]:
        """Explicit acks: remember the batch's first tuple and its arrival (its ack measures the process
        latency); returns the tuples to run, that one included. The caller's iterator still holds the
        rest once the first slice ran (``chain`` reads ahead nothing)."""
        first = next(tuples)
        samples = self.ack_samples
        if len(samples) >= ACK_SAMPLES:  # never acked (failed elsewhere, dropped): the oldest goes
            del samples[next(iter(samples))]
        samples[id(first)] = (first, arrival)
        return chain((first,), tuples)

    def _send_ack(self, mid: Any) -> None:
        if mid is None or self.ack_bufs is None:
            return
        x = self.children.pop(mid, 0)
        bufs, n = self.ack_bufs, self.n_ackers  # bufs[(root >> TASK_BITS) % n]: acker_of(root, n), inline
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
        if self.ack_samples:
            self.ack_samples.pop(id(tup), None)
        if mid is None or self.ack_bufs is None:
            return
        self.children.pop(mid, None)
        bufs, n = self.ctl_bufs, self.n_ackers
        for root in (mid,) if type(mid) is int else mid[0::2]:
            bufs[acker_of(root, n)].append((FAIL, root))  # type: ignore[index]

    # -- batches, bounded by time -----------------------------------------------------------------
    def execute(self, tuples: Iterator[Tuple], n: int) -> None:
        """Run ``process`` over untracked tuples (an exception is reported and the loop goes on),
        until the turn's time is up; the rest waits for ``resume``."""
        if self.waiting or self.turn.over:
            self._wait(self.run_plain, tuples, n)
            return
        left = self.run_plain(tuples, n, 0.0)
        if left:
            self._wait(self.run_plain, tuples, left, self.run_t0)

    def execute_tracked(self, tuples: Iterator[Tuple], n: int) -> None:
        """``execute`` for tracked tuples: auto-anchor emits, auto-ack, fail on exception."""
        if self.waiting or self.turn.over:
            self._wait(self.run_tracked, tuples, n)
            return
        left = self.run_tracked(tuples, n, 0.0)
        if left:
            self._wait(self.run_tracked, tuples, left, self.run_t0)

    def _wait(self, run: Run, tuples: Iterator[Tuple], n: int, arrival: float = 0.0) -> None:
        """Queue a batch for a later turn (``arrival``: when it came; 0.0: now, one clock read)."""
        self.waiting.append((run, tuples, n, arrival or time.monotonic()))
        self.n_waiting += n
        self.turn.waiting += n
        self.turn.backlog[self] = None

    def resume(self) -> int:
        """Run waiting batches, oldest first, until the turn's time is up (at least one slice);
        returns how many tuples ran. Re-registers in the turn's backlog while work is left."""
        waiting, turn = self.waiting, self.turn
        done = 0
        while waiting:
            run, tuples, n, arrival = waiting[0]
            left = run(tuples, n, arrival)
            done += n - left
            if left:
                waiting[0] = (run, tuples, left, arrival)
                break
            waiting.popleft()
            if turn.over:
                break
        self.n_waiting -= done
        turn.waiting -= done
        if waiting:
            turn.backlog[self] = None
        return done

    def run_plain(self, tuples: Iterator[Tuple], n: int, arrival: float = 0.0) -> int:
        """Process untracked tuples slice by slice until done or the turn is over; returns how many are
        left. ``arrival``: when the batch came into the executor (0.0: now)."""
        process, report, auto_fail, fail = self.process, self.report, self.auto_fail, self._fail
        check, auto_ack = self.check_result, self.auto_ack
        turn, clock = self.turn, time.monotonic
        k, left = self.slice_n, n
        t0 = start = self.run_t0 = clock()
        arrival = arrival or t0
        if not auto_ack and n:
            tuples = self._sample_first(tuples, arrival)
        proc = 0.0
        while True:
            take = k if k < left else left
            for tup in islice(tuples, take) if take < left else tuples:
                try:
                    r = process(tup)
                    if r is not None:
                        check("process", r)
                except Exception as exc:
                    report("process", exc)
                    if auto_fail:
                        fail(tup)
            left -= take
            t1 = clock()
            # process latency: the j-th of the slice acked at t0 + j * (t1 - t0) / take (see the class)
            proc += take * (t0 - arrival) + (t1 - t0) * (take + 1) * 0.5
            k = next_slice(t1 - t0, take)
            if t1 >= turn.deadline:
                turn.over = True
                break
            if not left:
                break
            t0 = t1
        self.slice_n = k
        self.executed += n - left
        self.exec_secs += t1 - start
        if auto_ack:
            self.proc_secs += proc
            self.proc_n += n - left
        return left

    def run_tracked(self, tuples: Iterator[Tuple], n: int, arrival: float = 0.0) -> int:
        """``run_plain`` for tracked tuples: auto-anchor emits, auto-ack, fail on exception."""
        process = self.process
        auto_ack, auto_anchor, auto_fail = self.auto_ack, self.auto_anchor, self.auto_fail
        send_ack, fail, report, check = self._send_ack, self._fail, self.report, self.check_result
        children, bufs, n_ackers, done_bufs = self.children, self.ack_bufs, self.n_ackers, self.done_bufs
        turn, clock = self.turn, time.monotonic
        k, left = self.slice_n, n
        acked = 0
        t0 = start = self.run_t0 = clock()
        arrival = arrival or t0
        if not auto_ack and n:
            tuples = self._sample_first(tuples, arrival)
        proc = 0.0
        while True:
            acked0 = acked
            take = k if k < left else left
            for tup in islice(tuples, take) if take < left else tuples:
                if auto_anchor:
                    self.current = tup
                try:
                    r = process(tup)
                    if r is not None:
                        check("process", r)
                except Exception as exc:
                    report("process", exc)
                    if auto_fail:
                        fail(tup)
                    continue
                if auto_ack:
                    mid = tup[0]
                    if type(mid) is int and not children:  # a spout's tuple, no children: its tree is done
                        done_bufs[mid & TASK_MASK].append(mid)  # type: ignore[index]
                    elif type(mid) is tuple and len(mid) == 2:  # one root: the common case, inline
                        root = mid[0]
                        buf = bufs[(root >> TASK_BITS) % n_ackers]  # type: ignore[index]  # acker_of, inline
                        buf.append(root)
                        buf.append(mid[1] ^ children.pop(mid, 0) if children else mid[1])
                    else:
                        send_ack(mid)
                    acked += 1
            left -= take
            t1 = clock()
            a = acked - acked0  # process latency of the slice's acked tuples, as in run_plain
            proc += a * (t0 - arrival) + (t1 - t0) * (a + 1) * 0.5 if a else 0.0
            k = next_slice(t1 - t0, take)
            if t1 >= turn.deadline:
                turn.over = True
                break
            if not left:
                break
            t0 = t1
        self.current = None
        self.slice_n = k
        self.acked += acked
        self.executed += n - left
        self.exec_secs += t1 - start
        self.proc_secs += proc
        self.proc_n += acked
        return left

    @property
    def busy(self) -> bool:
        """Has tuples waiting or calls in flight: not idle."""
        return bool(self.waiting)

    def stats(self) -> dict[str, Any]:
        return {
            "execute_ms": 1000.0 * self.exec_secs,
            "process_ms": 1000.0 * self.proc_secs,
            "process_count": self.proc_n,
        }

    def tick(self, now: float) -> None:
        self.next_tick = now + self.tick_secs  # type: ignore[operator]
        self.in_tick = True
        t0 = time.monotonic()
        try:
            process_tick: Callable[..., Any] = self.instance.process_tick
            r = process_tick(tick_tuple(self.tick_secs))  # type: ignore[arg-type]
            if r is not None:
                self.check_result("process_tick", r)
        except Exception as exc:
            self.report("process_tick", exc)
        finally:
            self.in_tick = False
            self.exec_secs += time.monotonic() - t0

    def _run_batch(self, key: Any, tups: list[Tuple]) -> None:
        if self.in_tick:  # timed with the tick
            self._process_batch(key, tups)
            return
        t0 = time.monotonic()
        try:
            self._process_batch(key, tups)
        finally:
            self.exec_secs += time.monotonic() - t0

    def _process_batch(self, key: Any, tups: list[Tuple]) -> None:
        if self.auto_anchor:
            self.batch_anchors = tups
        try:
            r = self.instance.process_batch(key, tups)  # type: ignore[attr-defined]
            if r is not None:
                self.check_result("process_batch", r)
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
