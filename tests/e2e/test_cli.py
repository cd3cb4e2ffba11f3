"""`squall run` as a user runs it: real processes, signals, dead workers, bad topologies."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from cli_process import gone

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORDCOUNT = ROOT / "examples" / "wordcount" / "topology.py"
FOREVER = f"{HERE / 'topologies.py'}:ForeverTopo"


def tag_rate(line):
    """The bolt's rate on a status line ('... | tag executed 871/s | ...'), or None on another line."""
    m = re.search(r"\btag executed ([\d.,]+)([kM]?)/s", line)
    return float(m.group(1).replace(",", "")) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)] if m else None


def flowing(line):
    """A status line on which the bolt executes tuples."""
    rate = tag_rate(line)
    return rate is not None and rate > 0


def test_wordcount_runs_with_status_lines_and_logs_on_stderr(squall_cli):
    p = squall_cli("run", WORDCOUNT, "--workers", "2", "--duration", "3", "--stats-interval", "1")
    code, out, err = p.finish(timeout=60)
    assert code == 0, err[-2000:]
    assert out == ""  # status lines, logs and the summary all on stderr: redirecting it keeps them together
    status = [line for line in err.splitlines() if line.startswith("[squall ")]
    assert status, err[-2000:]
    # rates with running totals, in one component order
    total = r"[\d,.]+[kM]?"
    assert all(
        re.search(rf"\] word_spout emitted {total}/s \({total}\) \| count_bolt executed {total}/s \({total}\) \|", line)
        for line in status
    ), status
    assert "starting topology WordCount: 2 worker(s), 3 task(s) + 2 acker(s)" in err
    assert re.search(r"count_bolt:1 pid=\d+ \| counted \[[\d,]+\] words \[pid=\d+\]", err)
    assert re.search(r"count_bolt:2 pid=\d+ \| counted \[[\d,]+\] words \[pid=\d+\]", err)  # component:task, pid
    assert "stopped after" in err
    # The bolt logs ~400 lines/s per task: after the first 5 of each task, similar lines are collapsed
    # (one every 5 s, more than this run lasts) and what was suppressed is counted when the worker exits.
    for task in (1, 2):
        logged = re.findall(rf"count_bolt:{task} pid=\d+ \| counted ", err)
        assert 5 <= len(logged) <= 6, err[-3000:]
        assert re.search(rf"count_bolt:{task} pid=\d+ \| \(similar lines collapsed from here on", err)
        suppressed = re.findall(rf"count_bolt:{task} pid=\d+ \| \.\.\. ([\d,]+) similar line\(s\) suppressed", err)
        assert suppressed and sum(int(n.replace(",", "")) for n in suppressed) > 100, err[-3000:]


def test_log_collapsing_can_be_turned_off(squall_cli):
    p = squall_cli("run", WORDCOUNT, "--workers", "1", "--duration", "2", "--conf", "squall.log.collapse.secs=0")
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-2000:]
    assert len(re.findall(r"count_bolt:\d pid=\d+ \| counted ", err)) > 100
    assert "suppressed" not in err and "collapsed" not in err


def test_invalid_topology_refused_before_start(tmp_path, squall_cli):
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
    code, _out, err = squall_cli("run", bad).finish(timeout=30)
    assert code == 2
    assert "3 problem(s)" in err
    assert "component 'bolt'" in err and "did you mean 'word'?" in err
    assert "par=0 is invalid" in err
    assert "unknown input component 'spuot'" in err and "did you mean 'spout'?" in err
    assert "starting topology" not in err


def test_finite_topology_exits_zero_by_itself(squall_cli):
    p = squall_cli("run", f"{HERE / 'topologies.py'}:ParGtWorkersTopo", "--workers", "2")
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-2000:]
    assert "completed after" in err
    assert "count: emitted 2,000 executed 2,000" in err


def test_ctrl_c_stops_cleanly_without_orphans(squall_cli):
    p = squall_cli("run", FOREVER, "--workers", "2", "--stats-interval", "0.5", "--conf", "squall.drain.timeout.secs=5")
    kids = p.workers(2)
    p.wait_line(flowing)  # running, tuples in flight
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=30)
    assert code == 0, err[-2000:]
    assert "stopping (SIGINT)" in err and "stopped after" in err
    assert gone(kids) == []


