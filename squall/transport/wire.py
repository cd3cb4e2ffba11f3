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

from collections.abc import Callable
from typing import Any

import msgpack

_packer = msgpack.Packer(use_bin_type=True, autoreset=True)
pack: Callable[[Any], bytes] = _packer.pack


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
