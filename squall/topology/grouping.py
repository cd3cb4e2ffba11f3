"""Stream groupings: how a stream's tuples are split among the tasks of a consuming bolt.

``Grouping`` is the declaration (streamparse's names: ``Grouping.SHUFFLE``, ``Grouping.fields('word')``...).
``make_picker`` turns a declaration into a fast picker that the router calls per emit; a picker
returns indices into the consumer's sorted task list, never allocating on the common paths.

Fields grouping hashes with murmur3 (``stable_hash``), never Python's ``hash()``: ``hash()`` of a
str is salted per process, so two workers would send the same word to different tasks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from itertools import cycle
from typing import Any, Protocol, cast

import mmh3
import msgpack

SHUFFLE = "shuffle"
FIELDS = "fields"
ALL = "all"
GLOBAL = "global"
NONE = "none"
DIRECT = "direct"
LOCAL_OR_SHUFFLE = "local_or_shuffle"
PARTIAL_KEY = "partial_key"
CUSTOM = "custom"

KINDS = (SHUFFLE, FIELDS, ALL, GLOBAL, NONE, DIRECT, LOCAL_OR_SHUFFLE, PARTIAL_KEY, CUSTOM)


class CustomGrouping(Protocol):
    """What a user-defined grouping implements (Storm's CustomStreamGrouping)."""

    def prepare(self, context: Any, stream: str, target_tasks: list[int]) -> None: ...

    def choose_tasks(self, task_id: int, values: Sequence[Any]) -> list[int]: ...


class Grouping:
    """How a bolt subscribes to a stream. Use the class constants and factories."""

    __slots__ = ("kind", "field_names", "custom_obj")

    SHUFFLE: Grouping
    ALL: Grouping
    GLOBAL: Grouping
    NONE: Grouping
    DIRECT: Grouping
    LOCAL_OR_SHUFFLE: Grouping

    def __init__(self, kind: str, field_names: Sequence[str] = (), custom_obj: Any = None):
        self.kind = kind
        self.field_names: tuple[str, ...] = tuple(field_names)
        self.custom_obj = custom_obj

    @staticmethod
    def fields(*names: str | list[str] | tuple[str, ...]) -> Grouping:
        """Same values of these fields -> same task (in every process, on every machine)."""
        return Grouping(FIELDS, _field_names(names))

    @staticmethod
    def partial_key(*names: str | list[str] | tuple[str, ...]) -> Grouping:
        """Storm's partial key grouping: each key goes to the less loaded of two candidate tasks."""
        return Grouping(PARTIAL_KEY, _field_names(names))

    @staticmethod
    def custom(grouping: CustomGrouping) -> Grouping:
        """A user grouping object with ``prepare(context, stream, target_tasks)`` and
        ``choose_tasks(task_id, values) -> list[int]``. It must be importable by every worker."""
        return Grouping(CUSTOM, (), grouping)

    def __repr__(self) -> str:
        if self.kind in (FIELDS, PARTIAL_KEY):
            return f"Grouping.{self.kind}({', '.join(map(repr, self.field_names))})"
        if self.kind == CUSTOM:
            return f"Grouping.custom({self.custom_obj!r})"
        return f"Grouping.{self.kind.upper()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grouping) and (self.kind, self.field_names, self.custom_obj) == (
            other.kind,
            other.field_names,
            other.custom_obj,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.field_names))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (for the UI, the CLI and logs)."""
        d: dict[str, Any] = {"type": self.kind}
        if self.field_names:
            d["fields"] = list(self.field_names)
        if self.custom_obj is not None:
            d["class"] = f"{type(self.custom_obj).__module__}.{type(self.custom_obj).__qualname__}"
        return d


def _field_names(names: tuple[str | list[str] | tuple[str, ...], ...]) -> tuple[str, ...]:
    """``fields('a', 'b')``, or streamparse's ``fields(['a', 'b'])``."""
    if len(names) == 1 and isinstance(names[0], (list, tuple)):
        return tuple(names[0])
    return cast("tuple[str, ...]", names)  # several names (validation reports one the stream does not declare)


Grouping.SHUFFLE = Grouping(SHUFFLE)
Grouping.ALL = Grouping(ALL)
Grouping.GLOBAL = Grouping(GLOBAL)
Grouping.NONE = Grouping(NONE)
Grouping.DIRECT = Grouping(DIRECT)
Grouping.LOCAL_OR_SHUFFLE = Grouping(LOCAL_OR_SHUFFLE)


_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_mmh3 = mmh3.hash


def stable_hash(value: Any) -> int:
    """A 32-bit hash that is the same in every process, host and Python version.

    str and bytes hash their UTF-8 bytes; int its decimal text; anything else (and several
    fields together) its msgpack encoding, so a list and a tuple hash alike.
    """
    t = type(value)
    if t is str or t is bytes:
        return _mmh3(value)
    if t is int:
        return _mmh3(str(value))
    # Subclasses (StrEnum, IntEnum...) cross processes as plain str/int: hash them as such.
    if isinstance(value, str):
        return _mmh3(str.__str__(value))
    if isinstance(value, int) and t is not bool:
        return _mmh3(int.__repr__(value))
    return _mmh3(_packb(value))


