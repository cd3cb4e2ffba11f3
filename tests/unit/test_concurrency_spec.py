"""How a component asks for concurrency, and what the topology build refuses (every problem, with a fix)."""

from __future__ import annotations

import pytest

from squall import BatchingBolt, Bolt, InvalidTopologyError, Spout, Topology


class Src(Spout):
    outputs = ["n"]


class AsyncBolt(Bolt):
    async def process(self, tup):
        pass


class PlainBolt(Bolt):
    def process(self, tup):
        pass


class ThreadBolt(PlainBolt):
    concurrency = 8
    concurrency_mode = "threads"


class AsyncSpout(Spout):
    outputs = ["n"]
    concurrency = 3

    async def next_tuple(self):
        pass


def problems(**bolts):
    ns = {"src": Src.spec()}
    ns.update({name: spec_of(ns["src"]) for name, spec_of in bolts.items()})
    with pytest.raises(InvalidTopologyError) as info:
        type(Topology)("T", (Topology,), ns)
    return {p.component: p for p in info.value.problems}


def test_modes_are_detected():
    class T(Topology):
        src = AsyncSpout.spec()
        aio = AsyncBolt.spec(inputs=[src])
        aio8 = AsyncBolt.spec(inputs=[src], concurrency=8)
        threads = ThreadBolt.spec(inputs=[src])
        threads2 = ThreadBolt.spec(inputs=[src], concurrency=2)
        plain = PlainBolt.spec(inputs=[src])
        explicit = AsyncBolt.spec(inputs=[src], concurrency_mode="async")

    got = {n: (d.mode, d.concurrency) for n, d in T.components.items()}
    assert got == {
        "src": ("async", 3),
        "aio": ("async", 1),
        "aio8": ("async", 8),
        "threads": ("threads", 8),
        "threads2": ("threads", 2),
        "plain": ("sync", 1),
        "explicit": ("async", 1),
    }
    assert T.describe()["components"][2]["concurrency"] == 8


def test_bad_declarations_are_refused_with_a_fix():
    class AsyncAck(Spout):
        outputs = ["n"]

        async def ack(self, tup_id):
            pass

    class Yielding(Bolt):
        def process(self, tup):
            yield tup

    class Batches(BatchingBolt):
        concurrency = 2
        concurrency_mode = "threads"

    found = problems(
        zero=lambda s: PlainBolt.spec(inputs=[s], concurrency=0),
        boolean=lambda s: ThreadBolt.spec(inputs=[s], concurrency=True),
        blocking=lambda s: PlainBolt.spec(inputs=[s], concurrency=4),
        wrong_mode=lambda s: ThreadBolt.spec(inputs=[s], concurrency_mode="processes"),
        async_threads=lambda s: AsyncBolt.spec(inputs=[s], concurrency_mode="threads"),
        plain_async=lambda s: PlainBolt.spec(inputs=[s], concurrency_mode="async"),
        yielding=lambda s: Yielding.spec(inputs=[s]),
        batches=lambda s: Batches.spec(inputs=[s]),
    )
    assert "concurrency=0 is invalid" in found["zero"].message
    assert "concurrency=True is invalid" in found["boolean"].message
    assert "concurrency_mode = 'threads'" in found["blocking"].fix and "async def process" in found["blocking"].fix
    assert "concurrency_mode='processes' is invalid" in found["wrong_mode"].message
    assert "is async def" in found["async_threads"].message
    assert "is a plain def" in found["plain_async"].message
    assert "yield" in found["yielding"].message and "self.emit" in found["yielding"].fix
    assert "BatchingBolt" in found["batches"].message

    with pytest.raises(InvalidTopologyError, match=r"AsyncAck.ack is async def, which the runtime would never await"):

        class T(Topology):
            src = AsyncAck.spec()
