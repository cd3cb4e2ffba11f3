"""Storm's multilang protocol: ShellBolt / ShellSpout tasks, one subprocess each.

The wire: JSON messages, each followed by a line ``end``, over the subprocess's stdin (from us) and
stdout (from it); stderr is logged. The handshake sends ``{"conf", "pidDir", "context"}``; the
subprocess answers ``{"pid": N}``. Then, for bolts: tuples ``{"id", "comp", "stream", "task",
"tuple"}`` (heartbeats on ``__heartbeat``, ticks from ``__system``/``__tick``), answered by
``emit`` (task ids sent back unless ``need_task_ids`` is false, never for a direct emit), ``ack``,
``fail``, ``sync`` (to heartbeats), ``log``, ``error``, ``metrics``; for spouts: ``next``, ``ack``,
``fail``, ``activate``, ``deactivate``, each answered by emits and a ``sync``.

Never blocking the worker's loop (docs/architecture.md, "Multilang"):

* a reader thread per subprocess cuts stdout into messages (``json.loads`` per message) and appends
  them to a deque; the worker's thread handles them on its turn (``poll``), so every emit, ack and
  fail runs on the worker's thread like any other;
* writes are non-blocking: messages are encoded into a buffer, written with one ``os.write`` per
  pump or turn; what the pipe refuses waits for the next turn;
* at most ``topology.shellbolt.max.pending`` tuples are inside a bolt's subprocess (the rest waits in
  the executor: backpressure as for any slow bolt), at most ``squall.multilang.spout.pending``
  ``next`` commands await a spout's ``sync``.

A subprocess that dies, hangs (owes an answer for ``topology.subprocess.timeout.secs``) or writes
something that is not a message: the error is reported naming the component, task, command and
the end of its stderr; its tuples fail at once (their spouts replay them); it is restarted after a
backoff. Subprocesses start from the worker's loop thread (the thread that lives as long as the
task) in a session of their own with ``PR_SET_PDEATHSIG`` = SIGKILL: they die with the worker,
even on ``kill -9``. Every stop ends them: stdin closed, then SIGKILL of their process group.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from squall.errors import SquallError
from squall.runtime.concurrent_executor import ConcurrentBolt
from squall.runtime.spout_executor import SpoutExecutor
from squall.topology.tuple import SYSTEM_COMPONENT, TICK_STREAM, Tuple

log = logging.getLogger("squall.multilang")

DELIM = b"\nend\n"
HEARTBEAT_SECS = 1.0  # a bolt's subprocess gets a heartbeat tuple this often (Storm's ShellBolt)
HEARTBEAT_STREAM = "__heartbeat"
MAX_FRAME = 64 * 1024 * 1024  # bytes without an `end` line: the subprocess is not speaking the protocol
RESTART_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)  # before restart N (the last one repeats)
STABLE_SECS = 30.0  # a subprocess that lived this long restarts with the first delay again
STDERR_LINES = 20  # the last lines of a subprocess's stderr, quoted when it dies
PROBE_SECS = 1.0  # how long a spout's first activate waits for a sync before the library is taken not to send one
CLOSE_SECS = 1.0  # at a stop, how long a subprocess may take to exit after its stdin closes
LOG_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}

EOF = object()  # the reader's last item: stdout closed
JUNK = object()  # the reader's item for bytes that are not a message: (JUNK, bytes)

#: ensure_ascii: 7-bit output that every library decodes the same (non-ASCII and emoji as \\u escapes)
_encode = json.JSONEncoder(separators=(",", ":")).encode
_encode_conf = json.JSONEncoder(separators=(",", ":"), default=str).encode  # the handshake: any config value


class MultilangError(SquallError):
    """A multilang subprocess died, hung, broke the protocol, or reported an error."""


def _die_with_thread() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL when the thread that started us ends (the worker's loop: the task's life)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ShellProcess:
    """One subprocess and its pipes: start, send (buffered), flush (non-blocking), messages, stop."""

    def __init__(self, component: str, task: int, cls: Any, logger: logging.Logger):
        self.component = component
        self.task = task
        self.argv: list[str] = cls.argv()
        self.command = cls.describe_command()
        self.cwd: str = cls.cwd
        self.env: dict[str, str] = cls.env
        self.logger = logger
        self.proc: subprocess.Popen[bytes] | None = None
        self.inbox: deque[Any] = deque()  # messages from the reader thread; EOF last
        self.out = bytearray()  # encoded messages not yet written
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self.pid_dir = tempfile.mkdtemp(prefix=f"squall-{component}-{task}-")
        self.pid = 0  # what the subprocess said in its handshake (0: not yet)
        self.started = 0.0
        self.threads: list[threading.Thread] = []

    @property
    def where(self) -> str:
        return f"component '{self.component}' (task {self.task}): subprocess `{self.command}`"

    def start(self, conf: dict[str, Any], context: dict[str, Any]) -> None:
        """Start the subprocess and send the handshake (its pid arrives later, through ``poll``)."""
        env = dict(os.environ)
        env.update(self.env)
        try:
            proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                start_new_session=True,  # no terminal Ctrl-C; the whole group is killed at a stop
                # Only prctl(PR_SET_PDEATHSIG) runs between fork and exec; no Python lock is taken there.
                preexec_fn=_die_with_thread if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )
        except OSError as exc:
            raise MultilangError(f"{self.where} cannot start (in {self.cwd}): {exc}") from exc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self.proc = proc
        self.pid = 0
        self.started = time.monotonic()
        self.inbox = deque()
        self.out = bytearray()
        self.threads = [
            threading.Thread(target=self._read, args=(proc.stdout, self.inbox), daemon=True, name=f"{self.where} out"),
            threading.Thread(target=self._read_stderr, args=(proc.stderr,), daemon=True, name=f"{self.where} err"),
        ]
        for t in self.threads:
            t.start()
        self.out += _encode_conf({"conf": conf, "pidDir": self.pid_dir, "context": context}).encode() + DELIM
        self.flush()

    # -- the pipes ------------------------------------------------------------------------------
    def _read(self, stream: Any, inbox: deque[Any]) -> None:
        """Reader thread: cut stdout into messages at ``\\nend\\n`` lines, decode, hand over."""
        fd = stream.fileno()
        buf = bytearray()
        try:
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                scan = max(0, len(buf) - len(DELIM))
                buf += chunk
                if buf.find(DELIM, scan) < 0:
                    if len(buf) > MAX_FRAME:
                        inbox.append((JUNK, bytes(buf[:200])))
                        return
                    continue
                *frames, rest = bytes(buf).split(DELIM)
                buf = bytearray(rest)
                if not self._decode([f for f in (f.strip() for f in frames) if f], inbox):
                    return
        except OSError:
            pass
        finally:
            inbox.append((EOF, bytes(buf).strip()[:200]))

    @staticmethod
    def _decode(frames: list[bytes], inbox: deque[Any]) -> bool:
        """Decode a chunk's messages with one ``json.loads`` (as one JSON array: the per-message work
        stays in C); a chunk that does not decode so is decoded message by message, to find the junk.
        False: junk found (handed over)."""
        if not frames:
            return True
        try:
            msgs = json.loads(b"[" + b",".join(frames) + b"]")
        except ValueError:
            msgs = None
        # one dict per frame: a frame holding several values, or not an object, is decoded alone below
        if msgs is not None and len(msgs) == len(frames) and all(type(m) is dict for m in msgs):
            inbox.extend(msgs)
            return True
        for frame in frames:
            try:
                msg = json.loads(frame)
            except ValueError:
                msg = None
            if type(msg) is not dict:
                inbox.append((JUNK, frame[:200]))
                return False
            inbox.append(msg)
        return True

    def _read_stderr(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            self.logger.info("[stderr] %s", line)

    def send(self, msg: Any) -> None:
        self.out += _encode(msg).encode()
        self.out += DELIM

    def flush(self) -> None:
        """Write what the pipe takes now; the rest waits (never blocks)."""
        out, proc = self.out, self.proc
        if not out or proc is None or proc.stdin is None:
            return
        try:
            n = os.write(proc.stdin.fileno(), out)
        except BlockingIOError:
            return
        except (BrokenPipeError, ValueError, OSError):  # it died: the reader's EOF says so
            out.clear()
            return
        del out[:n]

    # -- the end ----------------------------------------------------------------------------------
    def describe_death(self, why: str) -> str:
        """``why`` with the exit status and the last lines of stderr."""
        proc = self.proc
        code = None
        if proc is not None:
            # Its stdout ended: it is exiting. Reap it (once per death, not per tuple) so that the
            # status is known: poll() alone ran before the kernel had reaped a killed process.
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=1.0)
        text = f"{self.where} {why}"
        if code is not None:
            text += f" (exit status {code})" if code >= 0 else f" (killed by signal {-code})"
        for t in self.threads[1:]:
            t.join(0.5)  # the last lines of stderr
        if self.stderr_tail:
            text += "; its last lines on stderr:\n" + "\n".join(self.stderr_tail)
        return text

    def kill(self, graceful: float = 0.0) -> None:
        """End the subprocess and its process group: stdin closed, ``graceful`` seconds, then SIGKILL."""
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if graceful > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(graceful)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: its children too
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL did not end it
            log.error("%s did not end after SIGKILL", self.where)
        for s in (proc.stdout, proc.stderr):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()

    def close(self, graceful: float = CLOSE_SECS) -> None:
        self.kill(graceful)
        shutil.rmtree(self.pid_dir, ignore_errors=True)


class Lifecycle:
    """What the bolt and the spout executors share: start, poll the messages, death, restart."""

    shell: ShellProcess
    component: str
    task: int
    instance: Any
    in_flight: int

    def init_shell(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        timeout = conf.get("topology.subprocess.timeout.secs")
        self.timeout = float(timeout) if timeout else float("inf")
        self.context: dict[str, Any] = {}
        self.shell = ShellProcess(self.component, self.task, type(self.instance), self.instance.logger)
        self.restart_at = float("inf")
        self.restarts = 0
        self.since = time.monotonic()  # the last message, or when we began to owe nothing
        self.closed = False
        self.metrics: dict[str, Any] = {}
        self.instance.initialize = self.start_subprocess

    def start_subprocess(self, conf: dict[str, Any], context: dict[str, Any]) -> None:
        """The task's ``initialize``: start the subprocess (on the worker's loop thread)."""
        self.context = dict(context)
        self.shell.start(self.conf, self.context)
        self.since = time.monotonic()

    def owes(self) -> bool:
        """The subprocess owes an answer (a handshake, a tuple's ack, a sync)."""
        raise NotImplementedError

    def handle(self, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    def died(self) -> None:
        """The subprocess is gone: what it held fails (subclasses)."""

    def poll(self, now: float) -> int:
        """On the worker's thread, every turn: handle what arrived, flush, watch for death and hangs."""
        shell = self.shell
        if shell.proc is None:
            if now >= self.restart_at and not self.closed:
                self.restart(now)
            return 0
        inbox = shell.inbox
        work = 0
        while inbox:
            msg = inbox.popleft()
            if type(msg) is tuple:
                kind, data = msg
                if kind is JUNK:
                    self.fatal(
                        f"wrote something that is not a multilang message on stdout: {data!r} (stdout is the "
                        "protocol channel: log through the library's log command, or write to stderr)"
                    )
                elif data:
                    self.fatal(f"wrote something that is not a multilang message on stdout: {data!r}, then exited")
                else:
                    self.fatal("exited")
                return work + 1
            work += 1
            try:
                self.handle(msg)
            except Exception as exc:  # a message the runtime refuses (an emit on an unknown stream...)
                self.report("multilang", exc)
        if work:
            self.since = now
        elif now - self.since > self.timeout and self.owes():
            self.fatal(f"did not answer for {self.timeout:g}s (topology.subprocess.timeout.secs)", hung=True)
            return 1
        shell.flush()
        return work

    def fatal(self, why: str, hung: bool = False) -> None:
        """Report, kill, fail what it held, schedule the restart."""
        shell = self.shell
        if hung:
            shell.kill()
        text = shell.describe_death(why)
        shell.kill()
        shell.proc = None
        self.report("subprocess", MultilangError(text))
        self.died()
        now = time.monotonic()
        if now - shell.started > STABLE_SECS:
            self.restarts = 0
        self.restart_at = now + RESTART_DELAYS[min(self.restarts, len(RESTART_DELAYS) - 1)]
        self.restarts += 1

    def restart(self, now: float) -> None:
        self.restart_at = float("inf")
        self.instance.logger.warning("restarting the subprocess `%s` (restart %d)", self.shell.command, self.restarts)
        try:
            self.shell.start(self.conf, self.context)
        except MultilangError as exc:
            self.report("subprocess", exc)
            self.restart_at = now + RESTART_DELAYS[-1]
            return
        self.since = now
        self.restarted()

    def restarted(self) -> None:
        """The new subprocess got its handshake (subclasses: what it must be told again)."""

    def common(self, cmd: Any, msg: dict[str, Any]) -> bool:
        """``pid``, ``log``, ``error``, ``metrics``; False for anything else."""
        if cmd == "log":
            level = msg.get("level", 2)
            self.instance.logger.log(LOG_LEVELS.get(level, logging.INFO), "%s", msg.get("msg"))
        elif cmd == "error":
            self.report("subprocess", MultilangError(f"{self.shell.where} reported: {msg.get('msg')}"))
        elif cmd == "metrics":
            self.metrics[str(msg.get("name"))] = msg.get("params")
        elif cmd is None and "pid" in msg:
            self.shell.pid = int(msg["pid"])
        else:
            return False
        return True

    def unknown(self, msg: dict[str, Any]) -> None:
        raise MultilangError(f"{self.shell.where} sent a message the protocol does not have: {str(msg)[:200]}")

    def close(self, deadline: float) -> None:
        """At a stop: stdin closed, until ``deadline`` (shared by the worker's tasks) to exit, then SIGKILL."""
        self.closed = True
        self.shell.close(max(0.0, deadline - time.monotonic()))

    if TYPE_CHECKING:  # TaskExecutor's

        def report(self, where: str, exc: BaseException) -> None: ...


def _anchor_ids(anchors: Any) -> list[str]:
    if anchors is None:
        return []
    if isinstance(anchors, (str, int)):
        return [str(anchors)]
    return [str(a) for a in anchors]


class ShellBoltExecutor(Lifecycle, ConcurrentBolt):
    """A ShellBolt task: tuples go to the subprocess (at most ``limit`` at once), its emits, acks
    and fails come back on the worker's thread."""

    def __init__(self, *args: Any, shell_conf: dict[str, Any], **kwargs: Any):
        limit = shell_conf.get("topology.shellbolt.max.pending")
        super().__init__(*args, concurrency=int(limit) if limit else 1 << 30, **kwargs)
        self.inputs: dict[str, tuple[Tuple, float]] = {}  # id sent -> (tuple, arrival)
        self.n = 0
        self.ticks: set[str] = set()
        self.heads: dict[tuple[str, str], str] = {}  # (source, stream) -> the encoded middle of a tuple message
        self.heartbeat: str | None = None  # the heartbeat the subprocess has not answered
        self.next_heartbeat = 0.0
        self.init_shell(shell_conf)

    def owes(self) -> bool:
        return bool(self.inputs) or self.heartbeat is not None or not self.shell.pid

    def pump(self) -> int:
        if self.shell.proc is None:
            return 0
        started = super().pump()
        self.shell.flush()
        return started

    resume = pump

    def start(self, tup: Tuple, arrival: float) -> None:
        """Send one tuple (``{"id", "comp", "stream", "task", "tuple"}``), encoded with a cached head
        per source and stream: only the values go through the JSON encoder."""
        self.n += 1
        mid = str(self.n)
        key = (tup.component, tup.stream)
        head = self.heads.get(key)
        if head is None:
            head = self.heads[key] = '","comp":' + _encode(key[0]) + ',"stream":' + _encode(key[1]) + ',"task":'
        try:
            text = '{"id":"' + mid + head + str(int(tup.task)) + ',"tuple":' + _encode(list(tup.values)) + "}"
        except (TypeError, ValueError) as exc:  # a value JSON cannot carry
            self.in_flight -= 1
            self.report("multilang", MultilangError(f"a tuple for {self.shell.where} is not JSON: {exc}"))
            self._fail(tup)
            return
        out = self.shell.out
        out += text.encode()
        out += DELIM
        if not self.inputs:
            self.since = time.monotonic()
        self.inputs[mid] = (tup, arrival)

    def tick(self, now: float) -> None:
        self.next_tick = now + self.tick_secs  # type: ignore[operator]
        if self.shell.proc is None:
            return
        self.n += 1
        mid = f"tick{self.n}"
        self.ticks.add(mid)
        self.shell.send(
            {"id": mid, "comp": SYSTEM_COMPONENT, "stream": TICK_STREAM, "task": -1, "tuple": [self.tick_secs]}
        )
        self.shell.flush()

    def poll(self, now: float) -> int:
        if now >= self.next_heartbeat and self.shell.proc is not None:
            self.next_heartbeat = now + HEARTBEAT_SECS
            if self.heartbeat is None:
                if not self.owes():
                    self.since = now
                self.n += 1
                self.heartbeat = f"hb{self.n}"
                self.shell.send(
                    {"id": self.heartbeat, "comp": None, "stream": HEARTBEAT_STREAM, "task": -1, "tuple": []}
                )
        return super().poll(now)

    def handle(self, msg: dict[str, Any]) -> None:
        cmd = msg.get("command")
        if cmd == "emit":
            self.emit_from(msg)
        elif cmd == "ack" or cmd == "fail":
            mid = str(msg.get("id"))
            entry = self.inputs.pop(mid, None)
            if entry is None:
                if mid in self.ticks:
                    self.ticks.discard(mid)
                    return
                raise MultilangError(f"{self.shell.where} sent {cmd} for an id it was not given: {mid!r}")
            tup, arrival = entry
            self.in_flight -= 1
            self.executed += 1
            if cmd == "ack":
                self.proc_secs += time.monotonic() - arrival
                self.proc_n += 1
                self._ack(tup)
            else:
                self._fail(tup)
        elif cmd == "sync":
            self.heartbeat = None
        elif not self.common(cmd, msg):
            self.unknown(msg)

    def emit_from(self, msg: dict[str, Any]) -> None:
        values = msg.get("tuple")
        if not isinstance(values, list):
            raise MultilangError(f"{self.shell.where} emitted {values!r}: the tuple must be a list")
        anchors = []
        for a in _anchor_ids(msg.get("anchors")):
            entry = self.inputs.get(a)
            if entry is not None:
                anchors.append(entry[0])
        direct = msg.get("task") or None
        need = msg.get("need_task_ids", True) and direct is None
        tasks = self.instance.emit(values, msg.get("stream"), anchors, direct, bool(need))
        if need:
            self.shell.send(tasks or [])

    def died(self) -> None:
        """Its tuples fail now (their spouts replay them)."""
        held = list(self.inputs.values())
        self.inputs.clear()
        self.ticks.clear()
        self.heartbeat = None
        self.in_flight -= len(held)
        self.executed += len(held)
        for tup, _arrival in held:
            self._fail(tup)


class ShellSpoutExecutor(Lifecycle, SpoutExecutor):
    """A ShellSpout task: ``next``, ``ack``, ``fail``, ``activate``, ``deactivate`` go to the
    subprocess; its emits come back on the worker's thread."""

    def __init__(self, *args: Any, shell_conf: dict[str, Any], **kwargs: Any):
        self.in_flight = 0  # commands that owe a sync
        super().__init__(*args, **kwargs)
        limit = shell_conf.get("squall.multilang.spout.pending")
        self.limit = int(limit) if limit else 1
        inst = self.instance
        inst.ack = lambda tup_id: self.command({"command": "ack", "id": tup_id})
        inst.fail = lambda tup_id: self.command({"command": "fail", "id": tup_id})
        inst.activate = lambda: self.switch("activate")
        inst.deactivate = lambda: self.switch("deactivate")
        #: whether the library answers activate/deactivate with a sync (pystorm, storm.py and storm.rb
        #: do, storm.js does not): learned from the first activate; None: not yet known
        self.answers_switch: bool | None = None
        self.probing = float("inf")  # until when the first activate's sync is awaited (no next meanwhile)
        self.init_shell(shell_conf)

    def command(self, msg: dict[str, Any], owes_sync: bool = True) -> None:
        """A command for the subprocess (dropped while none runs: its ids died with it)."""
        if self.shell.proc is None:
            return
        if owes_sync:
            if not self.in_flight:
                self.since = time.monotonic()
            self.in_flight += 1
        self.shell.send(msg)

    def switch(self, cmd: str) -> None:
        """``activate`` / ``deactivate``: owing a sync if the library answers them. The first one is a
        probe: no ``next`` goes out until its sync arrives or ``PROBE_SECS`` pass without one."""
        if self.answers_switch is None and self.probing == float("inf") and self.shell.proc is not None:
            self.probing = time.monotonic() + PROBE_SECS
            self.command({"command": cmd}, owes_sync=False)
        else:
            self.command({"command": cmd}, owes_sync=bool(self.answers_switch))
        self.shell.flush()

    def owes(self) -> bool:
        return bool(self.in_flight) or not self.shell.pid

    def poll(self, now: float) -> int:
        if now > self.probing:  # no sync for the first activate: storm.js
            self.probing = float("inf")
            self.answers_switch = False
        return super().poll(now)

    def burst(self, n: int) -> int:
        """The failed trees' ``fail`` commands, then ``next`` in the free slots (not beyond the
        pending cap). Their emits are the work, counted when they arrive."""
        if self.shell.proc is None or self.probing != float("inf"):
            return 0
        if self.fails or self.replays:
            self._replay(n, time.monotonic() + 0.002)
        free = self.limit - self.in_flight
        if self.max_pending:
            free = min(free, self.max_pending - self.pending.size)
        for _ in range(free):
            self.command({"command": "next", "id": ""})
        self.shell.flush()
        return 0

    def handle(self, msg: dict[str, Any]) -> None:
        cmd = msg.get("command")
        if cmd == "emit":
            values = msg.get("tuple")
            if not isinstance(values, list):
                raise MultilangError(f"{self.shell.where} emitted {values!r}: the tuple must be a list")
            direct = msg.get("task") or None
            need = msg.get("need_task_ids", True) and direct is None
            tasks = self.instance.emit(values, msg.get("id"), msg.get("stream"), direct, bool(need))
            if need:
                self.shell.send(tasks or [])
            if self.to_ack:
                self.ack_now()
        elif cmd == "sync":
            if self.probing != float("inf"):  # the answer to the first activate
                self.probing = float("inf")
                self.answers_switch = True
            elif self.in_flight:
                self.in_flight -= 1
        elif not self.common(cmd, msg):
            self.unknown(msg)

    def died(self) -> None:
        """Its trees in flight time out (its replay state died with it); nothing owes a sync."""
        self.in_flight = 0
        if self.probing != float("inf"):
            self.probing = float("inf")

    def restarted(self) -> None:
        if self.active:
            self.switch("activate")

    @property
    def done(self) -> bool:
        return SpoutExecutor.done.fget(self) and not self.in_flight  # type: ignore[attr-defined]


def shell_executors(kind: str) -> type:
    return ShellSpoutExecutor if kind == "spout" else ShellBoltExecutor


__all__: Sequence[str] = ("MultilangError", "ShellBoltExecutor", "ShellProcess", "ShellSpoutExecutor")
