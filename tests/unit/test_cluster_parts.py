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


def _stateful_topology():
    from squall.topology.loader import load_topology

    return load_topology(str(ROOT / "tests" / "cluster" / "projects" / "stateful" / "stateful.py"))


def test_a_checkpointed_topology_on_sqlite_is_refused_with_the_redis_fix():
    from squall.cluster.client import check_state_backend
    from squall.errors import InvalidTopologyError

    components = _stateful_topology().components
    with pytest.raises(InvalidTopologyError) as refused:
        check_state_backend("wc", {}, components)  # the default provider: sqlite
    text = str(refused.value)
    assert "component 'count'" in text and "do not share" in text
    assert "-c topology.state.provider=redis -c topology.state.redis.url=redis://HOST:6379/0" in text
    check_state_backend("wc", {"topology.state.provider": "redis"}, components)
    stateless = {n: d for n, d in components.items() if n != "count"}
    check_state_backend("wc", {}, stateless)  # no state: nothing to share


class _Nodes:
    """What ``ray.nodes()`` answers (the node table), for the host-count rule alone."""

    def __init__(self, *hosts: str):
        self.hosts = hosts

    def nodes(self):
        return [{"NodeManagerAddress": h, "Alive": True} for h in self.hosts] + [
            {"NodeManagerAddress": "10.9.9.9", "Alive": False}
        ]


def test_a_loopback_redis_is_refused_when_the_nodes_are_on_several_hosts():
    from squall.cluster.client import check_state_reach
    from squall.errors import ConfigError

    components = _stateful_topology().components
    conf = {"topology.state.provider": "redis", "topology.state.redis.url": "redis://:secret@127.0.0.1:6379/0"}
    check_state_reach(_Nodes("127.0.0.1", "127.0.0.1"), "wc", conf, components)  # one machine: fine
    with pytest.raises(ConfigError) as refused:
        check_state_reach(_Nodes("10.0.0.1", "10.0.0.2"), "wc", conf, components)
    assert "2 hosts" in str(refused.value) and "secret" not in str(refused.value)
    assert "redis://HOST:6379/0" in str(refused.value)
    default = {"topology.state.provider": "redis"}  # the default URL is loopback too
    with pytest.raises(ConfigError):
        check_state_reach(_Nodes("10.0.0.1", "10.0.0.2"), "wc", default, components)
    shared = dict(conf, **{"topology.state.redis.url": "redis://redis.internal:6379/0"})
    check_state_reach(_Nodes("10.0.0.1", "10.0.0.2"), "wc", shared, components)
