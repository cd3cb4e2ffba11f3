"""Honest counts and outcomes (issue 7, section 4): restarts, unresponsive workers, stops that time
out, exit codes, shutdown, peak memory, resource exhaustion. Real processes throughout."""

import io
import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import topologies as T
from cli_process import gone

from squall.local.coordinator import Coordinator

HERE = Path(__file__).resolve().parent
OUTCOMES = HERE / "outcome_topologies.py"


def marks(d, what):
    """{pid: [task, ...]} of the marks ``what`` (close, cleanup) left in ``d``."""
    out = {}
    for name in os.listdir(d):
        kind, _, rest = name.partition("-")
        if kind == what:
            task, pid = map(int, rest.split("-"))
            out.setdefault(pid, []).append(task)
    return out


def test_a_workers_peak_rss_is_its_own_not_its_parents():
    """Linux carries ru_maxrss over fork and exec (the parent's RSS at the fork): a worker started by
    a big coordinator reported the coordinator's size as its own peak."""
    big = b"x" * (400 << 20)  # this process (the coordinator's) holds 400 MB while it starts workers
    coord = Coordinator(T.ShuffleTopo, {"topology.workers": 1}, status_out=io.StringIO(), handle_signals=False)
    result = coord.run()
    del big
    assert result.reason == "completed", result.message
    w = result.workers[0]
    assert w["rss"] and w["peak_rss"]
    assert w["rss"] <= w["peak_rss"] < 200 << 20, f"peak RSS {w['peak_rss'] / 2**20:.0f} MB"


# -- close() and cleanup() run whenever a worker is not killed; the shutdown wait is configurable -------


def test_sigterm_to_a_worker_closes_its_components_and_a_stop_closes_the_others(tmp_path, squall_cli):
    p = squall_cli(
        "run", f"{OUTCOMES}:CleanupTopo", "--workers", "2", "--stats-interval", "0.5", "--conf", f"test.dir={tmp_path}"
    )
    kids = p.workers(2)
    p.wait_line("is active")
    p.wait_line(lambda line: "marking executed" in line and "marking executed 0/s" not in line, stream="err")
    victim = kids[1]  # worker 1: the spout (task 2)
    os.kill(victim.pid, signal.SIGTERM)
    i = p.wait_line(f"(pid {victim.pid}, tasks source:2")
    assert "died: exit status 143" in p.lines()[i]
    assert marks(tmp_path, "close") == {victim.pid: [2]}  # its spout's close() ran
    p.wait_line("worker 1 restarted", after=i)
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    closed, cleaned = marks(tmp_path, "close"), marks(tmp_path, "cleanup")
    assert len(closed) == 2 and all(tasks == [2] for tasks in closed.values())  # both incarnations of worker 1
    assert cleaned == {kids[0].pid: [1]}  # worker 0's bolt, at the stop


def test_workers_of_a_killed_coordinator_close_their_components(tmp_path, squall_cli):
    p = squall_cli("run", f"{OUTCOMES}:CleanupTopo", "--workers", "2", "--conf", f"test.dir={tmp_path}")
    kids = p.workers(2)
    p.wait_line("is active")
    p.kill()  # SIGKILL: the workers get SIGTERM (PR_SET_PDEATHSIG) and close gracefully
    assert gone(kids, timeout=20) == []
    assert marks(tmp_path, "cleanup") == {kids[0].pid: [1]}
    assert marks(tmp_path, "close") == {kids[1].pid: [2]}


def test_the_wait_before_sigterm_at_shutdown_is_configurable(tmp_path, squall_cli):
    """A bolt stuck in one call cannot answer the stop: SIGTERM after squall.shutdown.timeout.secs
    (it was a fixed 10 s), SIGKILL 3 s later."""
    p = squall_cli(
        "run",
        f"{OUTCOMES}:StuckTopo",
        "--workers",
        "2",
        "--duration",
        "1",
        "--conf",
        f"test.dir={tmp_path}",
        "--conf",
        "squall.drain.timeout.secs=0.5",
        "--conf",
        "squall.shutdown.timeout.secs=1",
    )
    p.wait_line("stopping (duration)", timeout=60)
    stopping = time.monotonic()
    code, _out, err = p.finish(timeout=60)
    took = time.monotonic() - stopping
    assert code == 0, err[-3000:]
    assert "did not stop within 1s of the stop (squall.shutdown.timeout.secs): SIGTERM" in err
    assert took < 8, f"the stop took {took:.1f} s"


# -- a worker that stops answering is named, and restarted after the heartbeat timeout ----------------


