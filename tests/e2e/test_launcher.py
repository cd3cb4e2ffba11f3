"""The Launcher seam: workers that are not child processes and get no environment variable.

A launcher here runs each ``WorkerProcess(spec)`` in a thread of this process, as a Ray actor
would run it in its own process: constructed from the spec alone, without a parent to watch.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest
import topologies as T

from squall.local.coordinator import Coordinator
from squall.local.launcher import Launcher, SubprocessLauncher, WorkerHandle
from squall.local.worker_process import WorkerProcess
from squall.transport.security import RunKeys


class ThreadHandle:
    """A worker in a thread: no pid of its own (0), ``poll`` is its ``run()`` status once it returned."""

    pid = 0

    def __init__(self, spec: dict[str, Any]):
        self.proc = WorkerProcess(spec)
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.code = self.proc.run()

    def poll(self) -> int | None:
        return None if self.thread.is_alive() else self.code

    def terminate(self) -> None:
        self.proc.stopping = True

    def kill(self) -> None:
        self.proc.stopping = True

    def wait(self, timeout: float | None = None) -> int:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("worker thread still running")
        assert self.code is not None
        return self.code


class ThreadLauncher:
    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []
        self.handles: list[ThreadHandle] = []

    def start(self, index: int, spec: dict[str, Any]) -> WorkerHandle:
        self.specs.append(spec)
        h = ThreadHandle(spec)
        self.handles.append(h)
        return h


def test_workers_started_without_env_or_parent():
    launcher = ThreadLauncher()
    assert isinstance(launcher, Launcher)
    env_before = os.environ.get("SQUALL_WORKER_SPEC")
    coord = Coordinator(
        T.ShuffleTopo, {"topology.workers": 2}, launcher=launcher, status_out=io.StringIO(), handle_signals=False
    )
    result = coord.run()
    assert result.reason == "completed", result.message
    assert result.component_totals()["tag"]["executed"] == T.N
    assert os.environ.get("SQUALL_WORKER_SPEC") == env_before
    assert [s["index"] for s in launcher.specs] == [0, 1]
    assert not any(s.get("watch_parent") for s in launcher.specs)
    assert all(isinstance(h, WorkerHandle) and h.proc.parent is None and h.poll() == 0 for h in launcher.handles)
    assert {w["pid"] for w in result.workers.values()} == {0}


def test_subprocess_workers_watch_their_parent(monkeypatch):
    # never contacted: the test only constructs (a spec carries the run's keys: see test_security.py)
    spec = {"index": 0, "coordinator": "tcp://127.0.0.2:9", "keys": RunKeys.generate(1).for_worker(0)}
    alone = WorkerProcess(spec)
    child = WorkerProcess(dict(spec, watch_parent=True))
    try:
        assert alone.parent is None and child.parent == os.getppid()
        monkeypatch.setattr(os, "getppid", lambda: -1)  # the coordinator went away
        monkeypatch.setattr(os, "_exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
        alone.check_parent()  # nothing to watch
        with pytest.raises(SystemExit) as exc:
            child.check_parent()
        assert exc.value.code == 4
    finally:
        for p in (alone, child):
            p.ctrl.close(linger=0)
            p.ctx.term()


def test_subprocess_launcher_sets_watch_parent(monkeypatch):
    import subprocess

    seen = {}

    def fake_popen(args, env, **kwargs):
        seen["spec"] = env["SQUALL_WORKER_SPEC"]
        return object()

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    SubprocessLauncher().start(0, {"index": 0})
    import json

    assert json.loads(seen["spec"]) == {"index": 0, "watch_parent": True}