def test_sigterm_stops_cleanly(squall_cli):
    p = squall_cli("run", FOREVER, "--workers", "2")
    p.workers(2)
    p.wait_line("is active")
    p.send_signal(signal.SIGTERM)
    code, _out, err = p.finish(timeout=30)
    assert code == 0, err[-2000:]
    assert "stopping (SIGTERM)" in err and "stopped after" in err


def test_dead_worker_is_reported_and_restarted(squall_cli):
    p = squall_cli("run", FOREVER, "--workers", "2", "--stats-interval", "0.5")
    kids = p.workers(2)
    p.wait_line(flowing)
    victim = kids[1]
    os.kill(victim.pid, signal.SIGKILL)
    i = p.wait_line(f"(pid {victim.pid}, tasks ")
    died = p.lines()[i]
    m = re.search(rf"worker (\d) \(pid {victim.pid}, tasks ([^)]+)\) died: killed by SIGKILL", died)
    assert m, died
    hosted = {t.split(":")[0] for t in m.group(2).split(", ")}  # e.g. "tag:2, __acker:5"
    assert hosted & {"numbers", "tag"} and hosted <= {"numbers", "tag", "__acker"}, died
    assert "restarting it in" in died
    j = p.wait_line(f"worker {m.group(1)} restarted", after=i)
    # After the restart, a new status line shows the bolt executing.
    p.wait_line(flowing, after=j)
    p.send_signal(signal.SIGINT)
    code, _out, err = p.finish(timeout=30)
    assert code == 0, err[-3000:]
    assert "stopping (SIGINT)" in err


def test_dead_worker_fails_the_run_when_restarts_are_off(squall_cli):
    p = squall_cli("run", FOREVER, "--workers", "2", "--conf", "squall.worker.restart=false")
    kids = p.workers(2)
    p.wait_line("is active")
    os.kill(kids[0].pid, signal.SIGKILL)
    code, _out, err = p.finish(timeout=30)
    assert code == 1
    assert re.search(rf"worker \d \(pid {kids[0].pid}, tasks [^)]+\) died: killed by SIGKILL", err), err[-2000:]


def test_coordinator_killed_leaves_no_orphans(squall_cli):
    p = squall_cli("run", WORDCOUNT, "--workers", "2")
    kids = p.workers(2)
    p.wait_line("is active")
    p.kill()
    p.finish(timeout=10)
    assert gone(kids) == []


def test_describe_prints_the_topology_as_json():
    p = subprocess.run(
        [sys.executable, "-m", "squall.cli", "describe", str(WORDCOUNT)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["name"] == "WordCount"
    comps = {c["name"]: c for c in d["components"]}
    assert list(comps) == ["word_spout", "count_bolt"]
    assert (comps["word_spout"]["type"], comps["word_spout"]["par"]) == ("spout", 1)
    assert comps["word_spout"]["outputs"]["default"]["fields"] == ["word"]
    assert (comps["count_bolt"]["type"], comps["count_bolt"]["par"]) == ("bolt", 2)
    assert comps["count_bolt"]["inputs"] == [
        {"component": "word_spout", "stream": "default", "grouping": {"type": "fields", "fields": ["word"]}}
    ]


def test_bad_conf_value_is_refused(squall_cli):
    p = squall_cli("run", WORDCOUNT, "--duration", "1", "--conf", "topology.workers=abc")
    code, _out, err = p.finish(timeout=30)
    assert code == 2
    assert "topology.workers='abc'" in err
    assert "starting topology" not in err


def test_initialize_error_refuses_to_start_and_names_the_task(squall_cli):
    p = squall_cli("run", f"{HERE / 'topologies.py'}:BrokenInitTopo", "--workers", "2")
    code, _out, err = p.finish(timeout=60)
    assert code == 1
    assert "failed in initialize: ConnectionError: database is down" in err
    assert "in broken.initialize() (task" in err and "Traceback" in err
