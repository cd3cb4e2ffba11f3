"""Redis Streams: a spout reading a stream through a consumer group, and a sink appending to a
stream (redis-py, ``pip install 'squall[redis]'``). See docs/connectors.md, "Redis Streams".

**No blocking.** The spout reads with ``XREADGROUP`` without ``BLOCK`` (up to ``redis.batch.size``
entries per round trip), on the worker's thread; ``next_tuple`` emits one buffered entry per call
and reads again when the buffer is empty, sending the ``XACK`` of the entries acked since the last
time in the same round trip (one pipeline). An empty read makes the next one wait ``IDLE_POLL_SECS``.

**Reliability.** An entry is ``XACK``-ed once its tuple tree completed. A failed tree is emitted again
by the spout (the entry stays pending in Redis meanwhile), up to ``redis.max.retries`` times; then it
is added to ``redis.dead.letter.stream`` when set, ``XACK``-ed, counted (``given_up``), logged and
emitted on the error stream. Each task's consumer name is stable (``<redis.consumer>-<task index>``),
so a restarted task first reads its own pending entries again (``XREADGROUP`` from id 0), then new
ones (``>``). Entries pending for longer than ``redis.claim.idle.ms`` in consumers that did not come
back (a smaller parallelism, a renamed component) are taken over with ``XAUTOCLAIM``.

**Checkpointed** (``Spout.checkpointed``, docs/state.md): the rewind contract instead. The stream is
read with ``XREAD`` after an entry id (nothing is ever pending), by the component's first task only
(a stream has one position; the other tasks idle: one spout per stream), from the group's
last-delivered id; ``position()`` is the id of the last entry emitted, ``seek`` reads on after it,
``commit`` moves the group there (``XGROUP SETID``: lag tools see it, a run started afresh resumes
there); acks and fails do nothing (the rollback replays).
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from squall.connectors.base import REQUIRED, Connector, ConnectorSpout, require
from squall.connectors.notes import Notes, int_problems
from squall.errors import DeliveryError
from squall.topology.bolt import Bolt
from squall.topology.spout import Spout
from squall.topology.tuple import Tuple

CLIENT = ("redis", "redis", "redis")
IDLE_POLL_SECS = 0.002  # after a read that brought nothing, the next one waits this long
IDLE_FLUSH_SECS = 0.1  # while deactivated, acks are sent at most this often (or per redis.batch.size)
RETRY_MAX_SECS = 5.0  # backoff ceiling while Redis cannot be reached


class RedisStreamSpout(ConnectorSpout, Spout):
    """Reads ``redis.stream`` in consumer group ``redis.group``; one tuple per entry, from the
    entry's field ``redis.field`` decoded with ``redis.format``. Tuple ids are entry ids."""

    connector = "redis"
    prefix = "redis."
    client = CLIENT
    settings = {
        "redis.url": REQUIRED,  # redis://host:port/db
        "redis.stream": REQUIRED,
        "redis.group": None,  # None: the component's name
        "redis.consumer": None,  # None: the component's name; each task adds "-<task index>"
        "redis.start.id": "0",  # where a new group starts: "0" the whole stream, "$" new entries only
        "redis.field": "message",  # the entry field a tuple is decoded from
        "redis.format": "text",
        "redis.batch.size": 500,  # entries per XREADGROUP
        "redis.max.retries": None,  # a failed entry is emitted again this many times; None: forever
        "redis.dead.letter.stream": None,  # where given-up and undecodable entries go (XADD)
        "redis.claim.idle.ms": 60_000,  # XAUTOCLAIM entries idle this long in other consumers; 0: never
        "redis.socket.timeout.secs": 5.0,
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        limits = {"redis.batch.size": 1, "redis.max.retries": 0, "redis.claim.idle.ms": 0}
        return super().config_problems(conf) + int_problems(cls, conf, limits)

    @classmethod
    def checkpoint_problems(cls, conf: dict[str, Any], par: int) -> list[tuple[str, str]]:
        """What cannot work in a checkpointed topology (for validation): a stream has one position,
        so one task reads it; more would idle."""
        if par <= 1:
            return []
        stream = conf.get("redis.stream")
        return [
            (
                f"{cls.__name__} has par={par}, and a stream has one position: one task reads "
                f"{stream!r}, the other {par - 1} would idle",
                "set par=1, or give each stream a spout of its own",
            )
        ]

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        redis = require(*CLIENT)

        def get(key: str) -> Any:
            return self.setting(conf, key)

        self.errors = (redis.ConnectionError, redis.TimeoutError)
        self.ResponseError = redis.ResponseError
        timeout = float(get("redis.socket.timeout.secs"))
        self.url: str = get("redis.url")
        self.r = redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.stream: str = get("redis.stream")
        self.group: str = get("redis.group") or context.component_id
        index = context.component_tasks(context.component_id).index(context.task_id)
        self.consumer = f"{get('redis.consumer') or context.component_id}-{index}"
        self.read_from: bytes | None = None  # checkpointed: XREAD after this id (None: the group's)
        self.last_id: bytes | None = None  # the id of the last entry emitted
        self.start_id: str = str(get("redis.start.id"))
        self.field = str(get("redis.field")).encode()
        self.batch = int(get("redis.batch.size"))
        retries = get("redis.max.retries")
        self.max_retries: int | None = None if retries is None else int(retries)
        self.dead_letter: str | None = get("redis.dead.letter.stream")
        self.claim_ms = int(get("redis.claim.idle.ms"))
        if getattr(type(self), "decode", None) is None:
            self.decode = self.make_decoder(conf)
        self.notes = Notes(self.logger)
        self.given_up = 0  # past redis.max.retries (shown in the spout's statistics)
        self.undecodable = 0
        self.buffer: deque[tuple[bytes, Any]] = deque()  # read, not yet emitted
        self.held: dict[bytes, Any] = {}  # id -> fields: read and not yet acked (buffered or in flight)
        self.to_ack: list[bytes] = []
        self.fail_counts: dict[bytes, int] = {}
        self.own_from: bytes | None = b"0"  # reading our own pending entries again, from this id
        self.claim_from = b"0-0"
        self.next_claim = time.monotonic() + self.claim_ms / 1000 if self.claim_ms else float("inf")
        self.next_read = 0.0
        self.backoff = 0.1
        self.down_since: float | None = None
        self.group_ready = False
        self.active = False
        self.next_idle_flush = 0.0
        if self.checkpointed:
            self.next_claim = float("inf")
            if index > 0:  # a stream has one position: its first task reads it
                self.next_read = float("inf")
                self.logger.warning(
                    "%s: task %d idles: in a checkpointed topology one task reads %s (set par=1, "
                    "or give each stream a spout of its own)",
                    self.component_name,
                    index,
                    self.stream,
                )

    # -- reading --------------------------------------------------------------------------------
    def _ensure_group(self) -> None:
        try:
            self.r.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except self.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.group_ready = True

    def _read(self) -> None:
        """Send the gathered XACKs and read the next entries (ours pending first), one round trip."""
        now = time.monotonic()
        if now < self.next_read:
            return
        try:
            if not self.group_ready:
                self._ensure_group()
            got = self._xread() if self.checkpointed else self._round_trip(now)
        except self.errors as exc:
            self._down(now, exc)
            return
        except self.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.group_ready = False  # the stream or group is gone (deleted, or a Redis without its data)
            self.notes.note("nogroup", f"{self.component_name}: {exc}; creating the group again")
            return
        if self.down_since is not None:
            self.logger.warning("%s: Redis is back after %.1f s", self.component_name, now - self.down_since)
            self.down_since = None
        self.backoff = 0.1
        if not got:
            self.next_read = now + IDLE_POLL_SECS

    def _round_trip(self, now: float) -> int:
        pipe = self.r.pipeline(transaction=False)
        acks = self.to_ack
        if acks:
            pipe.xack(self.stream, self.group, *acks)
        own = self.own_from
        pipe.xreadgroup(self.group, self.consumer, {self.stream: own or ">"}, count=self.batch)
        claiming = now >= self.next_claim
        if claiming:
            pipe.xautoclaim(self.stream, self.group, self.consumer, self.claim_ms, self.claim_from, count=self.batch)
        results = pipe.execute()
        self.to_ack = []
        read = results[1 if acks else 0]
        entries = read[0][1] if read else []
        got = 0
        if own is not None:
            if entries:
                self.own_from = entries[-1][0]
            else:
                self.own_from = None  # our pending entries are all back in hand: new ones from now on
        for entry_id, fields in entries:
            got += self._take(entry_id, fields)
        if claiming:
            cursor, claimed = results[-1][0], results[-1][1]
            for entry_id, fields in claimed:
                got += self._take(entry_id, fields)
            self.claim_from = cursor
            if cursor in (b"0-0", "0-0"):
                self.next_claim = now + self.claim_ms / 2000
        return got

    def _xread(self) -> int:
        """Checkpointed: read the entries after ``read_from`` (first: the group's last-delivered id)."""
        if self.read_from is None:
            group = self.group.encode()
            for g in self.r.xinfo_groups(self.stream):
                if g["name"] in (group, self.group):
                    self.read_from = g["last-delivered-id"]
            if self.read_from is None:
                raise self.ResponseError(f"NOGROUP no group {self.group} for {self.stream}")
            if self.last_id is None:
                self.last_id = self.read_from
        read = self.r.xread({self.stream: self.read_from}, count=self.batch)
        entries = read[0][1] if read else []
        if entries:
            self.buffer.extend(entries)
            self.read_from = entries[-1][0]
        return len(entries)

    # -- the rewind contract (checkpointed topologies: docs/state.md, section 4) ------------------
    def position(self) -> str | None:
        """The id of the last entry emitted (None: nothing read yet, the task starts as usual)."""
        last = self.last_id
        return last.decode() if isinstance(last, bytes) else last

    def seek(self, position: Any) -> None:
        """Emit the entries after ``position`` (an entry id) next."""
        self.buffer.clear()
        if position is not None:
            self.read_from = self.last_id = str(position).encode()

    def commit(self, position: Any) -> None:
        """Move the group's last-delivered id to ``position`` (one round trip per checkpoint)."""
        if position is None:
            return
        try:
            self.r.xgroup_setid(self.stream, self.group, str(position))
        except self.errors as exc:  # the next checkpoint's commit moves it further
            self.notes.note("commit", f"{self.component_name}: commit to {position} failed: {exc!r}")
        except self.ResponseError as exc:
            if "NOGROUP" not in str(exc) and "key to exist" not in str(exc):
                raise
            self.r.xgroup_create(self.stream, self.group, id=str(position), mkstream=True)

    def _take(self, entry_id: bytes, fields: Any) -> int:
        if entry_id in self.held:
            return 0  # already in hand (our own entry, taken back by XAUTOCLAIM or read again)
        self.held[entry_id] = fields
        self.buffer.append((entry_id, fields))
        return 1

    def _down(self, now: float, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = now
            self.logger.warning(
                "%s: cannot reach Redis at %s (%r); retrying (entries read and not acked stay pending there)",
                self.component_name,
                self.url.rsplit("@", 1)[-1],
                exc,
            )
        self.next_read = now + self.backoff
        self.backoff = min(self.backoff * 2, RETRY_MAX_SECS)

    def next_tuple(self) -> None:
        buffer = self.buffer
        if not buffer:
            self._read()
            if not buffer:
                return
        elif len(self.to_ack) >= self.batch:
            self._send_acks()
        entry_id, fields = buffer.popleft()
        self.last_id = entry_id
        self._emit(entry_id, fields)

    def _emit(self, entry_id: bytes, fields: Any) -> None:
        payload = fields.get(self.field) if fields else None
        if payload is None:
            reason = "deleted from the stream before it was processed" if not fields else f"no field {self.field!r}"
            self.undecodable += 1
            self._give_up(entry_id, fields, reason)
            return
        try:
            values = self.decode(payload)
        except ValueError as exc:  # bad UTF-8 or JSON, wrong fields (UnicodeDecodeError is one)
            self.undecodable += 1
            self._give_up(entry_id, fields, f"undecodable: {exc}")
            return
        self.emit(values, tup_id=entry_id)

    # -- ack / fail -----------------------------------------------------------------------------
    def ack(self, tup_id: Any) -> None:
        if self.checkpointed:
            return  # commit(position) moves the group
        if self.held.pop(tup_id, None) is None:
            return
        self.to_ack.append(tup_id)
        if self.fail_counts:
            self.fail_counts.pop(tup_id, None)
        if not self.active and (len(self.to_ack) >= self.batch or time.monotonic() >= self.next_idle_flush):
            self._send_acks()  # deactivated (a drain): next_tuple will not send them; close() sends the rest

    def fail(self, tup_id: Any) -> None:
        if self.checkpointed:
            return  # the rollback to the last checkpoint replays it
        fields = self.held.get(tup_id)
        if fields is None:
            return
        n = self.fail_counts.get(tup_id, 0) + 1
        if self.max_retries is not None and n > self.max_retries:
            self.fail_counts.pop(tup_id, None)
            self.given_up += 1
            self._give_up(tup_id, fields, f"failed {n} times (redis.max.retries={self.max_retries})")
            return
        self.fail_counts[tup_id] = n
        self._emit(tup_id, fields)  # fail() runs where the spout may emit: within its pending cap

    def _give_up(self, entry_id: bytes, fields: Any, reason: str) -> None:
        """Dead-letter an entry (undecodable, or past its retries): error stream, count, log, XACK."""
        source = f"{self.stream}@{entry_id.decode() if isinstance(entry_id, bytes) else entry_id}"
        payload = (fields or {}).get(self.field)
        self.emit_error(source, reason, payload if isinstance(payload, bytes) else repr(fields).encode())
        self.notes.note(reason.split(":")[0].split(" ")[0], f"{self.component_name}: {source} {reason}")
        if self.dead_letter:
            entry = dict(fields or {})
            entry[b"squall-reason"] = reason.encode()
            entry[b"squall-source"] = source.encode()
            try:
                self.r.xadd(self.dead_letter, entry)
            except self.errors as exc:  # the entry stays pending: read again after a restart
                self._down(time.monotonic(), exc)
                return
        if not self.checkpointed:  # checkpointed: nothing is pending, commit moves the group
            self.held.pop(entry_id, None)
            self.to_ack.append(entry_id)

    def _send_acks(self) -> None:
        self.next_idle_flush = time.monotonic() + IDLE_FLUSH_SECS
        if not self.to_ack:
            return
        acks, self.to_ack = self.to_ack, []
        try:
            self.r.xack(self.stream, self.group, *acks)
        except self.errors as exc:
            self.to_ack = acks + self.to_ack  # sent with the next read
            self._down(time.monotonic(), exc)

    def activate(self) -> None:
        self.active = True

    def deactivate(self) -> None:
        self.active = False
        self._send_acks()

    def close(self) -> None:
        self._send_acks()
        self.r.close()


def _value(value: Any) -> Any:
    if isinstance(value, (bytes, str, int, float)) and not isinstance(value, bool):
        return value
    return json.dumps(value, separators=(",", ":"))


class RedisStreamBolt(Connector, Bolt):
    """Appends each tuple to ``redis.stream`` (or the stream named by the tuple field
    ``redis.stream.field``) with ``XADD``: one entry field per tuple field (``redis.fields`` picks
    some; str, bytes and numbers as they are, anything else as JSON), trimmed to about
    ``redis.maxlen`` entries when set. The tuple is acked once Redis added the entry, failed when it
    refused it or could not be reached.

    ``XADD`` waits for Redis's answer, so it runs on the task's own threads
    (``concurrency_mode = "threads"``, ``concurrency`` calls in flight; redis-py's client is
    thread-safe: one connection per thread from its pool).
    """

    connector = "redis"
    prefix = "redis."
    client = CLIENT
    concurrency = 4
    concurrency_mode = "threads"
    settings = {
        "redis.url": REQUIRED,
        "redis.stream": None,
        "redis.stream.field": None,
        "redis.fields": None,  # None: every field of the tuple
        "redis.maxlen": None,  # None: no trimming; N: keep about the N newest entries (XADD MAXLEN ~ N)
        "redis.socket.timeout.secs": 5.0,
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        if conf.get("redis.stream") is None and conf.get("redis.stream.field") is None:
            out.append(
                (
                    f"{cls.__name__} needs 'redis.stream' or 'redis.stream.field'",
                    "name the stream to append to, or the tuple field holding its name",
                )
            )
        return out + int_problems(cls, conf, {"redis.maxlen": 1})

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        redis = require(*CLIENT)

        def get(key: str) -> Any:
            return self.setting(conf, key)

        timeout = float(get("redis.socket.timeout.secs"))
        self.r = redis.Redis.from_url(get("redis.url"), socket_timeout=timeout, socket_connect_timeout=timeout)
        self.ResponseError = redis.ResponseError
        self.stream: str | None = get("redis.stream")
        self.stream_field: str | None = get("redis.stream.field")
        fields = get("redis.fields")
        self.fields: list[str] | None = list(fields) if fields else None
        self.maxlen: int | None = get("redis.maxlen")

    def process(self, tup: Tuple) -> None:
        values = tup.values
        names = self.fields or values._fields
        entry = {name: _value(getattr(values, name)) for name in names}
        stream = self.stream if self.stream_field is None else getattr(values, self.stream_field)
        try:
            self.r.xadd(stream, entry, maxlen=self.maxlen, approximate=True)
        except self.ResponseError as exc:
            raise DeliveryError(f"Redis refused XADD to '{stream}': {exc}") from None

    def cleanup(self) -> None:
        self.r.close()
