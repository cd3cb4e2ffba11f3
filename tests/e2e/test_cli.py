"""`squall run` as a user runs it: real processes, signals, dead workers, bad topologies."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORDCOUNT = ROOT / "examples" / "wordcount" / "topology.py"


def squall(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "squall.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=kw.pop("cwd", ROOT),
        **kw,
    )


def workers_of(proc, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = psutil.Process(proc.pid).children()
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    raise AssertionError(f"no {n} workers started")


def test_wordcount_runs_with_status_lines_and_logs():
    p = squall("run", WORDCOUNT, "--duration", "3", "--stats-interval", "1")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err[-2000:]
    assert "[squall" in out and "word_spout emitted" in out and "count_bolt executed" in out
    assert "counted [" in err and "words [pid=" in err
    assert "count_bolt:1 pid=" in err and "count_bolt:2 pid=" in err  # component:task and pid on every line
    assert "stopped after" in err


def test_invalid_topology_refused_before_start(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from squall import Bolt, Grouping, Spout, Topology\n"
        "class S(Spout):\n    outputs = ['word']\n"
        "class B(Bolt):\n    outputs = ['n']\n"
        "class Bad(Topology):\n"
        "    spout = S.spec()\n"
        "    bolt = B.spec(inputs={spout: Grouping.fields('wrd')}, par=0)\n"
        "    other = B.spec(inputs=['spuot'])\n"
    )
    p = squall("run", bad)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 2
    assert "3 problem(s)" in err
    assert "component 'bolt'" in err and "did you mean 'word'?" in err
    assert "par=0 is invalid" in err
    assert "unknown input component 'spuot'" in err and "did you mean 'spout'?" in err
    assert "starting topology" not in err


def test_finite_topology_exits_zero_by_itself():
    p = squall("run", f"{HERE / 'topologies.py'}:ParGtWorkersTopo", "--workers", "2")
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err[-2000:]
    assert "completed after" in err
    assert "count: emitted 2,000 executed 2,000" in err


def test_ctrl_c_stops_cleanly_without_orphans():
    p = squall(
        "run", f"{HERE / 'topologies.py'}:ForeverTopo", "--workers", "2", "--conf", "squall.drain.timeout.secs=5"
    )
    kids = workers_of(p, 2)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err[-2000:]
    assert "stopping (SIGINT)" in err and "stopped after" in err
    time.sleep(0.2)
    assert not [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]


def test_sigterm_stops_cleanly():
    p = squall("run", f"{HERE / 'topologies.py'}:ForeverTopo", "--workers", "2")
    workers_of(p, 2)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "stopping (SIGTERM)" in err


def test_dead_worker_is_reported_and_restarted():
    p = squall("run", f"{HERE / 'topologies.py'}:ForeverTopo", "--workers", "2", "--stats-interval", "0.5")
    kids = workers_of(p, 2)
    time.sleep(1.0)
    os.kill(kids[1].pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    new = []
    while time.monotonic() < deadline and not new:
        new = [k for k in psutil.Process(p.pid).children() if k.pid not in {c.pid for c in kids}]
        time.sleep(0.1)
    assert new, "the dead worker was not restarted"
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err[-3000:]
    assert f"pid {kids[1].pid}" in err and "died: killed by SIGKILL" in err and "restarting it in" in err
    assert "tasks " in err and ("tag:" in err or "numbers:" in err)
    assert "worker 1 restarted" in err
    rates = [line for line in out.splitlines() if "tag executed" in line]
    assert rates and not rates[-1].split("tag executed ")[1].startswith("0/s")  # it runs again


def test_dead_worker_fails_the_run_when_restarts_are_off():
    p = squall(
        "run", f"{HERE / 'topologies.py'}:ForeverTopo", "--workers", "2", "--conf", "squall.worker.restart=false"
    )
    kids = workers_of(p, 2)
    time.sleep(1.0)
    os.kill(kids[0].pid, signal.SIGKILL)
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert f"pid {kids[0].pid}" in err and "died: killed by SIGKILL" in err


def test_coordinator_killed_leaves_no_orphans():
    p = squall("run", WORDCOUNT, "--workers", "2")
    kids = workers_of(p, 2)
    time.sleep(1.0)
    p.kill()
    p.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids):
        time.sleep(0.1)
    assert not [k for k in kids if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]


def test_conf_and_describe():
    p = subprocess.run(
        [sys.executable, "-m", "squall.cli", "describe", str(WORDCOUNT)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert p.returncode == 0
    assert '"fields": [\n' in p.stdout or '"word"' in p.stdout
    p = squall("run", WORDCOUNT, "--duration", "1", "--conf", "topology.workers=abc")
    _out, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "topology.workers='abc'" in err


def test_initialize_error_refuses_to_start_and_names_the_task():
    p = squall("run", f"{HERE / 'topologies.py'}:BrokenInitTopo", "--workers", "2")
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert "failed in initialize: ConnectionError: database is down" in err
    assert "in broken.initialize() (task" in err and "Traceback" in err
