"""Executors of concurrent components: up to ``concurrency`` calls in flight per task.

``AsyncBoltExecutor`` / ``AsyncSpoutExecutor`` run ``async def process`` / ``async def next_tuple``
as tasks on the worker's ``EventLoop``; ``ThreadBoltExecutor`` / ``ThreadSpoutExecutor`` run the
blocking methods on the task's own ``Threads`` (``concurrency_mode = "threads"``). The plain
``BoltExecutor`` / ``SpoutExecutor`` (one call at a time on the worker's loop) are untouched.

Rules (docs/architecture.md, "Concurrency"):

* a bolt's tuple is acked (``auto_ack``) when its call completes, failed (``auto_fail``) and reported
  when it raises; emits made inside the call anchor to that call's tuple (``CURRENT``);
* calls complete in any order: with ``concurrency = 1`` a task's calls run one at a time, in order;
* at most ``concurrency`` calls per task are in flight; the rest of the input waits in the executor
  (``waiting``, in arrival order), which counts as backlog for backpressure (spouts pause, the worker
  stops reading its socket above a bound);
* in-flight calls count as not idle for the end of a run; a stop's drain waits for them.

Metrics: a call's execute time is its duration (for ``async def``, awaits included: capacity can
pass 1 with ``concurrency`` > 1); its process latency runs from its batch's arrival in the executor
to the end of the call (its ack). Two clock reads per call: such calls wait on I/O, they are slow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from squall.runtime.bolt_executor import BoltExecutor
from squall.runtime.concurrency import CURRENT, EventLoop, Outbox, Threads
from squall.runtime.spout_executor import SpoutExecutor
from squall.topology.tuple import Tuple


class ConcurrentBolt(BoltExecutor):
    """What async and threaded bolts share: the waiting queue, the slots, the end of a call."""

    def __init__(self, *args: Any, concurrency: int = 1, **kwargs: Any):
        self.limit = concurrency
        self.in_flight = 0
        super().__init__(*args, **kwargs)

    def _make_emit(self) -> Any:
        """``emit`` with ``anchors=None`` anchors to the tuple of the call it is made in (``CURRENT``)."""
        base = super()._make_emit()
        auto_anchor = self.auto_anchor
        current = CURRENT.get

        def emit(
            values: Sequence[Any],
            stream: str | None = None,
            anchors: Any = None,
            direct_task: int | None = None,
            need_task_ids: bool = False,
        ) -> list[int] | None:
            if anchors is None:
                cur = current()
                anchors = (cur,) if auto_anchor and cur is not None else ()
            return base(values, stream, anchors, direct_task, need_task_ids)  # type: ignore[no-any-return]

        return emit

    def execute(self, tuples: Iterator[Tuple], n: int) -> None:
        self._wait(self.run_plain, tuples, n)  # arrival: now
        self.pump()

    execute_tracked = execute

    def pump(self) -> int:
        """Start calls for waiting tuples while fewer than ``limit`` are in flight; how many started."""
        waiting, turn = self.waiting, self.turn
        started = 0
        while waiting and self.in_flight < self.limit:
            run, tuples, n, arrival = waiting[0]
            tup = next(tuples)
            if n == 1:
                waiting.popleft()
            else:
                waiting[0] = (run, tuples, n - 1, arrival)
            self.in_flight += 1
            started += 1
            self.start(tup, arrival)
        self.n_waiting -= started
        turn.waiting -= started
        if waiting:
            turn.backlog[self] = None
        else:
            turn.backlog.pop(self, None)
        return started

    resume = pump

    def start(self, tup: Tuple, arrival: float) -> None:
        raise NotImplementedError

    def finish(self, tup: Tuple, exc: BaseException | None, began: float, arrival: float, ended: float = 0.0) -> int:
        """A call ended (on the worker's thread): ack its tuple, or report and fail it. ``began`` /
        ``ended`` (0.0: now): the call's times; ``arrival``: when its batch came into the executor."""
        now = time.monotonic()
        self.in_flight -= 1
        self.executed += 1
        self.exec_secs += (ended or now) - began
        if exc is None:
            if self.auto_ack:
                self.proc_secs += now - arrival
                self.proc_n += 1
            if self.auto_ack and tup[0] is not None:
                self._ack(tup)
        else:
            self.report("process", exc)
            if self.auto_fail:
                self._fail(tup)
        return 1

    @property
    def busy(self) -> bool:
        return bool(self.waiting) or self.in_flight > 0


class AsyncBoltExecutor(ConcurrentBolt):
    """``async def process``: each tuple is an asyncio task on the worker's event loop."""

    def __init__(self, *args: Any, loop: EventLoop, **kwargs: Any):
        self.loop = loop
        super().__init__(*args, **kwargs)

    def start(self, tup: Tuple, arrival: float) -> None:
        self.loop.spawn(self._call(tup, arrival))

    async def _call(self, tup: Tuple, arrival: float) -> None:
        CURRENT.set(tup)  # the task's own context: emits in this call anchor to tup
        began = time.monotonic()
        try:
            await self.process(tup)
        except Exception as exc:
            self.finish(tup, exc, began, arrival)
        except BaseException as exc:  # cancelled: the call did not complete
            if self.loop.closing:  # by the worker stopping: the tree is replayed after its timeout
                self.in_flight -= 1
            else:
                self.finish(tup, exc, began, arrival)
            raise
        else:
            self.finish(tup, None, began, arrival)


class ThreadBoltExecutor(ConcurrentBolt):
    """A blocking ``process`` on ``concurrency`` threads of this task (``concurrency_mode = "threads"``)."""

    def __init__(self, *args: Any, outbox: Outbox, **kwargs: Any):
        self.outbox = outbox
        super().__init__(*args, **kwargs)
        inst = self.instance
        ack, fail, on_owner, put = self._ack, self._fail, outbox.on_owner, outbox.put
        inst.ack = lambda tup: ack(tup) if on_owner() else put(self._handed, ack, tup)  # type: ignore[method-assign]
        inst.fail = lambda tup: fail(tup) if on_owner() else put(self._handed, fail, tup)  # type: ignore[method-assign]
        self.threads = Threads(f"{self.component}:{self.task}", self.limit, self._serve)

    def _make_emit(self) -> Any:
        """In a thread: check the emit there (errors reach the caller), hand it to the worker's thread."""
        base = super()._make_emit()
        outbox, slow_route = self.outbox, self.slow_route

        def emit(
            values: Sequence[Any],
            stream: str | None = None,
            anchors: Any = None,
            direct_task: int | None = None,
            need_task_ids: bool = False,
        ) -> list[int] | None:
            if outbox.on_owner():
                return base(values, stream, anchors, direct_task, need_task_ids)  # type: ignore[no-any-return]
            if anchors is None:  # resolved here, in the call's thread
                cur = CURRENT.get()
                anchors = (cur,) if self.auto_anchor and cur is not None else ()
            slow_route(stream).validate(values, direct_task)
            if need_task_ids:
                return outbox.call(base, values, stream, anchors, direct_task, True)  # type: ignore[no-any-return]
            outbox.put(self._handed, base, values, stream, anchors, direct_task, False)
            return None

        return emit

    def _handed(self, fn: Any, *args: Any) -> int:
        """Run an emit, ack or fail a thread handed over; an error is reported (the thread has moved on)."""
        try:
            fn(*args)
        except Exception as exc:
            self.report("emit", exc)
        return 1

    def start(self, tup: Tuple, arrival: float) -> None:
        self.threads.submit((tup, arrival))

    def _serve(self, item: tuple[Tuple, float]) -> None:
        """In a pool thread: one call of ``process``; its end goes to the worker's thread."""
        tup, arrival = item
        token = CURRENT.set(tup)
        error: BaseException | None = None
        began = time.monotonic()
        try:
            r = self.process(tup)
            if r is not None:
                self.check_result("process", r)
        except Exception as exc:
            error = exc
        finally:
            CURRENT.reset(token)
        self.outbox.put(self.finish, tup, error, began, arrival, time.monotonic())

    def close(self, deadline: float) -> None:
        self.threads.close(deadline)


class ConcurrentSpout(SpoutExecutor):
    """What async and threaded spouts share: up to ``limit`` ``next_tuple`` calls in flight."""

    def __init__(self, *args: Any, concurrency: int = 1, **kwargs: Any):
        self.limit = concurrency
        self.in_flight = 0
        super().__init__(*args, **kwargs)

    def burst(self, n: int) -> int:
        """Start ``next_tuple`` calls in the free slots (not beyond ``max_pending``). Their emits are
        the work, counted when they land: starting calls is not (a spout with nothing to emit must
        not keep the worker spinning)."""
        free = self.limit - self.in_flight
        if self.max_pending:
            free = min(free, self.max_pending - self.pending.size)
        for _ in range(free):
            self.in_flight += 1
            self.start()
        return 0

    def start(self) -> None:
        raise NotImplementedError

    def call_done(self, error: BaseException | None) -> int:
        """A ``next_tuple`` call ended (on the worker's thread)."""
        self.in_flight -= 1
        if isinstance(error, (StopIteration, StopAsyncIteration)) or (
            isinstance(error, RuntimeError) and isinstance(error.__cause__, StopIteration)
        ):  # PEP 479: a StopIteration raised in a coroutine arrives as a RuntimeError
            self.exhausted = True
        elif error is not None:
            self.report("next_tuple", error)
        if self.to_ack:
            self.ack_now()
        return 0

    @property
    def done(self) -> bool:
        return super().done and not self.in_flight


class AsyncSpoutExecutor(ConcurrentSpout):
    """``async def next_tuple``: each call is an asyncio task on the worker's event loop.
    ``raise StopIteration`` (or ``StopAsyncIteration``) in it: the spout is exhausted."""

    def __init__(self, *args: Any, loop: EventLoop, **kwargs: Any):
        self.loop = loop
        super().__init__(*args, **kwargs)

    def start(self) -> None:
        self.loop.spawn(self._call())

    async def _call(self) -> None:
        try:
            await self.next_tuple()
        except Exception as exc:
            self.call_done(exc)
        except BaseException:
            self.call_done(None)
            raise
        else:
            self.call_done(None)


class ThreadSpoutExecutor(ConcurrentSpout):
    """A blocking ``next_tuple`` on ``concurrency`` threads of this task. ``ack``, ``fail``,
    ``activate`` and ``deactivate`` run on the worker's thread, at the same time as those calls."""

    def __init__(self, *args: Any, outbox: Outbox, **kwargs: Any):
        self.outbox = outbox
        super().__init__(*args, **kwargs)
        self.threads = Threads(f"{self.component}:{self.task}", self.limit, self._serve)

    def _make_emit(self) -> Any:
        base = super()._make_emit()
        outbox, slow_route = self.outbox, self.slow_route

        def emit(
            values: Sequence[Any],
            tup_id: Any = None,
            stream: str | None = None,
            direct_task: int | None = None,
            need_task_ids: bool = False,
        ) -> list[int] | None:
            if outbox.on_owner():
                return base(values, tup_id, stream, direct_task, need_task_ids)  # type: ignore[no-any-return]
            slow_route(stream).validate(values, direct_task)
            if need_task_ids:
                return outbox.call(self._handed, base, values, tup_id, stream, direct_task, True)  # type: ignore[no-any-return]
            outbox.put(self._handed, base, values, tup_id, stream, direct_task, False)
            return None

        return emit

    def _handed(self, fn: Any, *args: Any) -> Any:
        try:
            out = fn(*args)
        except Exception as exc:
            self.report("emit", exc)
            out = None
        if self.to_ack:
            self.ack_now()
        return out

    def start(self) -> None:
        self.threads.submit(None)

    def _serve(self, _item: Any) -> None:
        error: BaseException | None = None
        try:
            r = self.next_tuple()
            if r is not None:
                self.check_result("next_tuple", r)
        except (Exception, StopIteration) as exc:
            error = exc
        self.outbox.put(self.call_done, error)

    def close(self, deadline: float) -> None:
        self.threads.close(deadline)
