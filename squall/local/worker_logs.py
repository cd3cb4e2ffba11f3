"""The workers' output, captured by the coordinator (Storm's logviewer, ``squall tail``, the UI).

``SubprocessLauncher`` gives each worker process pipes for stdout and stderr; ``WorkerLogs.follow``
reads each in a thread of its own, writes every line through, unchanged, to the coordinator's own
stdout or stderr (so a terminal, a redirect or a test that read the workers' lines there still
does), and keeps the last ``keep`` lines per worker index (a restarted worker keeps its index and
its earlier lines). Lines carry one sequence number across all workers (from 1), so a reader
follows with ``lines(after=last seq)``. Nothing here touches the tuples: it runs only when a
worker writes a line.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, TextIO

DRAIN_SECS = 2.0  # at the end of a run, how long to wait for the pipes' last lines (a child's child may hold one)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a worker process wrote (stdout or stderr), without its line end."""

    seq: int  # across all workers, increasing from 1
    worker: int  # the worker's index (the same across its restarts)
    time: float  # wall clock (epoch seconds) when the coordinator read it
    line: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "worker": self.worker, "time": self.time, "line": self.line}


def _write_through(out: TextIO, raw: bytes) -> None:
    """``raw`` to ``out`` as it came (its bytes when the stream has a buffer, else decoded)."""
    buffer = getattr(out, "buffer", None)
    try:
        if buffer is not None:
            out.flush()  # what the text layer holds goes first
            buffer.write(raw)
            buffer.flush()
        else:
            out.write(raw.decode("utf-8", "replace"))
            out.flush()
    except (OSError, ValueError):  # a closed or broken stream: keep reading, so the worker never blocks
        pass


class WorkerLogs:
    """The last ``keep`` output lines of each worker; thread-safe."""

    def __init__(self, keep: int = 1000):
        self.keep = keep
        self._lock = threading.Lock()
        self._seq = 0
        self._lines: dict[int, deque[LogLine]] = {}
        self._readers: list[threading.Thread] = []

    def add(self, worker: int, line: str, at: float | None = None) -> LogLine:
        """Keep one line of ``worker``'s (the oldest of its lines goes beyond ``keep``)."""
        with self._lock:
            self._seq += 1
            entry = LogLine(self._seq, worker, time.time() if at is None else at, line)
            kept = self._lines.get(worker)
            if kept is None:
                kept = self._lines[worker] = deque(maxlen=max(self.keep, 0))
            kept.append(entry)
            return entry

    def follow(self, worker: int, pipe: IO[bytes] | None, out: Callable[[], TextIO]) -> None:
        """Read ``pipe`` (a worker process's stdout or stderr) to its end in a daemon thread: each line is
        written to ``out()`` (looked up per line: ``lambda: sys.stderr``) and kept."""
        if pipe is None:
            return
        reader = threading.Thread(
            target=self._read, args=(worker, pipe, out), name=f"squall-worker-{worker}-output", daemon=True
        )
        with self._lock:
            self._readers = [r for r in self._readers if r.is_alive()]
            self._readers.append(reader)
        reader.start()

    def _read(self, worker: int, pipe: IO[bytes], out: Callable[[], TextIO]) -> None:
        try:
            for raw in iter(pipe.readline, b""):
                _write_through(out(), raw)
                self.add(worker, raw.decode("utf-8", "replace").rstrip("\r\n"))
        except (OSError, ValueError):  # the pipe was closed under us
            pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def drain(self, timeout: float = DRAIN_SECS) -> bool:
        """Wait until every pipe has been read to its end (the workers exited); False if some reader
        is still blocked after ``timeout`` seconds (a process the worker started holds its pipe)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            readers = list(self._readers)
        for r in readers:
            r.join(max(0.0, deadline - time.monotonic()))
        return not any(r.is_alive() for r in readers)

    def lines(self, worker: int | None = None, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """Kept lines with ``seq > after`` of ``worker`` (None: every worker), oldest first: the newest
        ``limit`` of them when there are more (``tail -n``)."""
        with self._lock:
            if worker is None:
                kept: list[LogLine] = list(heapq.merge(*self._lines.values(), key=lambda e: e.seq))
            else:
                kept = list(self._lines.get(worker, ()))
        out = [e for e in kept if e.seq > after]
        return out[-limit:] if limit > 0 else []


def stdout() -> TextIO:
    return sys.stdout


def stderr() -> TextIO:
    return sys.stderr


MAX_LINE = 8192  # characters of one captured line that ride in a stats answer


class OutputRing(io.TextIOBase):
    """A worker's own stdout or stderr when nobody reads a pipe of it (a Ray worker actor): each write goes
    through to ``out`` (Ray's log files) and its complete lines are kept, the newest ``keep``, with their
    time; ``take()`` hands them over once (the worker sends them in its stats answers, so
    ``Coordinator.logs()`` has them). Thread-safe; touched only when user code or a log handler writes."""

    def __init__(self, out: TextIO, keep: int = 1000):
        self.out = out
        self.keep = keep
        self._lock = threading.Lock()
        self._partial = ""
        self._lines: deque[tuple[float, str]] = deque(maxlen=max(keep, 1))

    def set_keep(self, keep: int) -> None:
        """Keep the newest ``keep`` lines from now on (``squall.ui.log.lines``, known once the spec is)."""
        with self._lock:
            self.keep = keep
            self._lines = deque(self._lines, maxlen=max(keep, 1))

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):
            self.out.write(text)
        with self._lock:
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()[-MAX_LINE:]
            now = time.time()
            for part in parts:
                self._lines.append((now, part.rstrip("\r")[:MAX_LINE]))
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.out.flush()

    def take(self) -> list[list[Any]]:
        """The lines kept since the last call, oldest first: ``[[time, line], ...]``."""
        with self._lock:
            out = [[t, line] for t, line in self._lines]
            self._lines.clear()
        return out
