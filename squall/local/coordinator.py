"""The coordinator of ``squall run``: runs a topology on worker processes on this machine.

The coordinator (Storm's Nimbus and Supervisor for one machine) validates and plans the
topology, starts the workers through a Launcher, tells each where its peers are, activates the
spouts, prints a status line every few seconds, notices dead workers, and ends the run:

* **completed**: every spout is exhausted and nothing is in flight. It is detected by probing
  the workers: all idle, every message sent between two workers received, and the same counts
  in two probes in a row.
* **stopped** (``--duration``, Ctrl-C, SIGTERM, ``request_stop()``): spouts are deactivated,
  in-flight tuples drain (at most ``squall.drain.timeout.secs``), then the workers exit.

Every run has its own CURVE keys (``transport.security``): the coordinator's control socket and
the workers' data sockets admit only the run's workers; malformed control messages are counted
and dropped.

Another thread (a web UI) may read ``statistics()`` (an immutable snapshot, replaced whole when a
stats round is complete or the run's state changes), wait for the next one (``wait_statistics``)
and call ``activate()``, ``deactivate()``, ``kill(wait_secs)``, ``request_stop()`` and
``sample(...)``: they only enqueue a command that the coordinator's loop runs within ~0.1 s once
the topology is active (ZeroMQ sockets are not thread-safe: only the loop's thread touches them).
``logs(...)`` (the workers' output, captured) and ``samples(...)`` (tuples sampled) read
thread-safe stores. ``started`` and ``topology_id`` name the run.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TextIO

import zmq

from squall.compat.loader import load_topology
from squall.errors import ResourceError, UnknownComponentError, WorkerError
from squall.local import resources, worker_logs
from squall.local.checkpoints import CheckpointCoordinator
from squall.local.launcher import (
    Launcher,
    SubprocessLauncher,
    WorkerHandle,
    describe_exit,
)
from squall.local.result import RunResult
from squall.local.samples import Sample, SampleBook
from squall.local.statistics import ErrorInfo, RunState, StatsBook, TopologyStatistics
from squall.local.status import StatusLine
from squall.local.worker_logs import LogLine, WorkerLogs
from squall.runtime.inbound import DropLog
from squall.topology.config import runtime_settings, topology_conf
from squall.topology.loader import topology_ref
from squall.topology.plan import make_plan
from squall.topology.stateful_bolt import checkpointed
from squall.transport.control import (
    ACTIVATE,
    BYE,
    CHECKPOINT,
    CHECKPOINTED,
    COMMITTED,
    DEACTIVATE,
    DRAIN,
    END_INPUT,
    FATAL,
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
    TO_COORDINATOR,
)
from squall.transport.security import RunKeys, ZapHandler
from squall.transport.wire import pack, unpack_control
from squall.transport.zeromq import FRAMING_SLACK, bind_random_port, tcp_endpoint

__all__ = ["Coordinator", "LogLine", "Sample"]

log = logging.getLogger("squall.run")

PROBE_EVERY = 0.02
START_TIMEOUT = 120.0
RESTART_BACKOFF = 0.2  # seconds before the first restart of a dead worker; doubles per crash
RESTART_BACKOFF_MAX = 5.0
RESTART_RESET_SECS = 30.0  # a worker that lived this long starts its backoff over
TERM_GRACE = 3.0  # seconds between SIGTERM (the worker closes its components) and SIGKILL at shutdown
UNRESPONSIVE_ROUNDS = 3  # a worker silent this many stats rounds (and heartbeats) is named unresponsive
_STOP = "request_stop"  # a command from another thread (activate and deactivate: named after their messages)
_KILL = "kill"  # kill(wait_secs): deactivate now, stop (reason "kill") after the wait
CONTROL_MAX_MESSAGE = 256 * 1024 * 1024  # the control socket's floor for the largest message (a BYE with captures)


class Coordinator:
    """Runs one topology on worker processes until it completes or is stopped."""

    def __init__(
        self,
        topology: Any,
        overrides: dict[str, Any] | None = None,
        *,
        duration: float | None = None,
        launcher: Launcher | None = None,
        log_level: str = "INFO",
        status_out: TextIO | None = None,
        hooks: str | None = None,
        hooks_data: Any = None,
        timeout: float | None = None,
        handle_signals: bool = True,
        keys: RunKeys | None = None,
        attach: dict[int, tuple[WorkerHandle | None, int]] | None = None,
        on_bound: Callable[[str], None] | None = None,
    ):
        self.topology = load_topology(topology) if isinstance(topology, str) else topology
        self.ref = topology if isinstance(topology, str) else topology_ref(self.topology)
        overrides = dict(overrides or {})
        #: ``module:function`` building each worker's ``WorkerHooks`` from ``hooks_data`` (JSON-able)
        self.hooks = {"factory": hooks, "data": hooks_data} if hooks else None
        self.conf = topology_conf(self.topology.config, overrides, self.topology.components.values())
        self.conf.setdefault("topology.name", None)
        if not self.conf["topology.name"]:
            self.conf["topology.name"] = self.topology.__name__
        self.plan = make_plan(
            self.topology.components, self.conf["topology.workers"], self.conf.get("topology.acker.executors")
        )
        self.conf["topology.workers"] = self.plan.num_workers
        self.settings = runtime_settings(self.conf)
        self.duration = duration
        self.timeout = timeout
        self.launcher = launcher or SubprocessLauncher()
        self.log_level = log_level
        self.status = StatusLine(status_out or sys.stderr)  # with the logs: redirecting one keeps both
        self.handle_signals = handle_signals
        self.kinds = {n: d.kind for n, d in self.topology.components.items()}
        self.handles: dict[int, WorkerHandle] = {}
        self.book = StatsBook(self.conf["topology.name"], self.plan, self.kinds)
        self.state = RunState.STARTING
        self.message = ""
        self.t0: float | None = None  # time.monotonic() when run() started
        self.commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()  # from other threads
        self.started = 0.0  # wall clock (epoch seconds) when run() began; 0 before
        #: names this run (the registry, the REST API), as Storm's ``name-N-timestamp`` does: the topology's
        #: name, when it was constructed, and a random suffix (two runs started in one second differ)
        self.topology_id = f"{self.conf['topology.name']}-{int(time.time())}-{secrets.token_hex(2)}"
        # Storm's ``storm.id`` in every worker's config: what a task of this run shares with its restarted
        # self (the Kafka spout's EARLIEST / LATEST apply once per run, as Storm's do per deployment)
        self.conf.setdefault("storm.id", self.topology_id)
        self.worker_logs = WorkerLogs(self.settings.log_lines)  # the workers' output, captured (logs())
        self.sample_book = SampleBook()  # tuples sampled (sample(), samples())
        #: component -> (stream or None, until (monotonic), per task): sampling asked for, for restarted workers
        self.sampling: dict[str, tuple[str | None, float, int]] = {}
        self.kill_at: float | None = None  # kill(wait_secs): when the stop begins (monotonic)
        self.next_status = 0.0  # the status line is printed at most this often (squall.stats.interval.secs)
        self._statistics = self.book.snapshot(self.state, 0.0)
        self._published = threading.Condition()  # notified when a new snapshot is published
        self.hook_reports: list[Any] = []  # what each worker's hooks reported in its bye
        self.stop_requested: str | None = None
        self.signals = 0
        self.spec: dict[str, Any] = {}
        self.incarnation: dict[int, int] = {}
        self.addresses: dict[int, str] = {}
        self.restarts: dict[int, int] = defaultdict(int)
        self.restart_at: dict[int, float] = {}
        self.started_at: dict[int, float] = {}
        self.last_heard: dict[int, float] = {}  # per worker: when it last sent anything (monotonic)
        self.unresponsive: set[int] = set()  # workers named unresponsive (and not heard from since)
        self.hung: dict[int, float] = {}  # workers killed for their silence: how long it lasted
        self.unresponsive_after = UNRESPONSIVE_ROUNDS * max(self.settings.stats_interval_secs, HEARTBEAT_SECS)
        self.restart_enabled = self.settings.worker_restart
        self.deactivated = False
        self.drain_sent = False
        self.input_ended = False  # END_INPUT was sent (a finite run's windows release what they hold)
        self.drain_timed_out = False  # a stop gave up waiting for in-flight tuples
        #: the run's CURVE keys: only processes given them (in their spec) reach the run's sockets
        #: (a cluster submitter generates them and hands them over: ``keys``)
        self.keys = keys or RunKeys.generate(self.plan.num_workers)
        if len(self.keys.worker_public) < self.plan.num_workers:
            raise ValueError(f"keys for {len(self.keys.worker_public)} workers, the plan has {self.plan.num_workers}")
        self.zap: ZapHandler | None = None  # answers the control socket's handshakes (run() starts it)
        self.drops = DropLog("coordinator")  # malformed control messages, counted and dropped
        self.ready: set[int] = set()  # workers whose current process sent READY (a FATAL after it is not believed)
        #: take over running workers instead of starting them (a restarted cluster master): index ->
        #: (its handle, or None when none runs; its incarnation); ``on_bound(control address)`` then tells
        #: them where this coordinator listens (they say hello again)
        self.attach = attach
        self.on_bound = on_bound
        #: checkpointed state (a topology with a StatefulBolt): started in ``run``
        self.checkpoints: CheckpointCoordinator | None = None

    # -- what another thread may call -----------------------------------------------------------
    def statistics(self) -> TopologyStatistics:
        """The run's latest snapshot: immutable, replaced whole when a stats round completes or the state changes."""
        return self._statistics

    def wait_statistics(
        self, after: TopologyStatistics | None = None, timeout: float | None = None
    ) -> TopologyStatistics:
        """The first snapshot published after ``after`` (at once if ``after`` is not the latest, or the run is
        over); after ``timeout`` seconds, the latest. For a reader that follows the run (a UI, a test)."""
        with self._published:
            self._published.wait_for(lambda: self._statistics is not after or self._statistics.state.final, timeout)
            return self._statistics

    def activate(self) -> None:
        """Resume the spouts after ``deactivate()``. Returns at once; ``statistics().state`` tells when it is done."""
        self.commands.put((ACTIVATE, ""))

    def deactivate(self) -> None:
        """Stop calling the spouts' ``next_tuple`` (their ``deactivate()`` runs); bolts go on. Returns at once."""
        self.commands.put((DEACTIVATE, ""))

    def request_stop(self, reason: str = "requested") -> None:
        """End the run as ``--duration`` does: deactivate, drain, stop (state ``stopped``). Returns at once."""
        self.commands.put((_STOP, reason))

    def kill(self, wait_secs: float = 0.0) -> None:
        """Storm's kill: deactivate the spouts now; after ``wait_secs`` stop as ``request_stop`` does
        (drain within ``squall.drain.timeout.secs``). The run ends ``stopped`` with ``stop_reason``
        "kill" (shown from the moment the kill is taken); ``activate()`` no longer applies. Returns at once."""
        wait = float(wait_secs)
        if not wait >= 0.0:
            raise ValueError(f"kill(wait_secs={wait_secs!r}): expected a number of seconds >= 0")
        self.commands.put((_KILL, wait))

    def logs(self, worker: int | None = None, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """The workers' output lines (stdout and stderr, ``LogLine``s, oldest first) with ``seq > after``,
        of ``worker`` (None: all): the newest ``limit`` when there are more. The last
        ``squall.ui.log.lines`` lines of each worker are kept. Thread-safe."""
        return self.worker_logs.lines(worker, after, limit)

    def _component(self, component: str, stream: str | None = None) -> None:
        """Raise ``UnknownComponentError`` unless ``component`` is the user's (and declares ``stream``)."""
        comp = self.topology.components.get(component)
        if comp is None:
            known = ", ".join(sorted(self.topology.components))
            raise UnknownComponentError(f"unknown component {component!r}; the topology's components are: {known}")
        if stream is not None and stream not in comp.outputs:
            declared = ", ".join(sorted(comp.outputs)) or "none"
            raise UnknownComponentError(f"component {component!r} declares no stream {stream!r} (declared: {declared})")

    def sample(self, component: str, stream: str | None = None, secs: float = 30.0, per_task: int = 100) -> None:
        """Capture the tuples ``component`` emits (on ``stream``, or every stream) in its workers for
        ``secs`` seconds, at most ``per_task`` per task per stats round (Storm UI's debug sampling):
        ``samples()`` returns them as they come back. Only those tasks leave their fast emit paths,
        and only meanwhile. Raises ``UnknownComponentError`` for a component (or stream) the topology
        does not have. Returns at once."""
        self._component(component, stream)
        secs, per_task = float(secs), int(per_task)
        if not 0.0 <= secs < float("inf") or per_task < 0:
            raise ValueError(f"sample(secs={secs!r}, per_task={per_task!r}): expected secs >= 0 and per_task >= 0")
        self.commands.put((SAMPLE, (component, stream, secs, per_task)))

    def samples(self, component: str, after: int = 0) -> list[Sample]:
        """The tuples sampled from ``component`` (``Sample``s, oldest first) with ``seq > after``; the
        newest 1000 per component are kept. Raises ``UnknownComponentError``. Thread-safe."""
        self._component(component)
        return self.sample_book.after(component, after)

    # -- state and statistics -------------------------------------------------------------------
    def _uptime(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def _publish(self, status: bool = False) -> None:
        """Replace the snapshot (one assignment: readers see the old one or the new one); ``status``: print
        it, if the status line is due (every ``squall.stats.interval.secs``)."""
        snap = self.book.snapshot(
            self.state,
            self._uptime(),
            stop_reason=self.stop_requested or (_KILL if self.kill_at is not None else None),
            message=self.message,
            drain_timed_out=self.drain_timed_out,
            malformed=self.drops.count,
            refused=self.zap.refused if self.zap is not None else 0,
        )
        with self._published:
            self._statistics = snap
            self._published.notify_all()
        if status:
            now = time.monotonic()
            if now >= self.next_status:  # the round closest to each interval: half a round early is on time
                interval, rounds = self.settings.stats_interval_secs, self.settings.stats_round_secs
                self.next_status = now + interval - min(rounds, interval) / 2
                self.status.print(snap)

    def _set_state(self, state: RunState) -> None:
        if state is not self.state:
            self.state = state
            self._publish()

    def _run_commands(self) -> None:
        """Run what other threads (and signal handlers) asked for, in order."""
        while True:
            try:
                cmd, arg = self.commands.get_nowait()
            except queue.Empty:
                return
            if cmd == _STOP:
                if self.stop_requested is None:
                    self.stop_requested = arg
            elif cmd == DEACTIVATE and self.state is RunState.ACTIVE:
                log.info("deactivating the spouts")
                self._broadcast({"t": DEACTIVATE})
                self.deactivated = True
                self._set_state(RunState.INACTIVE)
            elif cmd == ACTIVATE and self.state is RunState.INACTIVE and self.kill_at is None:
                log.info("activating the spouts")
                self._broadcast({"t": ACTIVATE})
                self.deactivated = False
                self._set_state(RunState.ACTIVE)
            elif cmd == _KILL:
                self._kill(float(arg))
            elif cmd == SAMPLE:
                self._sample(*arg)

    def _kill(self, wait: float) -> None:
        if self.stop_requested is not None or self.kill_at is not None:
            return
        log.info("killing the topology: spouts deactivated, stopping in %gs", wait)
        self.kill_at = time.monotonic() + wait
        if self.state is RunState.ACTIVE:
            self._broadcast({"t": DEACTIVATE})
            self.deactivated = True
            self.state = RunState.INACTIVE
        self._publish()

    def _sample(self, component: str, stream: str | None, secs: float, per_task: int) -> None:
        """Ask the workers holding ``component``'s tasks to sample its emits (and restarted ones later)."""
        self.sampling[component] = (stream, time.monotonic() + secs, per_task)
        log.info("sampling %s%s for %gs", component, f" on stream {stream}" if stream else "", secs)
        workers = {self.plan.task_worker[t] for t in self.plan.component_tasks[component]}
        msg = {"t": SAMPLE, "component": component, "stream": stream, "secs": secs, "per_task": per_task}
        for i in sorted(workers):
            if i in self.handles and i not in self.restart_at:
                self._send(i, msg)

    def _resume_sampling(self, index: int) -> None:
        """A restarted worker samples what its predecessor was asked to, for the time left."""
        now = time.monotonic()
        for component, (stream, until, per_task) in self.sampling.items():
            hosted = any(self.plan.task_worker[t] == index for t in self.plan.component_tasks[component])
            if hosted and until > now:
                msg = {"t": SAMPLE, "component": component, "stream": stream, "secs": until - now, "per_task": per_task}
                self._send(index, msg)

    def _stats_round(self) -> None:
        """Ask every live worker for its counters; a round still unanswered is shown as it is (stale)."""
        now = self._uptime()
        for i in self.unresponsive:
            self.book.worker_silent(i, time.monotonic() - self.last_heard.get(i, self.started_at.get(i, 0.0)))
        if self.book.waiting:
            self.book.close(now)
            self._publish(status=True)
        asked = [i for i, h in self.handles.items() if i not in self.restart_at and h.poll() is None]
        if asked:
            n = self.book.begin(asked, now)
            for i in asked:
                self._send(i, {"t": STATS, "round": n})

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, index: int, msg: dict[str, Any]) -> None:
        self.sock.send_multipart([f"w{index}".encode(), pack(msg)])

    def _broadcast(self, msg: dict[str, Any]) -> None:
        for i in self.handles:
            self._send(i, msg)

    def _recv(self, timeout_ms: int) -> tuple[int, dict[str, Any]] | None:
        """The next control message and its worker (None: none within ``timeout_ms``, or dropped).

        The worker is the one whose key the handshake proved (the ZAP user id), not whatever
        routing id the peer chose; a message whose routing id is not that worker's, or that is not a
        control message a worker sends, is counted and dropped."""
        if not self.sock.poll(timeout_ms):
            return None
        frames = self.sock.recv_multipart(copy=False)
        if len(frames) != 2:
            self.drops.drop(f"a control message of {len(frames) - 1} frames")
            return None
        try:
            index = int(frames[1].get("User-Id"))
        except (ValueError, TypeError, zmq.ZMQError) as exc:
            self.drops.drop("a control message from an unauthenticated peer", exc)
            return None
        if frames[0].bytes != f"w{index}".encode() or index not in self.handles:
            self.drops.drop(f"a control message from worker {index}'s key under routing id {frames[0].bytes[:20]!r}")
            return None
        try:
            msg = unpack_control(frames[1].bytes)
        except Exception as exc:
            self.drops.drop(f"a control message from worker {index} that is not msgpack", exc)
            return None
        if not isinstance(msg, dict) or msg.get("t") not in TO_COORDINATOR:
            self.drops.drop(f"a control message of no known kind from worker {index}")
            return None
        self.last_heard[index] = time.monotonic()
        return index, msg

    def _tasks_of(self, index: int) -> str:
        return ", ".join(f"{self.plan.task_component[t]}:{t}" for t in self.plan.worker_tasks(index))

    def _check_workers(self) -> None:
        """Notice dead workers: schedule a restart with backoff, or fail the run if restarts are off."""
        now = time.monotonic()
        for i, h in self.handles.items():
            if i in self.restart_at:
                continue
            code = h.poll()
            if code is None:
                continue
            what = f"worker {i} (pid {h.pid}, tasks {self._tasks_of(i)}) died: {describe_exit(code)}"
            if i in self.hung:
                key = f"squall.worker.heartbeat.timeout.secs={self.settings.heartbeat_timeout_secs:g}"
                what = (
                    f"worker {i} (pid {h.pid}, tasks {self._tasks_of(i)}) was killed after {self.hung.pop(i):.0f}s "
                    f"without a heartbeat ({key})"
                )
            if not self.restart_enabled:
                raise WorkerError(what)
            if code == resources.EXIT_RESOURCES:  # it said why in its log; a restart would not help
                raise ResourceError(f"{what} (out of resources: see its message above)")
            if now - self.started_at.get(i, now) > RESTART_RESET_SECS:
                self.restarts[i] = 0
            delay = min(RESTART_BACKOFF * 2 ** self.restarts[i], RESTART_BACKOFF_MAX)
            self.restarts[i] += 1
            self.restart_at[i] = now + delay
            self.spouts_done.discard(i)
            self.unresponsive.discard(i)
            self.book.add_error(ErrorInfo("-", -1, i, time.time(), f"worker {i}", what))
            round_complete = self.book.worker_died(i, self._uptime())
            self._publish(status=round_complete)
            if self.checkpoints is not None:
                log.error(
                    "%s; restarting every worker from checkpoint %d in %.1fs (restart #%d)",
                    what,
                    self.checkpoints.committed,
                    delay,
                    self.restarts[i],
                )
                self._stop_others(i, now + delay)
                continue
            log.error("%s; restarting it in %.1fs (restart #%d)", what, delay, self.restarts[i])

    def _check_heartbeats(self) -> None:
        """Name a worker that has sent nothing for a few stats rounds; kill one silent for the
        heartbeat timeout (it is then restarted as a dead worker is)."""
        now = time.monotonic()
        timeout = self.settings.heartbeat_timeout_secs
        for i, h in self.handles.items():
            if i in self.restart_at or i in self.hung:
                continue
            silent = now - max(self.last_heard.get(i, 0.0), self.started_at.get(i, 0.0))
            if silent < self.unresponsive_after:
                if i in self.unresponsive:
                    self.unresponsive.discard(i)
                    self.book.worker_silent(i, 0.0)
                    log.info("worker %d (pid %d) answers again", i, h.pid)
                continue
            if i not in self.unresponsive and h.poll() is None:
                self.unresponsive.add(i)
                self.book.worker_silent(i, silent)
                self._publish()
                log.warning(
                    "worker %d (pid %d, tasks %s) unresponsive for %.0f s%s",
                    i,
                    h.pid,
                    self._tasks_of(i),
                    silent,
                    f"; killed and restarted after {timeout:g}s (squall.worker.heartbeat.timeout.secs)"
                    if timeout
                    else "",
                )
            if timeout is not None and silent >= timeout and h.poll() is None:
                self.hung[i] = silent
                self.unresponsive.discard(i)
                h.kill()

    def _stop_others(self, dead: int, at: float) -> None:
        """A checkpointed topology rolls back whole: kill every other worker; all restart at ``at``."""
        for j, h in self.handles.items():
            if j != dead and j not in self.restart_at:
                if h.poll() is None:
                    h.kill()
                self.restart_at[j] = at
                self.spouts_done.discard(j)
                self.unresponsive.discard(j)
                self.book.worker_died(j, self._uptime())

    def _restart_all(self, why: str) -> None:
        """Flink's full restart: every worker stops, the checkpoint in progress is abandoned, and every
        worker starts again from the last committed checkpoint (its state loaded, its spouts rewound)."""
        assert self.checkpoints is not None
        for h in self.handles.values():
            if h.poll() is None:
                h.kill()
        for h in self.handles.values():
            with contextlib.suppress(Exception):
                h.wait(timeout=10)
        self.restart_at.clear()
        self.checkpoints.abort()
        self.spouts_done.clear()
        self.input_ended = False  # the spouts read their input again from the checkpoint
        self.addresses = {}
        t0 = time.monotonic()
        self._launch_all()
        self._broadcast({"t": DEACTIVATE if self.deactivated else ACTIVATE})
        if self.drain_sent:
            self._broadcast({"t": DRAIN})
        for i in range(self.plan.num_workers):
            self._resume_sampling(i)
        self._publish()
        log.info(
            "every worker restarted from checkpoint %d (%s) in %.1fs",
            self.checkpoints.committed,
            why,
            time.monotonic() - t0,
        )

    def _checkpoint_due(self, now: float) -> None:
        """Start the next checkpoint when its interval has passed: not while workers restart, nor once
        the run is ending (every spout exhausted, or draining: the final checkpoint covers it, and
        barriers on their way would keep the run from ever looking quiescent)."""
        if self.checkpoints is None or self.restart_at or self.drain_sent:
            return
        if len(self.spouts_done) == len(self.handles):
            return
        n = self.checkpoints.due(now)
        if n is not None:
            self._broadcast({"t": CHECKPOINT, "n": n})

    def _final_checkpoint(self) -> bool:
        """A finite run is complete: take one last checkpoint so the state holds every input (Flink's
        final checkpoint). True when there is none to take or it committed; False when a worker died
        meanwhile (the run goes on: it restarts from the last committed checkpoint)."""
        cp = self.checkpoints
        if cp is None:
            return True
        deadline = time.monotonic() + START_TIMEOUT
        final: int | None = None  # one started now: a checkpoint in progress began before the input ended
        while final is None or cp.committed < final:
            if cp.current is None:
                final = cp.start(time.monotonic())
                self._broadcast({"t": CHECKPOINT, "n": final})
            if time.monotonic() > deadline:
                raise WorkerError(f"the final checkpoint {cp.current} did not complete within {START_TIMEOUT:.0f}s")
            if any(h.poll() is not None for h in self.handles.values()):
                return False
            r = self._recv(20)
            if r is not None and r[1]["t"] != PROBE:
                self._handle(*r)
        log.info("final checkpoint %d committed", cp.committed)
        return True

    def _restart_due(self) -> None:
        now = time.monotonic()
        if self.checkpoints is not None:
            if self.restart_at and now >= max(self.restart_at.values()):
                try:
                    self._restart_all("a worker died")
                except WorkerError as exc:
                    dead = [i for i, h in self.handles.items() if h.poll() is not None]
                    if not dead:
                        raise  # alive but failed (e.g. initialize raised): nothing a restart fixes
                    log.error("%s", exc)
                    self._check_workers()  # schedules the next full restart, with a longer backoff
            return
        for i, at in list(self.restart_at.items()):
            if now >= at:
                del self.restart_at[i]
                try:
                    self._restart(i)
                except WorkerError as exc:
                    if self.handles[i].poll() is None:
                        raise  # it is alive but failed (e.g. initialize raised): nothing a restart fixes
                    log.error("%s", exc)
                    self._check_workers()  # schedules the next attempt, with a longer backoff

    def _restart(self, i: int) -> None:
        self._start_worker(i)
        hello = self._wait_one(i, HELLO)
        self.addresses[i] = hello["address"]
        self.book.worker_hello(i, hello.get("host", ""))
        self._send(i, {"t": PEERS, "peers": self._peers()})
        for j in self.handles:
            if j != i:
                self._send(j, {"t": PEER, "index": i, "address": hello["address"], "inc": self.incarnation[i]})
        self._wait_one(i, READY)
        self._send(i, {"t": DEACTIVATE if self.deactivated else ACTIVATE})
        if self.drain_sent:
            self._send(i, {"t": DRAIN})
        self._resume_sampling(i)
        self._publish()
        log.info("worker %d restarted (pid %d, incarnation %d)", i, self.handles[i].pid, self.incarnation[i])

    def _start_worker(self, i: int) -> None:
        self.incarnation[i] = self.incarnation.get(i, -1) + 1
        self.ready.discard(i)
        spec = dict(self.spec, index=i, incarnation=self.incarnation[i], keys=self.keys.for_worker(i))
        try:
            self.handles[i] = handle = self.launcher.start(i, spec)
        except Exception as exc:
            if resources.is_resource_error(exc):
                raise ResourceError(resources.describe(exc, f"starting worker {i}", self.plan.num_workers)) from None
            raise WorkerError(f"could not start worker {i}: {type(exc).__name__}: {exc}") from exc
        # a launcher that pipes the worker's output (SubprocessLauncher): read it, write it through, keep it
        self.worker_logs.follow(i, getattr(handle, "stdout", None), worker_logs.stdout)
        self.worker_logs.follow(i, getattr(handle, "stderr", None), worker_logs.stderr)
        self.started_at[i] = time.monotonic()
        self.book.worker_started(i, self.incarnation[i], handle.pid, time.time())

    def _peers(self) -> dict[str, list[Any]]:
        return {str(i): [a, self.incarnation[i]] for i, a in self.addresses.items()}

    def _wait_one(self, index: int, kind: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        return self._wait_all(kind, timeout, {index})[index]

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals == 1:
            self.commands.put((_STOP, name))  # SimpleQueue.put is safe in a signal handler
        else:
            log.warning("second %s: killing the workers now", name)
            for h in self.handles.values():
                h.kill()
            raise KeyboardInterrupt

    def _handle(self, index: int, msg: dict[str, Any]) -> None:
        """A message from worker ``index`` outside the start-up and probe sequences; one whose fields
        are missing or of the wrong type is counted and dropped."""
        try:
            self._dispatch(index, msg)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.drops.drop(f"a malformed {msg['t']} message from worker {index}", exc)

    def _dispatch(self, index: int, msg: dict[str, Any]) -> None:
        kind = msg["t"]
        if kind in (STATS, BYE):
            if self.book.record(index, msg, self._uptime()):
                self._publish(status=kind == STATS)
            if "hooks" in msg:
                self.hook_reports.append(msg["hooks"])
            for at, line in msg.get("logs") or ():  # output lines of a worker no pipe reads (a Ray actor)
                self.worker_logs.add(index, str(line), float(at))
            if "samples" in msg and int(msg.get("inc", -1)) == self.incarnation.get(index):
                self.sample_book.add(self.plan.task_component, self.plan.worker_tasks(index), msg["samples"])
        elif kind == FATAL and index in self.ready:  # a worker only says FATAL while it starts
            self.drops.drop(f"a fatal message from worker {index}, which is running")
        elif kind == FATAL:
            if msg.get("resource"):  # restarting it would not help
                raise ResourceError(f"worker {index} (tasks {self._tasks_of(index)}): {msg['error']}")
            who = (
                f"{msg['component']} (task {msg['task']}, worker {index})"
                if "component" in msg
                else f"worker {index} (tasks {self._tasks_of(index)})"
            )
            raise WorkerError(f"{who} failed in {msg['where']}: {msg['error']}\n{msg.get('traceback', '')}".rstrip())
        elif kind == SPOUTS_DONE:
            self.spouts_done.add(index)
        elif kind == CHECKPOINTED and self.checkpoints is not None:
            if int(msg.get("inc", self.incarnation.get(index, 0))) != self.incarnation.get(index):
                return  # from an incarnation that has been replaced
            n = self.checkpoints.on_report(msg)
            if n is not None:
                self._broadcast({"t": COMMITTED, "n": n})
                self.book.checkpoints = self.checkpoints.figures()

    def _wait_all(self, kind: str, timeout: float, indices: set[int] | None = None) -> dict[int, dict[str, Any]]:
        """Wait for a ``kind`` message from each worker in ``indices`` (all by default); a worker
        dying meanwhile is fatal (it is starting, there is nothing to restart)."""
        want = set(self.handles) if indices is None else indices
        got: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(got) < len(want):
            if time.monotonic() > deadline:
                raise WorkerError(f"workers {sorted(want - set(got))} sent no {kind!r} within {timeout:.0f}s")
            for i in want:
                code = self.handles[i].poll()
                if code is not None:
                    what = (
                        f"worker {i} (pid {self.handles[i].pid}, tasks {self._tasks_of(i)}) died "
                        f"while starting: {describe_exit(code)}"
                    )
                    if code == resources.EXIT_RESOURCES:
                        raise ResourceError(f"{what} (out of resources: see its message above)")
                    raise WorkerError(what)
            r = self._recv(100)
            if r is None:
                continue
            index, msg = r
            if index in want and msg["t"] == kind:
                got[index] = msg
                if kind == READY:
                    self.ready.add(index)
            elif msg["t"] != PROBE:
                self._handle(index, msg)
        return got

    # -- the run --------------------------------------------------------------------------------
    def _open_control(self) -> tuple[zmq.Context[zmq.Socket[bytes]], int]:
        """Check the open-files limit for this run, bind the control socket; its port."""
        resources.ensure_open_files(self.plan.num_workers)
        ctx = zmq.Context()
        self.zap = ZapHandler(ctx, self.keys, name="coordinator")  # before the socket binds
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        # A restarted worker takes over its routing id; only the run's workers get through the handshake.
        self.sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        limit = self.settings.max_message_bytes
        self.sock.setsockopt(zmq.MAXMSGSIZE, max(limit, CONTROL_MAX_MESSAGE) + FRAMING_SLACK if limit else -1)
        self.keys.serve(self.sock)
        return ctx, bind_random_port(self.sock, self.settings.bind_host)

    def _refused(self, message: str) -> RunResult:
        """A run that could not start at all (nothing to shut down)."""
        self.message = message
        log.error("%s", message)
        self.state = RunState.FAILED
        self._publish()
        return RunResult(self._statistics, hook_reports=self.hook_reports)

    def run(self) -> RunResult:
        start = self.t0 = time.monotonic()
        self.started = time.time()
        try:
            ctx, port = self._open_control()
        except ResourceError as exc:
            return self._refused(str(exc))
        except (OSError, zmq.ZMQError) as exc:
            if not resources.is_resource_error(exc):
                raise
            return self._refused(resources.describe(exc, "opening the control socket", self.plan.num_workers))
        advertise_host = self.settings.advertise_host
        self.spouts_done: set[int] = set()
        old_handlers = {}
        if self.handle_signals:
            for s in (signal.SIGINT, signal.SIGTERM):
                old_handlers[s] = signal.signal(s, self._on_signal)
        final = RunState.FAILED
        try:
            self.spec = {
                "coordinator": tcp_endpoint(advertise_host, port),
                "topology": self.ref,
                "conf": self.conf,
                "sys_path": [p for p in sys.path if p],
                "log_level": self.log_level,
            }
            if self.hooks is not None:
                self.spec["hooks"] = self.hooks
            ackers = len(self.plan.acker_tasks)
            log.info(
                "starting topology %s: %d worker(s), %d task(s)%s",
                self.conf["topology.name"],
                self.plan.num_workers,
                len(self.plan.task_component) - ackers,
                f" + {ackers} acker(s)" if ackers else "",
            )
            self._bring_up()
            self._set_state(RunState.INACTIVE if self.deactivated else RunState.ACTIVE)
            log.info("topology %s is %s", self.conf["topology.name"], self.state.value)
            final = self._supervise(start)
        except WorkerError as exc:
            self.message = str(exc)
            log.error("%s", self.message)
            final = RunState.FAILED
        except (OSError, zmq.ZMQError) as exc:
            if not resources.is_resource_error(exc):
                raise
            self.message = resources.describe(exc, "running the topology", self.plan.num_workers)
            log.error("%s", self.message)
            final = RunState.FAILED
        except KeyboardInterrupt:
            final, self.message = RunState.KILLED, "killed by a second signal"
        finally:
            self._shutdown()
            if self.checkpoints is not None:
                self.checkpoints.close()
            for s, h in old_handlers.items():
                signal.signal(s, h)
            self.sock.close()
            ctx.term()
            self._drain_output()
        self.state = final
        if self.drain_timed_out:
            self._report_in_flight()
        self._publish()
        return RunResult(self._statistics, hook_reports=self.hook_reports)

    def _bring_up(self) -> None:
        """Start the workers (or take over running ones), after the checkpoints' start when the
        topology has state: what a previous run staged and did not commit is forgotten first."""
        if checkpointed(self.topology.components):
            self.checkpoints = CheckpointCoordinator(
                self.conf["topology.name"], self.conf, self.plan, self.topology.components
            )
            committed = self.checkpoints.begin()
            if committed:
                log.info("restoring state from checkpoint %d", committed)
        if self.attach is not None and self.checkpoints is not None:
            # a checkpoint in progress died with the old coordinator: every worker goes back to the last
            # committed one, so the running ones are taken only to be stopped (not waited for: one that
            # died with the old coordinator, or hangs, must not hold the rollback up). Full restarts move
            # every index to the next incarnation together: one found dead (or not found) goes on from
            # the newest, a name its predecessors never had
            newest = max((inc for _handle, inc in self.attach.values()), default=-1)
            self.incarnation = dict.fromkeys(range(self.plan.num_workers), newest)
            self.handles = {i: h for i, (h, _inc) in self.attach.items() if h is not None}
            self._restart_all("the coordinator restarted")
        elif self.attach is not None:
            self._attach_workers(self.attach)
        else:
            self._start_workers()

    def _launch_all(self) -> None:
        """Start every worker, wait for their hellos, tell them their peers, wait until each is ready
        (its tasks initialized): the run's start, and a checkpointed topology's full restart."""
        for i in range(self.plan.num_workers):
            self._start_worker(i)
        hellos = self._wait_all(HELLO, START_TIMEOUT)
        self.addresses = {i: m["address"] for i, m in hellos.items()}
        for i, m in hellos.items():
            self.book.worker_hello(i, m.get("host", ""))
        self._broadcast({"t": PEERS, "peers": self._peers()})
        self._wait_all(READY, START_TIMEOUT)

    def _start_workers(self) -> None:
        self._launch_all()
        if not self.deactivated:  # set before run(): start inactive (a cluster topology rebalanced while inactive)
            self._broadcast({"t": ACTIVATE})

    def _attach_workers(self, attach: dict[int, tuple[WorkerHandle | None, int]]) -> None:
        """Take over running workers (a restarted cluster master): they keep their tasks, peers and
        counters, and say hello once told where this coordinator is. One that died meanwhile is then
        restarted as a dead worker is (``_check_workers``); one of the plan with no process is started."""
        now = time.monotonic()
        for i, (handle, inc) in attach.items():
            self.incarnation[i] = inc
            if handle is not None:
                self.handles[i] = handle
                self.started_at[i] = now
                self.ready.add(i)
                self.book.worker_started(i, inc, handle.pid, time.time())
        if self.on_bound is not None:
            self.on_bound(self.spec["coordinator"])
        want, dead = set(self.handles), set[int]()
        deadline = time.monotonic() + START_TIMEOUT
        while want - set(self.addresses) - dead and time.monotonic() < deadline:
            dead |= {i for i in want - set(self.addresses) if self.handles[i].poll() is not None}
            r = self._recv(100)
            if r is None:
                continue
            index, msg = r
            if msg["t"] == HELLO:
                self.addresses[index] = msg["address"]
                self.book.worker_hello(index, msg.get("host", ""))
            elif msg["t"] != PROBE:
                self._handle(index, msg)
        silent = want - set(self.addresses) - dead
        if silent:
            raise WorkerError(f"workers {sorted(silent)} did not answer the restarted coordinator")
        log.info("re-attached to %d running worker(s)", len(want - dead))
        for i in range(self.plan.num_workers):
            if i not in self.handles:
                self._restart(i)

    def _drain_output(self) -> None:
        """The workers' last output lines, before the run returns (and the summary is printed)."""
        if not self.worker_logs.drain():
            log.warning("a worker's output pipe is still open (held by a process it started?): not waiting for it")

    def _report_in_flight(self) -> None:
        """After a stop whose drain timed out: say what the final counters still held."""
        held = self.book.snapshot(self.state, self._uptime()).in_flight()
        pending, replays = held["pending"], held["replays"]
        parts = []
        if pending:
            each = ", ".join(f"{k} {n:,}" for k, n in pending.items())
            parts.append(f"{sum(pending.values()):,} trees pending ({each})")
        if replays:
            each = ", ".join(f"{k} {n:,}" for k, n in replays.items())
            parts.append(f"{sum(replays.values()):,} failed trees waiting for a replay ({each})")
        parts.append(f"{held['queued']:,} tuples queued")
        what = (
            f"the drain timed out after {self.settings.drain_timeout_secs:g}s (squall.drain.timeout.secs); "
            f"in flight at the stop: {'; '.join(parts)}"
        )
        log.warning("%s", what)
        if not self.message:
            self.message = what

    def _check_time(self, elapsed: float) -> None:
        """Request a stop once the run's duration or timeout has passed (unless one is requested already)."""
        if self.stop_requested is None:
            if self.duration is not None and elapsed >= self.duration:
                self.stop_requested = "duration"
            elif self.timeout is not None and elapsed >= self.timeout:
                self.stop_requested = "timeout"

    def _supervise(self, start: float) -> RunState:
        """Run until the topology completes or a stop ends it; returns the final state."""
        interval = self.settings.stats_round_secs  # stats rounds; the status line: stats_interval_secs
        next_round = time.monotonic() + interval
        self.next_status = time.monotonic() + self.settings.stats_interval_secs
        began = time.monotonic()
        drain_deadline: float | None = None
        replies: dict[int | str, Any]  # probe replies by worker index, and "_pending" while a round is open
        probe_n, probe_due, replies, previous = 0, 0.0, {}, None
        outcome = RunState.COMPLETED
        while True:
            now = time.monotonic()
            self._run_commands()
            self._check_heartbeats()
            self._check_workers()
            if self.restart_at:
                self._restart_due()
                if self.restart_at or any(h.poll() is not None for h in self.handles.values()):
                    replies = {}  # a probe round with a dead worker in it cannot conclude
            self._checkpoint_due(now)
            self._check_time(now - began)
            if self.kill_at is not None and now >= self.kill_at and self.stop_requested is None:
                self.stop_requested = _KILL
            if self.stop_requested is not None and drain_deadline is None:
                log.info("stopping (%s): deactivating spouts, draining in-flight tuples", self.stop_requested)
                outcome = RunState.FAILED if self.stop_requested == "timeout" else RunState.STOPPED
                self._broadcast({"t": DEACTIVATE})
                self.deactivated = True
                drain_deadline = now + self.settings.drain_timeout_secs  # 0: stop right away
            finishing = drain_deadline is not None or len(self.spouts_done) == len(self.handles)
            if finishing and not self.drain_sent:
                self._broadcast({"t": DRAIN})
                self.drain_sent = True
                self._set_state(RunState.DRAINING)
            if drain_deadline is not None and now > drain_deadline:
                log.warning(
                    "drain timeout (%gs, squall.drain.timeout.secs): stopping with tuples still in flight",
                    self.settings.drain_timeout_secs,
                )
                self.drain_timed_out = True
                return outcome
            if finishing and now >= probe_due and not replies.get("_pending") and not self.restart_at:
                probe_n += 1
                replies = {"_pending": True}
                self._broadcast({"t": PROBE, "n": probe_n})
            if now >= next_round:
                next_round = now + interval
                self._stats_round()
            r = self._recv(20 if finishing else 100)
            if r is None:
                continue
            index, msg = r
            if msg["t"] == PROBE:
                if msg.get("n") != probe_n:
                    continue
                replies[index] = msg
                if len(replies) - 1 == len(self.handles):
                    complete, previous = self._conclude_probe(replies, previous)
                    if complete and self._final_checkpoint():
                        return outcome
                    replies = {}
                    probe_due = time.monotonic() + PROBE_EVERY
            else:
                self._handle(index, msg)

    def _conclude_probe(self, replies: dict[Any, Any], previous: Any) -> tuple[bool, Any]:
        """A whole probe round: ``(complete, snapshot)``. Complete when two rounds in a row found
        everything quiescent with the same counters; END_INPUT is sent when two rounds found every
        spout exhausted and nothing on its way (windows still holding trees open)."""
        snapshot = self._quiescent(replies)
        if snapshot is not None and snapshot == previous:
            return True, snapshot
        if snapshot is None and not self.input_ended:
            snapshot = self._input_over(replies)
            if snapshot is not None and snapshot == previous:
                self._broadcast({"t": END_INPUT})  # windows fire what they hold and release it
                self.input_ended = True
        return False, snapshot

    def _quiescent(self, replies: dict[Any, Any]) -> Any:
        """The counters if every worker is idle with its spouts done and nothing is in flight.

        Counts are per incarnation: batches sent to or from a worker that has since been
        restarted are not in flight, they are lost with it (and their trees replayed).
        """
        return self._agreed(replies, ("idle", "done"))

    def _input_over(self, replies: dict[Any, Any]) -> Any:
        """The counters if every spout is exhausted and no tuple is on its way, though trees may be
        open: held in windows until the end of their input (then END_INPUT releases them)."""
        return self._agreed(replies, ("quiet", "ended"))

    def _agreed(self, replies: dict[Any, Any], flags: tuple[str, str]) -> Any:
        try:
            return self._counts_agree(replies, flags)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a malformed probe reply
            self.drops.drop("a malformed probe reply", exc)
            return None

    def _counts_agree(self, replies: dict[Any, Any], flags: tuple[str, str]) -> Any:
        inc = self.incarnation
        sent: dict[tuple[int, int], int] = {}
        received: dict[tuple[int, int], int] = {}
        for i in self.handles:
            m = replies.get(i)
            if m is None or m["inc"] != inc[i] or not (m.get(flags[0]) and m.get(flags[1])):
                return None
            for peer, (peer_inc, n) in m["sent"].items():
                if peer_inc == inc[int(peer)]:
                    sent[(i, int(peer))] = n
            for key, n in m["received"].items():
                sender, sender_inc = map(int, key.split(":"))
                if sender_inc == inc[sender]:
                    received[(sender, i)] = n
        for pair in set(sent) | set(received):
            if sent.get(pair, 0) != received.get(pair, 0):
                return None
        return tuple(sorted(sent.items())), tuple(sorted(inc.items()))

    def _shutdown(self) -> None:
        """Ask every live worker to stop, collect its last counters (the final round), make sure none is left."""
        self.restart_at.clear()
        live = {i for i, h in self.handles.items() if h.poll() is None}
        final_round = self.book.begin(live, self._uptime())
        for i in live:
            with contextlib.suppress(zmq.ZMQError):
                self._send(i, {"t": STOP, "round": final_round})
        deadline = time.monotonic() + self.settings.shutdown_timeout_secs
        byes: set[int] = set()
        exited_at: float | None = None
        while live - byes and time.monotonic() < deadline:
            if exited_at is None and all(self.handles[i].poll() is not None for i in live - byes):
                exited_at = time.monotonic()  # their last messages may still be in our socket
            if exited_at is not None and time.monotonic() - exited_at > 0.5:
                break
            try:
                r = self._recv(50)
            except zmq.ZMQError:
                break
            if r is None:
                continue
            index, msg = r
            if msg["t"] == BYE:
                byes.add(index)
            try:
                self._handle(index, msg)
            except WorkerError as exc:  # another worker failed too: one line (a traceback was logged once)
                log.error("%s", str(exc).splitlines()[0] if self.message else exc)
        if self.book.waiting:  # a worker said no bye: its last numbers stay, marked stale
            self.book.close(self._uptime())
        for i in sorted(live - byes):
            log.warning(
                "worker %d (pid %d) sent no final counters: the summary shows its last answer", i, self.handles[i].pid
            )
        for i, h in self.handles.items():
            try:
                h.wait(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                log.warning(
                    "worker %d (pid %d) did not stop within %gs of the stop (squall.shutdown.timeout.secs): "
                    "SIGTERM, then SIGKILL after %gs",
                    i,
                    h.pid,
                    self.settings.shutdown_timeout_secs,
                    TERM_GRACE,
                )
                h.terminate()
                try:
                    h.wait(timeout=TERM_GRACE)
                except Exception:
                    h.kill()
                    h.wait(timeout=3)
