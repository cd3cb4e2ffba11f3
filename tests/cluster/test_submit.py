"""`squall submit` to a Ray cluster, then list, stats, the UI's REST API on the master, deactivate and
activate, and kill (the CLI in subprocesses, as a user runs it, with the cluster's address and Ray's token
in the environment). The word count imports ``words.py`` from its project folder, and its two workers run
on the two nodes: the folder reached both (runtime_env working_dir)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from cluster_helpers import MASTER_ON_HEAD, PROJECTS, squall, until


@pytest.mark.timeout(300)
def test_submit_list_stats_ui_kill(ray_cluster):
    env = {"RAY_ADDRESS": ray_cluster.address}
    done = squall(
        "submit", str(PROJECTS / "wordcount" / "wordcount.py"), "--name", "wc", "--workers", "2",
        "--conf", MASTER_ON_HEAD, "--conf", "test.rate=1000", "--ui-port", "0", "--env", "WC_TAG=from-submit",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    topology_id = done.stdout.strip()
    assert topology_id.startswith("wc-"), done.stdout
    assert "is running on the Ray cluster" in done.stderr
    names = ray_cluster.actors("squall.wc")
    assert names == ["master", "worker-0.0", "worker-1.0"], names
    assert len(set(ray_cluster.worker_nodes("squall.wc").values())) == 2, "SPREAD: one worker per node"

    listed = squall("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [r for r in json.loads(listed.stdout) if r["name"] == "wc"]
    assert len(rows) == 1 and rows[0]["id"] == topology_id and rows[0]["status"] == "ACTIVE", rows

    def emitted():
        got = squall("stats", "wc", "--json", "--window", "all", env=env)
        assert got.returncode == 0, got.stderr
        info = json.loads(got.stdout)
        spouts = {s["spoutId"]: s for s in info["spouts"]}
        bolts = {b["boltId"]: b for b in info["bolts"]}
        assert set(spouts) == {"word_spout"} and set(bolts) == {"count_bolt"}, info
        return spouts["word_spout"]["emitted"], bolts["count_bolt"]["executed"], info

    first = until(lambda: (lambda e: e if e[0] > 0 and e[1] > 0 else None)(emitted()), message="counts > 0")
    later = until(lambda: (lambda e: e if e[0] > first[0] and e[1] > first[1] else None)(emitted()))
    assert later[2]["workers"] and {w["index"] for w in later[2]["workers"]} == {0, 1}

    text = squall("stats", "wc", env=env)
    assert text.returncode == 0 and "word_spout" in text.stdout and "count_bolt" in text.stdout, text.stderr

    master = ray_cluster.ray.get_actor("master", namespace="squall.wc")
    info = ray_cluster.ray.get(master.info.remote())
    url = info["url"]
    assert url.startswith("http://127.0.0.1:"), info
    with urllib.request.urlopen(f"{url}/api/v1/topology/summary", timeout=10) as resp:
        summary = json.loads(resp.read())
    assert summary["topologies"][0]["id"] == topology_id
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        assert b"word_spout" in resp.read()
    with urllib.request.urlopen(f"{url}/api/v1/supervisor/summary", timeout=10) as resp:
        supervisors = json.loads(resp.read())["supervisors"]  # Storm's supervisors: the Ray nodes
    assert len(supervisors) == 2 and [s["slotsTotal"] for s in supervisors] == [1, 1], supervisors

    # the workers' output (log lines and prints) rides in their stats answers: `squall tail` shows it
    def tailed():
        got = squall("tail", "wc", "--lines", "1000", env=env)
        assert got.returncode == 0, got.stderr
        return got.stdout if "counted" in got.stdout and "tag=from-submit" in got.stdout else None

    lines = until(tailed, timeout=60, message="log lines and prints (with --env's variable) in squall tail")
    assert "[worker " in lines

    # one topology per name on a cluster (Storm's rule); an invalid topology never reaches the cluster
    again = squall("submit", str(PROJECTS / "wordcount" / "wordcount.py"), "--name", "wc", env=env)
    assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    bad = squall("submit", str(PROJECTS / "wordcount" / "wordcount.py"), "-c", "topology.message.timeout.secs=x")
    assert bad.returncode == 2 and "topology.message.timeout.secs" in bad.stderr, bad.stderr

    # deactivate: the spout's emitted count stops rising (bolts go on); activate: it rises again
    off = squall("deactivate", "wc", env=env)
    assert off.returncode == 0, off.stderr

    def settled():
        a = emitted()[0]
        time.sleep(2.0)  # two stats rounds: a count still rising would show
        b = emitted()[0]
        return b if a == b else None

    stopped_at = until(settled, timeout=60, every=0.1, message="emitted stops rising after deactivate")
    assert json.loads(squall("stats", "wc", "--json", env=env).stdout)["status"] == "INACTIVE"
    on = squall("activate", "wc", env=env)
    assert on.returncode == 0, on.stderr
    until(lambda: emitted()[0] > stopped_at, message="emitted rises again after activate")

    killed = squall("kill", "wc", env=env)
    assert killed.returncode == 0, killed.stderr
    assert ray_cluster.actors("squall.wc") == []
    gone = squall("list", "--json", env=env)
    assert [r for r in json.loads(gone.stdout) if r["name"] == "wc"] == []
