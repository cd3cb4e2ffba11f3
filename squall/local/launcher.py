"""Who starts worker processes. The seam between the runtime and the machine(s).

``SubprocessLauncher`` starts ``python -m squall.local.worker_process`` on this machine. A cluster
launcher (Ray) will construct ``WorkerProcess(spec)`` inside actors and call ``run()``: no
environment variable, no parent process. Transport, routing and executors do not care who
launched them. The worker receives a JSON-able spec and finds its coordinator through the control
address in it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class WorkerHandle(Protocol):
    """The coordinator's handle on one started worker, whatever runs it.

    ``subprocess.Popen`` is one (``SubprocessLauncher``). A launcher whose workers are not local
    children (Ray actors, threads) provides the same four methods and ``pid``:

    * ``pid``: the worker's OS process id, used in messages and logs only (the coordinator never
      signals it; it calls ``terminate``/``kill``). ``0`` when there is none to give: the worker
      is not an OS process of its own, or runs on another machine and its pid is not known.
    * ``poll()``: ``None`` while the worker may still be running; once it is known to have ended,
      its exit status: ``0`` for a clean stop, a positive status, or ``-N`` for "killed by signal
      N" (``describe_exit`` turns it into words). A handle that cannot learn an exit status (an
      actor that died with its node) returns ``1``. ``poll`` must not block: the coordinator
      calls it on every turn of its loop, and a non-``None`` answer makes it restart the worker
      (or end the run).
    * ``terminate()``: ask the worker to stop now (SIGTERM or the equivalent); it may not obey.
      ``kill()``: stop it without asking. Both return at once; neither may raise for a worker
      that already ended.
    * ``wait(timeout)``: block until the worker ended and return ``poll()``'s answer; raise
      (any exception, e.g. ``subprocess.TimeoutExpired``) if it did not within ``timeout`` seconds.
    """

    pid: int

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@runtime_checkable
class Launcher(Protocol):
    """Starts workers. ``start`` returns at once; the worker then connects to the coordinator.

    The worker runs ``squall.local.worker_process.WorkerProcess(spec).run()`` wherever the launcher
    puts it: ``spec`` is a JSON-able dict (keys in ``squall.local.worker_process``) with ``index``
    and ``incarnation`` set. A launcher may add keys: ``SubprocessLauncher`` sets
    ``watch_parent`` because its workers are children of the coordinator; a launcher on another
    machine sets that machine's ``squall.bind.host`` / ``squall.advertise.host`` in ``spec["conf"]``.
    The spec carries the worker's secret key (``keys``): a launcher must hand it over only through
    a channel that other users cannot read (see the threat model in ``docs/architecture.md``).
    """

    def start(self, index: int, spec: dict[str, Any]) -> WorkerHandle: ...


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM if the coordinator dies (even by kill -9): no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class SubprocessLauncher:
    """Starts each worker as a child process of the coordinator (``python -P -m squall.local.worker_process``,
    the spec in ``$SQUALL_WORKER_SPEC``). A child exits if the coordinator dies: by
    ``PR_SET_PDEATHSIG`` on Linux, and by ``watch_parent`` (it checks its parent pid every second).

    With ``capture`` (the default) the child's stdout and stderr are pipes, the handle's ``stdout``
    and ``stderr``: whoever starts it must read them (the coordinator does: it writes each line
    through to its own stdout or stderr and keeps the last ones, ``Coordinator.logs``). Without,
    the child inherits the caller's.
    """

    capture: bool = True

    def __init__(self, capture: bool = True):
        self.capture = capture

    def start(self, index: int, spec: dict[str, Any]) -> WorkerHandle:
        env = dict(os.environ)
        env["SQUALL_WORKER_SPEC"] = json.dumps(dict(spec, watch_parent=True))
        # -P (Python >= 3.11): the worker's sys.path does not start with the current directory, so
        # a folder named `squall` there (e.g. a checkout, run from its parent) cannot shadow the
        # installed package; the topology's own paths come from the spec once squall is imported.
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "squall.local.worker_process"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.capture else None,
            stderr=subprocess.PIPE if self.capture else None,
            # Only prctl(PR_SET_PDEATHSIG) runs between fork and exec; no Python lock is taken there.
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
