"""Helpers of the RabbitMQ and Redis tests: a run in a thread that the test stops, polling with a
deadline, the lines the error-stream sink wrote."""

from __future__ import annotations

import glob
import io
import threading
import time

from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState


def wait_for(condition, timeout, what):
    """Poll ``condition`` every 0.2 s until it holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def run_in_thread(topology, conf):
    """Start ``topology`` on real workers; returns once it is active (stop it with ``stop``)."""
    coord = Coordinator(
        topology, {"squall.stats.interval.secs": 0.5, **conf}, status_out=io.StringIO(), handle_signals=False
    )
    out = {}
    runner = threading.Thread(target=lambda: out.setdefault("r", coord.run()), daemon=True)
    runner.start()
    snap = coord.wait_statistics(timeout=60)
    while snap.state is RunState.STARTING:
        snap = coord.wait_statistics(snap, timeout=60)
    assert snap.state is RunState.ACTIVE, (snap.state, coord.message)
    return coord, runner, out


def stop(coord, runner, out):
    coord.request_stop("test done")
    runner.join(timeout=60)
    return out["r"]


def read_errors(folder):
    """The ``connector|source|reason|payload`` lines ``ErrorSink`` wrote."""
    out = []
    for path in glob.glob(f"{folder}/errors-*.log"):
        with open(path) as f:
            out.extend(line.rstrip("\n") for line in f if line.strip())
    return out