def test_a_stopped_worker_is_named_unresponsive_and_answers_again(tmp_path, squall_cli):
    p = squall_cli(
        "run",
        f"{OUTCOMES}:CleanupTopo",
        "--workers",
        "2",
        "--stats-interval",
        "0.5",
        "--conf",
        f"test.dir={tmp_path}",
        "--conf",
        "squall.worker.heartbeat.timeout.secs=0",  # never killed
    )
    kids = p.workers(2)
    p.wait_line("is active")
    victim = kids[0]
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        i = p.wait_line(f"worker 0 (pid {victim.pid}, tasks marking:1, __acker:3) unresponsive for")
        p.wait_line("| worker 0 unresponsive for", stream="err")
    finally:
        os.kill(victim.pid, signal.SIGCONT)
    p.wait_line(f"worker 0 (pid {victim.pid}) answers again", after=i)
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    assert "restart" not in err and "killed" not in err


def test_a_worker_silent_for_the_heartbeat_timeout_is_killed_and_restarted(tmp_path, squall_cli):
    p = squall_cli(
        "run",
        f"{OUTCOMES}:CleanupTopo",
        "--workers",
        "2",
        "--stats-interval",
        "0.5",
        "--conf",
        f"test.dir={tmp_path}",
        "--conf",
        "squall.worker.heartbeat.timeout.secs=5",
    )
    kids = p.workers(2)
    p.wait_line("is active")
    victim = kids[1]
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        i = p.wait_line(f"worker 1 (pid {victim.pid}, tasks source:2, __acker:4) unresponsive for")
        killed = f"worker 1 (pid {victim.pid}, tasks source:2, __acker:4) was killed after"
        # the log line, not a status line quoting the last error (both go to stderr)
        j = p.wait_line(lambda line: killed in line and not line.startswith("[squall"), after=i)
    finally:
        if victim.is_running():
            os.kill(victim.pid, signal.SIGCONT)
    assert "without a heartbeat (squall.worker.heartbeat.timeout.secs=5); restarting it in" in p.lines()[j]
    p.wait_line("worker 1 restarted", after=j)
    p.wait_line(
        lambda line: "source emitted" in line and "source emitted 0/s" not in line,
        stream="err",
        after=len(p.lines("err")),
    )
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]


# -- outcomes: a drain that timed out, --fail-on-errors, the documented exit codes --------------------


def test_a_stop_whose_drain_timed_out_says_what_was_in_flight(tmp_path, squall_cli):
    p = squall_cli(
        "run",
        f"{OUTCOMES}:StuckTrackedTopo",
        "--workers",
        "2",
        "--duration",
        "1",
        "--fail-on-errors",
        "--conf",
        "squall.drain.timeout.secs=0.5",
        "--conf",
        "squall.shutdown.timeout.secs=1",
    )
    code, _out, err = p.finish(timeout=60)
    assert code == 3, err[-3000:]
    m = re.search(
        r"the drain timed out after 0.5s \(squall.drain.timeout.secs\); in flight at the stop: "
        r"([\d,]+) trees pending \(source:1 ([\d,]+)\); ([\d,]+) tuples queued",
        err,
    )
    assert m, err[-3000:]
    assert int(m.group(1).replace(",", "")) == int(m.group(2).replace(",", "")) > 0
    assert "[squall] stopped after" in err
    failing = next(line for line in err.splitlines() if "failing the run (--fail-on-errors)" in line)
    assert "the drain timed out with" in failing
    assert "no final counters from worker(s) 1" in failing  # the stuck worker never said bye


def test_fail_on_errors_fails_a_run_with_user_errors(squall_cli):
    topo = f"{HERE / 'topologies.py'}:FailingTopo"
    code, _out, err = squall_cli("run", topo, "--workers", "2").finish(timeout=60)
    assert code == 0 and "completed after" in err, err[-3000:]
    code, _out, err = squall_cli("run", topo, "--workers", "2", "--fail-on-errors").finish(timeout=60)
    assert code == 3 and "completed after" in err, err[-3000:]
    assert re.search(r"failing the run \(--fail-on-errors\): [\d,]+ error\(s\)", err)


def test_fail_on_errors_fails_a_run_that_gave_up_messages(squall_cli):
    code, _out, err = squall_cli("run", f"{OUTCOMES}:GiveUpTopo", "--workers", "2", "--fail-on-errors").finish(
        timeout=60
    )
    assert code == 3 and "completed after" in err, err[-3000:]
    assert "failing the run (--fail-on-errors): 20 message(s) given up" in err


def test_a_second_ctrl_c_kills_with_status_130(tmp_path, squall_cli):
    p = squall_cli("run", f"{OUTCOMES}:StuckTopo", "--workers", "2", "--conf", f"test.dir={tmp_path}")
    kids = p.workers(2)
    p.wait_line("is active")
    p.send_signal(signal.SIGINT)
    p.wait_line("stopping (SIGINT)")
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=60)
    assert code == 130, err[-3000:]
    assert "killed after" in err
    assert gone(kids) == []


