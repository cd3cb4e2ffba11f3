"""What a worker needs from a transport: the ``Transport`` protocol.

The worker loop (``runtime.worker.Worker``) and the worker process
(``local.worker_process.WorkerProcess``) use exactly these members and nothing else, so another
transport (another socket library, an in-memory one for tests, a cluster's own channels) only
has to provide them. ``transport.zeromq.ZmqTransport`` is the one Squall ships.

A transport moves opaque byte messages (encoded batches, see ``transport.wire``) between the
workers of one run; workers are numbered ``0..n-1`` and each has an *incarnation* (0, then +1 per
restart). Sending never blocks: what a peer cannot take yet waits in the transport and counts
in ``n_overflow``, which stops the worker's spouts (backpressure) while it keeps receiving.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """The data plane of one worker. All methods are called from the worker's one thread."""

    #: Where peers reach this worker (sent to the coordinator in ``hello``, then to the peers).
    address: str
    #: This worker's incarnation; batches addressed to another one are dropped by ``accept``.
    incarnation: int
    #: The current incarnation of every connected peer (the worker writes it into each batch).
    peer_inc: dict[int, int]
    #: Messages waiting because a peer could not take them; non-zero stops the spouts.
    n_overflow: int

    def connect(self, peers: dict[int, tuple[str, int]]) -> None:
        """Connect to ``{peer index: (address, incarnation)}``.

        A peer already connected at the same incarnation is left alone; a new incarnation
        replaces the old connection and drops what was queued for the old one. This worker's
        own index is ignored.
        """
        ...

    def send(self, peer: int, payload: bytes) -> None:
        """Queue ``payload`` for ``peer`` without blocking (into the overflow when it is full)."""
        ...

    def retry(self) -> int:
        """Send what waits in the overflow; return how many messages went out."""
        ...

    def recv_ready(self, limit: int) -> list[bytes]:
        """Up to ``limit`` messages that have already arrived; never waits."""
        ...

    def accept(self, sender: int, sender_inc: int, target_inc: int) -> bool:
        """Count an arrived batch (from its header); False: it was meant for an older incarnation."""
        ...

    def counters(self) -> dict[str, Any]:
        """Plain data for the end-of-run probe: ``{"inc", "sent", "received", "overflow", "dropped"}``.

        ``sent`` maps ``str(peer)`` to ``[peer incarnation, messages sent]``; ``received`` maps
        ``"sender:incarnation"`` to messages accepted.
        """
        ...

    def pollable(self) -> Any:
        """What the worker process waits on while idle: an object a ``zmq.Poller`` can register
        (a ZeroMQ socket, or anything with a level-triggered ``fileno()``) that becomes readable
        when a message arrives."""
        ...

    def close(self) -> None:
        """Close every connection; queued messages get a short grace period at most."""
        ...