# A picker has a mode that tells the router how to call it:
#   CYCLE: fn() -> index          KEY: fn(values) -> index
#   MANY:  fn(values) -> [index]  FIXED: fn is a constant index      DIRECTED: chosen by emit()
CYCLE, KEY, MANY, FIXED, DIRECTED = range(5)


class Picker:
    """A compiled grouping for one (source task, stream, consumer component)."""

    __slots__ = ("mode", "fn", "targets", "key_index")

    def __init__(self, mode: int, fn: Any, targets: list[int], key_index: int | None = None):
        self.mode = mode
        self.fn = fn
        self.targets = targets
        self.key_index = key_index  # fields grouping on one field: its index (the router inlines key_one)

    def pick(self, values: Sequence[Any]) -> list[int]:
        """Indices (into ``targets``) of the tasks this tuple goes to. The slow, general path."""
        mode = self.mode
        if mode == CYCLE:
            return [self.fn()]
        if mode == KEY:
            return [self.fn(values)]
        if mode == MANY:
            targets: list[int] = self.fn(values)
            return targets
        if mode == FIXED:
            return [self.fn]
        raise AssertionError("a directed stream is routed by emit(direct_task=...)")


def _key_fn(field_indices: tuple[int, ...], n: int) -> Callable[[Sequence[Any]], int]:
    if len(field_indices) == 1:
        (i,) = field_indices

        def key_one(values: Sequence[Any]) -> int:
            """``stable_hash(v) % n``; str, the usual key, skips the call. The router's senders inline this."""
            v = values[i]
            t = type(v)
            if t is str:
                return _mmh3(v) % n
            return stable_hash(v) % n

        return key_one

    def key_many(values: Sequence[Any]) -> int:
        return _mmh3(_packb([values[i] for i in field_indices])) % n

    return key_many


def make_picker(
    grouping: Grouping,
    *,
    source_fields: Sequence[str],
    targets: Sequence[int],
    local_targets: Sequence[int] = (),
    source_task: int = 0,
    stream: str = "default",
    context: Any = None,
) -> Picker:
    """Compile ``grouping`` for one emitting task. ``targets`` are the consumer's task ids."""
    tasks = sorted(targets)
    n = len(tasks)
    kind = grouping.kind
    rng = random.Random(source_task * 7919 + n)
    local = [tasks.index(t) for t in sorted(set(local_targets)) if t in tasks] if kind == LOCAL_OR_SHUFFLE else []
    if kind in (SHUFFLE, NONE) or (kind == LOCAL_OR_SHUFFLE and not local):
        # Storm's shuffle: equal counts per task. A shuffled cycle gives that without a random call per tuple.
        order = list(range(n))
        rng.shuffle(order)
        return Picker(CYCLE, cycle(order).__next__, tasks)
    if kind == LOCAL_OR_SHUFFLE:
        rng.shuffle(local)
        return Picker(CYCLE, cycle(local).__next__, tasks)
    if kind == FIELDS:
        idx = tuple(list(source_fields).index(f) for f in grouping.field_names)
        if not idx:  # fields=[] is how streamparse and Storm spell GLOBAL
            return Picker(FIXED, 0, tasks)
        return Picker(KEY, _key_fn(idx, n), tasks, idx[0] if len(idx) == 1 else None)
    if kind == GLOBAL:
        return Picker(FIXED, 0, tasks)  # the lowest task id, as in Storm
    if kind == ALL:
        every = list(range(n))
        return Picker(MANY, lambda values: every, tasks)
    if kind == DIRECT:
        return Picker(DIRECTED, None, tasks)
    if kind == PARTIAL_KEY:
        return Picker(KEY, _partial_key_fn(grouping, source_fields, n), tasks)
    if kind == CUSTOM:
        obj = grouping.custom_obj
        obj.prepare(context, stream, list(tasks))
        position = {t: i for i, t in enumerate(tasks)}

        def custom(values: Sequence[Any]) -> list[int]:
            return [position[t] for t in obj.choose_tasks(source_task, values)]

        return Picker(MANY, custom, tasks)
    raise ValueError(f"unknown grouping kind {kind!r}")


def _partial_key_fn(grouping: Grouping, source_fields: Sequence[str], n: int) -> Callable[[Sequence[Any]], int]:
    """Storm's PartialKeyGrouping: two candidates per key, the one this emitter has sent less to wins."""
    idx = [list(source_fields).index(f) for f in grouping.field_names]
    load = [0] * n

    def key(values: Sequence[Any]) -> int:
        raw = _packb([values[i] for i in idx]) if idx else _packb(list(values))
        a = _mmh3(raw, 0) % n
        b = (a + 1 + _mmh3(raw, 0x9E3779B9) % (n - 1)) % n if n > 1 else a  # two distinct candidates
        choice = a if load[a] <= load[b] else b
        load[choice] += 1
        return choice

    return key
