"""Windowed bolts (Storm's ``BaseWindowedBolt``): ``process_window(window)`` instead of ``process``.

A subclass sets ``window`` (``Sliding(300, 10)``, ``Tumbling(Count(100))``... see
``squall.topology.windows``) and implements ``process_window``. Time windows run on processing time
(the bolt's ``clock``, ``time.time`` unless a test sets a ``ManualClock``) or, with
``timestamp_field``, on event time: the watermark is the lowest, over the input streams, of the
latest timestamp seen minus ``lag`` seconds. Windows are evaluated on tick tuples every
``watermark_interval`` seconds (the bolt's ``topology.tick.tuple.freq.secs``, set by default).

Storm's rules: a tuple is acked when it leaves its last window (its tree stays open until then, so
``topology.message.timeout.secs`` must exceed length + every: validation checks it), and a late tuple
(event time below the watermark) is emitted on ``LATE_STREAM`` (anchored to it) and acked, never
dropped silently. What ``process_window`` emits is anchored to the window's new tuples by default
(``anchor = "new"``); Storm anchors to every tuple of the window (``anchor = "all"``: one ack-ledger
update per tuple of the window per emit); ``anchor = None`` emits unanchored.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from squall.topology.bolt import Bolt
from squall.topology.stream import Stream, normalize_outputs
from squall.topology.tuple import Tuple
from squall.topology.windows import NOTHING, Window, WindowManager, WindowSpec, is_count, seconds, span, spec_problem

#: The stream late tuples go to, with the fields ``LATE_FIELDS``: the component and stream the tuple
#: came from, its values (a list) and its timestamp.
LATE_STREAM = "late_tuples"
LATE_FIELDS = ("component", "stream", "values", "timestamp")
TICK_KEY = "topology.tick.tuple.freq.secs"
ANCHORS = ("new", "all", None)


class WindowedBolt(Bolt):
    """A bolt that processes windows of tuples (see the module docstring)."""

    window: ClassVar[WindowSpec | None] = None
    #: Event time: the name of the field holding each tuple's timestamp (seconds, a number); None:
    #: processing time (the bolt's clock when the tuple arrives).
    timestamp_field: ClassVar[str | None] = None
    #: Event time: how far (seconds) a tuple may lag behind the latest timestamp seen and still count.
    lag: ClassVar[float] = 0.0
    #: How often (seconds) time windows are evaluated: the tick period set for this bolt by default.
    watermark_interval: ClassVar[float] = 1.0
    #: What ``process_window``'s emits are anchored to: "new", "all" (Storm's) or None.
    anchor: ClassVar[str | None] = "new"
    #: The processing-time clock; a test sets ``squall.topology.windows.ManualClock`` here.
    clock: Any = time.time

    auto_ack = False  # tuples are acked when they leave the window
    auto_anchor = False
    _squall_holds_to_end = True  # a finite run's last windows fire once every tuple has arrived

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        streams, _ = normalize_outputs(cls.outputs)
        if LATE_STREAM not in streams:
            out = list(streams.values()) if streams else []
            cls.outputs = [*out, Stream(LATE_FIELDS, name=LATE_STREAM)]
        if cls.window is not None and not is_count(cls.window):
            conf = dict(cls.__dict__.get("config") or getattr(cls, "config", None) or {})
            conf.setdefault(TICK_KEY, cls.watermark_interval)
            cls.config = conf

    def process_window(self, window: Window[Tuple]) -> None:
        """Handle one window: ``window.tuples``, ``window.new``, ``window.expired``."""

    # the runtime's calls

    def process(self, tup: Tuple) -> None:
        try:
            m = self._wm
        except AttributeError:
            m = self._manager()
        field = self.timestamp_field
        if field is None:
            ts = self.clock() if not m.count else 0.0
        else:
            ts = float(getattr(tup.values, field))
            by_stream = self._latest.get(tup.component)
            if by_stream is None:
                by_stream = self._latest[tup.component] = {}
            if ts > by_stream.get(tup.stream, -1e308):
                by_stream[tup.stream] = ts
        fired = m.add(tup, ts)
        if fired is NOTHING:
            return
        if fired is None:
            self.emit([tup.component, tup.stream, list(tup.values), ts], stream=LATE_STREAM, anchors=[tup])
            self.ack(tup)
            return
        if fired.windows or fired.released:
            self._run(fired)

    def process_tick(self, tup: Tuple) -> None:
        m = self._manager()
        if m.count:
            return
        if self.timestamp_field is None:
            watermark = self.clock()
        elif self._latest:
            watermark = min(ts for by_stream in self._latest.values() for ts in by_stream.values()) - self.lag
        else:
            return
        fired = m.advance(watermark)
        if fired.windows or fired.released:
            self._run(fired)

    _wm: WindowManager[Tuple]

    def _manager(self) -> WindowManager[Tuple]:
        m: WindowManager[Tuple] | None = self.__dict__.get("_wm")
        if m is None:
            if self.window is None:
                raise TypeError(f"{type(self).__name__} is a WindowedBolt without a window: set window = Sliding(...)")
            m = self._wm = WindowManager[Tuple](self.window)
            self._latest: dict[str, dict[str, float]] = {}  # component -> stream -> latest timestamp
        return m

    def _run(self, fired: Any) -> None:
        base = self.emit
        try:
            for w in fired.windows:
                anchors = w.new if self.anchor == "new" else w.tuples if self.anchor == "all" else []

                def emit(values: Any, stream: str | None = None, anchors: Any = anchors, **kw: Any) -> Any:
                    return base(values, stream=stream, anchors=anchors, **kw)

                self.emit = emit  # type: ignore[method-assign,assignment]
                self.process_window(w)
        finally:
            if "emit" in self.__dict__ and self.__dict__["emit"] is not base:
                self.emit = base  # type: ignore[method-assign]
        ack = self.ack
        for t in fired.released:
            ack(t)

    @property
    def windows_fired(self) -> int:
        m = self.__dict__.get("_wm")
        return m.fired if m is not None else 0

    @property
    def late_tuples(self) -> int:
        m = self.__dict__.get("_wm")
        return m.late if m is not None else 0

    def _pending(self) -> int:
        m = self.__dict__.get("_wm")
        return len(m) if m is not None else 0

    def _squall_metrics(self) -> tuple[dict[str, float], dict[str, float]]:
        m = self.__dict__.get("_wm")
        if m is None:
            return {"windows_fired": 0, "late_tuples": 0}, {"tuples_in_windows": 0}
        return {"windows_fired": m.fired, "late_tuples": m.late}, {"tuples_in_windows": len(m)}

    def _flush_pending(self) -> None:
        m = self.__dict__.get("_wm")
        if m is not None and len(m):
            self._run(m.flush())


def window_problems(
    cls: type[WindowedBolt],
    inputs: dict[str, tuple[str, ...]],
    conf: dict[str, Any],
    spouts: list[tuple[str, int, dict[str, Any]]],
) -> list[tuple[str, str]]:
    """What is wrong with a windowed bolt in its topology, as ``(problem, fix)`` pairs.

    ``inputs``: "component:stream" -> fields of each input; ``conf``: the bolt's merged config;
    ``spouts``: (name, par, merged config) of every spout."""
    spec = cls.window
    if spec is None:
        return [
            (f"{cls.__name__} is a WindowedBolt without a window", "set window = Sliding(300, 10), Tumbling(60)...")
        ]
    problem = spec_problem(spec)
    if problem:
        return [(problem, "e.g. window = Sliding(300, 10) (seconds) or Sliding(Count(100), Count(10))")]
    out: list[tuple[str, str]] = []
    if cls.anchor not in ANCHORS:
        out.append((f"anchor = {cls.anchor!r} is not one of {ANCHORS}", "anchor = 'new' (the default)"))
    field = cls.timestamp_field
    if field is not None:
        if is_count(spec):
            out.append(("timestamp_field needs a time window (count windows follow arrival order)", "drop it"))
        for name, fields in inputs.items():
            if field not in fields:
                out.append((f"timestamp_field '{field}' is not a field of its input {name} {list(fields)}", ""))
    if conf.get("topology.acker.executors", 1) != 0:
        out += _acking_problems(cls, spec, conf, spouts)
    return out


def _acking_problems(
    cls: type[WindowedBolt], spec: WindowSpec, conf: dict[str, Any], spouts: list[tuple[str, int, dict[str, Any]]]
) -> list[tuple[str, str]]:
    """Storm's rule: a tuple's tree stays open while it is in a window."""
    out: list[tuple[str, str]] = []
    if not is_count(spec):
        length, every = seconds(spec)
        held = length + every
        timeout = conf.get("topology.message.timeout.secs", 30)
        if timeout and timeout <= held:
            out.append(
                (
                    f"topology.message.timeout.secs={timeout} does not exceed the window's length + every "
                    f"({held:g} s): its tuples would time out while they wait in the window",
                    f"set topology.message.timeout.secs to more than {held:g}, e.g. {math.ceil(2 * held)}",
                )
            )
    need = span(spec)[0].n if is_count(spec) else None  # type: ignore[union-attr]
    for name, par, sconf in spouts:
        pending = sconf.get("topology.max.spout.pending")
        if pending is None:
            out.append(
                (
                    f"topology.max.spout.pending is unset for spout '{name}': its automatic limit (at most "
                    "1,000 trees, fewer when trees take long) cannot hold a window's worth of tuples",
                    "set topology.max.spout.pending to at least the tuples a window holds (rate x "
                    "(length + every) for a time window), or 0 for no limit",
                )
            )
        elif need is not None and pending and pending * par < need:
            out.append(
                (
                    f"spout '{name}' keeps at most {pending * par} trees in flight "
                    f"(topology.max.spout.pending={pending} x {par} tasks) but a window needs {need}",
                    f"set topology.max.spout.pending to at least {math.ceil(need / par)}, or 0 for no limit",
                )
            )
    return out
