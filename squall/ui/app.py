"""The web app (Starlette, ASGI): the REST API's routes, ``/metrics``, ``/openapi.json``, the page.

Security (see docs/architecture.md, "Web UI"):

* GETs need no token; POSTs (activate, deactivate, kill, debug sampling) need the run's token in
  ``Authorization: Bearer TOKEN`` or ``X-Squall-Token: TOKEN``: none is 401, a wrong one 403, and
  nothing changes. A header, not a cookie or a form field, so a page of another site cannot send
  it (a cross-site form or ``fetch`` cannot set it without a CORS preflight, which is refused).
* On a loopback address the ``Host`` header must name a loopback host (``127.0.0.1``,
  ``localhost``, ``[::1]``) or the bound one: a DNS-rebinding page cannot read the API.
* Every error is JSON (``{"error", "errorMessage"}``, Storm's shape); an exception is logged and
  answered 500 without its traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from squall.ui import api
from squall.ui.api import Conflict, NotFound, RunView
from squall.ui.history import parse_window
from squall.ui.metrics import registry_for, render
from squall.ui.openapi import document

log = logging.getLogger("squall.ui")

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS.update({409: "Conflict", 500: "Internal Server Error"})


class Json(JSONResponse):
    """JSON without NaN (``allow_nan=False`` would raise; the API never produces one: ``api.r3``)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str).encode()


def error(status: int, message: str) -> Json:
    return Json({"error": _REASONS.get(status, "Error"), "errorMessage": message}, status_code=status)


def _int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected an integer") from None


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise ValueError(f"{what}={text!r}: expected a non-negative number of seconds")
    return value


Handler = Callable[[RunView, Request], Any]


