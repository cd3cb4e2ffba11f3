"""HttpIngestSpout: an HTTP endpoint that turns POSTed messages into tuples, with backpressure.

The server (starlette on uvicorn, both already dependencies) runs in a daemon thread of the worker
with its own event loop, so a slow client never stalls the worker. The two threads share only a
deque of request batches and two counters, each written by one side (``accepted`` by the server,
``taken`` by the worker): what waits is ``accepted - taken``, read without a lock. A request is
queued whole or refused whole (429 + ``Retry-After``), so a client knows exactly what to resend.

HTTP has no replay: a line is kept in the spout's memory until its tree is acked (a failed one is
emitted again, ``http.max.retries``), and is lost if the worker dies first. With
``http.ack.mode = "processed"`` the answer waits until every line of the request was processed, so
a client that resends what was not answered 200 gets at-least-once.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, ConnectorSpout, MessageDecoder, count_failure
from squall.errors import ConfigError
from squall.topology.spout import Spout

ACK_MODES = ("queued", "processed")
START_TIMEOUT = 10.0
MAX_REASONS = 10  # rejected lines' reasons given back in an answer (all go to the error stream)


@dataclass(eq=False)
class Batch:
    """The accepted lines of one request, and (``processed`` mode) who waits for them."""

    values: list[list[Any]]
    errors: list[tuple[str, str, bytes]]  # (source, reason, payload) of each rejected line
    first: int = 0  # the next value to emit
    remaining: int = 0  # lines not yet acked or given up
    failed: int = 0  # lines given up
    done: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None


@dataclass
class Parsed:
    values: list[list[Any]] = field(default_factory=list)
    errors: list[tuple[str, str, bytes]] = field(default_factory=list)


def item_values(decode: MessageDecoder, item: Any) -> list[Any]:
    """The values of one item of a JSON array body (already parsed)."""
    if decode.fmt == "json":
        if isinstance(item, dict):
            missing = [f for f in decode.fields if f not in item]
            if missing:
                raise ValueError(f"the JSON object has no field {missing[0]!r}")
            values = [item[f] for f in decode.fields]
        elif isinstance(item, list):
            values = item
        else:
            raise ValueError(f"a JSON {type(item).__name__} is neither an object nor an array")
    elif decode.fmt == "text" and isinstance(item, str):
        values = [item]
    else:
        raise ValueError(f"an item of a JSON array must be a string for http.format={decode.fmt}")
    if len(values) != decode.n:
        raise ValueError(f"{len(values)} value(s) for the fields {list(decode.fields)}")
    return values


def parse(decode: MessageDecoder, body: bytes, json_array: bool) -> Parsed:
    """A request body: one JSON array of messages, or lines (one message each, blank ones skipped)."""
    out = Parsed()
    if json_array:
        try:
            doc = json.loads(body)
        except ValueError as e:
            out.errors.append(("body", f"not JSON: {e}", body[:1000]))
            return out
        for i, item in enumerate(doc if isinstance(doc, list) else [doc]):
            try:
                out.values.append(item_values(decode, item))
            except ValueError as e:
                out.errors.append((f"item {i}", str(e), json.dumps(item).encode()))
        return out
    for i, line in enumerate(body.split(b"\n")):
        if not line.strip():
            continue
        try:
            out.values.append(decode(line))
        except ValueError as e:
            out.errors.append((f"line {i + 1}", str(e), line))
    return out


def listen(host: str, port: int, shared: bool, who: str) -> socket.socket:
    """A listening socket; ``shared``: SO_REUSEPORT, so the tasks of one spout share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(512)
    except OSError as e:
        sock.close()
        taken = " (another process has it)" if e.errno == errno.EADDRINUSE else ""
        raise ConfigError(f"{who} cannot listen on {host}:{port}: {e.strerror or e}{taken}; set http.port") from None
    return sock


