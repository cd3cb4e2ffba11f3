"""What every connector shares: Storm-style config keys checked before anything starts, the
optional client library and its install hint, message decoding, and the error stream.

A connector class declares its keys in ``settings`` (key -> default; ``REQUIRED`` for keys without
one) under its ``prefix`` (``"kafka."``). ``config_problems`` (called by the topology's validation
with the component's merged config) refuses a missing key, an unknown key of the connector's prefix
(a typo would otherwise be ignored silently), a bad format, and a client library that is not
installed: all before a worker starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from squall.errors import ConfigError
from squall.topology.stream import DEFAULT_STREAM, Stream, normalize_outputs

#: The stream on which spouts emit what they could not decode, with the reason (one name for all
#: connectors). The message is acknowledged at the broker (or sent to its dead-letter place).
ERROR_STREAM = "connector_errors"
#: ``connector`` (e.g. "kafka"), ``source`` (where the message came from: "topic/partition@offset",
#: a queue and delivery tag, a stream entry id, "file:line"), ``reason`` (why it was refused),
#: ``payload`` (the raw message, bytes).
ERROR_FIELDS = ("connector", "source", "reason", "payload")

#: A setting without a default: the user must give it.
REQUIRED: Any = object()

#: Message formats a spout decodes (``<prefix>format``): see ``decode``.
FORMATS = ("text", "json", "bytes")


class MissingExtra(ConfigError):
    """A connector's client library is not installed."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_hint(extra: str, package: str) -> str:
    return f"pip install 'squall[{extra}]' (or: pip install {package})"


def require(module: str, extra: str, package: str) -> Any:
    """Import a connector's client library, or raise ``MissingExtra`` with the install line."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtra(f"the {extra} connector needs {package}: {install_hint(extra, package)}") from e


def with_error_stream(outputs: Any) -> list[Stream]:
    """``outputs`` (field names or Streams, as users write them) plus the ``ERROR_STREAM``."""
    streams, problems = normalize_outputs(outputs)
    if problems:  # validation reports them with the component's name
        return outputs if isinstance(outputs, list) else [outputs]
    out = list(streams.values())
    if ERROR_STREAM not in streams:
        out.append(Stream(ERROR_FIELDS, name=ERROR_STREAM))
    return out


class Connector:
    """Mixin for connector spouts and bolts: settings, their checks, the client library.

    Subclasses set ``connector`` (the name in messages and on the error stream), ``prefix``,
    ``settings``, and ``client = (module, extra, package)`` when they need a library.
    """

    connector: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    settings: ClassVar[dict[str, Any]] = {}
    client: ClassVar[tuple[str, str, str] | None] = None

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if cls.client is not None and not _installed(cls.client[0]):
            _module, extra, package = cls.client
            out.append((f"{cls.__name__} needs {package}, which is not installed", install_hint(extra, package)))
        for key, default in cls.settings.items():
            if default is REQUIRED and conf.get(key) in (None, ""):
                out.append(
                    (
                        f"{cls.__name__} needs '{key}'",
                        f"{cls.__name__}.spec(config={{'{key}': ...}}), or config = {{'{key}': ...}} in a subclass",
                    )
                )
        for key in conf:
            if cls.prefix and key.startswith(cls.prefix) and key not in cls.settings:
                known = ", ".join(sorted(cls.settings))
                out.append((f"unknown key '{key}' for {cls.__name__}", f"use one of: {known}"))
        fmt = conf.get(cls.prefix + "format", cls.settings.get(cls.prefix + "format"))
        if cls.prefix + "format" in cls.settings and fmt not in FORMATS:
            out.append((f"{cls.prefix}format={fmt!r} is not a format", f"use one of {', '.join(FORMATS)}"))
        return out

    @classmethod
    def setting(cls, conf: dict[str, Any], key: str) -> Any:
        """The value of ``key``: the component's merged config, else the connector's default."""
        value = conf.get(key)
        if value is None:
            value = cls.settings.get(key)
        if value is REQUIRED or (value is None and key not in cls.settings):
            raise ConfigError(f"{cls.__name__} needs '{key}' in its config")
        return value


def count_failure(fails: dict[Any, int], key: Any, max_retries: int | None) -> int | None:
    """Count one more failure of ``key`` in ``fails``: None while it may be replayed (``max_retries``
    None: forever), else its number of failures, the count forgotten: the caller gives it up."""
    n = fails[key] = fails.get(key, 0) + 1
    if max_retries is None or n <= max_retries:
        return None
    del fails[key]
    return n


class MessageDecoder:
    """Turns a message's bytes into a tuple's values for the spout's default stream.

    ``text``: one value, the UTF-8 text. ``bytes``: one value, the bytes as they came. ``json``: a
    JSON object gives one value per field of the stream (a missing field is an error), a JSON array
    gives its items (their number must match). Anything that does not fit raises ``ValueError``
    with the reason, which the spout sends to the ``ERROR_STREAM``.
    """

    __slots__ = ("fields", "fmt", "n")

    def __init__(self, fmt: str, fields: Sequence[str]):
        if fmt not in FORMATS:
            raise ConfigError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.fmt = fmt
        self.fields = tuple(fields)
        self.n = len(self.fields)

    def __call__(self, payload: bytes) -> list[Any]:
        if self.fmt == "bytes":
            values: list[Any] = [bytes(payload)]
        elif self.fmt == "text":
            values = [bytes(payload).decode("utf-8")]
        else:
            values = self._json(payload)
        if len(values) != self.n:
            raise ValueError(f"{len(values)} value(s) for the fields {list(self.fields)}")
        return values

    def _json(self, payload: bytes) -> list[Any]:
        doc = json.loads(payload)
        if isinstance(doc, dict):
            missing = [f for f in self.fields if f not in doc]
            if missing:
                raise ValueError(f"the JSON object has no field {missing[0]!r}")
            return [doc[f] for f in self.fields]
        if isinstance(doc, list):
            return doc
        raise ValueError(f"a JSON {type(doc).__name__} is neither an object nor an array")


def default_fields(outputs: Any) -> tuple[str, ...]:
    """The fields of a component's default stream (what a decoded message fills)."""
    streams, _ = normalize_outputs(outputs)
    s = streams.get(DEFAULT_STREAM)
    return s.fields if s is not None else ()


class ConnectorSpout(Connector):
    """Mixin for connector spouts (``class KafkaSpout(ConnectorSpout, Spout)``).

    Its outputs are the user's (``outputs = ['word']`` in a subclass; ``['message']`` by default)
    plus the ``ERROR_STREAM``, added to every subclass. ``self.decode`` (built by ``make_decoder``
    from ``<prefix>format``) fills the default stream's fields; override ``decode`` for another shape.
    """

    outputs: ClassVar[Any] = ["message"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "outputs" in cls.__dict__ or ERROR_STREAM not in normalize_outputs(cls.outputs)[0]:
            cls.outputs = with_error_stream(cls.outputs)

    def make_decoder(self, conf: dict[str, Any]) -> MessageDecoder:
        return MessageDecoder(self.setting(conf, self.prefix + "format"), default_fields(self.outputs))

    def emit_error(self, source: str, reason: str, payload: bytes) -> None:
        """Send an undecodable message to the ``ERROR_STREAM`` (unanchored: the caller acknowledges
        it at the broker at once, so it is never redelivered)."""
        self.emit([self.connector, source, reason, bytes(payload)], stream=ERROR_STREAM)  # type: ignore[attr-defined]
