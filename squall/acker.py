"""Guaranteed processing: Storm's XOR acker.

Every tracked tuple gets a random 64-bit edge id. For each spout tuple (a *root*) an acker task
keeps one 64-bit value: the XOR of every edge id created or acked in its tree. The spout sends
``init(root, xor of its edges)``; a bolt that acks tuple ``e`` after emitting children
``c1..cn`` anchored to it sends ``ack(root, e ^ c1 ^ ... ^ cn)``. Each edge id is XORed in twice
(once created, once acked), so the value is 0 exactly when the whole tree is processed —
constant memory per pending spout tuple, whatever the tree's size. (A false zero needs two
random 64-bit sums to collide: Storm estimates once in 50 million years at 10k acks/s.)

Messages (plain tuples, batched through the same channels as user tuples):

    to an acker:    (INIT, root, xor, spout_task) · (ACK, root, xor, 0) · (FAIL, root, 0, 0)
    to a spout:     (ACKED, root) · (FAILED, root)

The acker for a root is ``ackers[root % len(ackers)]`` (Storm's mod hashing), so every message
of one tree meets in one place. Entries not completed in ``topology.message.timeout.secs`` are
dropped (the spout fails them on its own timer).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INIT, ACK, FAIL = 0, 1, 2
ACKED, FAILED = 1, 2
ACKER_COMPONENT = "__acker"
ACK_STREAM = "__ack"


class RotatingMap:
    """A dict whose entries expire after 2 to 3 rotations (Storm's RotatingMap).

    Rotating every ``timeout / 2`` seconds makes an entry expire between 1x and 1.5x the timeout,
    without a timestamp per entry or a scan of live entries.
    """

    __slots__ = ("buckets", "size")

    def __init__(self, buckets: int = 3):
        self.buckets: list[dict[Any, Any]] = [{} for _ in range(buckets)]
        self.size = 0

    def put(self, key: Any, value: Any) -> None:
        self.buckets[0][key] = value
        self.size += 1

    def get(self, key: Any) -> Any:
        for b in self.buckets:
            v = b.get(key)
            if v is not None:
                return v
        return None

    def pop(self, key: Any) -> Any:
        for b in self.buckets:
            v = b.pop(key, None)
            if v is not None:
                self.size -= 1
                return v
        return None

    def rotate(self) -> dict[Any, Any]:
        """Drop and return the oldest bucket."""
        expired = self.buckets.pop()
        self.buckets.insert(0, {})
        self.size -= len(expired)
        return expired

    def __len__(self) -> int:
        return self.size

    def __contains__(self, key: Any) -> bool:
        return any(key in b for b in self.buckets)


class XorLedger:
    """The acker's state: root -> [xor value, spout task (None until init)]."""

    def __init__(self) -> None:
        self.pending = RotatingMap()
        self.completed = 0
        self.failed = 0
        self.expired = 0

    def update(self, kind: int, root: int, val: int, spout_task: int) -> tuple[int, int] | None:
        """Apply one message; return (ACKED or FAILED, spout task) when the spout must be told."""
        entry = self.pending.get(root)
        if kind == FAIL:
            if entry is None:
                self.pending.put(root, [0, None, True])  # the init may still come: fail it then
                return None
            if entry[1] is None:
                entry[2] = True
                return None
            self.pending.pop(root)
            self.failed += 1
            return FAILED, entry[1]
        if entry is None:
            entry = [0, None, False]
            self.pending.put(root, entry)
        entry[0] ^= val
        if kind == INIT:
            entry[1] = spout_task
        if entry[1] is None:
            return None
        if entry[2]:
            self.pending.pop(root)
            self.failed += 1
            return FAILED, entry[1]
        if entry[0] == 0:
            self.pending.pop(root)
            self.completed += 1
            return ACKED, entry[1]
        return None

    def rotate(self) -> None:
        self.expired += len(self.pending.rotate())


class AckerExecutor:
    """An acker task: applies batches of ledger messages, tells spouts about finished trees."""

    raw = True  # receives plain message tuples, not Tuple objects

    def __init__(self, task: int, spout_bufs: dict[int, list[Any]]):
        self.task = task
        self.component = ACKER_COMPONENT
        self.ledger = XorLedger()
        self.spout_bufs = spout_bufs
        self.executed = 0
        self.routers: dict[str, Any] = {}
        self.acked = self.failed = self.error_count = 0

    def execute(self, batch: Iterable[tuple[int, int, int, int]], n: int) -> None:
        ledger = self.ledger
        update = ledger.update
        pending = ledger.pending
        newest = pending.buckets[0]
        bufs = self.spout_bufs
        for msg in batch:
            kind, root, val, task = msg
            # The common cases inline: a tree announced, an ack for a tree announced (newest bucket).
            if kind == ACK:
                entry = newest.get(root)
                if entry is not None and entry[1] is not None and not entry[2]:
                    v = entry[0] ^ val
                    if v:
                        entry[0] = v
                    else:
                        del newest[root]
                        pending.size -= 1
                        ledger.completed += 1
                        buf = bufs.get(entry[1])
                        if buf is not None:
                            buf.append((ACKED, root))
                    continue
            elif kind == INIT and val and root not in newest:
                newest[root] = [val, task, False]
                pending.size += 1
                continue
            done = update(kind, root, val, task)
            if done is not None:
                buf = bufs.get(done[1])
                if buf is not None:
                    buf.append((done[0], root))
        self.executed += n

    def rotate(self) -> None:
        self.ledger.rotate()

    def emitted(self) -> dict[str, int]:
        return {}

    def stats(self) -> dict[str, Any]:
        led = self.ledger
        return {"pending": len(led.pending), "completed": led.completed, "failed": led.failed, "expired": led.expired}
