"""squall list/stats/activate/deactivate/kill/tail/sample/visualize from another process, against a running
topology's REST API (the run and the commands share a temporary $XDG_RUNTIME_DIR, so other runs stay unseen)."""

import json
import re
import time
from pathlib import Path

import pytest
from cli_process import squall, until

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONTROL = f"{HERE / 'control_topologies.py'}:ControlTopo"
WORDCOUNT = ROOT / "examples" / "wordcount" / "topology.py"


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path, monkeypatch):
    """A registry of this test's own: the run and every command (children inherit the environment) use it."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def listed():
    code, out, err = squall("list", "--json")
    assert code == 0, err
    return json.loads(out)


def start(squall_cli, topology=CONTROL, *extra):
    """``squall run TOPOLOGY --ui-port 0`` in a child; returns it and its ``squall list`` row once it is ACTIVE."""
    p = squall_cli("run", topology, "--workers", "2", "--ui-port", "0", *extra)
    p.wait_line("UI: http", timeout=60)
    row = until(
        lambda: next((r for r in listed() if r["pid"] == p.pid and r.get("status") == "ACTIVE"), None),
        what="the run listed as ACTIVE",
    )
    return p, row


def table_row(out, first):
    """The cells of the table row whose first cell is ``first``."""
    for line in out.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{out}")


def number(cell):
    return int(cell.replace(",", ""))


def test_list_stats_kill(squall_cli):
    assert squall("list") == (0, "no running topologies\n", "")
    p, row = start(squall_cli)
    assert row["name"] == "ControlTopo" and row["workersTotal"] == 2 and row["url"].startswith("http://127.0.0.1:")

    code, out, err = squall("list")
    assert code == 0, err
    cells = table_row(out, "ControlTopo")
    assert cells[1] == row["id"] and cells[2] == "ACTIVE" and cells[-1] == row["url"]

    def spout_emitted():
        code, out, err = squall("stats", "ControlTopo", "--window", "60")
        assert code == 0, err
        return number(table_row(out, "words")[3]) > 0 and out

    out = until(spout_emitted, what="emitted words in squall stats")
    assert out.startswith(f"topology ControlTopo (id {row['id']}): ACTIVE")
    bolt = table_row(out, "count")
    assert bolt[1:3] == ["2", "2"]  # executors, tasks
    assert "Workers" in out

    code, out, err = squall("stats", "-n", row["id"], "--component", "count", "--window", "all")
    assert code == 0, err
    assert out.startswith("bolt count of topology ControlTopo")
    assert table_row(out, "[1-1]") and table_row(out, "[2-2]")

    # Storm's kill: spouts deactivated at once (the run shows KILLED), stopped --wait seconds later
    began = time.monotonic()
    killing = squall_cli("kill", "ControlTopo", "--wait", "2")
    killing.wait_line("spouts deactivated, stop in 2 s", timeout=30)
    assert listed()[0]["status"] == "KILLED"
    code, out, err = killing.finish(timeout=60)
    assert code == 0, err
    assert time.monotonic() - began >= 2
    assert f"topology ControlTopo (id {row['id']}) killed" in out
    assert p.proc.poll() is not None  # gone already: kill waited for it
    code, _, err = p.finish(timeout=30)
    assert code == 0, err[-2000:]
    assert "stopped after" in err
    assert squall("list") == (0, "no running topologies\n", "")
    code, _, err = squall("kill", "ControlTopo")
    assert code == 1 and "no running topology named 'ControlTopo'" in err
    code, _, err = squall("kill", "ControlTopo", "-n", "other")
    assert code == 2 and "two names given" in err
    code, _, err = squall("kill")
    assert code == 2 and "name the topology" in err


def test_deactivate_activate_and_a_wrong_token(squall_cli, runtime_dir):
    p, row = start(squall_cli)
    code, out, err = squall("deactivate", "-n", "ControlTopo")
    assert code == 0, err
    assert out == f"topology ControlTopo (id {row['id']}): deactivated\n"
    until(lambda: listed()[0]["status"] == "INACTIVE", what="INACTIVE")

    # a registry file whose token is not the run's: refused, nothing changes
    path = runtime_dir / "squall" / f"{row['id']}.json"
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "token": "not-the-token"}))
    code, _, err = squall("activate", "ControlTopo")
    assert code == 1 and "403" in err and "did not match" in err, err
    assert listed()[0]["status"] == "INACTIVE"
    path.write_text(json.dumps(entry))

    code, out, err = squall("activate", "ControlTopo")
    assert code == 0, err
    until(lambda: listed()[0]["status"] == "ACTIVE", what="ACTIVE again")
    assert p.proc.poll() is None

    # rebalance is for a topology on a Ray cluster: a clear refusal here, and the run goes on
    code, _, err = squall("rebalance", "ControlTopo", "--workers", "3")
    assert code == 1 and "submitted to a Ray cluster" in err, err
    assert p.proc.poll() is None and listed()[0]["status"] == "ACTIVE"


def test_two_runs_of_one_topology_are_named_by_id(squall_cli):
    p1, r1 = start(squall_cli)
    p2, r2 = start(squall_cli)  # ids are NAME-START_SECOND-RANDOM: the same second still gives another id
    assert r1["id"] != r2["id"]
    code, _, err = squall("stats", "ControlTopo")
    assert code == 1
    assert f"2 running topologies are named 'ControlTopo': name one by its id: {r1['id']}, {r2['id']}" in err
    code, out, err = squall("stats")  # no name: every run
    assert code == 0, err
    assert f"topology ControlTopo (id {r1['id']})" in out and f"topology ControlTopo (id {r2['id']})" in out
    code, out, err = squall("stats", "--json")
    assert code == 0, err
    assert [t["id"] for t in json.loads(out)] == [r1["id"], r2["id"]]
    code, _, err = squall("kill", r2["id"])
    assert code == 0, err
    assert p2.finish(timeout=30)[0] == 0
    assert [r["id"] for r in listed()] == [r1["id"]]
    assert p1.proc.poll() is None


def test_tail_and_follow(squall_cli):
    p, _row = start(squall_cli)

    def logged():
        code, out, err = squall("tail", "ControlTopo", "--pattern", r"spout emitted \d+ words")
        assert code == 0, err
        return out

    out = until(logged, what="a spout log line")
    assert all(re.search(r"^\[worker \d\] .*spout emitted \d+ words", line) for line in out.splitlines()), out
    follow = squall_cli(
        "tail", "-n", "ControlTopo", "--follow", "--lines", "0", "--worker", "0", "--pattern", "emitted"
    )
    follow.wait_line(lambda line: "spout emitted" in line or "count" in line, stream="out", timeout=60)
    code, _, err = squall("kill", "ControlTopo")
    assert code == 0, err
    code, out, err = follow.finish(timeout=30)
    assert code == 0 and "ended" in err, err
    assert not any(line.startswith("[worker") for line in out.splitlines())  # --worker: no prefix
    p.finish(timeout=30)
    code, _, err = squall("tail", "ControlTopo", "--pattern", "(")
    assert code == 2 and "not a regular expression" in err


def test_sample(squall_cli):
    p, _row = start(squall_cli)
    code, out, err = squall("sample", "ControlTopo", "--component", "words", "--secs", "5", "--count", "5")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 5, err
    assert all(re.search(r"words:\d+  default  \[\"(dog|cat|zebra|elephant)\"\]$", line) for line in lines), lines
    code, _, err = squall("sample", "ControlTopo", "-c", "nope", "--secs", "1")
    assert code == 1 and "404" in err
    # a kill that does not end within --timeout is an error (exit 1); the run still stops after its wait
    code, _, err = squall("kill", "ControlTopo", "--wait", "2", "--timeout", "0.5")
    assert code == 1 and "did not end within 0.5 s" in err, err
    assert p.finish(timeout=60)[0] == 0


def test_visualize_svg(tmp_path):  # Graphviz's dot comes from scripts/test.sh
    out = tmp_path / "wordcount.svg"
    code, _, err = squall("visualize", WORDCOUNT, "-o", out)
    assert code == 0, err
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ">word_spout<" in svg and ">count_bolt<" in svg and ">default · fields(word)<" in svg
