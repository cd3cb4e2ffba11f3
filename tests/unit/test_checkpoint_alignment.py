"""Barrier alignment inside one worker: a checkpoint holds exactly what came before each source's barrier.

Two spout tasks feed one StatefulBolt task. Barrier 1 is sent by one spout, which then goes on
emitting (those tuples must wait at the bolt), while the other spout emits more before its own
barrier (those must count). Half the tuples are tracked and half are not: they travel on separate
channels, and the barrier must come after both.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from squall import Grouping, Spout, StatefulBolt, Topology
from squall.runtime.checkpoint import POSITION_KEY
from squall.runtime.worker import Worker
from squall.state import open_backend
from squall.state.kv import decoded, encode
from squall.topology.config import topology_conf


def word(i: int) -> str:
    return f"w{i % 7}"


class Numbers(Spout):
    outputs = ["word"]

    def initialize(self, conf: dict[str, Any], ctx: Any) -> None:
        tasks = sorted(ctx.component_tasks(ctx.component_id))
        self.step, self.i = len(tasks), tasks.index(self.task_id)

    def next_tuple(self) -> None:
        for _ in range(5):
            # every other tuple tracked: tracked and untracked ones travel on separate channels
            self.emit([word(self.i)], tup_id=self.i if self.i % 2 else None)
            self.i += self.step

    def position(self) -> int:
        return self.i

    def seek(self, position: Any) -> None:
        self.i = int(position)


class Count(StatefulBolt):
    outputs = ["word", "count"]

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        self.state[w] = self.state.get(w, 0) + 1


class Aligned(Topology):
    numbers = Numbers.spec(par=2)
    count = Count.spec(inputs={numbers: Grouping.GLOBAL}, par=1)


def consumed(spout: Any, upto: int) -> Counter[str]:
    """The words spout task ``spout`` emitted before its position reached ``upto``."""
    start = spout.instance.i % spout.instance.step
    return Counter(word(i) for i in range(start, upto, spout.instance.step))


@pytest.mark.parametrize("ackers", [0, 1], ids=["acking-off", "acking-on"])
def test_a_checkpoint_holds_what_came_before_each_barrier(tmp_path: Any, ackers: int) -> None:
    conf = topology_conf(
        Aligned.config,
        {"topology.workers": 1, "topology.acker.executors": ackers, "squall.state.dir": str(tmp_path)},
        Aligned.components.values(),
    )
    conf["topology.name"] = "Aligned"
    w = Worker(Aligned, conf, 0)
    w.setup()
    w.activate()
    cp = w.checkpoints
    assert cp is not None
    a, b = sorted(w.spouts, key=lambda s: s.task)
    (count_task,) = w.plan.component_tasks["count"]
    for _ in range(20):
        w.step()
    a.burst(20)  # still in the channels when the barrier is sent: before it, so in the checkpoint
    # spout a: its position, its barrier; then it goes on emitting (held at the bolt)
    pos_a = a.instance.position()
    cp.backend.write(a.task, 1, {POSITION_KEY: encode(pos_a)})
    cp.send_barrier(a.task, 1)
    for _ in range(30):
        a.burst(20)
        b.burst(20)  # before b's barrier: these count
        w.drain_local()
    assert cp.gates[count_task].held, "what spout a emitted after its barrier waits at the bolt"
    b.burst(20)  # in the channels, not delivered yet: before b's barrier
    pos_b = b.instance.position()
    cp.backend.write(b.task, 1, {POSITION_KEY: encode(pos_b)})
    cp.send_barrier(b.task, 1)
    for _ in range(50):
        w.step()
        if not cp.ready and cp.reports:
            break
    assert [r["n"] for r in cp.take_reports()] == [1]
    cp.backend.commit(1)
    state = decoded(open_backend("Aligned", conf).load(count_task))
    first_a = a.task - min(a.task, b.task)
    want = Counter(word(i) for i in range(first_a, pos_a, 2)) + Counter(word(i) for i in range(1 - first_a, pos_b, 2))
    assert state == dict(want)
    # and the tuples held back were processed afterwards, into the next checkpoint
    count = w.bolts[count_task].instance
    assert sum(count.state.values()) > sum(want.values())
    w.close()
