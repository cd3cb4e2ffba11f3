"""`squall submit -e NAME -n wordcount -w 2` in a streamparse project (sparse submit's deploy command):
the address is config.json's env ``nimbus`` (ahead of $RAY_ADDRESS), the env's ``options`` reach the
master and the workers, an explicit ``squall.ui.port`` is used exactly (a taken one is refused, not
moved), and the master (so the UI) runs on the submitting driver's node (the head, which Ray picks for a driver
on its host)."""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request
from pathlib import Path

import pytest
from cluster_helpers import ROOT, squall, until

PROJECT = ROOT / "tests" / "streamparse_projects" / "wordcount"

# the copy's spout is paced (the machine has 2 cores) at the env's test.rate, and prints the env's test.tag
SPOUT = """import time
from streamparse import Spout

WORDS = ("dog", "cat", "zebra", "elephant")


class WordSpout(Spout):
    outputs = ["word"]

    def initialize(self, stormconf, context):
        self.rate = float(stormconf["test.rate"])
        self.t0 = time.monotonic()
        self.n = 0
        print(f"spout options: tag={stormconf.get('test.tag')}", flush=True)

    def next_tuple(self):
        due = min(int((time.monotonic() - self.t0) * self.rate), self.n + 100)
        while self.n < due:
            self.emit([WORDS[self.n % len(WORDS)]])
            self.n += 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(tmp_path: Path, nimbus: str, ui_port: int) -> Path:
    root = tmp_path / "wordcount"
    shutil.copytree(PROJECT, root)
    (root / "src" / "spouts" / "words.py").write_text(SPOUT)
    config = json.loads((root / "config.json").read_text())
    config["envs"]["cluster"] = {
        "user": "",
        "nimbus": nimbus,
        "workers": [],
        "options": {"test.rate": 500, "test.tag": "from-env-cluster", "squall.ui.port": ui_port},
    }
    (root / "config.json").write_text(json.dumps(config, indent=2))
    return root


@pytest.mark.timeout(300)
def test_submit_with_streamparse_env(ray_cluster, tmp_path):
    port = free_port()
    root = make_project(tmp_path, ray_cluster.address, port)
    # $RAY_ADDRESS names no cluster: the env's nimbus is what is used
    env = {"RAY_ADDRESS": "127.0.0.1:9"}
    at = {"RAY_ADDRESS": ray_cluster.address}

    # an explicit squall.ui.port that is taken: refused (exit 1, the port named), nothing left running
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        refused = squall("submit", "-e", "cluster", "-n", "wordcount", "-w", "2", cwd=root, env=env)
    assert refused.returncode == 1, refused.stderr
    assert f"port {port} is taken" in refused.stderr, refused.stderr
    until(lambda: not ray_cluster.actors("squall.wordcount"), timeout=60, message="the refused run removed")

    done = squall("submit", "-e", "cluster", "-n", "wordcount", "-w", "2", cwd=root, env=env)
    try:
        assert done.returncode == 0, done.stderr
        assert f"on the Ray cluster at {ray_cluster.address}" in done.stderr, done.stderr
        names = ray_cluster.actors("squall.wordcount")
        assert names == ["master", "worker-0.0", "worker-1.0"], names

        master = ray_cluster.ray.get_actor("master", namespace="squall.wordcount")
        info = ray_cluster.ray.get(master.info.remote(), timeout=30)
        # the driver (the CLI) was attached to the head; the master is there (Ray's default: 1-5 times in 8)
        head = ray_cluster.cluster.head_node.node_id
        assert info["node"] == head, done.stderr
        assert f"the master runs on this command's node (node {head}; asked for {head})" in done.stderr
        assert info["url"] == f"http://127.0.0.1:{port}", info  # exactly the env's port

        with urllib.request.urlopen(f"{info['url']}/api/v1/topology/{info['id']}", timeout=10) as resp:
            page = json.loads(resp.read())
        conf = page["configuration"]
        assert conf["test.tag"] == "from-env-cluster" and conf["test.rate"] == 500, conf
        assert conf["topology.workers"] == 2 and conf["topology.name"] == "wordcount", conf

        def tailed():
            got = squall("tail", "wordcount", "--lines", "1000", env=at)
            assert got.returncode == 0, got.stderr
            return got.stdout if "tag=from-env-cluster" in got.stdout else None

        until(tailed, timeout=60, message="the env's option in the workers (the spout prints it)")

        def counted():
            got = squall("stats", "wordcount", "--json", "--window", "all", env=at)
            assert got.returncode == 0, got.stderr
            bolts = {b["boltId"]: b for b in json.loads(got.stdout)["bolts"]}
            return bolts["count_bolt"]["executed"] > 0

        until(counted, timeout=60, message="words counted")
    finally:
        killed = squall("kill", "wordcount", "--address", ray_cluster.address, "--wait", "0", env=at)
    assert killed.returncode == 0, killed.stderr
    until(lambda: not ray_cluster.actors("squall.wordcount"), timeout=60, message="every actor removed")
