"""The small HTTP client of the REST API that ``squall list/stats/activate/deactivate/kill/tail/sample`` use.

Standard library only (``urllib``). A run is found in the registry (``squall.ui.registry``) by its
topology name or id (``resolve``); its entry gives the API's address and the token POST actions
need. Every failure becomes a ``SquallError`` subclass whose message says what to do:

    SquallError
    ├── TopologyNotFoundError   no running topology has that name or id
    ├── AmbiguousTopologyError  several runs have that name: name one by its id
    ├── UnreachableError        the run is registered but its REST API does not answer
    └── ApiError                the API answered with an error (status, Storm's error fields)
        ├── TokenRefusedError   401 / 403: the registry's token did not match
        └── ApiNotFoundError    404: unknown topology id or component
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from squall.errors import SquallError
from squall.ui import registry
from squall.ui.registry import Entry

Json = dict[str, Any]

#: ``--window`` as typed -> the REST API's ``window`` (Storm's values).
WINDOWS = {"60": "60", "600": "600", "all": ":all-time"}


class TopologyNotFoundError(SquallError):
    """No running topology has the name or id the user gave."""


class AmbiguousTopologyError(SquallError):
    """Several running topologies have the name the user gave."""


class UnreachableError(SquallError):
    """A registered run's REST API does not answer."""


class ApiError(SquallError):
    """The REST API answered with an error status."""

    def __init__(self, message: str, status: int, error: str = ""):
        super().__init__(message)
        self.status = status
        self.error = error


class TokenRefusedError(ApiError):
    """401 or 403: the token was missing or did not match."""


class ApiNotFoundError(ApiError):
    """404: the API knows no such topology or component."""


def _describe_runs(entries: list[Entry]) -> str:
    return ", ".join(f"{e.name} (id {e.id})" for e in entries)


def resolve(name: str | None) -> Entry:
    """The one running topology ``name`` (a topology name or id; None: the only one running) means."""
    found = registry.find(name)
    if len(found) == 1:
        return found[0]
    if not found:
        running = registry.entries()
        where = f"registry: {registry.folder()}"
        if name is None:
            raise TopologyNotFoundError(f"no running topologies ({where}); start one with `squall run FILE.py`")
        others = f"running: {_describe_runs(running)}" if running else "none is running"
        raise TopologyNotFoundError(f"no running topology named {name!r} ({others}; {where})")
    if name is None:
        raise AmbiguousTopologyError(
            f"{len(found)} topologies are running: name one (by name or id): {_describe_runs(found)}"
        )
    ids = ", ".join(e.id for e in found)
    raise AmbiguousTopologyError(f"{len(found)} running topologies are named {name!r}: name one by its id: {ids}")


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie, exited but not yet reaped by its parent, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float, poll: float = 0.1) -> bool:
    """Wait until process ``pid`` has exited, at most ``timeout`` seconds; whether it has."""
    deadline = time.monotonic() + timeout
    while not process_gone(pid):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(poll, left))
    return True


