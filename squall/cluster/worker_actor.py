"""The worker actor: one Squall worker (``WorkerProcess``) in one Ray actor, on whatever node Ray picked.

It is created detached, named ``worker-<index>.<incarnation>`` in the topology's namespace, with Ray's
restarts and retries off (``RayLauncher``): a lost worker is the master's to replace, and its in-flight
tuples are the acker's to replay. ``run`` serves until the master says stop (or ``stop`` is called:
that is why the actor has two concurrent calls) and returns the exit status.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from squall.local.worker_logs import OutputRing

#: Ray's name for worker ``index``'s ``incarnation`` (a new name per incarnation: nothing waits for a
#: dead actor's name to be freed).
NAME_PREFIX = "worker-"


def worker_name(index: int, incarnation: int) -> str:
    return f"{NAME_PREFIX}{index}.{incarnation}"


def parse_worker_name(name: str) -> tuple[int, int] | None:
    """``(index, incarnation)`` of a worker actor's name; None for another name."""
    if not name.startswith(NAME_PREFIX):
        return None
    index, _, inc = name[len(NAME_PREFIX) :].partition(".")
    if not (index.isdigit() and inc.isdigit()):
        return None
    return int(index), int(inc)


def node_address() -> tuple[str, str]:
    """This process's Ray node: (IP address, node id)."""
    import ray

    ip: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]  # untyped in Ray
    return ip, ray.get_runtime_context().get_node_id()


def setup_logging() -> None:
    """Squall's log lines to the actor's stderr (Ray keeps it in its per-worker log files)."""
    root = logging.getLogger("squall")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def localize(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as this node runs it: sockets on the node's address, the project's folders (relative to
    the working directory Ray unpacked) made absolute, the host it reports naming the Ray node."""
    ip, node = node_address()
    conf = dict(spec["conf"], **{"squall.bind.host": ip, "squall.advertise.host": ip})
    paths = [os.path.join(os.getcwd(), p) for p in spec.get("sys_path", [])]
    return dict(spec, conf=conf, sys_path=paths, host=f"{ip} (node {node[:8]})")


class Outputs:
    """The actor's stdout and stderr rings, taken together (oldest first) for a stats answer."""

    def __init__(self, *rings: OutputRing):
        self.rings = rings

    def take(self) -> list[list[Any]]:
        lines = [entry for ring in self.rings for entry in ring.take()]
        lines.sort(key=lambda entry: entry[0])
        return lines


class WorkerActor:
    """Hosts ``WorkerProcess(spec)`` (the same worker as local mode, constructed directly)."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.stop_asked = False
        self.ended = threading.Event()
        self.code = 0
        self.record: dict[str, Any] = {"version": 0}  # the master's, replicated here (set_record)
        self.stdout = OutputRing(sys.stdout)  # before any log handler binds sys.stderr
        self.stderr = OutputRing(sys.stderr)
        sys.stdout, sys.stderr = self.stdout, self.stderr

    def run(self, spec: dict[str, Any]) -> int:
        """Run the worker until it stops; its exit status (0: a clean stop)."""
        from squall.local import logs
        from squall.local.worker_process import WorkerProcess
        from squall.topology.config import runtime_settings

        # the worker's log lines (Squall's and its components') to its stderr, as a worker process's
        logs.setup(spec.get("log_level", "INFO"), runtime_settings(spec["conf"]).log_collapse_secs)

        try:
            self.proc = WorkerProcess(localize(spec))
            keep = int(spec["conf"].get("squall.ui.log.lines") or 1000)
            self.stdout.set_keep(keep)
            self.stderr.set_keep(keep)
            self.proc.output = Outputs(self.stdout, self.stderr)
            if self.stop_asked:
                self.proc.terminate()
            self.code = self.proc.run()
        except BaseException:
            self.code = 1
            raise
        finally:
            self.ended.set()
        return self.code

    def join(self) -> int:
        """Wait until ``run`` returns; its status (what a restarted master waits on: the ``run`` call
        belonged to the master that died)."""
        self.ended.wait()
        return self.code

    def reconnect(self, address: str) -> None:
        """The master restarted: its control socket is now at ``address``."""
        if self.proc is not None:
            self.proc.reconnect(address)

    def set_record(self, record: dict[str, Any]) -> None:
        """Keep the master's record (versioned) if it is newer than the one kept."""
        if int(record.get("version", 0)) >= int(self.record.get("version", 0)):
            self.record = dict(record)

    def get_record(self) -> dict[str, Any]:
        return self.record

    def stop(self) -> None:
        """Ask the worker to stop at the end of its loop's turn (components closed, final counters sent)."""
        self.stop_asked = True
        if self.proc is not None:
            self.proc.terminate()

    def where(self) -> dict[str, Any]:
        """The node this actor runs on and its pid (for tests and diagnostics)."""
        ip, node = node_address()
        return {"ip": ip, "node_id": node, "pid": os.getpid()}
