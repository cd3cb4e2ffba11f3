"""Cluster mode's pure parts (no Ray started): names, keys, addresses, the project folder shipped, output rings."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from squall.cli import _project_folder, _runtime_env
from squall.cluster.client import is_loopback_address
from squall.cluster.master import Submission, keys_from_dict, keys_to_dict, namespace_of, worker_options
from squall.cluster.worker_actor import parse_worker_name, worker_name
from squall.local.project import find_project, resolve
from squall.local.worker_logs import OutputRing
from squall.transport.security import RunKeys

ROOT = Path(__file__).resolve().parents[2]


def test_worker_names_carry_index_and_incarnation():
    assert worker_name(3, 12) == "worker-3.12"
    assert parse_worker_name("worker-3.12") == (3, 12)
    for other in ("master", "worker-3", "worker-x.1", "worker-1.", "workers-1.2"):
        assert parse_worker_name(other) is None


def test_keys_survive_the_trip_through_ray():
    keys = RunKeys.generate(3)
    back = keys_from_dict(keys_to_dict(keys))
    assert back == keys
    assert back.for_worker(2) == keys.for_worker(2)


def test_keys_for_more_workers_are_derived_the_same_way_each_time():
    """A rebalance to more workers: a restarted master derives the same keys for the new indices."""
    import zmq

    keys = RunKeys.generate(2)
    more = keys_from_dict(keys_to_dict(keys)).extended(4)
    assert more == keys.extended(4) and keys.extended(2) is keys
    assert more.worker_public[:2] == keys.worker_public and more.server_secret == keys.server_secret
    assert len(set(more.worker_public)) == 4
    for i in (2, 3):
        assert zmq.curve_public(more.worker_secret[i].encode()).decode() == more.worker_public[i]
        assert RunKeys.from_spec(more.for_worker(i), i).worker_public == more.worker_public
    assert RunKeys.generate(2).extended(3).worker_public[2] != more.worker_public[2], "per run"


def test_submission_namespace_and_worker_options():
    sub = Submission(ref="wc.py:WordCount", name="wc", topology_id="wc-1", overrides={}, keys={}, token="t")
    assert sub.namespace == namespace_of("wc") == "squall.wc"
    assert worker_options({"squall.cluster.worker.cpus": 0.5}) == {"num_cpus": 0.5}
    assert worker_options({"squall.cluster.worker.resources": {"big": 1}}) == {"num_cpus": 1, "resources": {"big": 1}}


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:6379", True),
        ("localhost:6379", True),
        ("ray://127.0.0.1:10001", True),
        ("[::1]:6379", True),
        ("10.0.0.5:6379", False),
        ("head.example.org:6379", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback_address(address) is loopback


def test_the_project_folder_of_a_file_is_its_folder():
    path = ROOT / "tests" / "cluster" / "projects" / "wordcount" / "wordcount.py"
    resolved = resolve(f"{path}:WordCount", None)
    folder, ref, paths = _project_folder(resolved, None)
    assert folder == str(path.parent) and ref == "wordcount.py:WordCount" and paths == ["."]


def test_the_project_folder_of_a_streamparse_project_is_its_root(monkeypatch):
    root = ROOT / "tests" / "streamparse_projects" / "wordcount"
    monkeypatch.chdir(root)
    project = find_project()
    assert project is not None
    folder, ref, paths = _project_folder(resolve("wordcount", project), project)
    assert folder == os.path.realpath(root)
    assert ref == os.path.join("topologies", "wordcount.py")
    assert paths == ["src", "."]


def test_runtime_env_from_the_options():
    env = _runtime_env("/p", ("requests==2.32.3",), ("A=1", "B=x=y"), "prod")
    assert env == {
        "working_dir": "/p",
        "pip": ["requests==2.32.3"],
        "env_vars": {"A": "1", "B": "x=y", "SQUALL_ENV": "prod"},
    }


def test_output_ring_writes_through_and_keeps_the_newest_lines():
    out = io.StringIO()
    ring = OutputRing(out, keep=3)
    ring.write("one\ntwo\nthr")
    ring.write("ee\nfour\nfive\n")
    assert out.getvalue() == "one\ntwo\nthree\nfour\nfive\n"
    assert [line for _, line in ring.take()] == ["three", "four", "five"]
    assert ring.take() == []
    ring.set_keep(1)
    ring.write("a\nb\n")
    assert [line for _, line in ring.take()] == ["b"]
    ring.write("x" * 20000 + "\n")
    (entry,) = ring.take()
    assert len(entry[1]) == 8192
