"""The pure parts of squall list/stats/kill...: naming a run in the registry, the REST client's errors, tables."""

import os
import socket
import subprocess
import sys
import time

import pytest

from squall.errors import SquallError
from squall.ui import registry, terminal
from squall.ui.client import (
    AmbiguousTopologyError,
    Client,
    TopologyNotFoundError,
    UnreachableError,
    process_gone,
    resolve,
    wait_gone,
)


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def entry(id_, name, started=1.0, pid=None):
    e = registry.Entry(id_, name, pid or os.getpid(), "http://127.0.0.1:1", "tok", started)
    registry.register(e)
    return e


def test_resolve_by_name_or_id(runtime_dir):
    a = entry("wordcount-100", "wordcount", 100.0)
    b = entry("other-200", "other", 200.0)
    assert resolve("wordcount") == a
    assert resolve("other-200") == b
    with pytest.raises(
        AmbiguousTopologyError, match=r"2 topologies are running: name one .*wordcount \(id wordcount-100\)"
    ):
        resolve(None)


def test_resolve_ambiguous_name_lists_the_ids(runtime_dir):
    entry("wordcount-100", "wordcount", 100.0)
    entry("wordcount-101", "wordcount", 101.0)
    with pytest.raises(
        AmbiguousTopologyError, match="named 'wordcount': name one by its id: wordcount-100, wordcount-101"
    ):
        resolve("wordcount")
    assert resolve("wordcount-101").id == "wordcount-101"


def test_resolve_unknown_name_says_what_runs(runtime_dir):
    with pytest.raises(TopologyNotFoundError, match="no running topologies"):
        resolve(None)
    with pytest.raises(TopologyNotFoundError, match="no running topology named 'nope' \\(none is running"):
        resolve("nope")
    entry("wordcount-100", "wordcount")
    with pytest.raises(TopologyNotFoundError, match=r"running: wordcount \(id wordcount-100\)"):
        resolve("nope")
    assert issubclass(TopologyNotFoundError, SquallError)


def test_a_dead_run_is_not_found(runtime_dir):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    entry("gone-1", "gone", pid=child.pid)
    with pytest.raises(TopologyNotFoundError):
        resolve("gone")


def test_unreachable_api_is_an_actionable_error():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UnreachableError, match=f"127.0.0.1:{port} does not answer .*squall list"):
        Client(f"http://127.0.0.1:{port}", timeout=2).topology_summary()


def test_run_without_ui_has_no_client():
    e = registry.Entry("t-1", "t", os.getpid(), "", "", 1.0)
    with pytest.raises(UnreachableError, match="--no-ui"):
        Client.of(e)


def test_process_gone_counts_a_zombie_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while not process_gone(child.pid):  # exited but not reaped: a zombie
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert child.poll() == 0  # reaped now
    assert process_gone(child.pid)
    assert not process_gone(os.getpid())
    assert not wait_gone(os.getpid(), 0.05)


def test_table_aligns_numbers_right_text_left():
    lines = terminal.table(
        terminal.SPOUT_COLUMNS[:5],
        [
            {"spoutId": "word_spout", "executors": 1, "tasks": 1, "emitted": 1234567, "transferred": 0},
            {"spoutId": "s", "executors": 2, "tasks": 2, "emitted": None},
        ],
    )
    assert lines[0] == "SPOUT       EXECUTORS  TASKS    EMITTED  TRANSFERRED"
    assert lines[1].startswith("----------  ---------")
    assert lines[2] == "word_spout          1      1  1,234,567            0"
    assert lines[3] == "s                   2      2          -            -"


def test_formatters():
    assert terminal.duration(3 * 86400 + 3723) == "3d 1h 2m 3s"
    assert terminal.duration(45) == "45s"
    assert terminal.decimal(1.23456) == "1.235"
    assert terminal.count(True) == "-"
    assert terminal.size(12_345_678) == "12.3 MB"


def test_list_lines():
    assert terminal.list_lines([]) == ["no running topologies"]
    rows = [
        {
            "name": "wordcount",
            "id": "wordcount-1",
            "status": "ACTIVE",
            "uptimeSeconds": 65,
            "workersTotal": 2,
            "tasksTotal": 5,
            "url": "http://127.0.0.1:8080",
        },
        {"name": "other", "id": "other-2", "status": "UNREACHABLE", "uptimeSeconds": 3, "url": "http://127.0.0.1:8081"},
    ]
    lines = terminal.list_lines(rows)
    assert lines[0].split() == ["NAME", "ID", "STATUS", "UPTIME", "WORKERS", "TASKS", "UI"]
    assert lines[2].split() == ["wordcount", "wordcount-1", "ACTIVE", "1m", "5s", "2", "5", "http://127.0.0.1:8080"]
    assert lines[3].split() == ["other", "other-2", "UNREACHABLE", "3s", "-", "-", "http://127.0.0.1:8081"]


