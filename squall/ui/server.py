"""The UI's server: uvicorn serving the app in a daemon thread of the ``squall run`` process.

``UiServer(coordinator, ...).start()`` binds the port (the one asked for or, when the default is
taken, the next free one; 0: any free port), starts a thread that follows the run's snapshots into
the ``History`` (``Coordinator.wait_statistics``: one wake-up per stats round), and uvicorn in
another daemon thread with its own asyncio loop. Uvicorn installs no signal handler there (only
the main thread may): Ctrl-C and SIGTERM stay the coordinator's. ``stop()`` asks uvicorn to exit
and waits a moment; the threads are daemons, so a run never waits on its UI to end. The workers and
the coordinator's loop never call into the UI: it only reads snapshots and enqueues commands.
"""

from __future__ import annotations

import errno
import logging
import secrets
import socket
import threading
import time
from typing import Any

import uvicorn

from squall.errors import ConfigError
from squall.ui.api import RunView
from squall.ui.app import LOOPBACK, build
from squall.ui.history import History

log = logging.getLogger("squall.ui")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # Storm UI's
PORT_SCAN = 100  # when the default port is taken: the next free one among this many
START_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK or host.startswith("127.")


def bind(host: str, port: int, scan: bool) -> socket.socket:
    """A listening TCP socket on ``host``: ``port``, or (``scan``) the first free one from it; 0: any."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ports = range(port, min(port + PORT_SCAN, 65536)) if scan and port else [port]
    last: OSError | None = None
    for p in ports:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: a taken port stays taken
        try:
            sock.bind((host, p))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            last = exc
            if exc.errno == errno.EADDRINUSE:
                continue
            raise ConfigError(f"the UI cannot listen on {host}:{p}: {exc.strerror or exc}") from None
        return sock
    what = f"ports {ports[0]}-{ports[-1]} are all taken" if len(ports) > 1 else f"port {port} is taken"
    raise ConfigError(f"the UI cannot listen on {host}: {what} ({last}); choose one with --ui-port (0: any free port)")


class UiServer:
    """The web UI and REST API of one run (``coordinator``), served from this process."""

    def __init__(
        self,
        coordinator: Any,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        scan: bool = True,
        token: str | None = None,
        topology_id: str | None = None,
    ):
        self.coordinator = coordinator
        self.host = host
        self.requested_port = port
        self.scan = scan
        self.token = token or secrets.token_urlsafe(24)
        name = str(coordinator.conf.get("topology.name") or "topology")
        tid = topology_id or getattr(coordinator, "topology_id", None) or f"{name}-{int(time.time())}"
        self.view = RunView(coordinator, str(tid), self.token, History())
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def topology_id(self) -> str:
        return self.view.topology_id

    @property
    def url(self) -> str:
        """Where a browser on this machine opens the UI (a wildcard bind: through 127.0.0.1)."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> str:
        """Bind, start serving; the URL. ConfigError when the port cannot be had."""
        sock = bind(self.host, self.requested_port, self.scan)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            build(self.view, host=self.host),
            log_config=None,  # the process's logging stays as squall set it up
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._threads = [
            threading.Thread(target=self._follow, name="squall-ui-history", daemon=True),
            threading.Thread(target=self._serve, args=(server, sock), name="squall-ui", daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not self._threads[1].is_alive():
                raise ConfigError(f"the UI server on {self.host}:{self.port} stopped while starting (see the log)")
            if time.monotonic() > deadline:
                raise ConfigError(f"the UI server on {self.host}:{self.port} did not start in {START_TIMEOUT:g}s")
            time.sleep(0.01)
        return self.url

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException:  # a thread's exception would only be printed: say what it was
            log.exception("the UI server stopped")

    def _follow(self) -> None:
        """Add each new snapshot to the history (one wake-up per stats round)."""
        snap = None
        while not self._stop.is_set():
            try:  # the coordinator read each time: a cluster master replaces it on a rebalance
                new = self.coordinator.wait_statistics(snap, timeout=1.0)
            except Exception:  # never let the UI's thread die silently
                log.exception("the UI stopped following the run's statistics")
                return
            if new is snap:  # no new snapshot (or the run is over): do not spin
                self._stop.wait(0.5)
                continue
            self.view.history.add(new)
            snap = new

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the server and the follower to end; wait at most ``timeout`` seconds (they are daemons)."""
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))


def serve_run(coordinator: Any, host: str | None = None, port: int | None = None) -> UiServer:
    """Start the UI of a ``squall run`` (``host``/``port``: the command line's, else the config's
    ``squall.ui.*``); the default port moves to the next free one when taken. ConfigError if it cannot."""
    conf = coordinator.conf
    host = host or conf.get("squall.ui.host") or DEFAULT_HOST
    if port is None:
        port = conf.get("squall.ui.port")
    scan = port is None
    ui = UiServer(
        coordinator,
        host=host,
        port=DEFAULT_PORT if port is None else int(port),
        scan=scan,
        token=conf.get("squall.ui.token") or None,
    )
    ui.start()
    return ui
