"""The spout executor: ``next_tuple`` in bursts, tracked emits, the pending map, acks, fails, timeouts.

**Fails wait for a turn.** A tree that failed (a bolt failed a tuple, or the message timeout) is
counted at once, but the spout's ``fail(tup_id)`` is called only on the ``next_tuple`` path: in a
burst, before ``next_tuple``, while the spout may emit (active, not paused by backpressure, below
its pending cap). A spout that emits again inside ``fail`` (pystorm's ``ReliableSpout``, many Storm
spouts) therefore obeys the same limits as new tuples; ``ReliableSpout`` queues the id and is asked
to re-emit it (``_squall_replay``) on the same path.

**Auto max spout pending.** With acking on and ``topology.max.spout.pending`` unset, the cap starts
at ``config.AUTO_MAX_SPOUT_PENDING`` and is re-estimated every ``PENDING_ADJUST_SECS`` while trees
are in flight: by Little's law, trees in flight = completion rate x time in flight, so
the cap becomes ``ack rate x message timeout x PENDING_TIMEOUT_SHARE`` (at least 1, at most the
starting value): a spout never has more trees in flight than the topology completes in a quarter
of the timeout, so a slow consumer does not make them time out while they wait in queues.
"""

from __future__ import annotations

import logging
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
PENDING_ADJUST_SECS = 0.5  # an auto pending cap is re-estimated this often
PENDING_RATE_MARKS = 4  # ... from the ack rate over this many adjust periods (2 s)
PENDING_TIMEOUT_SHARE = 0.25  # auto cap: the trees a spout completes in this share of the message timeout
MASS_TIMEOUT = 100  # trees timed out in one rotation that make a spout task warn (once)

log = logging.getLogger("squall.runtime.spout")


