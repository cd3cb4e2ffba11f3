"""Batches between workers over ZeroMQ PUSH/PULL on TCP (works the same between machines).

Each worker binds one PULL socket and connects one PUSH socket per peer. Sends never block:
when a peer's high-water mark is reached the message waits in a per-peer overflow deque and
``n_overflow`` is non-zero, which stops the spouts of this worker (backpressure) while it keeps
receiving, so two workers sending to each other cannot deadlock.

Sent and received message counts per peer feed the end-of-run detection. A restarted worker
is a new *incarnation*: every batch names its sender's and its target's incarnation, a batch
addressed to a dead incarnation is dropped on arrival, and counts are kept per incarnation, so
batches lost with a crashed worker never look like tuples still in flight.

With the run's keys (``transport.security.RunKeys``) the PULL socket is a CURVE server that admits
only the run's workers, and each PUSH socket presents this worker's keys (and checks the peer's).

Bounded in bytes, not only in messages: ZeroMQ's high-water marks count messages, so a message
of ``size`` bytes is followed by ``(size - 1) // unit_bytes`` empty *filler* messages (``unit_bytes``
is ``squall.transfer.batch.bytes``): it takes one slot of the high-water mark per started unit.
Fillers are skipped on arrival and never counted as sent or received. What waits for one peer is
then at most about ``hwm x unit_bytes`` on each side, plus one message. The PULL socket refuses
messages above ``max_message_bytes`` (ZeroMQ disconnects the peer that sends one).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import zmq

from squall.transport.security import RunKeys

POLLIN = int(zmq.POLLIN)  # a plain int: `&` with the enum flag costs ~1 us per call
FRAMING_SLACK = 4096  # bytes a receiving socket allows above the largest message (ZMTP and CURVE framing)


def tcp_endpoint(host: str, port: int | None = None) -> str:
    """``tcp://host[:port]``, with an IPv6 address in brackets."""
    h = f"[{host}]" if ":" in host else host
    return f"tcp://{h}" if port is None else f"tcp://{h}:{port}"


def bind_random_port(sock: zmq.Socket[bytes], host: str) -> int:
    """Bind ``sock`` to a free port on ``host`` (an IPv4 or IPv6 address, or a wildcard)."""
    if ":" in host:
        sock.setsockopt(zmq.IPV6, 1)
    return int(sock.bind_to_random_port(tcp_endpoint(host)))


def connect_endpoint(sock: zmq.Socket[bytes], endpoint: str) -> None:
    """Connect ``sock`` to a ``tcp://`` endpoint made by ``tcp_endpoint``."""
    if endpoint.startswith("tcp://["):
        sock.setsockopt(zmq.IPV6, 1)
    sock.connect(endpoint)


