"""Multilang subprocess components (ShellBolt / ShellSpout) with real subprocesses: pystorm (Python),
a Node.js bolt written from the protocol, a storm.py-like component with storm.py's quirks."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import multilang_topologies as M
import pytest

from squall import InvalidTopologyError, ShellBolt, Topology
from squall.testing import complete_topology, read_tuples, run_topology

# Node.js and npm come from scripts/test.sh (Debian's nodejs and npm), pystorm with the `streamparse`
# extra that the `test` extra includes: a missing one fails these tests, it does not skip them.
assert shutil.which("node"), "these tests need Node.js (node) on PATH: apt-get install nodejs"
assert importlib.util.find_spec("pystorm"), "these tests need pystorm: pip install 'squall[streamparse]'"


def needs_pystorm(test):
    """Marks a test whose components are pystorm scripts (all of its needs are checked above)."""
    return test


NODE_DIR = Path(__file__).resolve().parent / "multilang" / "node"


@pytest.fixture(scope="module")
def node_storm():
    """node-storm (npm), installed from multilang/node/package-lock.json (``npm ci``) unless it is there."""
    if not (NODE_DIR / "node_modules" / "node-storm").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "installing node-storm needs npm: apt-get install npm"
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"npm ci could not install node-storm:\n{done.stderr}"


def final_counts(res):
    out = {}
    for word, count in read_tuples(res, "last"):
        out[word] = max(out.get(word, 0), count)
    return out


def stats(res, component):
    return [st for st in res.tasks.values() if st["component"] == component]


@needs_pystorm
def test_python_and_node_bolts_exact_counts(workers):
    res = complete_topology(M.PythonAndNode, workers=workers, timeout=90, strict=True)
    assert final_counts(res) == M.expected_counts()
    (spout,) = stats(res, "sentences")
    assert spout["acked"] == M.N_SENTENCES and spout["failed"] == 0 and spout["pending"] == 0
    assert sum(st["executed"] for st in stats(res, "split")) == M.N_SENTENCES
    assert sum(st["executed"] for st in stats(res, "count")) == sum(M.expected_counts().values())


@needs_pystorm
def test_node_storm_bolt_with_a_pystorm_bolt(node_storm, workers):
    """The count bolt written with node-storm (npm), after a pystorm split bolt: exact counts."""
    res = complete_topology(M.NodeStorm, workers=workers, timeout=90, strict=True)
    assert final_counts(res) == M.expected_counts()


def test_tuples_inside_a_subprocess_are_in_flight(workers):
    """The Node.js bolt holds each tuple 20 ms: the run must not be declared complete meanwhile."""
    res = complete_topology(M.InFlight, workers=workers, timeout=90, strict=True)
    assert Counter(read_tuples(res, "last")) == Counter(
        (M.SENTENCES[i % len(M.SENTENCES)],) for i in range(M.N_SENTENCES)
    )


@needs_pystorm
def test_tricky_strings_pass_intact(workers):
    res = complete_topology(M.Tricky, workers=workers, timeout=90, strict=True)
    assert sorted(read_tuples(res, "last"), key=lambda v: v[1]) == [(s, i) for i, s in enumerate(M.TRICKY)]


@needs_pystorm
def test_killed_subprocess_tuples_replayed_and_restarted(tmp_path, workers):
    """The first split subprocess to reach its 20th tuple kills itself (SIGKILL) mid-stream."""
    conf = {"test.pid_dir": str(tmp_path), "test.kill_after": 20}
    res = complete_topology(M.PythonAndNode, workers=workers, conf=conf, timeout=90)
    assert (tmp_path / "killed").exists()
    (spout,) = stats(res, "sentences")
    assert spout["acked"] == M.N_SENTENCES and spout["pending"] == 0  # nothing lost
    assert spout["failed"] >= 1  # the tuples it held failed, and were replayed
    counts = final_counts(res)
    expected = M.expected_counts()
    assert set(counts) == set(expected)
    assert all(counts[w] >= expected[w] for w in expected)  # at least once: replays may count twice
    (err,) = [e for e in res.errors if e["component"] == "split"]
    assert "component 'split'" in err["error"] and "killed by signal 9" in err["error"]
    started = [p for p in tmp_path.iterdir() if p.name.startswith("split-")]
    assert len(started) == 3  # 2 tasks + 1 restarted


def test_junk_on_stdout_is_a_clear_error(workers):
    res = run_topology(M.Junk, workers=workers, conf={"test.n": 5}, duration=3)
    errors = [e for e in res.errors if e["component"] == "junk"]
    assert errors
    text = errors[0]["error"]
    assert "component 'junk'" in text and "junk.py" in text
    assert "not a multilang message on stdout" in text and "hello world" in text


def test_storm_py_quirks_spout_and_bolt():
    """A ShellSpout and ShellBolts written like storm.py: they wait for task ids after every emit,
    and send their pid before creating the pid file."""
    res = run_topology(M.StormPyLike, duration=4, capture=True)
    assert Counter(read_tuples(res, "last")) == Counter(
        (w,) for i in range(30) for w in M.STORMPY_SENTENCES[i % len(M.STORMPY_SENTENCES)].split()
    )
    (spout,) = stats(res, "sentences")
    assert spout["acked"] == 30 and spout["failed"] == 0


def test_missing_script_is_refused_naming_component_and_file(tmp_path):
    with pytest.raises(InvalidTopologyError) as info:

        class Missing(Topology):
            sentences = M.Sentences.spec()
            split = ShellBolt.spec(command="python3", script="nope.py", inputs=[sentences], base_dir=str(tmp_path))

    text = str(info.value)
    assert "split" in text and "nope.py" in text and str(tmp_path / "resources" / "nope.py") in text


def test_script_found_in_resources_first(tmp_path):
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "s.py").write_text("")
    (tmp_path / "s.py").write_text("")
    spec = ShellBolt.spec(command="python3", script="s.py", base_dir=str(tmp_path))
    assert spec.component_cls.script_path == str(tmp_path / "resources" / "s.py")
    assert spec.component_cls.cwd == str(tmp_path / "resources")
    os.remove(tmp_path / "resources" / "s.py")
    spec = ShellBolt.spec(command="python3", script="s.py", base_dir=str(tmp_path))
    assert spec.component_cls.script_path == str(tmp_path / "s.py")
    assert spec.component_cls.argv() == ["python3", str(tmp_path / "s.py")]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(cond, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def split_pids(folder):
    return {int(p.name.split("-")[2]) for p in folder.iterdir() if p.name.startswith("split-")}


@needs_pystorm
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_no_orphans_after_kill_9_of_the_worker_nor_after_the_stop(squall_cli, tmp_path):
    topo = f"{Path(M.__file__)}:PythonAndNode"
    p = squall_cli(
        "run",
        topo,
        "--workers",
        "1",
        "--duration",
        "60",
        "--no-ui",
        "--conf",
        f"test.pid_dir={tmp_path}",
        "--conf",
        "test.n=100000000",
    )
    wait_for(lambda: len(split_pids(tmp_path)) >= 2, 60, "the split subprocesses")
    first = split_pids(tmp_path)
    worker = {int(Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[1]) for pid in first}
    assert len(worker) == 1
    os.kill(worker.pop(), signal.SIGKILL)
    wait_for(lambda: not any(alive(pid) for pid in first), 30, "the subprocesses of the killed worker to die")
    wait_for(lambda: len(split_pids(tmp_path) - first) >= 2, 60, "the restarted worker's subprocesses")
    second = split_pids(tmp_path) - first
    p.send_signal(signal.SIGTERM)
    p.finish(60)
    wait_for(lambda: not any(alive(pid) for pid in second), 30, "the subprocesses to end with the run")


def sentence_words(n):
    return Counter((w,) for i in range(n) for w in M.SENTENCES[i % len(M.SENTENCES)].split())


def test_named_streams_direct_emits_log_error_metrics(workers):
    res = complete_topology(M.Features, workers=workers, conf={"test.n": 20}, timeout=90)
    assert Counter(read_tuples(res, "last")) == sentence_words(20)
    direct = read_tuples(res, "direct_sink")
    sink_tasks = sorted(t for t, st in res.tasks.items() if st["component"] == "direct_sink")
    assert sorted(n for n, _task in direct) == sorted(len(M.SENTENCES[i % 5].split()) for i in range(20))
    assert {task for _n, task in direct} == {sink_tasks[0]}  # the first direct_sink task, as emitted
    reported = [e for e in res.errors if e["component"] == "split"]
    assert reported and "a reported error (not a crash)" in reported[0]["error"]


def test_a_hung_subprocess_is_killed_after_the_timeout_and_restarted(tmp_path):
    conf = {"test.pid_dir": str(tmp_path), "test.n": 20, "topology.subprocess.timeout.secs": 1}
    res = complete_topology(M.Hang, conf=conf, timeout=90)
    assert (tmp_path / "hung").exists()
    assert Counter(read_tuples(res, "last")) >= sentence_words(20)  # replayed: at least once
    (spout,) = stats(res, "sentences")
    assert spout["acked"] == 20 and spout["failed"] >= 1
    (err,) = [e for e in res.errors if e["component"] == "split"]
    assert "did not answer for 1s (topology.subprocess.timeout.secs)" in err["error"]


@needs_pystorm
def test_the_example_counts_exactly():
    """examples/multilang/topology.py (the README's ShellBolt section), found through its resources/ folder."""
    from squall.topology.loader import load_topology

    path = Path(__file__).resolve().parents[2] / "examples" / "multilang" / "topology.py"
    topo = load_topology(str(path))
    sentences = sys.modules[topo.__module__].SENTENCES
    res = complete_topology(topo, timeout=90, strict=True)
    final = {}
    for word, count in read_tuples(res, "last"):
        final[word] = max(final.get(word, 0), count)
    assert final == dict(Counter(w for s in sentences for w in s.split()))


@needs_pystorm
def test_pystorm_spout_as_a_subprocess(workers):
    res = run_topology(M.PystormSpout, workers=workers, duration=5, capture=True)
    assert final_counts(res) == {"dog": 100, "cat": 100, "zebra": 100, "elephant": 100}
    (spout,) = stats(res, "words")
    assert spout["acked"] == 400 and spout["failed"] == 0


def test_unknown_command_is_refused(tmp_path):
    (tmp_path / "s.py").write_text("")
    with pytest.raises(InvalidTopologyError, match="command 'nosuchprogram' is not found on PATH"):

        class NoCommand(Topology):
            sentences = M.Sentences.spec()
            split = ShellBolt.spec(command="nosuchprogram", script="s.py", inputs=[sentences], base_dir=str(tmp_path))


@needs_pystorm
def test_tick_tuples_reach_process_tick():
    res = run_topology(M.Ticks, duration=2.5, capture=True)
    ticks = read_tuples(res, "last")
    assert len(ticks) >= 3 and {freq for _task, freq in ticks} == {0.2}


def test_storm_js_like_spout_that_never_answers_activate(workers):
    res = run_topology(M.NodeSpout, workers=workers, duration=5, capture=True)
    assert final_counts(res) == {"dog": 100, "cat": 100, "zebra": 100, "elephant": 100}
    (spout,) = stats(res, "words")
    assert spout["acked"] == 400 and spout["failed"] == 0
