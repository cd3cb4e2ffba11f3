"""The spout executor: ``next_tuple`` in bursts, tracked emits, the pending map, acks, fails, timeouts."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from squall.runtime.acker import LATENCY_SAMPLE_MASK, LATENCY_SAMPLE_SHIFT, ROOT_RANDOM_BITS, RotatingMap
from squall.runtime.executor import TaskExecutor
from squall.topology.plan import TASK_BITS
from squall.topology.spout import Spout

BURST_SECS = 0.002  # a spout's burst of next_tuple calls ends after this long


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
        self.max_pending = 0 if max_pending is None else max_pending  # 0: unbounded (Storm's meaning)
        self.home_acker = home_acker  # roots are drawn so that root % n_ackers picks an acker in this worker
        self.timed_out = 0
        self.latencies: deque[float] = deque(maxlen=4096)  # complete latency samples (s)
        self.latency_sum = 0.0
        self.latency_n = 0
        self._bufs: list[list[Any]] | None = None
        self.chunk = 1  # next_tuple calls between clock reads in a burst (8 once calls are known to be fast)
        self.next_tuple: Callable[..., Any] = self.instance.next_tuple  # Any: a user's method may return a coroutine
        if getattr(self.instance, "_squall_intercepts_emit", False):
            # e.g. ReliableSpout keeps what it emits, then calls the runtime's emit
            self.instance._raw_emit = self._make_emit()  # type: ignore[attr-defined]
        else:
            self.instance.emit = self._make_emit()  # type: ignore[method-assign]  # the runtime's emit replaces the stub

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
        # acker.make_root and acker.is_latency_sampled, inlined below (a call per tuple is measurable);
        # tests/unit/test_hotpath_props.py runs this emit against them.
        random_bits, task_bits = ROOT_RANDOM_BITS, TASK_BITS
        sample_shift, sample_mask = LATENCY_SAMPLE_SHIFT, LATENCY_SAMPLE_MASK

        def emit(
            values: Sequence[Any],
            tup_id: Any = None,
            stream: str | None = None,
            direct_task: int | None = None,
            need_task_ids: bool = False,
        ) -> list[int] | None:
            if tup_id is not None:
                if home_buf is None:
                    to_ack.append(tup_id)
                    tasks = None
                else:
                    root = ((rand(random_bits) * n_ackers + home) << task_bits) | task  # make_root
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
                    if not (root >> sample_shift) & sample_mask:  # is_latency_sampled(root)
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
        next_tuple, check = self.next_tuple, self.check_result
        clock = time.monotonic
        start = clock()
        deadline = start + BURST_SECS  # a slow next_tuple must not delay ticks, timeouts, control
        chunk = self.chunk  # calls between two clock reads: 1 once a call took long
        calls = 0
        try:
            if self.max_pending:
                pending, limit = self.pending, self.max_pending
                while calls < n and pending.size < limit:
                    calls += 1
                    r = next_tuple()
                    if r is not None:
                        check("next_tuple", r)
                    if not calls % chunk and clock() > deadline:
                        break
            else:
                while calls < n:
                    for _ in range(chunk):
                        calls += 1
                        r = next_tuple()
                        if r is not None:
                            check("next_tuple", r)
                    if clock() > deadline:
                        break
                    if calls == chunk and sum(map(len, bufs)) == before and len(self.to_ack) == to_ack_before:
                        break  # nothing to emit now: let the worker wait instead of spinning
        except StopIteration:
            self.exhausted = True
        except Exception as exc:  # a spout error is reported; the spout is called again next turn
            self.report("next_tuple", exc)
        self.chunk = 1 if calls and (clock() - start) / calls > BURST_SECS / 8 else 8
        emitted = sum(map(len, bufs)) - before + len(self.to_ack) - to_ack_before
        if self.to_ack:
            self.ack_now()
        return emitted

    def ack_now(self) -> None:
        ids = self.to_ack[:]
        self.to_ack.clear()
        ack: Callable[..., Any] = self.instance.ack
        for tup_id in ids:
            try:
                r = ack(tup_id)
                if r is not None:
                    self.check_result("ack", r)
            except Exception as exc:
                self.report("ack", exc)
        self.acked += len(ids)

    def execute_acks(self, roots: list[int], n: int) -> None:
        """Trees the ackers found complete."""
        pop = self.pending.pop
        started = self.started
        ack: Callable[..., Any] = self.instance.ack
        now = time.monotonic()
        sample_shift, sample_mask = LATENCY_SAMPLE_SHIFT, LATENCY_SAMPLE_MASK
        acked = 0
        for root in roots:
            tup_id = pop(root)
            if tup_id is None:
                continue  # already failed by timeout
            if not (root >> sample_shift) & sample_mask:  # is_latency_sampled(root), inline
                t0 = started.pop(root, None)
                if t0 is not None:
                    self.latencies.append(now - t0)
                    self.latency_sum += now - t0
                    self.latency_n += 1
            acked += 1
            try:
                r = ack(tup_id)
                if r is not None:
                    self.check_result("ack", r)
            except Exception as exc:
                self.report("ack", exc)
        self.acked += acked
        if self.to_ack:
            self.ack_now()

    def execute(self, batch: Iterable[tuple[int, int]], n: int) -> None:
        """Trees that failed: (FAILED, root)."""
        fail: Callable[..., Any] = self.instance.fail
        for _kind, root in batch:
            tup_id = self.pending.pop(root)
            if tup_id is None:
                continue
            self.started.pop(root, None)
            self.failed += 1
            try:
                r = fail(tup_id)
                if r is not None:
                    self.check_result("fail", r)
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
        fail: Callable[..., Any] = self.instance.fail
        for root, tup_id in expired.items():
            self.started.pop(root, None)
            try:
                r = fail(tup_id)
                if r is not None:
                    self.check_result("fail", r)
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
                activate: Callable[..., Any] = self.instance.activate
                r = activate()
                if r is not None:
                    self.check_result("activate", r)
            except Exception as exc:
                self.report("activate", exc)

    def deactivate(self) -> None:
        if self.active:
            self.active = False
            try:
                deactivate: Callable[..., Any] = self.instance.deactivate
                r = deactivate()
                if r is not None:
                    self.check_result("deactivate", r)
            except Exception as exc:
                self.report("deactivate", exc)
