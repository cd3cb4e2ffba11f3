"""What crosses a process boundary, encoded with msgpack (never pickle: a socket is not trusted).

Data message: ``[sender, sender_incarnation, target_incarnation, [group, ...]]`` where a group is
``[dest_task, src_task, stream, [values, ...]]`` (plus ``[message ids]`` for tracked tuples): one
header per (target task, source task, stream), then the values of every tuple in it.
Credit message: ``[sender, sender_incarnation, target_incarnation, total]`` with ``total`` an int:
the sender has processed ``total`` tuples from the target (its incarnation) so far
(``runtime.worker.PeerFlow``).
Control message: a msgpack map with a ``"t"`` (type) key.
"""

from __future__ import annotations

from typing import Any

import msgpack

KEEP_BUFFER = 1 << 20  # a message larger than this: the packer's grown buffer is let go (not kept for ever)


def _new_packer() -> msgpack.Packer:
    return msgpack.Packer(use_bin_type=True, autoreset=True)


_packer = [_new_packer()]  # the one in use (a list: replaced in place)


def pack(obj: Any) -> bytes:
    """Encode one message with a reused packer (cheaper than ``msgpack.packb`` for small messages).

    The packer keeps its buffer at the largest size it has needed; after a large message a new
    one is made, so a worker that once sent 64 MB does not hold 64 MB more for the rest of the run.
    """
    data: bytes = _packer[0].pack(obj)
    if len(data) > KEEP_BUFFER:
        _packer[0] = _new_packer()
    return data


def unpack(payload: bytes) -> Any:
    """Decode a message; arrays become tuples (faster to build, and values are immutable anyway)."""
    return msgpack.unpackb(payload, use_list=False, raw=False, strict_map_key=False)


def unpack_control(payload: bytes) -> Any:
    """Decode a control message; arrays stay lists (JSON-like, for maps of counters and configs)."""
    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


def encode_batch(sender: int, sender_inc: int, target_inc: int, groups: list[Any] | int) -> bytes:
    """A data message (``groups``: a list), or a credit message (``groups``: an int)."""
    return pack((sender, sender_inc, target_inc, groups))


def find_unencodable(values_list: list[Any]) -> list[int]:
    """Indices of tuples whose values msgpack cannot encode (to name the culprit in an error)."""
    bad = []
    for i, v in enumerate(values_list):
        try:
            pack(v)
        except (TypeError, ValueError, OverflowError):
            bad.append(i)
    return bad


def split_groups(groups: list[Any], n: int, pieces: int) -> list[tuple[list[Any], int]]:
    """Cut the groups of a batch of ``n`` tuples into about ``pieces`` batches, in order.

    Returns ``[(groups, tuples in them), ...]``; a group is sliced where a piece ends (its values
    and, when tracked, its message ids alike), except a group of a system stream (``__ack``,
    ``__ackctl``: its values may be ``root, xor`` pairs), which stays whole. For a batch whose
    encoding is too large.
    """
    per = max(1, -(-n // pieces))
    parts: list[tuple[list[Any], int]] = []
    cur: list[Any] = []
    room = per
    for group in groups:
        dest, src, stream, values = group[:4]
        ids = group[4] if len(group) > 4 else None
        if stream.startswith("__"):  # whole: small, and pairs must not be cut
            cur.append(group)
            room -= len(values)
            if room <= 0:
                parts.append((cur, per - room))
                cur, room = [], per
            continue
        i = 0
        while i < len(values):
            k = min(room, len(values) - i)
            if ids is None:
                cur.append((dest, src, stream, values[i : i + k]))
            else:
                cur.append((dest, src, stream, values[i : i + k], ids[i : i + k]))
            i += k
            room -= k
            if not room:
                parts.append((cur, per))
                cur, room = [], per
    if cur:
        parts.append((cur, per - room))
    return parts
