"""Exactly-once sinks into Redis hashes (redis-py, ``pip install 'squall[redis]'``): see
docs/connectors.md, "Exactly-once output".

* ``RedisTransactionalSink``: each committed checkpoint's batch of a task is one field (the task id)
  of the hash ``<redis.key.prefix>:<checkpoint>``, a JSON array of records (one ``json.dumps`` per
  batch, not per record), written in one ``MULTI``/``EXEC`` with the hash's entry in the index
  ``<redis.key.prefix>:batches`` (a sorted set, scored by checkpoint): writing it again after a crash
  sets the same field to the same value, and a reader sees a batch whole or not at all.
* ``RedisIdempotentSink``: ``HSET <redis.hash> <key> <value>`` every ``flush_interval``: the last
  value of each key wins.
"""

from __future__ import annotations

import json
import operator
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, Connector, require
from squall.errors import DeliveryError
from squall.topology.sinks import IdempotentSink, TransactionalSink
from squall.topology.tuple import Tuple

CLIENT = ("redis", "redis", "redis")
CHUNK = 1000  # fields per HSET command (RedisIdempotentSink)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _value(value: Any) -> Any:
    """A hash value: bytes, str and numbers as they are, anything else as JSON."""
    if isinstance(value, (bytes, str, int, float)) and not isinstance(value, bool):
        return value
    return json.dumps(value, separators=(",", ":"), default=_json_default)


class _RedisSink(Connector):
    connector = "redis"
    prefix = "redis."
    client = CLIENT
    settings: ClassVar[dict[str, Any]] = {"redis.url": REQUIRED, "redis.socket.timeout.secs": 5.0}

    def _connect(self, conf: dict[str, Any]) -> None:
        redis = require(*CLIENT)
        timeout = float(self.setting(conf, "redis.socket.timeout.secs"))
        self.r = redis.Redis.from_url(
            self.setting(conf, "redis.url"), socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.RedisError = redis.RedisError

    def _execute(self, pipe: Any, what: str) -> None:
        try:
            pipe.execute()
        except self.RedisError as exc:
            raise DeliveryError(f"{type(self).__name__}: {what} failed: {exc}") from None

    def cleanup(self) -> None:
        r = self.__dict__.get("r")
        if r is not None:
            r.close()
        super().cleanup()  # type: ignore[misc]


def _fields_problems(cls: type, conf: dict[str, Any], key: str, example: str) -> list[tuple[str, str]]:
    value = conf.get(key)
    if value is None or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return []
    return [(f"{cls.__name__}: {key}={value!r} is not a list of field names", f"{key}: {example}")]


class RedisTransactionalSink(_RedisSink, TransactionalSink):
    """Exactly once: the records of each committed checkpoint as one field per task of the hash
    ``<redis.key.prefix>:<checkpoint>`` (value: a JSON array of records, each an array of the tuple's
    ``redis.fields`` in that order), indexed in the sorted set ``<redis.key.prefix>:batches`` (scored
    by checkpoint), in one MULTI/EXEC: writing a batch again sets the same field to the same value."""

    settings: ClassVar[dict[str, Any]] = {
        **_RedisSink.settings,
        "redis.key.prefix": REQUIRED,
        "redis.fields": REQUIRED,  # the tuple fields written, in this order
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        return super().config_problems(conf) + _fields_problems(cls, conf, "redis.fields", "['word', 'count']")

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self._connect(conf)
        self.key_prefix = str(self.setting(conf, "redis.key.prefix"))
        fields = list(self.setting(conf, "redis.fields"))
        get = operator.attrgetter(*fields)
        self.get = (lambda values: (get(values),)) if len(fields) == 1 else get

    def record(self, tup: Tuple) -> Any:
        return self.get(tup.values)

    def write(self, checkpoint_id: int, records: list[Any]) -> None:
        key = f"{self.key_prefix}:{checkpoint_id}"
        value = json.dumps(records, separators=(",", ":"), default=_json_default)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, str(self.task_id), value)
        pipe.zadd(f"{self.key_prefix}:batches", {key: checkpoint_id})
        self._execute(pipe, f"writing the batch of checkpoint {checkpoint_id}, task {self.task_id} to {key}")


class RedisIdempotentSink(_RedisSink, IdempotentSink):
    """Last value wins: ``HSET <redis.hash> <key> <value>`` with the tuple field ``redis.key.field``
    as the key and ``redis.value.field`` as the value (None: a JSON object of the other fields)."""

    settings: ClassVar[dict[str, Any]] = {
        **_RedisSink.settings,
        "redis.hash": REQUIRED,
        "redis.key.field": REQUIRED,
        "redis.value.field": None,
    }

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self._connect(conf)
        self.hash = str(self.setting(conf, "redis.hash"))
        self.key_field = str(self.setting(conf, "redis.key.field"))
        self.value_field: str | None = self.setting(conf, "redis.value.field")

    def key_value(self, tup: Tuple) -> tuple[Any, Any]:
        values = tup.values
        key = getattr(values, self.key_field)
        if self.value_field is not None:
            return key, getattr(values, self.value_field)
        return key, {f: v for f, v in zip(values._fields, values, strict=True) if f != self.key_field}

    def upsert(self, items: dict[Any, Any]) -> None:
        pipe = self.r.pipeline(transaction=False)
        batch: dict[Any, Any] = {}
        for k, v in items.items():
            batch[_value(k)] = _value(v)
            if len(batch) >= CHUNK:
                pipe.hset(self.hash, mapping=batch)
                batch = {}
        if batch:
            pipe.hset(self.hash, mapping=batch)
        self._execute(pipe, f"HSET {self.hash}")
