"""The worker loop without processes: flushing by the config's numbers, delivery bound at wiring time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from squall import Bolt, Spout, Topology
from squall.runtime.acker import ACK_STREAM, make_root
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.transport.wire import encode_batch, unpack


class Numbers(Spout):
    outputs = ["n"]


class Sink(Bolt):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.seen: list[Any] = []

    def process(self, tup):
        self.seen.append(tup)


class Topo(Topology):
    numbers = Numbers.spec(par=2)
    sink = Sink.spec(inputs=[numbers], par=2)


# Tasks: numbers 1, 2; sink 3, 4; ackers 5, 6. Worker 0 runs 1, 3, 5; worker 1 runs 2, 4, 6.
SPOUT, SINK, ACKER, REMOTE_SPOUT, REMOTE_SINK = 1, 3, 5, 2, 4


class FakeTransport:
    """Records what the worker sends; accepts every message."""

    n_overflow = 0
    incarnation = 0

    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []
        self.peer_inc = {0: 0, 1: 0}

    def send(self, peer: int, payload: bytes) -> None:
        self.sent.append((peer, unpack(payload)))

    def accept(self, sender: int, sender_inc: int, target_inc: int) -> bool:
        return True

    def close(self) -> None:
        pass


def make_worker(**conf: Any) -> tuple[Worker, FakeTransport]:
    transport = FakeTransport()
    w = Worker(Topo, topology_conf(Topo.config, {"topology.workers": 2, **conf}), 0, transport=transport)  # type: ignore[arg-type]
    w.setup()
    assert sorted(w.executors) == [SPOUT, SINK, ACKER]
    return w, transport


def remote_channel(w: Worker) -> Any:
    return next(ch for ch in w.remote_channels[1] if ch.stream == "default" and ch.ids is None)


# -- flushing: 0 means 0 ------------------------------------------------------------------------


def test_flush_interval_zero_flushes_every_turn():
    w, transport = make_worker(**{"topology.batch.flush.interval.millis": 0})
    assert w.flush_secs == 0.0
    ch = remote_channel(w)
    for turn in range(3):
        ch.buf.append([turn])
        w.last_flush = time.monotonic()  # just flushed: only an interval of 0 flushes again at once
        assert w.maybe_flush() == 1
    assert [groups[0][3] for _peer, (_s, _si, _ti, groups) in transport.sent] == [((0,),), ((1,),), ((2,),)]


def test_a_long_flush_interval_holds_a_partial_batch():
    w, transport = make_worker(**{"topology.batch.flush.interval.millis": 60_000})
    remote_channel(w).buf.append([1])
    w.last_flush = time.monotonic()
    assert w.maybe_flush() == 0 and transport.sent == []


def test_batch_size_zero_flushes_every_turn_whatever_the_interval():
    w, transport = make_worker(**{"topology.batch.flush.interval.millis": 60_000, "topology.transfer.batch.size": 0})
    assert w.batch_size == 0
    remote_channel(w).buf.append([1])
    w.last_flush = time.monotonic()
    assert w.maybe_flush() == 1 and len(transport.sent) == 1


def test_zero_message_timeout_means_trees_never_time_out():
    assert make_worker(**{"topology.message.timeout.secs": 0})[0].rotate_secs == float("inf")
    assert make_worker(**{"topology.message.timeout.secs": 4})[0].rotate_secs == 2.0


@pytest.mark.parametrize("key", ["topology.batch.flush.interval.millis", "topology.transfer.batch.size"])
def test_none_means_the_default(key):
    w, _ = make_worker(**{key: None})
    assert (w.flush_secs, w.batch_size) == (0.001, 1000)


# -- delivery bound at wiring time ----------------------------------------------------------------


def test_each_local_channel_delivers_to_its_sink():
    w, _ = make_worker()
    kinds = {(ch.dest_task, ch.stream, ch.ids is not None): ch.deliver.__name__ for ch in w.local_channels}  # type: ignore[union-attr]
    assert kinds[(SINK, "default", False)] == "deliver"
    assert kinds[(SINK, "default", True)] == "deliver_tracked"
    assert kinds[(ACKER, ACK_STREAM, False)] == "deliver_acks"
    assert kinds[(ACKER, "__ackctl", False)] == "deliver_ctl"
    assert kinds[(SPOUT, ACK_STREAM, False)] == "deliver_acks"


def test_local_emits_reach_the_local_bolt():
    w, _ = make_worker()
    emit = w.executors[SPOUT].instance.emit
    for i in range(20):
        emit([i])
    w.drain_local()
    local = next(ch for ch in w.local_channels if ch.dest_task == SINK and ch.ids is None)
    seen = w.executors[SINK].instance.seen
    assert local.transferred == len(seen) > 0 and all(t.id is None and t.task == SPOUT for t in seen)
    assert sum(len(ch.buf) for ch in w.remote_channels[1]) == 20 - len(seen)


def test_inbound_groups_reach_their_sinks_through_cached_deliveries():
    w, _ = make_worker()
    root = make_root(12345, 0, 2, REMOTE_SPOUT)
    groups = [
        (SINK, REMOTE_SPOUT, "default", [[1], [2]]),
        (SINK, REMOTE_SPOUT, "default", [[3]], [root]),
        (ACKER, REMOTE_SINK, ACK_STREAM, [root, 99]),
    ]
    for _ in range(2):
        assert w.on_message(encode_batch(1, 0, 0, groups)) == 5  # values: 3 tuples and 2 ints
    assert set(w.inbound) == {
        (SINK, REMOTE_SPOUT, "default", False),
        (SINK, REMOTE_SPOUT, "default", True),
        (ACKER, REMOTE_SINK, ACK_STREAM, False),
    }
    first = dict(w.inbound)
    w.on_message(encode_batch(1, 0, 0, groups))
    assert w.inbound == first and all(w.inbound[k] is first[k] for k in first)  # built once per key
    seen = w.executors[SINK].instance.seen
    assert [(tuple(t.values), t.id) for t in seen[:3]] == [((1,), None), ((2,), None), ((3,), root)]
    acker = w.executors[ACKER]
    assert acker.executed == 3 and acker.ledger.completed == 1  # 99 ^ 99: the second message completed it
