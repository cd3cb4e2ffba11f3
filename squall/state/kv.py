"""``KeyValueState``: a dict that remembers which keys changed since the last checkpoint.

Storm's ``KeyValueState`` as a plain ``dict`` subclass: reads cost what a dict read costs; each
write also adds its key to ``changed`` (one set insert), so a checkpoint writes only the keys that
changed, never the whole state. Keys and values must be msgpack-encodable (None, bool, int, float,
str, bytes, and lists, tuples and dicts of those); a tuple key comes back as a tuple, a tuple value
as a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

_MISSING = object()


def encode(obj: Any) -> bytes:
    """A key or value as stored in a backend."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def decode_key(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=False, strict_map_key=False)


def decode_value(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


class KeyValueState(dict[Any, Any]):
    """A bolt's keyed state: use it as a dict. Squall checkpoints the keys written since the last
    checkpoint (``changed``), and restores the whole dict after a crash. A value changed in place
    (``self.state[k].append(x)``) is not seen: assign it again (``self.state[k] = v``), as Storm's
    ``put`` is needed after changing what ``get`` returned."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: keys written or deleted since the last checkpoint
        self.changed: set[Any] = set(self)

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.changed.add(key)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self.changed.add(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if key in self:
            self.changed.add(key)
            return dict.pop(self, key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[Any, Any]:
        key, value = dict.popitem(self)
        self.changed.add(key)
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def clear(self) -> None:
        self.changed.update(self)
        dict.clear(self)

    def __ior__(self, other: Any) -> KeyValueState:  # type: ignore[misc]
        self.update(other)
        return self

    def take_changes(self) -> dict[bytes, bytes | None]:
        """The encoded changes since the last call (None: the key was deleted); forgets them."""
        out: dict[bytes, bytes | None] = {}
        for key in self.changed:
            value = dict.get(self, key, _MISSING)
            out[encode(key)] = None if value is _MISSING else encode(value)
        self.changed = set()
        return out

    @classmethod
    def restored(cls, stored: Mapping[bytes, bytes]) -> KeyValueState:
        """The state a backend's ``load`` returned, with nothing marked changed."""
        state = cls()
        for k, v in stored.items():
            dict.__setitem__(state, decode_key(k), decode_value(v))
        return state


def decoded(stored: Mapping[bytes, bytes]) -> dict[Any, Any]:
    """A backend's stored mapping as plain Python keys and values (for reading state from outside)."""
    return {decode_key(k): decode_value(v) for k, v in stored.items()}