def test_the_readme_exit_codes_are_the_real_ones():
    from squall.local.result import EXIT_CODES, EXIT_PROBLEMS

    readme = (HERE.parents[1] / "README.md").read_text()
    table = readme[readme.index("| exit status |") :].split("\n\n")[0]
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", table, re.M)}
    assert documented == {*EXIT_CODES.values(), 2, EXIT_PROBLEMS}


# -- a restarted worker's counters are kept ------------------------------------------------------------


def log_lines(d, prefix):
    n = 0
    for name in os.listdir(d):
        if name.startswith(prefix):
            with open(os.path.join(d, name)) as f:
                n += len(f.read().split())
    return n


def test_a_restarted_workers_counters_are_kept_and_the_final_counts_are_what_happened(tmp_path):
    """kill -9 the spout's worker mid-run (once its counters were reported): the final acked and
    failed are the acks and fails its spout logged over both incarnations; rates never negative."""
    status = io.StringIO()
    coord = Coordinator(
        f"{OUTCOMES}:CountsTopo",
        {
            "topology.workers": 2,
            "squall.stats.interval.secs": 0.2,
            "test.dir": str(tmp_path),
            "test.n": 2000,
            "test.phase": 1000,
        },
        status_out=status,
        handle_signals=False,
        timeout=120,
    )
    out = {}
    runner = threading.Thread(target=lambda: out.setdefault("r", coord.run()))
    runner.start()
    snaps, snap = [], None
    try:
        while True:  # the first 1,000 trees done, and reported by the spout's worker
            snap = coord.wait_statistics(snap, timeout=1)
            snaps.append(snap)
            spout = snap.tasks[2]
            if spout.acked == 1000 and spout.pending == 0 and spout.replays == 0 and not snap.workers[1].stale:
                break
            assert runner.is_alive() and snap.uptime < 60, snap.to_dict()
        assert (spout.acked, spout.failed) == (log_lines(tmp_path, "acked-"), log_lines(tmp_path, "failed-"))
        os.kill(coord.handles[1].pid, signal.SIGKILL)
        while not (snap.workers[1].incarnation == 1 and snap.workers[1].alive and snap.workers[1].round):
            snap = coord.wait_statistics(snap, timeout=1)
            snaps.append(snap)
            assert runner.is_alive() and snap.uptime < 90, snap.to_dict()
        (tmp_path / "go").touch()  # the second half
    finally:
        runner.join(timeout=120)
    result = out["r"]
    assert result.reason == "completed", result.message
    snaps.append(result.statistics)
    numbers = result.statistics.components["numbers"]
    assert numbers.acked == log_lines(tmp_path, "acked-") == 2000
    assert numbers.failed == log_lines(tmp_path, "failed-") == 200  # every 10th, once
    assert result.statistics.components["check"].errors == 200
    for before, after in itertools.pairwise(snaps):
        for name, c in after.components.items():
            b = before.components[name]
            assert all(getattr(c, k) >= getattr(b, k) for k in ("emitted", "executed", "acked", "failed")), name
    rates = [line.split(" | errors")[0] for line in status.getvalue().splitlines() if line.startswith("[squall")]
    assert rates and not [line for line in rates if re.search(r"(?<![\w-])-\d", line)]  # e.g. "-2.7M/s"


# -- resource exhaustion: one clear message and a hint, exit 1 -------------------------------------


def run_with_open_files_limit(limit, *args, timeout=60):
    """``squall run ARGS`` in a shell whose open-files limit (soft and hard) is ``limit``."""
    cmd = f"ulimit -n {limit} && exec {shlex.quote(sys.executable)} -m squall.cli run " + " ".join(
        shlex.quote(str(a)) for a in args
    )
    p = subprocess.run(
        ["bash", "-c", cmd], check=False, capture_output=True, text=True, timeout=timeout, cwd=HERE.parents[1]
    )
    return p.returncode, p.stdout + p.stderr


def test_too_many_workers_for_the_open_files_limit_are_refused_with_a_hint():
    code, out = run_with_open_files_limit(24, f"{HERE / 'topologies.py'}:ParGtWorkersTopo", "--workers", "8")
    assert code == 1, out
    assert "8 worker(s) need about 35 open files per process, and the limit is 24 (ulimit -n)" in out
    assert "run fewer workers (--workers 4 fits)" in out
    assert "Traceback" not in out and "completed" not in out


def test_a_worker_out_of_open_files_ends_the_run_with_one_message(tmp_path):
    code, out = run_with_open_files_limit(
        24,
        f"{OUTCOMES}:HogTopo",
        "--workers",
        "2",
        "--duration",
        "5",
        "--conf",
        "test.hog=12",
        "--conf",
        f"test.dir={tmp_path}",
    )
    assert code == 1, out
    assert re.search(r"worker 0 \(tasks hog:1, __acker:3\): out of resources while .*\(Too many open files\)", out)
    assert "the limit is 24 (ulimit -n)" in out and "run fewer workers" in out
    assert "Traceback" not in out and "completed" not in out and "restarting" not in out