class HostCheck:
    """Refuses a request whose ``Host`` is not an allowed name (DNS rebinding); ports are not checked."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = ""
            for k, v in scope.get("headers", ()):
                if k == b"host":
                    host = v.decode("latin-1")
                    break
            name = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
            if name.lower() not in self.allowed:
                await error(403, f"Host {host!r} is not allowed: use http://127.0.0.1:PORT")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _endpoint(view: RunView, fn: Handler, post: bool) -> Callable[[Request], Awaitable[Response]]:
    """An API endpoint: the token for a POST, the topology id checked, errors as JSON."""

    async def run(request: Request) -> Response:
        if post:
            refused = authorize(view, request)
            if refused is not None:
                return refused
            request.state.body = await request.body()  # for a handler that reads it (rebalance's options)
        topology_id = request.path_params.get("id")
        try:
            if topology_id is not None:
                view.check_id(topology_id)
            result = fn(view, request)
        except NotFound as exc:
            return error(404, str(exc))
        except Conflict as exc:
            return error(409, str(exc))
        except ValueError as exc:
            return error(400, str(exc))
        except Exception as exc:  # answered here: past this, Starlette would log it a second time
            return crashed(request, exc)
        return result if isinstance(result, Response) else Json(result)

    return run


def build(view: RunView, *, host: str = "127.0.0.1") -> ASGIApp:
    """The ASGI app serving ``view``; bound to ``host`` (a loopback host turns the Host check on)."""
    metrics = registry_for(view)

    def endpoint(fn: Handler, *, post: bool = False) -> Callable[[Request], Awaitable[Response]]:
        return _endpoint(view, fn, post)

    def window(request: Request) -> float | None:
        return parse_window(request.query_params.get("window"))

    def get(path: str, fn: Handler) -> Route:
        return Route(path, endpoint(fn), methods=["GET"])

    def post(path: str, fn: Handler) -> Route:
        return Route(path, endpoint(fn, post=True), methods=["POST"])

    t = "/api/v1/topology/{id}"
    routes: list[BaseRoute] = [
        get("/api/v1/cluster/summary", lambda v, r: api.cluster_summary(v)),
        get("/api/v1/supervisor/summary", lambda v, r: api.supervisor_summary(v)),
        get("/api/v1/nimbus/summary", lambda v, r: api.nimbus_summary(v)),
        get("/api/v1/topology/summary", lambda v, r: api.topology_summary(v)),
        get(t, lambda v, r: api.topology_page(v, window(r))),
        get(t + "/component/{component}", lambda v, r: api.component_page(v, r.path_params["component"], window(r))),
        get(t + "/visualization", lambda v, r: api.visualization(v, window(r))),
        get(t + "/workers", lambda v, r: api.workers_page(v)),
        get(t + "/errors", lambda v, r: api.errors_page(v)),
        get(t + "/timeseries", lambda v, r: api.timeseries(v, r.query_params.get("component") or None)),
        get(t + "/logs", _logs),
        get(
            t + "/component/{component}/sample",
            lambda v, r: api.samples_page(v, r.path_params["component"], _int(r, "after", 0)),
        ),
        post(t + "/activate", lambda v, r: api.activate(v)),
        post(t + "/deactivate", lambda v, r: api.deactivate(v)),
        post(t + "/kill/{wait}", lambda v, r: api.kill(v, _number(r.path_params["wait"], "wait"))),
        post(
            t + "/rebalance/{wait}",
            lambda v, r: api.rebalance(v, _number(r.path_params["wait"], "wait"), r.state.body),
        ),
        post(
            t + "/component/{component}/debug/enable/{secs}",
            lambda v, r: api.debug_enable(
                v, r.path_params["component"], _number(r.path_params["secs"], "secs"), r.query_params.get("stream")
            ),
        ),
        Route("/openapi.json", lambda r: Json(document()), methods=["GET"]),
        Route("/metrics", endpoint(lambda v, r: Response(render(metrics), media_type=CONTENT_TYPE_LATEST))),
        Route("/", _index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else ""
        message = f"no such resource: {request.method} {request.url.path}" if status == 404 else str(detail)
        return error(status, message)

    async def crash(request: Request, exc: Exception) -> Response:  # outside the API's endpoints
        return crashed(request, exc)

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: crash})
    if host.lower() in LOOPBACK or host.startswith("127."):
        return HostCheck(app, LOOPBACK | {host.lower()})
    return app


def crashed(request: Request, exc: Exception) -> Json:
    """A 500 for a bug: the traceback goes to the run's log, never into the answer."""
    log.error("the UI failed to answer %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, f"{type(exc).__name__} while answering {request.url.path} (details in the run's log)")


def authorize(view: RunView, request: Request) -> Json | None:
    """None when the request carries the run's token; else the 401 (none) or 403 (wrong) answer."""
    given = request.headers.get("x-squall-token")
    auth = request.headers.get("authorization")
    if given is None and auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
    if not given:
        return error(401, "this action needs the run's token: Authorization: Bearer TOKEN (printed at start)")
    if not secrets.compare_digest(given.encode(), view.token.encode()):
        return error(403, "wrong token")
    return None


def _logs(view: RunView, request: Request) -> dict[str, Any]:
    worker = request.query_params.get("worker")
    limit = _int(request, "limit", 1000)
    if not 0 < limit <= 10000:
        raise ValueError(f"limit={limit}: expected 1 to 10000")
    return api.logs_page(view, _int(request, "worker", 0) if worker else None, _int(request, "after", 0), limit)


async def _index(request: Request) -> Response:
    page = STATIC / "index.html"
    if not page.is_file():  # a build without the page: say where the API is
        return HTMLResponse(_PLACEHOLDER)
    return FileResponse(page, media_type="text/html")


_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>Squall</title></head><body>
<h1>Squall</h1><p>The page is not installed here. The REST API: <a href="/api/v1/topology/summary">topologies</a>,
<a href="/openapi.json">its OpenAPI document</a>, <a href="/metrics">Prometheus metrics</a>.</p></body></html>"""
