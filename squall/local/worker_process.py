"""Entry point of a worker process: ``python -m squall.local.worker_process`` (spec in $SQUALL_WORKER_SPEC).

Talks to the coordinator over a ZeroMQ DEALER socket (msgpack maps):

    worker -> coordinator: hello{address, inc} · ready · fatal{error} · spouts_done · stats{...} (when asked)
                           probe{n, idle, done, inc, sent, received} · bye{stats, captured, errors}
    coordinator -> worker: peers{peers} · peer{index, address, inc} (a restarted peer) · activate
                           deactivate · drain · probe{n} · stats · stop
"""

from __future__ import annotations

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
from squall.runtime.worker import Worker
from squall.topology.config import runtime_settings
from squall.topology.loader import load_topology
from squall.transport.wire import pack, unpack_control
from squall.transport.zeromq import POLLIN, ZmqTransport

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
        self.ctrl.connect(spec["coordinator"])
        self.parent = os.getppid()
        self.worker: Worker | None = None
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
        if os.getppid() != self.parent:
            log.error("worker %d: the coordinator went away; exiting", self.index)
            os._exit(4)

    def fatal(self, where: str, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("worker %d: %s failed:\n%s", self.index, where, text.rstrip())
        self.send({"t": "fatal", "where": where, "error": f"{type(exc).__name__}: {exc}", "traceback": text})
        self.ctrl.close(linger=2000)
        sys.exit(3)

    def start(self) -> None:
        spec = self.spec
        for entry in reversed(spec.get("sys_path", [])):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        conf = spec["conf"]
        try:
            settings = runtime_settings(conf)
            topology = load_topology(spec["topology"])
            transport = ZmqTransport(
                self.index,
                host=settings.bind_host,
                hwm=settings.transfer_hwm,
                ctx=self.ctx,
                incarnation=int(spec.get("incarnation", 0)),
            )
            self.worker = Worker(topology, conf, self.index, transport=transport)
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
            poller.register(w.transport.pull, zmq.POLLIN)
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
            if w.captured is not None:
                bye["captured"] = [[c, s, vals] for (c, s), vals in w.captured.items()]
            try:
                self.send(bye)
            except (TypeError, ValueError) as exc:  # captured values that msgpack cannot encode
                bye.pop("captured", None)
                bye["errors"].append(
                    {
                        "component": "-",
                        "task": -1,
                        "time": time.time(),
                        "where": "capture",
                        "error": f"captured values cannot be sent back: {exc}",
                        "traceback": "",
                    }
                )
                self.send(bye)
            w.close()
        self.ctrl.close(linger=2000)
        self.ctx.term()
        sys.exit(code)


def main() -> None:
    spec = json.loads(os.environ["SQUALL_WORKER_SPEC"])
    logs.setup(spec.get("log_level", "INFO"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C and stops us cleanly
    proc = WorkerProcess(spec)
    proc.start()
    proc.loop()


if __name__ == "__main__":
    main()
