"""HttpStreamSpout on real workers against a real SSE server (its own process), which the test
kills with SIGKILL and starts again mid-stream: the spout reconnects, sends the last acked id as
Last-Event-ID, and every event is seen with few duplicates; a JSON-lines stream; a bad event on
the error stream."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import http_topologies as T
from connector_harness import read_seen, run_killing

HERE = Path(__file__).resolve().parent
N = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, n: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(HERE / "sse_server.py"), str(port), str(n), str(log)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None, "the SSE server exited"
            time.sleep(0.05)
    raise AssertionError("the SSE server did not start")


def test_a_server_killed_mid_stream_is_resumed_from_the_last_acked_id(tmp_path):
    port, log = free_port(), tmp_path / "connections.log"
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    server = start_server(port, N, log)
    killed_at: list[int] = []

    def kill_and_restart():
        nonlocal server
        deadline = time.monotonic() + 120
        while len(read_seen(str(seen_dir))) < N // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        killed_at.append(len(set(read_seen(str(seen_dir)))))
        time.sleep(1.0)
        server = start_server(port, N, log)

    chaos = threading.Thread(target=kill_and_restart, daemon=True)
    chaos.start()
    expected = {str(n) for n in range(N)}
    conf = {
        "http.stream.url": f"http://127.0.0.1:{port}/events",
        "http.stream.backoff.max.ms": 1000,
        "test.dir": str(seen_dir),
    }
    try:
        run_killing(
            T.StreamToSink, conf, victim="events", done=lambda: expected <= set(read_seen(str(seen_dir))), kills=0
        )
        chaos.join(10)
    finally:
        server.kill()
        server.wait()
    seen = read_seen(str(seen_dir))
    assert set(seen) == expected
    resumes = log.read_text().split()
    assert resumes[0] == "-" and len(resumes) >= 2, resumes  # the first connection, then at least one more
    resumed_from = int(resumes[1])
    assert 0 < resumed_from < killed_at[0] + 3000, (resumed_from, killed_at)  # the acked prefix, not 0
    # duplicates: only what was acked between the reconnection's request and the server's replay
    assert len(seen) - N < 3000, len(seen) - N


def test_a_json_lines_stream_and_bad_events_on_the_error_stream(tmp_path):
    port, log, n = free_port(), tmp_path / "connections.log", 3000
    server = start_server(port, n, log)
    good = {str(i) for i in range(n) if i % 100 != 99}

    def done() -> bool:
        return good <= set(read_seen(str(tmp_path))) and len(read_seen(str(tmp_path / "errors"))) >= n // 100

    conf = {"http.stream.url": f"http://127.0.0.1:{port}/lines?poison=100", "test.dir": str(tmp_path)}
    try:
        run_killing(T.StreamWithErrors, conf, victim="events", done=done, kills=0)
    finally:
        server.kill()
        server.wait()
    assert set(read_seen(str(tmp_path))) == good
    errors = read_seen(str(tmp_path / "errors"))
    assert len(errors) == n // 100
    assert all(e.startswith(f"http://127.0.0.1:{port}/lines?poison=100\tExpecting value") for e in errors)


def saved_id(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["last_event_id"] or 0)
    except (OSError, ValueError):
        return 0


def test_a_killed_spout_resumes_from_its_persisted_acked_id(tmp_path):
    port, log = free_port(), tmp_path / "connections.log"
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    server = start_server(port, N, log)
    expected = {str(n) for n in range(N)}
    conf = {
        "http.stream.url": f"http://127.0.0.1:{port}/events",
        "http.stream.state.path": str(tmp_path / "stream.state"),
        "http.stream.state.period.ms": 100,
        "topology.message.timeout.secs": 5,
        "test.dir": str(seen_dir),
    }
    try:
        run = run_killing(
            T.StreamToSink,
            conf,
            victim="events",
            done=lambda: expected <= set(read_seen(str(seen_dir))),
            progress=lambda: saved_id(tmp_path / "stream.state"),  # moves once the (new) spout runs
        )
    finally:
        server.kill()
        server.wait()
    assert len(run.killed) == 2
    seen = read_seen(str(seen_dir))
    assert set(seen) == expected
    resumes = log.read_text().split()
    assert resumes[0] == "-" and len(resumes) >= 3 and all(int(r) > 0 for r in resumes[1:]), resumes
    assert len(seen) - N < N // 2, len(seen) - N
