"""A worker process: ``WorkerProcess(spec).run()``, or ``python -m squall.local.worker_process`` (spec in
``$SQUALL_WORKER_SPEC``, what ``SubprocessLauncher`` starts).

``WorkerProcess`` needs only its spec: no environment variable, no parent process, no signal
handler (a Ray actor constructs it directly and calls ``run()``, which returns the exit status).
The spec is a JSON-able dict:

    index, incarnation   this worker's number and restart count
    coordinator          the coordinator's control address (``tcp://host:port``)
    keys                 the run's CURVE keys for this worker (``transport.security.RunKeys.for_worker``):
                         the coordinator and the peers refuse a worker without them
    topology             the topology reference (``file.py:Class`` or ``module:Class``); nothing is pickled
    conf                 the effective topology config (hosts: ``squall.bind.host``, ``squall.advertise.host``)
    sys_path             entries to put in front of ``sys.path`` before loading the topology
    log_level            used by ``main()`` only (``run()`` leaves logging to its host)
    host                 optional: the host name the worker reports (a Ray launcher: its node); default
                         the machine's host name
    watch_parent         true: exit when the parent process changes (the coordinator died); set by
                         ``SubprocessLauncher``, absent for a worker that is not the coordinator's child
    hooks                optional ``{"factory": "module:function", "data": ...}``: the worker calls
                         ``factory(data)`` for its ``runtime.hooks.WorkerHooks`` (test doubles); its
                         ``report()`` goes back in ``bye``

Talks to the coordinator over a ZeroMQ DEALER socket (msgpack maps; kinds in ``squall.transport.control``):

    worker -> coordinator: hello{pid, host, address, inc} · ready · fatal{where, error, traceback, component?,
                           task?} · spouts_done
                           stats{round, inc, tasks, ...} (when asked) · probe{n, idle, done, inc, sent, received}
                           bye{round, ... as stats, hooks} · heartbeat (every second from the loop)
    coordinator -> worker: peers{peers} · peer{index, address, inc} (a restarted peer) · activate or
                           deactivate (after ready: start with the spouts on or off) · drain · probe{n}
                           stats{round} · stop{round} · sample{component, stream, secs, per_task}
                           (the captured tuples go back in the stats answers: ``samples``)
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

import zmq

from squall.compat.loader import load_topology
from squall.errors import user_traceback
from squall.local import logs, resources
from squall.local.statistics import peak_rss_bytes, rss_bytes
from squall.runtime.hooks import WorkerHooks
from squall.runtime.inbound import DropLog
from squall.runtime.worker import Worker
from squall.topology.config import runtime_settings
from squall.transport.control import (
    ACTIVATE,
    BYE,
    CHECKPOINT,
    COMMITTED,
    DEACTIVATE,
    DRAIN,
    END_INPUT,
    FATAL,
    HEARTBEAT,
    HEARTBEAT_SECS,
    HELLO,
    PEER,
    PEERS,
    PROBE,
    READY,
    SAMPLE,
    SPOUTS_DONE,
    STATS,
    STOP,
    TO_WORKER,
    StatsReply,
)
from squall.transport.security import RunKeys, ZapHandler
from squall.transport.wire import pack, unpack_control
from squall.transport.zeromq import POLLIN, ZmqTransport, connect_endpoint

log = logging.getLogger("squall.runtime.worker")

CONTROL_EVERY = 0.005  # seconds between control-socket checks while busy


class WorkerProcess:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.index = int(spec["index"])
        if not spec.get("keys"):
            raise ValueError("the worker spec has no 'keys': the coordinator and the peers would refuse this worker")
        self.keys = RunKeys.from_spec(spec["keys"], self.index)
        self.ctx = zmq.Context()
        # Before any socket: the data socket (a CURVE server) admits only the run's workers through it.
        self.zap = ZapHandler(self.ctx, self.keys, name=f"worker {self.index}")
        self.ctrl = self.ctx.socket(zmq.DEALER)
        self.ctrl.setsockopt(zmq.IDENTITY, f"w{self.index}".encode())
        self.ctrl.setsockopt(zmq.LINGER, 2000)
        self.keys.present(self.ctrl, self.index)  # and the coordinator must prove it holds the run's server key
        self.coordinator = str(spec["coordinator"])  # the control address the DEALER is connected to
        connect_endpoint(self.ctrl, self.coordinator)
        #: set by ``reconnect`` (another thread): the coordinator's new address, taken by the loop
        self.moved_to: str | None = None
        #: this worker's output lines when no pipe carries them (a Ray actor sets it): sent in stats answers
        self.output: Any = None
        self.control_drops = DropLog(f"worker {self.index} (control)")
        #: the coordinator's pid when it is our parent (``watch_parent``); None: nothing to watch
        self.parent: int | None = os.getppid() if spec.get("watch_parent") else None
        self.worker: Worker | None = None
        self.hooks: WorkerHooks | None = None
        self.stopping = False
        self.final_round = 0  # the stats round of the BYE (sent with STOP)
        self.spouts_done_sent = False
        self.exit_code = 0  # 0 after the coordinator's stop; 128 + 15 after SIGTERM (terminate())
        self.orphaned = False  # the coordinator went away: close without a bye

    def send(self, msg: Mapping[str, Any]) -> None:
        self.ctrl.send(pack(msg))

    def send_nowait(self, msg: Mapping[str, Any]) -> None:
        """Send if the control queue has room, else drop: a heartbeat must never block the loop (on a
        cluster the coordinator may be away for a while, restarting; its queue fills in ~17 min)."""
        with contextlib.suppress(zmq.Again):
            self.ctrl.send(pack(msg), zmq.NOBLOCK)

    def recv(self, timeout_ms: int) -> dict[str, Any] | None:
        """The next control message (None: none within ``timeout_ms``, or it was malformed and dropped)."""
        if self.ctrl.poll(timeout_ms):
            return self.decode(self.ctrl.recv())
        return None

    def reconnect(self, address: str) -> None:
        """The coordinator moved (a restarted cluster master): the loop connects there at its next control
        turn and says hello again. Thread-safe (only the loop touches the socket)."""
        self.moved_to = address

    def _move(self) -> None:
        address, self.moved_to = self.moved_to, None
        if address is None or self.worker is None:
            return
        with contextlib.suppress(zmq.ZMQError):
            self.ctrl.disconnect(self.coordinator)
        connect_endpoint(self.ctrl, address)
        self.coordinator = address
        log.info("worker %d: the coordinator is now at %s", self.index, address)
        self.send(self.hello(self.worker))

    def hello(self, w: Worker) -> dict[str, Any]:
        assert w.transport is not None
        return {
            "t": HELLO,
            "index": self.index,
            "pid": os.getpid(),
            "host": self.spec.get("host") or socket.gethostname(),
            "address": w.transport.address,
            "tasks": w.tasks(),
            "inc": w.transport.incarnation,
        }

    def terminate(self) -> None:
        """Stop gracefully at the end of the current loop turn (what SIGTERM does in ``main``): spouts'
        ``close()`` and bolts' ``cleanup()`` run, the final counters go to the coordinator."""
        self.stopping = True
        self.exit_code = 128 + signal.SIGTERM

    def decode(self, payload: bytes) -> dict[str, Any] | None:
        """A control message from the coordinator, or None (counted and dropped) if it is not one."""
        try:
            msg = unpack_control(payload)
        except Exception as exc:
            self.control_drops.drop("a control message that is not msgpack", exc)
            return None
        if not isinstance(msg, dict) or msg.get("t") not in TO_WORKER:
            self.control_drops.drop("a control message of no known kind")
            return None
        return msg

    def wait_for(self, *kinds: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stopping:  # terminate() while starting
                self.finish(self.exit_code)
            msg = self.recv(200)
            if msg is None:
                self.check_parent()
                continue
            if msg["t"] == STOP:
                self.final_round = int(msg.get("round", 0))
                self.finish(0)
            if msg["t"] in kinds:
                return msg
        log.error("worker %d: no %s from the coordinator in %.0fs; exiting", self.index, " or ".join(kinds), timeout)
        sys.exit(3)

    def check_parent(self) -> None:
        """With ``watch_parent``: if the coordinator (our parent) went away, close and exit (status 4)."""
        if self.parent is not None and os.getppid() != self.parent:
            log.error("worker %d: the coordinator went away; closing and exiting", self.index)
            self.orphaned = True
            self.finish(4)

    def fatal(self, where: str, exc: BaseException) -> None:
        """Tell the coordinator why this worker cannot start (it logs it, once), then exit 3; running
        out of a resource (open files, processes) is told as such: restarting would not help."""
        if resources.is_resource_error(exc):
            self.out_of_resources(where, exc)
        text = user_traceback(exc)
        log.debug("worker %d: %s failed:\n%s", self.index, where, text)
        msg: dict[str, Any] = {"t": FATAL, "where": where, "error": f"{type(exc).__name__}: {exc}", "traceback": text}
        failed = self.worker.init_failure if self.worker is not None else None
        if failed is not None:
            msg["component"], msg["task"] = failed
        self.send(msg)
        self.ctrl.close(linger=2000)
        self.zap.stop()
        sys.exit(3)

    def out_of_resources(self, where: str, exc: BaseException) -> None:
        """One clear line (no traceback), to the log and the coordinator; exit ``EXIT_RESOURCES``."""
        doing = "running the components' initialize()" if where == "initialize" else where
        what = resources.describe(exc, doing, self.spec.get("conf", {}).get("topology.workers"))
        try:  # the coordinator says it (once); only if it cannot be told does this worker log it
            self.ctrl.send(pack({"t": FATAL, "where": where, "error": what, "resource": True}), zmq.NOBLOCK)
        except zmq.ZMQError:
            log.error("worker %d: %s", self.index, what)
        self.ctrl.close(linger=1000)
        sys.exit(resources.EXIT_RESOURCES)

    def run(self) -> int:
        """Start, serve until the coordinator says stop, clean up; return the exit status.

        0 after a clean stop; 3 if the topology could not be loaded or ``initialize`` raised
        (the coordinator was told why) or the coordinator stopped answering while starting.
        Runs in the calling thread.
        """
        try:
            try:
                self.start()
                self.loop()
            except (OSError, zmq.ZMQError, MemoryError) as exc:
                if not resources.is_resource_error(exc):
                    raise
                self.out_of_resources("running" if self.worker is not None else "starting", exc)
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
            settings = runtime_settings(conf)
            topology = load_topology(spec["topology"])
            transport = ZmqTransport(
                self.index,
                host=settings.bind_host,
                advertise=settings.advertise_host,
                hwm=settings.transfer_hwm,
                ctx=self.ctx,
                incarnation=int(spec.get("incarnation", 0)),
                keys=self.keys,
                unit_bytes=settings.batch_bytes,
                max_message_bytes=settings.max_message_bytes,
            )
            self.worker = Worker(topology, conf, self.index, transport=transport, hooks=self.hooks)
        except Exception as exc:
            self.fatal("loading the topology", exc)
        assert self.worker is not None
        self.send(self.hello(self.worker))
        peers = self.wait_for(PEERS)["peers"]
        transport.connect({int(k): (addr, inc) for k, (addr, inc) in peers.items()})
        try:
            self.worker.setup()
        except Exception as exc:
            self.fatal("initialize", exc)
        self.send({"t": READY})
        # DEACTIVATE instead: restarted while the run is inactive or stopping, it starts with its spouts off
        if self.wait_for(ACTIVATE, DEACTIVATE)["t"] == ACTIVATE:
            self.worker.activate()

    def stats(self, rnd: int, kind: str = STATS) -> StatsReply:
        """This worker's counters, answering stats round ``rnd``."""
        w = self.worker
        assert w is not None
        reply: StatsReply = {
            "t": kind,
            "index": self.index,
            "inc": w.transport.incarnation if w.transport is not None else int(self.spec.get("incarnation", 0)),
            "round": rnd,
            "time": time.time(),
            "tasks": {str(k): v for k, v in w.task_stats().items()},
            "queued": w.queued(),
            "rss": rss_bytes(),
            "peak_rss": peak_rss_bytes(),
            "errors": w.errors.take_new(),
            "malformed": w.drops.count + self.control_drops.count,
            "refused": self.zap.refused,
        }
        if w.samplers:
            reply["samples"] = w.take_samples()
        if self.output is not None:
            lines = self.output.take()
            if lines:
                reply["logs"] = lines
        return reply

    def handle(self, msg: dict[str, Any]) -> None:
        try:
            self._handle(msg)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field missing or of the wrong type
            self.control_drops.drop(f"a malformed {str(msg.get('t'))[:20]} message", exc)

    def _handle(self, msg: dict[str, Any]) -> None:
        w = self.worker
        assert w is not None
        kind = msg["t"]
        if kind == PROBE:
            c = w.transport.counters() if w.transport else {"inc": 0, "sent": {}, "received": {}}
            self.send(
                {
                    "t": PROBE,
                    "n": msg["n"],
                    "idle": w.idle(),
                    "done": w.spouts_done,
                    "quiet": w.quiet(),
                    "ended": w.spouts_ended,
                    "inc": c["inc"],
                    "sent": c["sent"],
                    "received": c["received"],
                }
            )
        elif kind == PEER:  # a restarted peer: a new incarnation at a new address
            if w.transport is not None:
                w.transport.connect({int(msg["index"]): (msg["address"], int(msg["inc"]))})
        elif kind == DEACTIVATE:
            w.deactivate()
        elif kind == ACTIVATE:
            w.activate()
        elif kind == DRAIN:
            w.draining = True
        elif kind == END_INPUT:
            w.draining = w.input_ended = True
        elif kind == STATS:
            self.send(self.stats(int(msg.get("round", 0))))
        elif kind == STOP:
            self.final_round = int(msg.get("round", 0))
            self.stopping = True
        elif kind == SAMPLE:
            self.start_sampling(w, msg)
        elif kind == CHECKPOINT and w.checkpoints is not None:
            n = msg["n"]
            if type(n) is not int or n < 1:
                raise ValueError("a checkpoint message whose n is not a positive int")
            w.checkpoints.start(n)
        elif kind == COMMITTED and w.checkpoints is not None:
            n = msg["n"]
            if type(n) is not int or n < 1:
                raise ValueError("a committed message whose n is not a positive int")
            w.checkpoints.committed(n)

    def start_sampling(self, w: Worker, msg: dict[str, Any]) -> None:
        """A SAMPLE message, checked whole first (a malformed one raises ValueError: dropped and counted)."""
        component, stream, secs, per_task = msg["component"], msg.get("stream"), msg["secs"], msg["per_task"]
        if (
            type(component) is not str
            or (stream is not None and type(stream) is not str)
            or type(secs) not in (int, float)
            or not 0 <= secs < float("inf")
            or type(per_task) is not int
            or per_task < 0
        ):
            raise ValueError("a sample message whose fields are not component, stream, secs, per_task")
        w.start_sampling(component, stream, float(secs), per_task)

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
                while ctrl.get(zmq.EVENTS) & POLLIN:  # type: ignore[operator]  # EVENTS is an int
                    msg = self.decode(ctrl.recv())
                    if msg is not None:
                        self.handle(msg)
                if w.checkpoints is not None and w.checkpoints.reports:
                    inc = w.transport.incarnation if w.transport is not None else 0
                    for report in w.checkpoints.take_reports():
                        self.send({**report, "inc": inc})
                if not self.spouts_done_sent and w.spouts_ended:  # the coordinator then drains and probes
                    self.spouts_done_sent = True
                    self.send({"t": SPOUTS_DONE})
                if self.moved_to is not None:
                    self._move()
                if now >= next_parent:
                    next_parent = now + HEARTBEAT_SECS
                    self.check_parent()
                    self.send_nowait({"t": HEARTBEAT})
            if not did:
                poller.poll(1)
        self.finish(self.exit_code)

    def finish(self, code: int) -> None:
        """Deactivate, flush, send the final counters (``bye``), close the components and sockets, exit."""
        w = self.worker
        if w is not None:
            w.deactivate()
            if w.transport is not None and w.remote_channels:
                w.flush()
            w.close_components()  # their errors go in the bye
            if not self.orphaned:
                self.send_bye(w)
            w.close()
        self.ctrl.close(linger=0 if self.orphaned else 2000)
        self.ctx.term()
        sys.exit(code)

    def send_bye(self, w: Worker) -> None:
        """The final counters, and the hooks' report; never blocks (the coordinator may be gone)."""
        bye = self.stats(self.final_round, BYE)
        report = self.hooks.report() if self.hooks is not None else None
        if report is not None:
            bye["hooks"] = report
        try:
            payload = pack(bye)
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
            payload = pack(bye)
        try:
            self.ctrl.send(payload, zmq.NOBLOCK)
        except zmq.ZMQError:
            log.warning("worker %d: could not send its final counters to the coordinator", self.index)


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
    # The coordinator reads our output through a pipe (logs(), the UI) and writes it through: a
    # line printed is a line seen, as on a terminal (a pipe would otherwise buffer 8 KiB).
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    logs.setup(spec.get("log_level", "INFO"), runtime_settings(spec["conf"]).log_collapse_secs)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C and stops us cleanly
    try:
        proc = WorkerProcess(spec)
    except (OSError, zmq.ZMQError, MemoryError) as exc:
        if not resources.is_resource_error(exc):
            raise
        workers = spec.get("conf", {}).get("topology.workers")
        log.error("worker %s: %s", spec.get("index"), resources.describe(exc, "starting", workers))
        sys.exit(resources.EXIT_RESOURCES)
    # SIGTERM (the coordinator's shutdown of a straggler, PR_SET_PDEATHSIG when it died, a user):
    # close gracefully after the current call, as a stop does
    signal.signal(signal.SIGTERM, lambda signum, frame: proc.terminate())
    sys.exit(proc.run())


if __name__ == "__main__":
    main()
