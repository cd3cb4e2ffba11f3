"""Test doubles reach a Worker as hooks (runtime.hooks.WorkerHooks), not through the config."""

from __future__ import annotations

from typing import Any

from squall import Bolt, Spout, Stream, Topology
from squall.local.inprocess import run_in_process
from squall.runtime.hooks import WorkerHooks
from squall.runtime.worker import Worker
from squall.testing import HarnessHooks, MockedSpout, complete_topology, read_tuples, worker_hooks
from squall.topology.config import DEFAULTS, topology_conf


class Numbers(Spout):
    outputs = ["n"]

    def next_tuple(self):
        raise AssertionError("replaced by the hooks")


class Split(Bolt):
    outputs = [Stream(["n"]), Stream(["n"], name="odd")]

    def process(self, tup):
        n = tup.values.n
        self.emit([n], stream="odd" if n % 2 else None)


class Topo(Topology):
    numbers = Numbers.spec(par=3)
    split = Split.spec(inputs=[numbers])


class Recorder(WorkerHooks):
    """A hooks implementation that is not squall.testing's: the runtime takes any."""

    def __init__(self) -> None:
        self.spouts: list[tuple[str, int, int, int]] = []
        self.streams: dict[tuple[str, int, str], list[Any]] = {}

    def make_spout(self, component: str, task: int, index: int, n_tasks: int) -> Spout | None:
        self.spouts.append((component, task, index, n_tasks))
        return MockedSpout([[index * 10 + i] for i in range(3)])

    def capture(self, component: str, task: int, stream: str) -> list[Any] | None:
        return self.streams.setdefault((component, task, stream), [])

    def report(self) -> Any:
        return {"streams": len(self.streams)}


def test_worker_asks_the_hooks_for_spouts_and_capture_lists():
    hooks = Recorder()
    result = run_in_process(Topo, hooks=hooks)
    assert result.reason == "completed"
    tasks = sorted(t for _c, t, _i, _n in hooks.spouts)
    assert sorted(hooks.spouts) == [("numbers", t, i, 3) for i, t in enumerate(tasks)]
    emitted = sorted(v[0] for (c, _t, _s), vals in hooks.streams.items() if c == "numbers" for v in vals)
    assert emitted == [0, 1, 2, 10, 11, 12, 20, 21, 22]
    odd = [v[0] for (c, _t, s), vals in hooks.streams.items() if (c, s) == ("split", "odd") for v in vals]
    assert sorted(odd) == [1, 11, 21]
    assert result.hook_reports == [{"streams": len(hooks.streams)}]


def test_default_hooks_change_nothing():
    conf = topology_conf(Topo.config, {"topology.workers": 1})
    w = Worker(Topo, conf, 0, hooks=WorkerHooks())
    w.setup()
    assert all(type(ex.instance) is Numbers for ex in w.spouts)
    assert all(r.capture is None for ex in w.executors.values() for r in getattr(ex, "routers", {}).values())
    assert WorkerHooks().report() is None


def test_no_hidden_config_keys():
    assert not [k for k in DEFAULTS if "capture" in k or "mocked" in k]
    res = complete_topology(Topo, {"numbers": [[1], [2], [3]]})
    assert sorted(read_tuples(res, "split", "odd")) == [(1,), (3,)]
    assert read_tuples(res, "split") == [(2,)]


def test_harness_hooks_from_plain_data():
    hooks = worker_hooks({"mocked_sources": {"numbers": [[1], [2], [3], [4]]}, "capture": True})
    assert isinstance(hooks, HarnessHooks)
    spout = hooks.make_spout("numbers", 7, 1, 2)
    assert isinstance(spout, MockedSpout) and list(spout._it) == [[2], [4]]
    assert hooks.make_spout("other", 1, 0, 1) is None
    lst = hooks.capture("split", 4, "odd")
    assert lst is hooks.capture("split", 5, "odd")  # one list per (component, stream) in a worker
    lst.append((1,))
    assert hooks.report() == [["split", "odd", [(1,)]]]
    assert worker_hooks({}).capture("split", 4, "odd") is None and worker_hooks({}).report() is None
