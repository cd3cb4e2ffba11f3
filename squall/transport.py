"""Batches between workers over ZeroMQ PUSH/PULL on TCP (works the same between machines).

Each worker binds one PULL socket and connects one PUSH socket per peer. Sends never block:
when a peer's high-water mark is reached the message waits in a per-peer overflow deque and
``blocked`` turns true, which stops the spouts of this worker (backpressure) while it keeps
receiving, so two workers sending to each other cannot deadlock.

Sent and received message counts per peer feed the end-of-run detection.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import zmq


class ZmqTransport:
    def __init__(self, index: int, host: str = "127.0.0.1", hwm: int = 64, ctx: zmq.Context | None = None):
        self.index = index
        self.ctx = ctx or zmq.Context.instance()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.RCVHWM, hwm)
        self.pull.setsockopt(zmq.LINGER, 0)
        port = self.pull.bind_to_random_port(f"tcp://{host}")
        self.address = f"tcp://{host}:{port}"
        self.hwm = hwm
        self.push: dict[int, zmq.Socket] = {}
        self.overflow: dict[int, deque[bytes]] = {}
        self.sent: dict[int, int] = {}
        self.received: dict[int, int] = {}
        self.n_overflow = 0

    def connect(self, peers: dict[int, str]) -> None:
        for peer, addr in peers.items():
            if peer == self.index or peer in self.push:
                continue
            s = self.ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.SNDHWM, self.hwm)
            s.setsockopt(zmq.LINGER, 2000)
            s.connect(addr)
            self.push[peer] = s
            self.overflow[peer] = deque()
            self.sent[peer] = 0

    def send(self, peer: int, payload: bytes) -> None:
        q = self.overflow[peer]
        if q:
            q.append(payload)
            self.n_overflow += 1
            return
        try:
            self.push[peer].send(payload, zmq.NOBLOCK)
            self.sent[peer] += 1
        except zmq.Again:
            q.append(payload)
            self.n_overflow += 1

    def retry(self) -> int:
        """Send what waits in overflow deques; return how many messages went out."""
        if not self.n_overflow:
            return 0
        out = 0
        for peer, q in self.overflow.items():
            sock = self.push[peer]
            while q:
                try:
                    sock.send(q[0], zmq.NOBLOCK)
                except zmq.Again:
                    break
                q.popleft()
                self.n_overflow -= 1
                self.sent[peer] += 1
                out += 1
        return out

    @property
    def blocked(self) -> bool:
        return self.n_overflow > 0

    def recv_ready(self, limit: int) -> list[bytes]:
        """Up to ``limit`` messages that have already arrived (never waits)."""
        pull = self.pull
        out = []
        while len(out) < limit and pull.get(zmq.EVENTS) & zmq.POLLIN:
            out.append(pull.recv(zmq.NOBLOCK))
        return out

    def count_received(self, sender: int) -> None:
        self.received[sender] = self.received.get(sender, 0) + 1

    def counters(self) -> dict[str, Any]:
        return {"sent": dict(self.sent), "received": dict(self.received), "overflow": self.n_overflow}

    def close(self) -> None:
        for s in self.push.values():
            s.close(linger=1000)
        self.pull.close(linger=0)
