"""Windows over a stream (Storm's windowing): what a window is, and which tuples each one holds.

Four kinds, as in Storm: ``Sliding(length, every)`` and ``Tumbling(length)``, each by time (seconds)
or by count (``Count(n)``: ``Sliding(Count(100), Count(10))``). ``WindowManager`` is the pure logic
(no clock, no runtime): items go in with a timestamp, windows come out when the watermark passes
their end (time windows) or every ``every`` items (count windows). ``WindowedBolt``
(``squall.topology.windowed_bolt``) drives it from a running topology.

Time windows are aligned: with ``every = S`` their ends are the multiples of S, and a window ending
at ``end`` holds the items with ``end - length <= ts < end``. It fires once the watermark reaches
``end``. An item whose timestamp is below the watermark when it arrives is *late* (every window it
belongs to may have fired): ``add`` refuses it and the bolt sends it to the late stream. A window
with no item, and nothing that expired since the previous one, does not fire.

Each item leaves the manager, to be acked, as soon as no later window can hold it (right after its
last window fired: at once for a tumbling window); it is then in the next fired window's ``expired``.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Count:
    """A length or slide counted in tuples (a bare number means seconds)."""

    n: int


@dataclass(frozen=True)
class Sliding:
    """A window of ``length`` evaluated every ``every`` (both seconds, or both ``Count``)."""

    length: float | Count
    every: float | Count


@dataclass(frozen=True)
class Tumbling:
    """Back-to-back windows of ``length`` (seconds or ``Count``): each tuple is in exactly one."""

    length: float | Count


WindowSpec = Sliding | Tumbling


def span(spec: WindowSpec) -> tuple[float | Count, float | Count]:
    """``(length, every)`` of a window spec."""
    if isinstance(spec, Tumbling):
        return spec.length, spec.length
    return spec.length, spec.every


def spec_problem(spec: Any) -> str | None:
    """Why ``spec`` is not a usable window, or None."""
    if not isinstance(spec, (Sliding, Tumbling)):
        return f"window = {spec!r} is not a window"
    length, every = span(spec)
    if isinstance(length, Count) != isinstance(every, Count):
        return "length and every must both be seconds or both Count(n)"
    if isinstance(length, Count) and isinstance(every, Count):
        if length.n < 1 or every.n < 1:
            return "Count(n) needs n >= 1"
        if every.n > length.n:
            return f"every={every.n} tuples is more than length={length.n}: tuples would be skipped"
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in (length, every)):
        return "length and every must be positive numbers of seconds"
    assert isinstance(length, (int, float)) and isinstance(every, (int, float))
    if every > length:
        return f"every={every}s is more than length={length}s: tuples would be skipped"
    return None


def is_count(spec: WindowSpec) -> bool:
    return isinstance(span(spec)[0], Count)


def seconds(spec: WindowSpec) -> tuple[float, float]:
    """``(length, every)`` in seconds of a time window."""
    length, every = span(spec)
    assert not isinstance(length, Count) and not isinstance(every, Count)
    return float(length), float(every)


@dataclass
class Window(Generic[T]):
    """One evaluation of a window (Storm's ``TupleWindow``).

    ``tuples``: every tuple in the window, oldest first; ``new``: those not in the previous
    window; ``expired``: those that were in an earlier window and are in no window any more (acked
    by now). ``start``/``end``: the window's time span (``start <= ts < end``), or for count windows
    the sequence numbers of its first tuple and one past its last.
    """

    tuples: list[T]
    new: list[T]
    expired: list[T]
    start: float
    end: float

    # Storm's names
    def get(self) -> list[T]:
        return self.tuples

    def get_new(self) -> list[T]:
        return self.new

    def get_expired(self) -> list[T]:
        return self.expired

    def __iter__(self) -> Iterator[T]:
        return iter(self.tuples)

    def __len__(self) -> int:
        return len(self.tuples)


@dataclass
class Fired(Generic[T]):
    """What one ``add`` or ``advance`` produced: windows to process, then items to ack."""

    windows: list[Window[T]] = field(default_factory=list)
    released: list[T] = field(default_factory=list)


#: What ``add`` returns when nothing fired (shared: never changed).
NOTHING: Fired[Any] = Fired()


class WindowManager(Generic[T]):
    """The tuples a windowed bolt holds and the windows they make (see the module docstring)."""

    def __init__(self, spec: WindowSpec):
        problem = spec_problem(spec)
        if problem:
            raise ValueError(problem)
        self.spec = spec
        self.count = is_count(spec)
        self.watermark = -math.inf
        self.fired = 0  # windows fired
        self.late = 0  # items refused as late
        self._leaving: list[T] = []  # released since the last window: its ``expired``
        if self.count:
            length, every = span(spec)
            assert isinstance(length, Count) and isinstance(every, Count)
            self.n, self.m = length.n, every.n
            self._items: deque[T] = deque()
            self._seq = 0  # items added so far
            self._since = 0  # items added since the last window
        else:
            self.length, self.every = seconds(spec)
            self._ts: list[float] = []  # sorted timestamps, parallel to _vals
            self._vals: list[T] = []
            self._next_end: float | None = None  # the end of the next window to fire
            self._prev_end = -math.inf

    def __len__(self) -> int:
        return len(self._items) if self.count else len(self._vals)

    def add(self, item: T, ts: float = 0.0) -> Fired[T] | None:
        """Add ``item`` (time windows: with its timestamp). None: late (``ts`` < the watermark),
        not added. Count windows may fire here."""
        if self.count:
            return self._add_count(item)
        if ts < self.watermark:
            self.late += 1
            return None
        tss = self._ts
        if tss and ts < tss[-1]:
            i = bisect.bisect_right(tss, ts)
            tss.insert(i, ts)
            self._vals.insert(i, item)
        else:
            tss.append(ts)
            self._vals.append(item)
        nxt = self._next_end
        if nxt is None or ts < nxt - self.every:  # an earlier window than the next one holds it
            end = self._aligned_end(ts)  # > ts >= watermark: that window has not fired
            if nxt is None or end < nxt:
                self._next_end = end
        return NOTHING

    def advance(self, watermark: float) -> Fired[T]:
        """Raise the watermark to ``watermark`` (it never goes back) and fire every time window
        that ends at or before it, oldest first."""
        out: Fired[T] = Fired()
        if watermark <= self.watermark:
            return out
        self.watermark = watermark
        if self.count:
            return out
        while self._next_end is not None and self._next_end <= watermark:
            self._fire_time(self._next_end, out)
        return out

    def flush(self) -> Fired[T]:
        """Fire what is left and release every item (a finite run ending)."""
        out = self.advance(math.inf) if not self.count else Fired()
        if self.count and self._since:  # a partial window of new items
            self._fire_count(out)
        rest = list(self._items) if self.count else self._vals
        out.released.extend(rest)
        if self.count:
            self._items.clear()
        else:
            self._ts, self._vals = [], []
        return out

    # time windows

    def _aligned_end(self, ts: float) -> float:
        """The end of the first window (ends are multiples of ``every``) that holds ``ts``."""
        return (math.floor(ts / self.every) + 1) * self.every

    def _fire_time(self, end: float, out: Fired[T]) -> None:
        start = end - self.length
        lo = bisect.bisect_left(self._ts, start)  # items before lo were released earlier
        hi = bisect.bisect_left(self._ts, end)
        tuples = self._vals[lo:hi]
        expired, self._leaving = self._leaving, []
        if tuples or expired:
            new_lo = max(lo, bisect.bisect_left(self._ts, self._prev_end))
            out.windows.append(Window(tuples, self._vals[new_lo:hi], expired, start, end))
            self.fired += 1
        self._prev_end = end
        # release what no later window holds: ts < the next window's start
        keep = bisect.bisect_left(self._ts, end + self.every - self.length)
        if keep:
            gone = self._vals[:keep]
            del self._ts[:keep], self._vals[:keep]
            out.released.extend(gone)
            self._leaving = gone
        if self._vals:
            nxt = end + self.every
            if not self._leaving and self._ts[0] >= nxt:  # skip the empty windows in between
                nxt = max(nxt, self._aligned_end(self._ts[0]))
            self._next_end = nxt
        else:
            self._next_end = end + self.every if self._leaving else None

    # count windows

    def _add_count(self, item: T) -> Fired[T]:
        self._items.append(item)
        self._seq += 1
        self._since += 1
        if self._since < self.m:
            return NOTHING
        out: Fired[T] = Fired()
        self._fire_count(out)
        return out

    def _fire_count(self, out: Fired[T]) -> None:
        items = list(self._items)
        new = items[-self._since :] if self._since else []
        expired, self._leaving = self._leaving, []
        out.windows.append(Window(items, new, expired, self._seq - len(items), self._seq))
        self.fired += 1
        self._since = 0
        keep = max(self.n - self.m, 0)  # the next window holds at most this many of these
        gone = len(self._items) - keep
        if gone > 0:
            released = [self._items.popleft() for _ in range(gone)]
            out.released.extend(released)
            self._leaving = released


class ManualClock:
    """A clock tests move by hand: ``WindowedBolt.clock = ManualClock(0)``, then ``clock.advance(10)``."""

    def __init__(self, now: float = 0.0):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, secs: float) -> None:
        self.now += secs

    def set(self, now: float) -> None:
        self.now = float(now)