class SpoutExecutor(TaskExecutor):
    """Calls ``next_tuple`` in bursts; tracks the trees its tuples start (when acking is on)."""

    instance: Spout

    def __init__(
        self,
        *args: Any,
        max_pending: int | None = None,
        auto_pending: int = 0,
        message_timeout: float | None = None,
        home_acker: int = 0,
        **kwargs: Any,
    ):
        """``max_pending``: ``topology.max.spout.pending`` as configured (None: unset, 0: unbounded);
        ``auto_pending``: the cap an unset value starts from when trees are tracked (0: none);
        ``message_timeout``: seconds (None: trees never time out)."""
        super().__init__(*args, **kwargs)
        self.active = False
        self.exhausted = False
        self.to_ack: list[Any] = []  # tup_ids to ack right after emit: tracking is off
        self.pending = RotatingMap()  # root -> tup_id
        self.started: dict[int, float] = {}  # root -> emit time, for 1 tree in 16 (complete latency)
        self.configured_pending = max_pending
        #: unset with tracking on: the cap follows the completion rate (see the module docstring)
        self.auto_pending = max_pending is None and self.ack_bufs is not None and auto_pending > 0
        self.auto_ceiling = auto_pending
        self.max_pending = auto_pending if self.auto_pending else (max_pending or 0)  # 0: unbounded
        self.message_timeout = message_timeout
        self.capped = False  # the pending cap held the spout back since the last adjustment
        self.ack_marks: deque[tuple[float, int]] = deque(maxlen=PENDING_RATE_MARKS + 1)
        self.home_acker = home_acker  # roots are drawn so that root % n_ackers picks an acker in this worker
        self.timed_out = 0
        self.warned_timeouts = False
        #: tup_ids of failed trees whose ``fail()`` waits for the spout's next turn
        self.fails: deque[Any] = deque()
        # ReliableSpout: the ids it will emit again when asked (``_squall_replay``); others: none
        self.replay_one: Any = getattr(self.instance, "_squall_replay", None)
        replays = getattr(self.instance, "replays", None) if self.replay_one is not None else None
        self.replays: deque[Any] | tuple[()] = replays if isinstance(replays, deque) else ()
        self.latencies: deque[float] = deque(maxlen=4096)  # complete latency samples (s)
        self.latency_sum = 0.0
        self.latency_n = 0
        self._bufs: list[list[Any]] | None = None
        self.chunk = 1  # next_tuple calls between clock reads in a burst (8 once calls are known to be fast)
        self.next_tuple: Callable[..., Any] = self.instance.next_tuple  # Any: a user's method may return a coroutine
        self.bind_emit()

    def bind_emit(self) -> None:
        """Give the instance the runtime's ``emit``, compiled from its routers' current paths (again
        when they change: sampling)."""
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
        """Will not emit again and has no tree in flight (failed trees waiting for an inactive spout
        do not count: it may not emit them)."""
        if self.pending.size:
            return False
        return not self.active or (self.exhausted and not self.fails and not self.replays)

    @property
    def wants_turn(self) -> bool:
        """Active, and has new tuples or failed trees to offer."""
        return self.active and (not self.exhausted or bool(self.fails) or bool(self.replays))

    @property
    def waiting_replays(self) -> int:
        """Failed trees whose ``fail()`` or re-emit waits for the spout's turn."""
        return len(self.fails) + len(self.replays)

    def out_buffers(self) -> list[list[Any]]:
        """Every buffer this spout's emits land in (to tell whether a burst emitted anything)."""
        bufs = [b for r in self.routers.values() for c in r.consumers for b in c.bufs + c.tbufs]
        return bufs + list(self.ack_bufs or [])

    def burst(self, n: int) -> int:
        """Up to ``n`` calls: first the waiting fails and replays, then ``next_tuple`` (fewer at
        ``topology.max.spout.pending``, or when the first calls emit nothing: Storm's spout wait
        strategy). Returns how much it emitted."""
        bufs = self._bufs
        if bufs is None:
            bufs = self._bufs = self.out_buffers()
        before = sum(map(len, bufs))
        to_ack_before = len(self.to_ack)
        clock = time.monotonic
        start = clock()
        deadline = start + BURST_SECS  # a slow next_tuple must not delay ticks, timeouts, control
        if self.fails or self.replays:
            n -= self._replay(n, deadline)
        if n > 0 and not self.exhausted:
            calls = 0
            try:
                if self.max_pending:
                    calls = self._next_capped(n, deadline)
                else:
                    calls = self._next_unbounded(n, deadline, bufs, before, to_ack_before)
            except StopIteration:
                self.exhausted = True
            except Exception as exc:  # a spout error is reported; the spout is called again next turn
                self.report("next_tuple", exc)
            if calls:  # calls between two clock reads: 1 once a call took long
                self.chunk = 1 if (clock() - start) / calls > BURST_SECS / 8 else 8
        emitted = sum(map(len, bufs)) - before + len(self.to_ack) - to_ack_before
        if self.to_ack:
            self.ack_now()
        return emitted

    def _next_capped(self, n: int, deadline: float) -> int:
        """``next_tuple`` up to ``n`` times while below the pending cap; returns the calls made."""
        next_tuple, check = self.next_tuple, self.check_result
        pending, limit = self.pending, self.max_pending
        clock = time.monotonic
        chunk = self.chunk
        calls = 0
        while calls < n:
            if pending.size >= limit:
                self.capped = True
                break
            calls += 1
            r = next_tuple()
            if r is not None:
                check("next_tuple", r)
            if not calls % chunk and clock() > deadline:
                break
        return calls

    def _next_unbounded(self, n: int, deadline: float, bufs: list[list[Any]], before: int, to_ack_before: int) -> int:
        """``next_tuple`` up to ``n`` times, stopping early when the first calls emit nothing (Storm's
        spout wait strategy: let the worker wait instead of spinning); returns the calls made."""
        next_tuple, check = self.next_tuple, self.check_result
        clock = time.monotonic
        chunk = self.chunk
        calls = 0
        while calls < n:
            for _ in range(chunk):
                calls += 1
                r = next_tuple()
                if r is not None:
                    check("next_tuple", r)
            if clock() > deadline:
                break
            if calls == chunk and sum(map(len, bufs)) == before and len(self.to_ack) == to_ack_before:
                break
        return calls

    def _replay(self, n: int, deadline: float) -> int:
        """Call ``fail()`` for waiting failed trees and let a ReliableSpout re-emit its replays, oldest
        first, within the pending cap; returns the calls made."""
        fails, replays, pending, limit = self.fails, self.replays, self.pending, self.max_pending
        fail: Callable[..., Any] = self.instance.fail  # Any: a user's method may return a coroutine
        replay_one = self.replay_one
        calls = 0
        while calls < n and (fails or replays):
            if limit and pending.size >= limit:
                self.capped = True
                break
            if replays:
                try:
                    replay_one()
                except Exception as exc:
                    self.report("fail", exc)
            else:
                try:
                    r = fail(fails.popleft())
                    if r is not None:
                        self.check_result("fail", r)
                except Exception as exc:
                    self.report("fail", exc)
            calls += 1
            if not calls % 8 and time.monotonic() > deadline:
                break
        return calls

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
        """Trees that failed: (FAILED, root). Their ``fail()`` waits for the spout's turn (``burst``)."""
        pop, started, fails = self.pending.pop, self.started, self.fails
        for _kind, root in batch:
            tup_id = pop(root)
            if tup_id is None:
                continue
            started.pop(root, None)
            self.failed += 1
            fails.append(tup_id)
        if self.to_ack:
            self.ack_now()

    def rotate(self) -> None:
        """Fail the trees older than the message timeout (their ``fail()`` waits for ``burst``)."""
        expired = self.pending.rotate()
        if not expired:
            return
        self.timed_out += len(expired)
        self.failed += len(expired)
        started = self.started
        for root in expired:
            started.pop(root, None)
        self.fails.extend(expired.values())
        if len(expired) >= MASS_TIMEOUT and not self.warned_timeouts:
            self.warned_timeouts = True
            log.warning("%s", self.timeout_advice(len(expired)))

    def timeout_advice(self, n: int) -> str:
        """The warning for trees timing out en masse: what the pending cap is, what to change."""
        timeout = f"topology.message.timeout.secs={self.message_timeout:g}"
        what = f"{self.component}:{self.task}: {n:,} trees timed out ({timeout})"
        if self.auto_pending:
            cap = f"topology.max.spout.pending is unset (automatic, now {self.max_pending:,})"
        elif self.max_pending:
            cap = f"topology.max.spout.pending is {self.max_pending:,}"
        else:
            cap = "topology.max.spout.pending is 0 (unbounded)"
        return (
            f"{what}; {cap}: set it to about what the topology completes in a fraction of the timeout "
            "(trees in flight = completion rate x time in flight), or raise the timeout"
        )

    def adjust_pending(self, now: float) -> None:
        """Re-estimate an automatic pending cap (every ``PENDING_ADJUST_SECS``): the trees completed
        in ``PENDING_TIMEOUT_SHARE`` of the message timeout at the recent ack rate, while trees are
        in flight or the cap held the spout back (whatever holds it back: the cap, or backpressure
        before the cap is reached). An idle spout keeps its cap."""
        marks = self.ack_marks
        marks.append((now, self.acked))
        if not self.auto_pending or self.message_timeout is None:
            return
        if (self.capped or self.pending.size) and len(marks) > 1:
            t0, acked0 = marks[0]
            rate = (self.acked - acked0) / max(now - t0, 1e-3)
            cap = int(rate * self.message_timeout * PENDING_TIMEOUT_SHARE)
            self.max_pending = max(1, min(self.auto_ceiling, cap))
        self.capped = False

    def stats(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        out: dict[str, Any] = {
            "pending": self.pending.size,
            "timed_out": self.timed_out,
            "max_pending": self.max_pending,
            "replays": self.waiting_replays,
            "complete_ms": 1000.0 * self.latency_sum,  # over the sampled trees (1 in 16)
            "complete_count": self.latency_n,
        }
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