class ZmqTransport:
    """The ``transport.base.Transport`` of Squall: ZeroMQ PUSH/PULL over TCP.

    The PULL socket binds to ``host`` (``squall.bind.host``) on a random port; ``address`` is
    what peers connect to: the same port on ``advertise`` (``squall.advertise.host``; by default
    ``host`` itself).
    """

    def __init__(
        self,
        index: int,
        host: str,
        advertise: str | None = None,
        hwm: int = 64,
        ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
        incarnation: int = 0,
        keys: RunKeys | None = None,
        unit_bytes: int = 0,
        max_message_bytes: int = 0,
    ):
        """``keys``: the run's keys (the context must run their ``ZapHandler``); None leaves the
        sockets open to anyone who can reach them (for tests of the transport alone).
        ``unit_bytes``: the size of one high-water-mark slot (0: a slot is a message).
        ``max_message_bytes``: the largest message accepted (0: no limit)."""
        self.index = index
        self.incarnation = incarnation
        self.ctx = ctx or zmq.Context.instance()
        self.keys = keys
        self.unit = unit_bytes if hwm else 0  # no high-water mark: nothing to weigh
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.RCVHWM, hwm)
        self.pull.setsockopt(zmq.LINGER, 0)
        if max_message_bytes:
            self.pull.setsockopt(zmq.MAXMSGSIZE, max_message_bytes + FRAMING_SLACK)
        if keys is not None:
            keys.serve(self.pull)
        port = bind_random_port(self.pull, host)
        self.address = tcp_endpoint(advertise or host, port)
        self.hwm = hwm
        self.push: dict[int, zmq.Socket[bytes]] = {}
        self.overflow: dict[int, deque[bytes]] = {}
        self.peer_inc: dict[int, int] = {}
        self.sent: dict[int, int] = {}  # per peer, for its current incarnation
        self.received: dict[tuple[int, int], int] = {}  # per (sender, sender incarnation)
        self.dropped = 0  # batches that arrived for a previous incarnation of this worker
        self.n_overflow = 0

    def connect(self, peers: dict[int, tuple[str, int]]) -> None:
        """Connect to ``{peer: (address, incarnation)}``; a new incarnation replaces the old socket."""
        for peer, (addr, inc) in peers.items():
            if peer == self.index or self.peer_inc.get(peer) == inc:
                continue
            old = self.push.pop(peer, None)
            if old is not None:  # what was queued for the dead incarnation is lost with it
                old.close(linger=0)
                self.n_overflow -= len(self.overflow[peer])
            s = self.ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.SNDHWM, self.hwm)
            s.setsockopt(zmq.LINGER, 2000)
            if self.keys is not None:
                self.keys.present(s, self.index)
            connect_endpoint(s, addr)
            self.push[peer] = s
            self.overflow[peer] = deque()
            self.peer_inc[peer] = inc
            self.sent[peer] = 0

    def send(self, peer: int, payload: bytes) -> None:
        q = self.overflow[peer]
        if q:
            q.append(payload)
            self.n_overflow += 1
        else:
            try:
                self.push[peer].send(payload, zmq.NOBLOCK)
                self.sent[peer] += 1
            except zmq.Again:
                q.append(payload)
                self.n_overflow += 1
        if self.unit and len(payload) > self.unit:
            self._fill(peer, (len(payload) - 1) // self.unit)

    def _fill(self, peer: int, n: int) -> None:
        """Send ``n`` empty fillers after a large message: it takes one high-water-mark slot per unit."""
        q = self.overflow[peer]
        sock = self.push[peer]
        for _ in range(n):
            if not q:
                try:
                    sock.send(b"", zmq.NOBLOCK)
                    continue
                except zmq.Again:
                    pass
            q.append(b"")
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
                if q.popleft():  # a filler is not a message
                    self.sent[peer] += 1
                self.n_overflow -= 1
                out += 1
        return out

    def recv_ready(self, limit: int) -> list[bytes]:
        """Up to ``limit`` messages that have already arrived (never waits); fillers count towards
        ``limit`` (so what is taken at once stays bounded in bytes) but are not returned."""
        pull = self.pull
        out: list[bytes] = []
        n = 0
        while n < limit and pull.get(zmq.EVENTS) & POLLIN:  # type: ignore[operator]  # EVENTS is an int
            n += 1
            payload = pull.recv(zmq.NOBLOCK)
            if payload:
                out.append(payload)
        return out

    def accept(self, sender: int, sender_inc: int, target_inc: int) -> bool:
        """Count an arrived batch; False if it was meant for a previous incarnation of this worker."""
        if target_inc != self.incarnation:
            self.dropped += 1
            return False
        key = (sender, sender_inc)
        self.received[key] = self.received.get(key, 0) + 1
        return True

    def counters(self) -> dict[str, Any]:
        return {
            "inc": self.incarnation,
            "sent": {str(p): [self.peer_inc[p], n] for p, n in self.sent.items()},
            "received": {f"{s}:{i}": n for (s, i), n in self.received.items()},
            "overflow": self.n_overflow,
            "dropped": self.dropped,
        }

    def pollable(self) -> zmq.Socket[bytes]:
        return self.pull

    def close(self) -> None:
        for s in self.push.values():
            s.close(linger=1000)
        self.pull.close(linger=0)
