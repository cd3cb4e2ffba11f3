"""A real server-sent-events server for the HttpStreamSpout tests, run as its own process:
``python sse_server.py PORT N LOG``. It serves the events 0..N-1 (``id: n``, ``data: {"id": n}``),
paced, starting after the ``Last-Event-ID`` a client sends, then keeps the stream open; each
connection's Last-Event-ID (or "-") is appended to LOG. ``/lines`` serves the same as JSON lines;
``?poison=K``: every K-th event's data is not JSON."""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

CHUNK, PAUSE = 100, 0.02  # about 5,000 events a second


def make_app(n: int, log: str) -> Starlette:
    def first(request: Request) -> int:
        last = request.headers.get("last-event-id")
        with open(log, "a") as f:
            f.write(f"{last if last is not None else '-'}\n")
        return int(last) + 1 if last is not None else 0

    async def stream(start: int, sse: bool, poison: int):
        def data(i: int) -> str:
            return "not json" if poison and i % poison == poison - 1 else f'{{"id": {i}}}'

        for low in range(start, n, CHUNK):
            high = min(low + CHUNK, n)
            if sse:
                yield "".join(f"id: {i}\ndata: {data(i)}\n\n" for i in range(low, high))
            else:
                yield "".join(f"{data(i)}\n" for i in range(low, high))
            await asyncio.sleep(PAUSE)
        while True:  # a stream does not end: the client decides
            yield ": keep-alive\n\n" if sse else "\n"
            await asyncio.sleep(1)

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(
            stream(first(request), True, int(request.query_params.get("poison", 0))), media_type="text/event-stream"
        )

    async def lines(request: Request) -> StreamingResponse:
        return StreamingResponse(
            stream(first(request), False, int(request.query_params.get("poison", 0))), media_type="application/x-ndjson"
        )

    return Starlette(routes=[Route("/events", events), Route("/lines", lines)])


if __name__ == "__main__":
    port, count, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    uvicorn.run(make_app(count, log_path), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
