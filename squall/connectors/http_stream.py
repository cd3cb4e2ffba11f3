"""HttpStreamSpout: a client of a long-lived HTTP stream (server-sent events, or one message per
line as in the Twitter streaming API), reconnecting with exponential backoff and resuming from the
last *acked* event id (``Last-Event-ID``) where the server supports it.

A reader thread of its own (http.client, standard library: the stream is one blocking read) parses
the stream into a bounded deque; the spout's ``next_tuple`` takes from it without blocking. Events
are kept in memory until acked, so a failed one is emitted again; what is in memory is bounded by
``http.stream.queue.size`` plus ``topology.max.spout.pending``. The acked prefix's last id (every
event up to it was processed) is what a reconnection asks for, and, with
``http.stream.state.path``, what a restarted spout resumes from.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import deque
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, ConnectorSpout, count_failure
from squall.topology.spout import Spout

PROTOCOLS = ("auto", "sse", "lines")
MAX_LINE = 1 << 20  # a longer line is cut (and fails to decode: the error stream)
BURST = 256


class StreamError(Exception):
    """The stream could not be opened or broke (status, network): reconnect after a backoff."""


class HttpStreamSpout(ConnectorSpout, Spout):
    """Emits each event of the stream at ``http.stream.url`` (``tup_id`` = a sequence number).

    ``sse`` (``text/event-stream``): an event's ``data`` lines are its message, its ``id`` is sent
    back as ``Last-Event-ID`` when reconnecting (the last acked one), ``retry`` sets the backoff's
    start. ``lines``: every non-empty line is a message, no resume (the server's own rules apply).
    """

    connector = "http_stream"
    prefix = "http.stream."
    settings: ClassVar[dict[str, Any]] = {
        "http.stream.url": REQUIRED,
        "http.stream.format": "text",
        "http.stream.protocol": "auto",  # by the answer's Content-Type: text/event-stream is sse
        "http.stream.headers": None,  # extra request headers, e.g. {"Authorization": "Bearer ..."}
        "http.stream.backoff.initial.ms": 100,
        "http.stream.backoff.max.ms": 30_000,
        "http.stream.read.timeout.secs": 90,  # no byte for that long: a stall, reconnect
        "http.stream.queue.size": 1000,  # events read and not yet emitted, at most
        "http.stream.max.retries": None,  # None: replay a failed event forever
        "http.stream.state.path": None,  # a file keeping the last acked id across restarts
        "http.stream.state.period.ms": 1000,
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        url = conf.get("http.stream.url")
        if isinstance(url, str) and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            out.append((f"http.stream.url={url!r} is not an http(s) URL", "e.g. https://host/stream"))
        proto = conf.get("http.stream.protocol", "auto")
        if proto not in PROTOCOLS:
            out.append((f"http.stream.protocol={proto!r} is not a protocol", f"use one of {', '.join(PROTOCOLS)}"))
        for key in ("http.stream.backoff.initial.ms", "http.stream.backoff.max.ms", "http.stream.queue.size"):
            value = conf.get(key, cls.settings[key])
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                out.append((f"{key}={value!r} is not a positive integer", f"e.g. {key}: {cls.settings[key]}"))
        headers = conf.get("http.stream.headers")
        if headers is not None and not isinstance(headers, dict):
            out.append(("http.stream.headers is not a mapping", 'e.g. {"Authorization": "Bearer ..."}'))
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.url = urllib.parse.urlsplit(str(self.setting(conf, "http.stream.url")))
        self.decode = self.make_decoder(conf)
        self.protocol = str(self.setting(conf, "http.stream.protocol"))
        self.headers = dict(conf.get("http.stream.headers") or {})
        self.backoff = float(self.setting(conf, "http.stream.backoff.initial.ms")) / 1000
        self.backoff_max = float(self.setting(conf, "http.stream.backoff.max.ms")) / 1000
        self.read_timeout = float(self.setting(conf, "http.stream.read.timeout.secs"))
        self.queue_size = int(self.setting(conf, "http.stream.queue.size"))
        self.max_retries: int | None = conf.get("http.stream.max.retries")
        self.state_path: str | None = conf.get("http.stream.state.path")
        self.state_secs = float(self.setting(conf, "http.stream.state.period.ms")) / 1000
        self.events: deque[tuple[str | None, bytes]] = deque()  # read, not yet emitted
        self.held: set[str] = set()  # ids read and not yet acked: not taken again after a reconnect
        self.inflight: dict[int, tuple[str | None, bytes, list[Any]]] = {}
        self.order: deque[tuple[int, str | None]] = deque()  # (seq, id) emitted, oldest first
        self.fails: dict[int, int] = {}
        self.replays: deque[int] = deque()
        self.seq = 0
        self.given_up = 0
        self.acked_id: str | None = self.load_state()
        self.saved_id = self.acked_id
        self.next_save = 0.0
        self.connections = 0
        self.stopping = threading.Event()
        name = getattr(context, "component_id", type(self).__name__)
        self.reader = threading.Thread(target=self.read_forever, name=f"squall-stream-{name}", daemon=True)
        self.reader.start()

    # --- the reader thread -------------------------------------------------------------------

    def read_forever(self) -> None:
        """Connect, read until the stream breaks, wait (exponential backoff), again; until close."""
        failures = 0
        while not self.stopping.is_set():
            got = 0
            try:
                got = self.read_once()
            except (OSError, http.client.HTTPException, StreamError) as e:
                self.logger.warning("stream %s: %s (reconnecting)", self.url.geturl(), e)
            failures = 0 if got else failures + 1
            delay = min(self.backoff_max, self.backoff * 2 ** min(failures, 30)) if failures else self.backoff
            self.stopping.wait(delay)

    def connect(self) -> http.client.HTTPResponse:
        u = self.url
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname or "127.0.0.1", u.port, timeout=self.read_timeout)
        headers = {"Accept": "text/event-stream, application/x-ndjson, */*", "Cache-Control": "no-cache"}
        headers.update(self.headers)
        resume = self.acked_id  # the acked prefix's last id: what is held in memory is skipped
        if resume is not None:
            headers["Last-Event-ID"] = resume
        conn.request("GET", u.path + (f"?{u.query}" if u.query else "") or "/", headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            conn.close()
            raise StreamError(f"answered {resp.status} {resp.reason}")
        self.connections += 1
        return resp

    def read_once(self) -> int:
        """One connection: the events it brought (0: none, the backoff grows)."""
        resp = self.connect()
        sse = self.protocol == "sse" or (
            self.protocol == "auto" and "text/event-stream" in resp.getheader("Content-Type", "")
        )
        try:
            return self.read_sse(resp) if sse else self.read_lines(resp)
        finally:
            resp.close()

    def put(self, event_id: str | None, data: bytes) -> None:
        """Queue one event (waits while the queue is full: the stream is not read meanwhile)."""
        if event_id is not None:
            if event_id in self.held:
                return  # sent again after a reconnection, already in memory
            self.held.add(event_id)
        while len(self.events) >= self.queue_size and not self.stopping.is_set():
            time.sleep(0.005)
        self.events.append((event_id, data))

    def read_lines(self, resp: http.client.HTTPResponse) -> int:
        n = 0
        while not self.stopping.is_set():
            line = resp.readline(MAX_LINE)
            if not line:
                return n
            line = line.rstrip(b"\r\n")
            if line.strip():
                self.put(None, line)
                n += 1
        return n

    def read_sse(self, resp: http.client.HTTPResponse) -> int:
        """The SSE parser (HTML living standard, "event stream interpretation")."""
        n, event_id = 0, None
        data: list[bytes] = []
        while not self.stopping.is_set():
            line = resp.readline(MAX_LINE)
            if not line:
                return n
            line = line.rstrip(b"\r\n")
            if not line:  # dispatch
                if data:
                    self.put(event_id, b"\n".join(data))
                    n += 1
                data, event_id = [], None
                continue
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"data":
                data.append(value)
            elif name == b"id" and b"\0" not in value:
                event_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self.backoff = int(value) / 1000
        return n

    # --- the worker thread -------------------------------------------------------------------

    def next_tuple(self) -> None:
        budget = BURST
        while self.replays and budget:
            seq = self.replays.popleft()
            entry = self.inflight.get(seq)
            if entry is not None:
                self.emit(entry[2], tup_id=seq)
                budget -= 1
        events, inflight, order, emit, decode = self.events, self.inflight, self.order, self.emit, self.decode
        seq = self.seq
        while events and budget:
            event_id, data = events.popleft()
            try:
                values = decode(data)
            except ValueError as e:
                self.emit_error(self.source(event_id), str(e), data)
                order.append((-1, event_id))
                continue
            inflight[seq] = (event_id, data, values)
            order.append((seq, event_id))
            emit(values, tup_id=seq)
            seq += 1
            budget -= 1
        self.seq = seq
        self.advance()

    def advance(self) -> None:
        """Move the acked prefix past every event that is no longer in flight."""
        order, inflight, held = self.order, self.inflight, self.held
        acked = self.acked_id
        while order and order[0][0] not in inflight:
            _, event_id = order.popleft()
            if event_id is not None:
                acked = event_id
                held.discard(event_id)
        self.acked_id = acked
        if self.state_path and acked != self.saved_id:
            now = time.monotonic()
            if now >= self.next_save:
                self.next_save = now + self.state_secs
                self.save_state()

    def ack(self, tup_id: Any) -> None:
        if self.inflight.pop(tup_id, None) is not None and self.fails:
            self.fails.pop(tup_id, None)

    def fail(self, tup_id: Any) -> None:
        entry = self.inflight.get(tup_id)
        if entry is None:
            return
        n = count_failure(self.fails, tup_id, self.max_retries)
        if n is None:
            self.replays.append(tup_id)
            return
        del self.inflight[tup_id]
        self.given_up += 1
        self.logger.error("stream event %s failed %d times: given up (on connector_errors)", entry[0], n)
        reason = f"failed {n} times (http.stream.max.retries={self.max_retries})"
        self.emit_error(self.source(entry[0]), reason, entry[1])

    def source(self, event_id: str | None) -> str:
        """Where an event came from, on the error stream: the URL and the event's id if it has one."""
        url = self.url.geturl()
        return url if event_id is None else f"{url}#{event_id}"

    # --- the acked id across restarts --------------------------------------------------------

    def load_state(self) -> str | None:
        if not self.state_path:
            return None
        try:
            with open(self.state_path) as f:
                value = json.load(f).get("last_event_id")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError) as e:
            self.logger.error("%s is not a stream state (%s): starting without Last-Event-ID", self.state_path, e)
            return None
        return None if value is None else str(value)

    def save_state(self) -> None:
        """Write the acked id atomically (temporary file, rename; no fsync, as FileSpout.save says)."""
        assert self.state_path
        tmp = f"{self.state_path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"url": self.url.geturl(), "last_event_id": self.acked_id}, f)
        os.replace(tmp, self.state_path)
        self.saved_id = self.acked_id

    def deactivate(self) -> None:
        if self.state_path and self.acked_id != self.saved_id:
            self.save_state()

    def close(self) -> None:
        self.stopping.set()
        self.deactivate()
