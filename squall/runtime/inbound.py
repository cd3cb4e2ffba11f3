"""Checking what arrives from other workers before it is delivered.

Only the run's workers can reach a worker's data socket (``transport.security``), but a message
is still checked before anything acts on it: a malformed or unknown one (bad msgpack, a wrong
shape, an unknown target task or stream, values whose arity is not the stream's, message ids
that no spout could have issued) is counted, logged (throttled) and dropped; it never raises
out of the worker's loop, and it never reaches a task half-checked.

The checks are per batch, in C where they touch every tuple (``map``/``set``/``all`` over the
batch): the header of each group is looked up once in ``Worker.inbound``, which holds only keys
the topology can produce, and ``inbound_check`` returns what a batch of that key must satisfy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from itertools import starmap as _starmap
from operator import or_
from typing import Any

from squall.runtime.acker import TASK_MASK

log = logging.getLogger("squall.runtime.inbound")

LOG_EVERY = 10.0  # seconds between two log lines about dropped messages
_INTS = frozenset({int})
_TUPLES = frozenset({tuple})


class Malformed(ValueError):
    """A message or a batch from another worker that is not what the topology produces."""


class DropLog:
    """Counts dropped messages and logs them, one line per ``LOG_EVERY`` seconds at most."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self._logged_at = -LOG_EVERY
        self._since = 0  # dropped since the last log line

    def drop(self, reason: str, exc: BaseException | None = None) -> None:
        self.count += 1
        self._since += 1
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            return
        detail = f": {type(exc).__name__}: {exc}" if exc is not None and str(exc) != reason else ""
        log.warning(
            "%s: dropped %d malformed message(s) since the last report (%d in all); latest: %s%s",
            self.what,
            self._since,
            self.count,
            reason,
            detail,
        )
        self._logged_at = now
        self._since = 0


def check_ints(values: Any, ids: Any) -> None:
    """A batch of ints (``__ack`` to a spout: completed roots)."""
    if type(values) is not tuple or not set(map(type, values)) <= _INTS or ids is not None:
        raise Malformed("an __ack batch that is not a list of ints")


def check_int_pairs(values: Any, ids: Any) -> None:
    """``root, xor, root, xor, ...`` (``__ack`` to an acker)."""
    check_ints(values, ids)
    if len(values) & 1:
        raise Malformed("an __ack batch of odd length")


def check_barrier(values: Any, ids: Any) -> None:
    """``(n,)``: a checkpoint barrier (``runtime.checkpoint``), n a positive int."""
    if type(values) is not tuple or len(values) != 1 or type(values[0]) is not int or values[0] < 1 or ids is not None:
        raise Malformed("a checkpoint barrier that is not (checkpoint id,)")


def check_ctl(values: Any, ids: Any) -> None:
    """``(kind, root)`` pairs (``__ackctl``; rare, checked in Python)."""
    if type(values) is not tuple or ids is not None:
        raise Malformed("an __ackctl batch that is not a list")
    for v in values:
        if type(v) is not tuple or len(v) != 2 or type(v[0]) is not int or type(v[1]) is not int:
            raise Malformed("an __ackctl entry that is not (kind, root)")


def values_check(arity: int) -> Callable[[Any, Any], None]:
    """Untracked tuples of a stream with ``arity`` fields: every tuple a sequence of that length."""
    want = {arity}

    def check(values: Any, ids: Any) -> None:
        if type(values) is not tuple:
            raise Malformed("a batch that is not a list of tuples")
        try:
            ok = set(map(len, values)) == want or not values  # ~25 ns per tuple, in C
        except TypeError:  # a value without a length
            ok = False
        if not ok:
            raise Malformed(f"a tuple whose arity is not the stream's ({arity})")

    return check


def tracked_check(arity: int, spout_tasks: frozenset[int]) -> Callable[[Any, Any], None]:
    """Tracked tuples: values as ``values_check``, plus one message id per tuple, each either a
    spout's root (an int whose low bits name a spout task) or ``(root, edge, ...)`` pairs of ints."""
    check_values = values_check(arity)
    mask = TASK_MASK.__and__

    def check(values: Any, ids: Any) -> None:
        check_values(values, None)
        if type(ids) is not tuple or len(ids) != len(values):
            raise Malformed("tracked tuples without one message id each")
        kinds = set(map(type, ids))
        if kinds <= _TUPLES:  # (root, edge): the common case past the first hop, checked in C:
            try:  # or_(root, edge) is an int only for two ints (and raises for any other length)
                if set(map(type, _starmap(or_, ids))) <= _INTS:
                    return
            except TypeError:
                pass
            check_one_by_one(ids, spout_tasks)  # several roots per id (rare), or a bad one
        elif kinds <= _INTS:  # a spout's tuples on their first hop: the id is the root
            if not set(map(mask, ids)) <= spout_tasks:
                raise Malformed("a message id that no spout task issued")
        else:
            check_one_by_one(ids, spout_tasks)

    return check


def check_one_by_one(ids: tuple[Any, ...], spout_tasks: frozenset[int]) -> None:
    """Message ids of any mix of shapes, in Python (rare: several anchors, or a malformed batch)."""
    for mid in ids:
        if type(mid) is int:
            if mid & TASK_MASK not in spout_tasks:
                raise Malformed("a message id that no spout task issued")
        elif type(mid) is not tuple or not mid or len(mid) & 1 or not set(map(type, mid)) <= _INTS:
            raise Malformed("a message id that is not (root, edge) pairs of ints")