@dataclass
class Client:
    """One run's REST API: ``url`` (e.g. http://127.0.0.1:8080), the ``token`` for POSTs."""

    url: str
    token: str = ""
    timeout: float = 10.0

    @classmethod
    def of(cls, entry: Entry, timeout: float = 10.0) -> Client:
        """The client of a registered run (refused when it runs without a UI)."""
        if not entry.url:
            raise UnreachableError(f"topology {entry.name} (id {entry.id}) runs without a UI (--no-ui): no REST API")
        return cls(entry.url.rstrip("/"), entry.token, timeout)

    # --- HTTP ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, query: dict[str, Any] | None = None) -> Json:
        """``method path?query`` -> the JSON object answered; errors as ``SquallError`` subclasses."""
        pairs = {k: v for k, v in (query or {}).items() if v is not None}
        target = self.url + path + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")
        headers = {"Accept": "application/json"}
        if method == "POST" and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(target, method=method, headers=headers, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise self._error(method, path, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(
                f"the REST API at {self.url} does not answer ({reason}): the topology may be starting or "
                "ending; `squall list` shows what runs"
            ) from None
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(f"{method} {target}: the answer is not JSON", 200) from None
        if not isinstance(data, dict):
            raise ApiError(f"{method} {target}: expected a JSON object, got {type(data).__name__}", 200)
        return data

    def _error(self, method: str, path: str, exc: urllib.error.HTTPError) -> ApiError:
        status = exc.code
        error = message = ""
        try:
            data = json.loads(exc.read())
            error, message = str(data.get("error", "")), str(data.get("errorMessage", ""))
        except (ValueError, AttributeError, OSError):
            pass
        said = message or error or exc.reason
        what = f"{method} {path}: {status} {said}"
        if status == 401:
            return TokenRefusedError(
                f"{what}: the REST API at {self.url} wants the run's token and the registry entry has none: "
                "use the token the run printed at start",
                status,
                error,
            )
        if status == 403:
            return TokenRefusedError(
                f"{what}: the REST API at {self.url} refused the token from the registry "
                f"({registry.folder()}): it did not match that run's token; the entry may be from another "
                "run: check `squall list`, or use the token the run printed at start",
                status,
                error,
            )
        if status == 404:
            return ApiNotFoundError(what, status, error)
        return ApiError(what, status, error)

    def get(self, path: str, **query: Any) -> Json:
        return self.request("GET", path, query)

    def post(self, path: str, **query: Any) -> Json:
        return self.request("POST", path, query)

    # --- the API ------------------------------------------------------------------------------

    @staticmethod
    def _topo(topology_id: str) -> str:
        return "/api/v1/topology/" + urllib.parse.quote(topology_id, safe="")

    def topology_summary(self) -> list[Json]:
        """``GET /api/v1/topology/summary``: the run's topologies (one)."""
        return list(self.get("/api/v1/topology/summary").get("topologies", []))

    def topology(self, topology_id: str, window: str = "600") -> Json:
        """``GET /api/v1/topology/:id?window=W``: summary, spouts, bolts, configuration."""
        return self.get(self._topo(topology_id), window=window)

    def component(self, topology_id: str, component: str, window: str = "600") -> Json:
        """``GET /api/v1/topology/:id/component/:c?window=W``: per-executor stats, streams, errors."""
        return self.get(f"{self._topo(topology_id)}/component/{urllib.parse.quote(component, safe='')}", window=window)

    def workers(self, topology_id: str) -> list[Json]:
        """``GET /api/v1/topology/:id/workers`` (Squall's)."""
        return list(self.get(f"{self._topo(topology_id)}/workers").get("workers", []))

    def logs(self, topology_id: str, worker: int | None = None, after: int = 0, limit: int = 1000) -> Json:
        """``GET /api/v1/topology/:id/logs``: ``{lines: [{seq, worker, time, line}], next}`` after ``after``."""
        return self.get(f"{self._topo(topology_id)}/logs", worker=worker, after=after, limit=limit)

    def samples(self, topology_id: str, component: str, after: int = 0) -> Json:
        """``GET .../component/:c/sample?after=SEQ``: ``{samples: [{seq, time, task, stream, values}], next}``."""
        return self.get(
            f"{self._topo(topology_id)}/component/{urllib.parse.quote(component, safe='')}/sample", after=after
        )

    def enable_sampling(self, topology_id: str, component: str, secs: float, stream: str | None = None) -> Json:
        """``POST .../component/:c/debug/enable/:secs?stream=S`` (token): sample its emits for ``secs``."""
        c = urllib.parse.quote(component, safe="")
        return self.post(f"{self._topo(topology_id)}/component/{c}/debug/enable/{secs:g}", stream=stream)

    def activate(self, topology_id: str) -> Json:
        return self.post(f"{self._topo(topology_id)}/activate")

    def deactivate(self, topology_id: str) -> Json:
        return self.post(f"{self._topo(topology_id)}/deactivate")

    def kill(self, topology_id: str, wait: float) -> Json:
        """``POST /api/v1/topology/:id/kill/:wait``: spouts deactivated now, the run stopped ``wait`` s later."""
        return self.post(f"{self._topo(topology_id)}/kill/{wait:g}")
