"""What concurrent components run on: the worker's event loop, thread pools, and the outbox.

A component asks for concurrency with ``concurrency = N`` (class attribute or ``spec(concurrency=N)``):

* ``async def process`` / ``async def next_tuple`` run as asyncio tasks, up to N per task, on one
  event loop per worker (``EventLoop``). The loop is *driven from the worker's own thread*: each
  loop turn runs one iteration of it without waiting (``tick``), so coroutines, their emits, acks
  and fails all run on the worker's thread, with no lock and no hand-over.
* ``concurrency_mode = "threads"`` runs a blocking ``process`` / ``next_tuple`` on N threads per task
  (``Threads``). A thread never touches the worker's buffers: what it does (emits, explicit acks,
  the end of a call) goes into the worker's ``Outbox``, a deque the worker's thread runs in order.

``CURRENT`` holds the tuple a call is processing, per asyncio task or per thread (a ContextVar):
emits made inside that call anchor to it, whatever else runs at the same time.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from squall.topology.tuple import Tuple

#: The input tuple of the call running in this asyncio task or thread (None outside such a call).
CURRENT: contextvars.ContextVar[Tuple | None] = contextvars.ContextVar("squall_current_tuple", default=None)

CLOSE_SECS = 1.0  # at close, how long in-flight calls may take to end (the drain waited for them before)


class EventLoop:
    """The worker's asyncio event loop, run one iteration at a time by the worker's thread.

    ``tick()`` runs what is ready (I/O polled with a zero timeout, due timers, ready callbacks) and
    returns: the worker never blocks in it, and coroutines never run concurrently with the worker's
    own code. ``run(awaitable)`` runs one to completion (``async def initialize``, ``cleanup``, ``close``).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tasks: set[asyncio.Task[Any]] = set()  # the loop keeps only weak references to tasks
        self.closing = False  # cancel() ran: a CancelledError is the worker stopping, not a user's error

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def tick(self) -> None:
        """One iteration of the loop, without waiting (asyncio's documented ``stop`` then ``run_forever``)."""
        loop = self.loop
        loop.call_soon(loop.stop)
        loop.run_forever()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def cancel(self, timeout: float = CLOSE_SECS) -> None:
        """Cancel the calls still in flight and let them end (at most ``timeout`` seconds)."""
        self.closing = True
        tasks = list(self.tasks)
        if not tasks:
            return
        for t in tasks:
            t.cancel()
        self.loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.cancel()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


class Outbox:
    """Calls handed from other threads to the worker's thread: emits, acks, the end of a call.

    ``put`` appends (a deque's append is atomic); ``call`` also waits for the result (an emit with
    ``need_task_ids``). ``run`` (worker's thread) runs them in order, so the emits of a call always
    come before its end, and its ack folds in every child. Each call returns the work it did (a count).
    """

    def __init__(self) -> None:
        self.queue: deque[tuple[Callable[..., int | None], tuple[Any, ...], Future[Any] | None]] = deque()
        self.owner = threading.get_ident()  # the worker's thread (set again by Worker.setup)
        self.closed = False

    def on_owner(self) -> bool:
        return threading.get_ident() == self.owner

    def put(self, fn: Callable[..., int | None], *args: Any) -> None:
        self.queue.append((fn, args, None))

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.closed:
            raise RuntimeError("the worker is stopping")
        fut: Future[Any] = Future()
        self.queue.append((fn, args, fut))
        return fut.result()

    def run(self, deadline: float) -> int:
        """Run the queued calls until the queue is empty or ``deadline`` passes; the work they did."""
        q = self.queue
        work = n = 0
        clock = time.monotonic
        while q:
            fn, args, fut = q.popleft()
            n += 1
            if fut is None:
                work += fn(*args) or 0
            else:
                try:
                    fut.set_result(fn(*args))
                    work += 1
                except Exception as exc:
                    fut.set_exception(exc)
            if not n % 64 and clock() >= deadline:
                break
        return work

    def cancel(self) -> None:
        """The worker is stopping: what waits for a result gets an error instead of waiting forever."""
        self.closed = True
        while self.queue:
            _fn, _args, fut = self.queue.popleft()
            if fut is not None:
                fut.set_exception(RuntimeError("the worker is stopping"))


class Threads:
    """``n`` daemon threads that call ``work(item)`` for each submitted item.

    The executor submits an item only while fewer than ``n`` are in flight, so the queue between
    them holds at most ``n`` items: the rest of the input waits in the executor, in order.
    """

    _STOP = object()

    def __init__(self, name: str, n: int, work: Callable[[Any], None]):
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.work = work
        self.threads = [threading.Thread(target=self._serve, name=f"squall-{name}-{i}", daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()

    def _serve(self) -> None:
        get, work, stop = self.inbox.get, self.work, self._STOP
        while True:
            item = get()
            if item is stop:
                return
            work(item)

    def submit(self, item: Any) -> None:
        self.inbox.put(item)

    def close(self, deadline: float) -> None:
        """Let each thread end after its current call; wait until ``deadline`` (monotonic) at most.
        A thread still blocked then is left behind (a daemon: it does not keep the process alive)."""
        for _ in self.threads:
            self.inbox.put(self._STOP)
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))


def awaitable(result: Any) -> bool:
    """Whether a lifecycle method's result is to be run on the event loop (``async def initialize``)."""
    return result is not None and inspect.isawaitable(result)
