"""Guaranteed processing: Storm's XOR acker.

Every tracked tuple gets a random 64-bit edge id. For each spout tuple (a *root*) an acker task
keeps one 64-bit value: the XOR of every edge id created or acked in its tree. The spout sends
``init(root, xor of its edges)``; a bolt that acks tuple ``e`` after emitting children
``c1..cn`` anchored to it sends ``ack(root, e ^ c1 ^ ... ^ cn)``. Each edge id is XORed in twice
(once created, once acked), so the value is 0 exactly when the whole tree is processed —
constant memory per pending spout tuple, whatever the tree's size. (A false zero needs two
random 64-bit sums to collide: Storm estimates once in 50 million years at 10k acks/s.)

A root id also says where its tree lives: its low ``TASK_BITS`` (16) bits are the spout task,
and ``(root >> TASK_BITS) % n_ackers`` its acker (``make_root``, ``acker_of``), so the acker needs
no INIT message to learn whom to tell, and a spout draws roots whose acker is in its own worker
(the spout's own messages never cross processes; only acks from remote bolts do). Bits
``LATENCY_SAMPLE_SHIFT`` and up are random, so ``is_latency_sampled`` picks 1 tree in 16 for the
complete-latency figure without a counter.

The spout (``SpoutExecutor``) and the bolts (``BoltExecutor.execute_tracked``) compute these
per tuple inline, from the constants below; ``tests/unit/test_hotpath_props.py`` runs those
copies against the functions here.

Messages, batched through the same channels as user tuples, on two system streams:

    __ack     flat lists of ints. To an acker: ``root, xor, root, xor, ...`` -- the spout's
              announcement of a tree and every bolt's ack alike (XOR does not care which came
              first). To a spout: ``root, root, ...`` of completed trees.
    __ackctl  tuples, rare. To an acker: (FAIL, root). To a spout: (FAILED, root).

No tuple object per ack and compact msgpack arrays: acking costs a few appends per tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from squall.topology.plan import ACKER_COMPONENT, TASK_BITS

FAIL, FAILED = 2, 2
ACK_STREAM = "__ack"
CTL_STREAM = "__ackctl"
SYSTEM_STREAMS = (ACK_STREAM, CTL_STREAM)
TASK_MASK = (1 << TASK_BITS) - 1  # root & TASK_MASK: the spout task of the tree
ROOT_RANDOM_BITS = 40  # random bits per root: with 16 task bits and n_ackers <= 256, a root fits in 64 bits
LATENCY_SAMPLE_SHIFT = TASK_BITS + 8  # bits of the random part (above the acker choice for <= 256 ackers)...
LATENCY_SAMPLE_MASK = 15  # ...that are all 0 for 1 tree in 16: those trees' complete latency is measured


def make_root(random40: int, acker_index: int, n_ackers: int, spout_task: int) -> int:
    """A root id for ``spout_task``'s tree whose acker is ``acker_index`` (``ROOT_RANDOM_BITS`` random bits).

    The spout draws ``random40 = random.getrandbits(ROOT_RANDOM_BITS)``. Its emit inlines this.
    """
    return ((random40 * n_ackers + acker_index) << TASK_BITS) | spout_task


def acker_of(root: int, n_ackers: int) -> int:
    """Index (in task order) of the acker task that tracks ``root``'s tree. Bolts inline this."""
    return (root >> TASK_BITS) % n_ackers


def is_latency_sampled(root: int) -> bool:
    """True for the 1 tree in 16 whose complete latency the spout records. The spout inlines this."""
    return not (root >> LATENCY_SAMPLE_SHIFT) & LATENCY_SAMPLE_MASK


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
    """The acker's state: root -> XOR of everything announced and acked so far in its tree."""

    def __init__(self) -> None:
        self.pending = RotatingMap()
        self.completed = 0
        self.failed = 0
        self.expired = 0

    def ack(self, root: int, val: int) -> bool:
        """Fold ``val`` into the tree; True when it completes (and is forgotten)."""
        return bool(self.fold((root, val)))

    def fold(self, flat: Sequence[int]) -> list[int]:
        """Fold ``root, val, root, val, ...`` into the trees; return the roots that completed, in order.

        THE acker rule (``ack`` and ``AckerExecutor.execute_acks`` both run it): a value XORs into
        its root's entry; an entry that becomes 0 is a completed tree and is forgotten; a first value
        of 0 (a no-op) creates nothing. Every message moves its tree to the newest bucket (its timeout
        restarts). Written for speed: one dict lookup per message while only the newest bucket holds
        trees (the common case); the older buckets are searched only for a root not found there.
        """
        pending = self.pending
        buckets = pending.buckets
        newest = buckets[0]
        older = [b for b in buckets[1:] if b]
        done: list[int] = []
        it = iter(flat)
        for root, val in zip(it, it):  # noqa: B905 - (root, value) pairs of a flat list, even by construction
            v = newest.get(root)
            if v is None:
                for b in older:
                    v = b.pop(root, None)
                    if v is not None:
                        break
                else:  # a new tree (or a late message of a forgotten one)
                    if val:
                        newest[root] = val
                    continue
                x = v ^ val  # found in an older bucket (and taken out of it)
                if x:
                    newest[root] = x
                else:
                    done.append(root)
                continue
            x = v ^ val
            if x:
                newest[root] = x
            else:
                del newest[root]
                done.append(root)
        pending.size = sum(map(len, buckets))
        self.completed += len(done)
        return done

    def fail(self, root: int) -> None:
        """The tree failed: forget it (late acks for it start an entry that expires)."""
        self.pending.pop(root)
        self.failed += 1

    def rotate(self) -> None:
        self.expired += len(self.pending.rotate())


class AckerExecutor:
    """An acker task: folds acks into its ledger, tells spouts about finished trees.

    ``spout_acks[task]`` / ``spout_ctl[task]``: the buffers to each spout task on __ack / __ackctl.
    """

    def __init__(self, task: int, spout_acks: dict[int, list[Any]], spout_ctl: dict[int, list[Any]]):
        self.task = task
        self.component = ACKER_COMPONENT
        self.ledger = XorLedger()
        self.spout_acks = spout_acks
        self.spout_ctl = spout_ctl
        self.executed = 0
        self.routers: dict[str, Any] = {}
        self.acked = self.failed = self.error_count = 0

    def execute_acks(self, flat: list[int], n: int) -> None:
        """``root, xor`` pairs: announcements and acks. Completed trees go to their spout tasks."""
        bufs = self.spout_acks
        for root in self.ledger.fold(flat):
            buf = bufs.get(root & TASK_MASK)
            if buf is not None:
                buf.append(root)
        self.executed += n // 2

    def execute(self, batch: Iterable[tuple[int, int]], n: int) -> None:
        """Control messages: (FAIL, root)."""
        for _kind, root in batch:
            self.ledger.fail(root)
            buf = self.spout_ctl.get(root & TASK_MASK)
            if buf is not None:
                buf.append((FAILED, root))
        self.executed += n

    def rotate(self) -> None:
        self.ledger.rotate()

    def emitted(self) -> dict[str, int]:
        return {}

    def stats(self) -> dict[str, Any]:
        led = self.ledger
        return {"pending": len(led.pending), "completed": led.completed, "failed": led.failed, "expired": led.expired}
