"""Output stream declarations (streamparse's ``Stream``)."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_STREAM = "default"


class Stream:
    """A named output stream and its field names.

    ``direct=True`` means producers pick the consuming task (``emit(..., direct_task=...)``)
    and consumers must subscribe with ``Grouping.DIRECT``.
    """

    __slots__ = ("fields", "name", "direct")

    def __init__(self, fields: Sequence[str] = (), name: str = DEFAULT_STREAM, direct: bool = False):
        if isinstance(fields, str):
            fields = [fields]
        self.fields: tuple[str, ...] = tuple(fields)
        self.name = name
        self.direct = bool(direct)

    def __repr__(self) -> str:
        direct = ", direct=True" if self.direct else ""
        return f"Stream({list(self.fields)!r}, name={self.name!r}{direct})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and (self.fields, self.name, self.direct) == (
            other.fields,
            other.name,
            other.direct,
        )

    def __hash__(self) -> int:
        return hash((self.fields, self.name, self.direct))


def normalize_outputs(outputs: object) -> tuple[dict[str, Stream], list[str]]:
    """Turn a component's ``outputs`` into {stream name: Stream}; also return problems found.

    ``outputs`` is a list of field names (the default stream) or of ``Stream`` objects,
    as in streamparse.
    """
    problems: list[str] = []
    streams: dict[str, Stream] = {}
    if outputs is None:
        return streams, problems
    if isinstance(outputs, (str, Stream)):
        outputs = [outputs]
    if not isinstance(outputs, (list, tuple)):
        problems.append(f"outputs must be a list of field names or Stream objects, got {outputs!r}")
        return streams, problems
    plain = [o for o in outputs if isinstance(o, str)]
    declared = [o for o in outputs if isinstance(o, Stream)]
    bad = [o for o in outputs if not isinstance(o, (str, Stream))]
    if bad:
        problems.append(f"outputs must hold only field names (str) or Stream objects, got {bad!r}")
    if plain and declared:
        problems.append("outputs mixes field names and Stream objects; use Stream(...) for every stream")
    if plain:
        declared = [Stream(plain)]
    for s in declared:
        if not isinstance(s.name, str) or not s.name:
            problems.append(f"stream name {s.name!r} is not a non-empty string")
            continue
        if not all(isinstance(f, str) and f for f in s.fields):
            problems.append(f"stream '{s.name}' has field names that are not non-empty strings: {list(s.fields)!r}")
            continue
        if s.name in streams:
            problems.append(f"stream '{s.name}' is declared twice in outputs")
        if len(set(s.fields)) != len(s.fields):
            problems.append(f"stream '{s.name}' declares a field twice: {list(s.fields)}")
        streams[s.name] = s
    return streams, problems