TOPOLOGY = {
    "id": "WordCount-1",
    "name": "WordCount",
    "status": "ACTIVE",
    "uptimeSeconds": 12,
    "workersTotal": 2,
    "executorsTotal": 3,
    "tasksTotal": 5,
    "window": "600",
    "topologyStats": [
        {
            "window": "600",
            "windowPretty": "10m 0s",
            "emitted": 2000,
            "transferred": 2000,
            "acked": 0,
            "failed": 0,
            "completeLatency": 0.0,
        },
    ],
    "spouts": [
        {
            "spoutId": "word_spout",
            "executors": 1,
            "tasks": 1,
            "emitted": 1000,
            "transferred": 1000,
            "acked": 0,
            "failed": 0,
            "completeLatency": 0.0,
            "errorCount": 0,
            "lastError": "",
        },
    ],
    "bolts": [
        {
            "boltId": "count_bolt",
            "executors": 2,
            "tasks": 2,
            "emitted": 1000,
            "transferred": 1000,
            "executed": 1000,
            "acked": 990,
            "failed": 10,
            "executeLatency": 0.0123,
            "processLatency": 0.5,
            "capacity": 0.9876,
            "errorCount": 1,
            "lastError": "ValueError: bad",
        },
    ],
}


def test_topology_lines():
    lines = terminal.topology_lines(
        TOPOLOGY,
        [
            {
                "index": 0,
                "pid": 42,
                "host": "h",
                "uptimeSeconds": 12,
                "rss": 5e7,
                "peakRss": 6e7,
                "tasks": [{"task": 1, "component": "count"}, {"task": 3, "component": "words"}],
                "restarts": 0,
                "alive": True,
            }
        ],
    )
    text = "\n".join(lines)
    assert lines[0] == (
        "topology WordCount (id WordCount-1): ACTIVE, uptime 12s, 2 worker(s), 3 executor(s), 5 task(s); "
        "window: last 10 min"
    )
    spouts = lines.index("Spouts")
    assert lines[spouts + 1].split()[:4] == ["SPOUT", "EXECUTORS", "TASKS", "EMITTED"]
    assert lines[spouts + 3].split()[:5] == ["word_spout", "1", "1", "1,000", "1,000"]
    bolt = lines[lines.index("Bolts") + 3]
    assert bolt.split()[:9] == ["count_bolt", "2", "2", "1,000", "1,000", "0.988", "0.012", "1,000", "0.500"]
    assert bolt.endswith("ValueError: bad")
    worker = lines[lines.index("Workers") + 3]
    assert worker.split() == ["0", "42", "h", "12s", "50.0", "MB", "60.0", "MB", "0", "yes", "count:1", "words:3"]
    assert "Workers" in lines and "count:1 words:3" in text


def test_topology_lines_without_components():
    lines = terminal.topology_lines({"name": "t", "window": ":all-time"})
    assert lines[0].endswith("window: all time")
    assert lines.count("(none)") == 3 and "Workers" not in lines


def test_component_lines_executors_and_errors():
    info = {
        "id": "count_bolt",
        "name": "WordCount",
        "topologyId": "WordCount-1",
        "componentType": "bolt",
        "executors": 2,
        "tasks": 2,
        "window": "60",
        "boltStats": [{"windowPretty": "1m 0s", "executed": 10}],
        "executorStats": [
            {"id": "[1-1]", "task": 1, "worker": 0, "host": "h", "uptimeSeconds": 5, "executed": 6, "capacity": 0.5},
            {"id": "[2-2]", "task": 2, "worker": 1, "host": "h", "uptimeSeconds": 5, "executed": 4, "capacity": 0.25},
        ],
        "outputStats": [{"stream": "default", "emitted": 10, "transferred": 10}],
        "inputStats": [
            {"component": "word_spout", "stream": "default", "grouping": {"type": "fields", "fields": ["word"]}}
        ],
        "componentErrors": [
            {
                "time": 0.0,
                "task": 2,
                "worker": 1,
                "error": "Traceback...\nValueError: bad",
                "traceback": "Traceback (most recent call last):\n  ...\nValueError: bad",
            }
        ],
    }
    lines = terminal.component_lines(info)
    assert lines[0].startswith("bolt count_bolt of topology WordCount (id WordCount-1): 2 executor(s)")
    ex = lines.index("Executors (tasks)")
    assert lines[ex + 1].split()[:4] == ["EXECUTOR", "WORKER", "HOST", "UPTIME"]
    assert lines[ex + 3].split()[:7] == ["[1-1]", "0", "h", "5s", "-", "-", "0.500"]
    assert "fields(word)" in lines[lines.index("Inputs") + 3]
    err = lines[lines.index("Errors") + 1]
    assert err.endswith("task 2  worker 1: ValueError: bad")
    with_tb = terminal.component_lines(info, traceback=True)
    assert "    Traceback (most recent call last):" in with_tb
