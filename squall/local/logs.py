"""Log setup for the coordinator and the workers: every line names component:task and pid, on stderr.

Repeated lines are collapsed. A bolt that logs every 1,000 words (streamparse's word count does)
writes hundreds of lines a second, and the status line scrolls away. So for each *kind* of line
(the same logger, level and text once its numbers are set aside: ``counted [1,000] words`` and
``counted [2,000] words`` are one kind), the first ``COLLAPSE_FIRST`` lines are written as they
come, then one note says that similar lines are collapsed, and from then on at most one line of
that kind is written every ``squall.log.collapse.secs`` (5 s), preceded by the number of lines
suppressed since the last one; what is still suppressed at exit is counted then. 0 writes every
line. Errors (ERROR and above, or a record with a traceback) and Squall's own loggers (``squall``,
``squall.*``) are never collapsed: errors raised by user code are throttled where they are
reported (``runtime.error_log``).

This costs nothing per tuple: it runs only for records a user's code logs, and a suppressed line
is neither formatted nor written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from squall.topology.config import DEFAULTS

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s pid=%(process)d | %(message)s"
DATEFMT = "%H:%M:%S"
COLLAPSE_FIRST = 5  # lines of one kind written as they come before collapsing starts
COLLAPSE_KINDS = 1000  # kinds remembered; the oldest is forgotten (its count written) beyond this
_NUMBER = re.compile(r"\d+(?:[,._]\d+)*")  # 7, 1,000, 3.25, 1_000: a number, set aside in a line's kind


@dataclass(slots=True)
class _Kind:
    sample: logging.LogRecord  # the latest record of this kind (what a summary is derived from)
    written: int = 0  # lines written as they came (at most COLLAPSE_FIRST)
    last: float = 0.0  # when a line of this kind was last written (record time)
    suppressed: int = 0  # lines suppressed since then
    noted: bool = False  # the "collapsed from here on" note was written


def _derived(record: logging.LogRecord, text: str, at: float | None = None) -> logging.LogRecord:
    """A record from the same logger and level as ``record`` with message ``text`` (at time ``at``)."""
    fields = dict(record.__dict__, msg=text, args=None, exc_info=None, exc_text=None, stack_info=None)
    if at is not None:
        fields.update(created=at, msecs=(at - int(at)) * 1000)
    return logging.makeLogRecord(fields)


def _own(name: str) -> bool:
    return name == "squall" or name.startswith("squall.")


class Collapser:
    """Which records to write: every record, or for repeated kinds the first few, then one per period."""

    def __init__(self, every: float, first: int = COLLAPSE_FIRST, max_kinds: int = COLLAPSE_KINDS):
        self.every = every
        self.first = first
        self.max_kinds = max_kinds
        self.kinds: dict[tuple[str, int, str], _Kind] = {}

    def admit(self, record: logging.LogRecord) -> list[logging.LogRecord]:
        """The records to write for ``record``: none (suppressed), itself, or a note or count and itself."""
        if self.every <= 0 or record.levelno >= logging.ERROR or record.exc_info or _own(record.name):
            return [record]
        key = (record.name, record.levelno, _NUMBER.sub("#", str(record.msg)))
        kind = self.kinds.get(key)
        out: list[logging.LogRecord] = []
        if kind is None:
            if len(self.kinds) >= self.max_kinds:
                out += self._summary(self.kinds.pop(next(iter(self.kinds))), time.time())
            kind = self.kinds[key] = _Kind(record)
        kind.sample = record
        now = record.created
        if kind.written < self.first or now - kind.last >= self.every:
            out += self._summary(kind)
            kind.written = min(kind.written + 1, self.first)
            kind.last = now
            out.append(record)
        else:
            kind.suppressed += 1
            if not kind.noted:
                kind.noted = True
                out.append(
                    _derived(
                        record,
                        f"(similar lines collapsed from here on: one every {self.every:g}s with a count; "
                        "--conf squall.log.collapse.secs=0 shows all)",
                    )
                )
        return out

    def _summary(self, kind: _Kind, at: float | None = None) -> list[logging.LogRecord]:
        if not kind.suppressed:
            return []
        end = kind.sample.created if at is None else at
        text = f"... {kind.suppressed:,} similar line(s) suppressed in {end - kind.last:,.1f}s"
        kind.suppressed = 0
        return [_derived(kind.sample, text, at)]

    def flush(self) -> list[logging.LogRecord]:
        """The counts of lines suppressed and not yet reported (at exit)."""
        now = time.time()
        out = []
        for kind in self.kinds.values():
            out += self._summary(kind, now)
        return out


class CollapsingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes what its ``Collapser`` admits; closing it writes the pending counts."""

    def __init__(self, stream: TextIO, collapser: Collapser):
        super().__init__(stream)
        self.collapser = collapser

    def emit(self, record: logging.LogRecord) -> None:
        for r in self.collapser.admit(record):  # called with the handler's lock held
            super().emit(r)

    def close(self) -> None:
        self.acquire()
        try:
            for r in self.collapser.flush():
                super().emit(r)
        finally:
            self.release()
        super().close()


def setup(level: str = "INFO", collapse_secs: float | None = None) -> None:
    """Log to stderr at ``level``; similar lines collapsed beyond the first few (``collapse_secs``: the
    period, None: ``squall.log.collapse.secs``'s default, 0: every line)."""
    if collapse_secs is None:
        collapse_secs = float(DEFAULTS["squall.log.collapse.secs"])
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        if isinstance(h, CollapsingHandler):
            h.close()  # writes its pending counts
    handler = CollapsingHandler(sys.stderr, Collapser(collapse_secs))
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))
