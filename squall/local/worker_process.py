"""A worker process: ``WorkerProcess(spec).run()``, or ``python -m squall.local.worker_process`` (spec in
``$SQUALL_WORKER_SPEC``, what ``SubprocessLauncher`` starts).

``WorkerProcess`` needs only its spec: no environment variable, no parent process, no signal
handler (a Ray actor constructs it directly and calls ``run()``, which returns the exit status).
The spec is a JSON-able dict:

    index, incarnation   this worker's number and restart count
    coordinator          the coordinator's control address (``tcp://host:port``)
    topology             the topology reference (``file.py:Class`` or ``module:Class``); nothing is pickled
    conf                 the effective topology config (hosts: ``squall.bind.host``, ``squall.advertise.host``)
    sys_path             entries to put in front of ``sys.path`` before loading the topology
    log_level            used by ``main()`` only (``run()`` leaves logging to its host)
    watch_parent         true: exit when the parent process changes (the coordinator died); set by
                         ``SubprocessLauncher``, absent for a worker that is not the coordinator's child
    hooks                optional ``{"factory": "module:function", "data": ...}``: the worker calls
                         ``factory(data)`` for its ``runtime.hooks.WorkerHooks`` (test doubles); its
                         ``report()`` goes back in ``bye``

Talks to the coordinator over a ZeroMQ DEALER socket (msgpack maps):

    worker -> coordinator: hello{address, inc} · ready · fatal{error} · spouts_done · stats{...} (when asked)
                           probe{n, idle, done, inc, sent, received} · bye{stats, hooks, errors}
    coordinator -> worker: peers{peers} · peer{index, address, inc} (a restarted peer) · activate
                           deactivate · drain · probe{n} · stats · stop
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

import zmq

from squall.local import logs
from squall.runtime.hooks import WorkerHooks
from squall.runtime.worker import Worker
from squall.topology.config import hosts
from squall.topology.loader import load_topology
from squall.transport.wire import pack, unpack_control
from squall.transport.zeromq import POLLIN, ZmqTransport, connect_endpoint

log = logging.getLogger("squall.runtime.worker")

CONTROL_EVERY = 0.005  # seconds between control-socket checks while busy


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        import psutil

        return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class WorkerProcess:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.index = int(spec["index"])
        self.ctx = zmq.Context()
        self.ctrl = self.ctx.socket(zmq.DEALER)
        self.ctrl.setsockopt(zmq.IDENTITY, f"w{self.index}".encode())
        self.ctrl.setsockopt(zmq.LINGER, 2000)
        connect_endpoint(self.ctrl, spec["coordinator"])
        #: the coordinator's pid when it is our parent (``watch_parent``); None: nothing to watch
        self.parent: int | None = os.getppid() if spec.get("watch_parent") else None
        self.worker: Worker | None = None
        self.hooks: WorkerHooks | None = None
        self.stopping = False
        self.spouts_done_sent = False

    def send(self, msg: dict[str, Any]) -> None:
        self.ctrl.send(pack(msg))

    def recv(self, timeout_ms: int) -> dict[str, Any] | None:
        if self.ctrl.poll(timeout_ms):
            return unpack_control(self.ctrl.recv())
        return None

    def wait_for(self, kind: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(200)
            if msg is None:
                self.check_parent()
                continue
            if msg["t"] == "stop":
                self.finish(0)
            if msg["t"] == kind:
                return msg
        log.error("worker %d: no %r from the coordinator in %.0fs; exiting", self.index, kind, timeout)
        sys.exit(3)

    def check_parent(self) -> None:
        """With ``watch_parent``: exit at once if the coordinator (our parent) went away."""
        if self.parent is not None and os.getppid() != self.parent:
            log.error("worker %d: the coordinator went away; exiting", self.index)
            os._exit(4)

    def fatal(self, where: str, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("worker %d: %s failed:\n%s", self.index, where, text.rstrip())
        self.send({"t": "fatal", "where": where, "error": f"{type(exc).__name__}: {exc}", "traceback": text})
        self.ctrl.close(linger=2000)
        sys.exit(3)

    def run(self) -> int:
        """Start, serve until the coordinator says stop, clean up; return the exit status.

        0 after a clean stop; 3 if the topology could not be loaded or ``initialize`` raised
        (the coordinator was told why) or the coordinator stopped answering while starting.
        Runs in the calling thread.
        """
        try:
            self.start()
            self.loop()
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        return 0

    def start(self) -> None:
        spec = self.spec
        for entry in reversed(spec.get("sys_path", [])):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        conf = spec["conf"]
        try:
            self.hooks = resolve_hooks(spec.get("hooks"))
        except Exception as exc:
            self.fatal("loading the hooks", exc)
        try:
            topology = load_topology(spec["topology"])
            bind_host, advertise_host = hosts(conf)
            transport = ZmqTransport(
                self.index,
                host=bind_host,
                advertise=advertise_host,
                hwm=int(conf.get("squall.transfer.hwm") or 64),
                ctx=self.ctx,
                incarnation=int(spec.get("incarnation", 0)),
            )
            self.worker = Worker(topology, conf, self.index, transport=transport, hooks=self.hooks)
        except Exception as exc:
            self.fatal("loading the topology", exc)
        assert self.worker is not None
        self.send(
            {
                "t": "hello",
                "index": self.index,
                "pid": os.getpid(),
                "address": transport.address,
                "tasks": self.worker.tasks(),
                "inc": transport.incarnation,
            }
        )
        peers = self.wait_for("peers")["peers"]
        transport.connect({int(k): (addr, inc) for k, (addr, inc) in peers.items()})
        try:
            self.worker.setup()
        except Exception as exc:
            self.fatal("initialize", exc)
        self.send({"t": "ready"})
        self.wait_for("activate")
        self.worker.activate()

    def stats(self) -> dict[str, Any]:
        w = self.worker
        assert w is not None
        return {
            "t": "stats",
            "index": self.index,
            "time": time.time(),
            "tasks": {str(k): v for k, v in w.task_stats().items()},
            "queued": w.queued(),
            "rss": rss_bytes(),
            "peak_rss": peak_rss_bytes(),
            "errors": w.errors.take_new(),
        }

    def handle(self, msg: dict[str, Any]) -> None:
        w = self.worker
        assert w is not None
        kind = msg["t"]
        if kind == "probe":
            c = w.transport.counters() if w.transport else {"inc": 0, "sent": {}, "received": {}}
            self.send(
                {
                    "t": "probe",
                    "n": msg["n"],
                    "idle": w.idle(),
                    "done": w.spouts_done,
                    "inc": c["inc"],
                    "sent": c["sent"],
                    "received": c["received"],
                }
            )
        elif kind == "peer":  # a restarted peer: a new incarnation at a new address
            if w.transport is not None:
                w.transport.connect({int(msg["index"]): (msg["address"], int(msg["inc"]))})
        elif kind == "deactivate":
            w.deactivate()
        elif kind == "activate":
            w.activate()
        elif kind == "drain":
            w.draining = True
        elif kind == "stats":
            self.send(self.stats())
        elif kind == "stop":
            self.stopping = True

    def loop(self) -> None:
        w = self.worker
        assert w is not None
        ctrl = self.ctrl
        poller = zmq.Poller()
        poller.register(ctrl, zmq.POLLIN)
        if w.transport is not None:
            poller.register(w.transport.pollable(), zmq.POLLIN)
        next_ctrl = 0.0
        next_parent = time.monotonic() + 1.0
        while not self.stopping:
            did = w.step()
            now = time.monotonic()
            if not did or now >= next_ctrl:
                next_ctrl = now + CONTROL_EVERY
                while ctrl.get(zmq.EVENTS) & POLLIN:
                    self.handle(unpack_control(ctrl.recv()))
                if not self.spouts_done_sent and w.spouts_done:
                    self.spouts_done_sent = True
                    self.send({"t": "spouts_done"})
                if now >= next_parent:
                    next_parent = now + 1.0
                    self.check_parent()
            if not did:
                poller.poll(1)
        self.finish(0)

    def finish(self, code: int) -> None:
        w = self.worker
        if w is not None:
            w.deactivate()
            if w.transport is not None and w.remote_channels:
                w.flush()
            bye = self.stats()
            bye["t"] = "bye"
            report = self.hooks.report() if self.hooks is not None else None
            if report is not None:
                bye["hooks"] = report
            try:
                self.send(bye)
            except (TypeError, ValueError) as exc:  # a report (e.g. captured values) msgpack cannot encode
                bye.pop("hooks", None)
                bye["errors"].append(
                    {
                        "component": "-",
                        "task": -1,
                        "time": time.time(),
                        "where": "hooks",
                        "error": f"the hooks' report (e.g. captured values) cannot be sent back: {exc}",
                        "traceback": "",
                    }
                )
                self.send(bye)
            w.close()
        self.ctrl.close(linger=2000)
        self.ctx.term()
        sys.exit(code)


def resolve_hooks(entry: dict[str, Any] | None) -> WorkerHooks | None:
    """The hooks of a spec's ``hooks`` entry: import ``module:function`` and call it with ``data``."""
    if not entry:
        return None
    ref = entry["factory"]
    module, sep, name = str(ref).partition(":")
    if not sep or not module or not name:
        raise ValueError(f"hooks factory {ref!r} is not a 'module:function' reference")
    factory = getattr(importlib.import_module(module), name)
    hooks: WorkerHooks = factory(entry.get("data"))
    return hooks


def main() -> None:
    spec = json.loads(os.environ["SQUALL_WORKER_SPEC"])
    logs.setup(spec.get("log_level", "INFO"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C and stops us cleanly
    sys.exit(WorkerProcess(spec).run())


if __name__ == "__main__":
    main()