class HttpIngestSpout(ConnectorSpout, Spout):
    """POST ``http://<http.host>:<http.port><http.path>``: JSON lines (or, with ``Content-Type:
    application/json``, one JSON array), one tuple per message, answered 202 once queued (or, in
    ``processed`` mode, 200 once processed); 429 + ``Retry-After`` while the queue is full, 401
    without the ``http.token`` bearer token, 413 for a request larger than the queue."""

    connector = "http"
    prefix = "http."
    settings: ClassVar[dict[str, Any]] = {
        "http.port": REQUIRED,
        "http.host": "127.0.0.1",
        "http.path": "/",
        "http.token": None,  # None: no token (only on 127.0.0.1 is that safe)
        "http.format": "text",
        "http.queue.size": 10_000,  # messages accepted and not yet emitted, at most
        "http.retry.after.secs": 1,
        "http.ack.mode": "queued",  # or "processed": the answer waits until the lines were processed
        "http.max.retries": None,  # None: replay a failed message (from memory) forever
        "http.max.body.bytes": 16 << 20,
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        port = conf.get("http.port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
            out.append((f"http.port={port!r} is not a TCP port", "a number from 1 to 65535"))
        mode = conf.get("http.ack.mode", "queued")
        if mode not in ACK_MODES:
            out.append((f"http.ack.mode={mode!r} is not a mode", f"use one of {', '.join(ACK_MODES)}"))
        for key in ("http.queue.size", "http.max.body.bytes", "http.retry.after.secs"):
            value = conf.get(key, cls.settings[key])
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                out.append((f"{key}={value!r} is not a positive integer", f"e.g. {key}: {cls.settings[key]}"))
        host = conf.get("http.host") or "127.0.0.1"
        if not conf.get("http.token") and host not in ("127.0.0.1", "localhost", "::1"):
            out.append(
                (
                    f"http.host={host!r} opens the endpoint to other machines without a token",
                    "set http.token (clients send 'Authorization: Bearer <token>'), or keep http.host 127.0.0.1",
                )
            )
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        import uvicorn  # a dependency of squall (the web UI's server), imported only where it runs

        self.decode = self.make_decoder(conf)
        self.queue_size = int(self.setting(conf, "http.queue.size"))
        self.retry_after = str(self.setting(conf, "http.retry.after.secs"))
        self.processed_mode = self.setting(conf, "http.ack.mode") == "processed"
        self.max_retries: int | None = conf.get("http.max.retries")
        self.max_body = int(self.setting(conf, "http.max.body.bytes"))
        token = conf.get("http.token")
        self.token = f"Bearer {token}".encode() if token else None
        self.batches: deque[Batch] = deque()  # appended by the server thread, popped here
        self.accepted = 0  # messages queued (written by the server thread only)
        self.taken = 0  # messages emitted (written by the worker thread only)
        self.current: Batch | None = None
        self.inflight: dict[int, tuple[list[Any], Batch]] = {}
        self.fails: dict[int, int] = {}
        self.replays: deque[int] = deque()
        self.seq = 0
        self.given_up = 0
        name = getattr(context, "component_id", type(self).__name__)
        shared = context is not None and len(context.component_tasks(name)) > 1
        host, port = str(self.setting(conf, "http.host")), int(self.setting(conf, "http.port"))
        sock = listen(host, port, shared, f"{type(self).__name__} '{name}'")
        self.port = int(sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app(str(self.setting(conf, "http.path"))),
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                loop="asyncio",
                http="h11",
                ws="none",
                timeout_graceful_shutdown=1,
            )
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.name = f"squall-http-{name}"
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"{type(self).__name__} '{name}': the HTTP server on {host}:{port} did not start")
            time.sleep(0.01)

    # --- the server thread -------------------------------------------------------------------

    def app(self, path: str) -> Any:
        from starlette.applications import Starlette
        from starlette.routing import Route

        return Starlette(routes=[Route(path, self.receive, methods=["POST"])])

    async def receive(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        if self.token is not None and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), self.token
        ):
            return JSONResponse({"error": "a bearer token is required (Authorization: Bearer <http.token>)"}, 401)
        body = await read_body(request, self.max_body)
        if body is None:
            return JSONResponse({"error": f"the body is larger than http.max.body.bytes={self.max_body}"}, 413)
        json_array = request.headers.get("content-type", "").split(";")[0].strip() == "application/json"
        parsed = parse(self.decode, body, json_array)
        n = len(parsed.values)
        counts = {"accepted": n, "rejected": len(parsed.errors), "reasons": [e[1] for e in parsed.errors[:MAX_REASONS]]}
        if n > self.queue_size:
            return JSONResponse({"error": f"{n} messages: more than http.queue.size={self.queue_size} at once"}, 413)
        if n and self.accepted - self.taken + n > self.queue_size:
            return JSONResponse(
                {"error": "the queue is full: send again after Retry-After seconds"},
                429,
                headers={"Retry-After": self.retry_after},
            )
        batch = Batch(parsed.values, parsed.errors, remaining=n)
        if self.processed_mode and n:
            batch.loop = asyncio.get_running_loop()
            batch.done = batch.loop.create_future()
        self.batches.append(batch)
        self.accepted += n
        if batch.done is None:
            return JSONResponse(counts, 202)
        await batch.done
        return JSONResponse({**counts, "processed": n - batch.failed, "failed": batch.failed}, 200)

    # --- the worker thread -------------------------------------------------------------------

    def next_tuple(self) -> None:
        replays = self.replays
        while replays:
            seq = replays.popleft()
            entry = self.inflight.get(seq)
            if entry is not None:
                self.emit(entry[0], tup_id=seq)
                return
        batch = self.current
        if batch is None or batch.first >= len(batch.values):
            if not self.batches:
                return
            batch = self.current = self.batches.popleft()
            for source, reason, payload in batch.errors:
                self.emit_error(source, reason, payload)
        self.emit_batch(batch)

    def emit_batch(self, batch: Batch) -> None:
        values, inflight, emit = batch.values, self.inflight, self.emit
        start = batch.first
        end = min(len(values), start + 256)
        seq = self.seq
        for i in range(start, end):
            v = values[i]
            inflight[seq] = (v, batch)
            emit(v, tup_id=seq)
            seq += 1
        self.seq = seq
        batch.first = end
        self.taken += end - start

    def ack(self, tup_id: Any) -> None:
        entry = self.inflight.pop(tup_id, None)
        if entry is None:
            return
        if self.fails:
            self.fails.pop(tup_id, None)
        batch = entry[1]
        batch.remaining -= 1
        if batch.remaining == 0 and batch.loop is not None:
            batch.loop.call_soon_threadsafe(finish, batch)

    def fail(self, tup_id: Any) -> None:
        entry = self.inflight.get(tup_id)
        if entry is None:
            return
        n = count_failure(self.fails, tup_id, self.max_retries)
        if n is None:
            self.replays.append(tup_id)
            return
        self.given_up += 1
        entry[1].failed += 1
        self.logger.error("an HTTP message failed %d times: given up (on connector_errors)", n)
        payload = json.dumps(entry[0], default=repr).encode()
        self.emit_error(f"message {tup_id}", f"failed {n} times (http.max.retries={self.max_retries})", payload)
        self.ack(tup_id)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(2.0)


async def read_body(request: Any, limit: int) -> bytes | None:
    """The request's body, or None once it passes ``limit`` bytes (without reading the rest)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def finish(batch: Batch) -> None:
    """(On the server's loop.) Answer the request that waits for ``batch``."""
    if batch.done is not None and not batch.done.done():
        batch.done.set_result(None)
