"""Who starts worker processes. The seam between the runtime and the machine(s).

``SubprocessLauncher`` starts ``python -m squall.local.worker_process`` on this machine. A cluster
launcher (Ray) will start the same worker entry point as actors; transport, routing and
executors do not care who launched them. The worker receives a JSON spec and finds its
coordinator through the control address in it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from typing import Any, Protocol


class WorkerHandle(Protocol):
    pid: int

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class Launcher(Protocol):
    def start(self, index: int, spec: dict[str, Any]) -> WorkerHandle: ...


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM if the coordinator dies (even by kill -9): no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class SubprocessLauncher:
    """Starts each worker as a child process of the coordinator."""

    def start(self, index: int, spec: dict[str, Any]) -> WorkerHandle:
        env = dict(os.environ)
        env["SQUALL_WORKER_SPEC"] = json.dumps(spec)
        return subprocess.Popen(
            [sys.executable, "-m", "squall.local.worker_process"],
            env=env,
            stdin=subprocess.DEVNULL,
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
