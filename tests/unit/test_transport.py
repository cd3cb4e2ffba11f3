"""The Transport protocol: ZeroMQ implements it, and a Worker runs on nothing more than it."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import zmq

from squall import Bolt, Spout, Topology
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.transport.base import Transport
from squall.transport.zeromq import ZmqTransport, tcp_endpoint

# -- ZeroMQ -------------------------------------------------------------------------------------


def test_zmq_transport_is_a_transport():
    t = ZmqTransport(0, host="127.0.0.2", ctx=zmq.Context())
    try:
        assert isinstance(t, Transport)
        assert t.address.startswith("tcp://127.0.0.2:")
    finally:
        t.close()


def test_zmq_transport_binds_one_host_and_advertises_another():
    ctx = zmq.Context()
    t = ZmqTransport(0, host="127.0.0.2", advertise="127.0.0.5", ctx=ctx)
    try:
        bound = t.pull.getsockopt(zmq.LAST_ENDPOINT).decode()
        port = bound.rsplit(":", 1)[1]
        assert bound == f"tcp://127.0.0.2:{port}"
        assert t.address == f"tcp://127.0.0.5:{port}"
    finally:
        t.close()
        ctx.term()


def test_tcp_endpoint_brackets_ipv6():
    assert tcp_endpoint("127.0.0.2", 7) == "tcp://127.0.0.2:7"
    assert tcp_endpoint("::1", 7) == "tcp://[::1]:7"
    assert tcp_endpoint("127.0.0.2") == "tcp://127.0.0.2"


def test_zmq_transport_moves_and_counts_messages():
    ctx = zmq.Context()
    a = ZmqTransport(0, host="127.0.0.2", ctx=ctx)
    b = ZmqTransport(1, host="127.0.0.2", ctx=ctx, incarnation=3)
    try:
        a.connect({0: (a.address, 0), 1: (b.address, 3)})
        assert a.peer_inc == {1: 3}
        a.send(1, b"one")
        a.send(1, b"two")
        poller = zmq.Poller()
        poller.register(b.pollable(), zmq.POLLIN)
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            poller.poll(100)
            got += b.recv_ready(32)
        assert got == [b"one", b"two"]
        assert b.accept(0, 0, 3) and b.accept(0, 0, 3)
        assert not b.accept(0, 0, 2)  # meant for an older incarnation of b
        assert a.counters()["sent"] == {"1": [3, 2]}
        assert b.counters() == {"inc": 3, "sent": {}, "received": {"0:0": 2}, "overflow": 0, "dropped": 1}
    finally:
        a.close()
        b.close()
        ctx.term()


# -- a Worker on an in-memory transport ----------------------------------------------------------


class MemoryTransport:
    """Only the members of ``Transport``: if the Worker used anything else, this test would fail."""

    __slots__ = ("index", "hub", "address", "incarnation", "peer_inc", "n_overflow", "sent", "received", "dropped")

    def __init__(self, index: int, hub: dict[int, deque[bytes]]):
        self.index = index
        self.hub = hub
        hub[index] = deque()
        self.address = f"memory://{index}"
        self.incarnation = 0
        self.peer_inc: dict[int, int] = {}
        self.n_overflow = 0
        self.sent: dict[int, int] = {}
        self.received: dict[tuple[int, int], int] = {}
        self.dropped = 0

    def connect(self, peers: dict[int, tuple[str, int]]) -> None:
        for peer, (_addr, inc) in peers.items():
            if peer != self.index:
                self.peer_inc[peer] = inc
                self.sent.setdefault(peer, 0)

    def send(self, peer: int, payload: bytes) -> None:
        self.hub[peer].append(payload)
        self.sent[peer] += 1

    def retry(self) -> int:
        return 0

    def recv_ready(self, limit: int) -> list[bytes]:
        q = self.hub[self.index]
        return [q.popleft() for _ in range(min(limit, len(q)))]

    def accept(self, sender: int, sender_inc: int, target_inc: int) -> bool:
        if target_inc != self.incarnation:
            self.dropped += 1
            return False
        self.received[(sender, sender_inc)] = self.received.get((sender, sender_inc), 0) + 1
        return True

    def counters(self) -> dict[str, Any]:
        return {"inc": 0, "sent": {}, "received": {}, "overflow": 0, "dropped": self.dropped}

    def pollable(self) -> Any:
        raise NotImplementedError  # the worker process's concern, not the Worker's

    def close(self) -> None:
        pass


N = 500


class Numbers(Spout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.it = iter(range(N))
        self.acked = 0

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)


class Square(Bolt):
    outputs = ["n", "square"]

    def process(self, tup):
        self.emit([tup.values.n, tup.values.n**2])


class Collect(Bolt):
    outputs: Any = []
    seen: list[tuple[int, int]] = []

    def process(self, tup):
        Collect.seen.append(tuple(tup.values))


class MemoryTopo(Topology):
    numbers = Numbers.spec()
    square = Square.spec(inputs=[numbers], par=2)
    collect = Collect.spec(inputs=[square], par=2)


def test_workers_exchange_batches_over_any_transport():
    Collect.seen = []
    hub: dict[int, deque[bytes]] = {}
    conf = topology_conf(MemoryTopo.config, {"topology.workers": 2})
    transports = [MemoryTransport(i, hub) for i in range(2)]
    assert all(isinstance(t, Transport) for t in transports)
    workers = [Worker(MemoryTopo, conf, i, transport=t) for i, t in enumerate(transports)]
    for t in transports:
        t.connect({i: (u.address, 0) for i, u in enumerate(transports)})
    for w in workers:
        w.setup()
        w.activate()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        did = sum(w.step() for w in workers)
        if not did and all(w.spouts_done and w.idle() for w in workers) and not any(hub.values()):
            break
    assert sorted(Collect.seen) == [(n, n * n) for n in range(N)]
    assert all(t.sent[1 - t.index] > 0 for t in transports)  # tuples crossed in both directions
    assert sum(st["acked"] for w in workers for st in w.task_stats().values() if st["component"] == "numbers") == N
