"""Kafka spout and sink (confluent-kafka, ``squall[kafka]``) with storm-kafka-client's semantics.

``KafkaSpout`` joins a consumer group (``kafka.group.id``): the group protocol spreads the topic's
partitions over the spout's tasks (and over every other member of the group). A message is emitted
with the id ``(topic, partition, offset, epoch)``; per partition, the offset committed is the end
of the contiguous prefix of offsets whose trees completed (acked, or given up after
``kafka.max.retries``), every ``kafka.offset.commit.period.ms``, on a revoke and at close. A crash
therefore replays from the last commit: at-least-once, never a gap. The consumer is polled with a
zero timeout on the worker's thread (``next_tuple``, ``ack`` and ``fail`` all run there): nothing
blocks and no lock is needed.

In a checkpointed topology (``Spout.checkpointed``, docs/state.md) the spout keeps the rewind
contract instead: no group membership (task i of n is assigned the partitions p with p % n == i, as
Flink's source does, so a restarted task reads the same ones), ``position()`` is the next offset to
emit per partition, ``seek`` assigns there, ``commit`` commits it to the group; acks and fails do
nothing (the rollback replays).

``KafkaBolt`` produces each tuple (key, value and headers from fields, or ``to_record``) and acks it
on its delivery report, fails it on a failed one (the spout replays it).
"""

from __future__ import annotations

import heapq
import json
import logging
import time
import uuid
from collections import deque
from functools import partial
from typing import Any, ClassVar

from squall.connectors.base import REQUIRED, Connector, ConnectorSpout, require
from squall.topology.bolt import Bolt
from squall.topology.spout import Spout
from squall.topology.tuple import Tuple

log = logging.getLogger("squall.connectors.kafka")

CLIENT = ("confluent_kafka", "kafka", "confluent-kafka")
TICKS = "topology.tick.tuple.freq.secs"
#: While polled messages wait in the spout's buffer, the consumer is still polled every POLL_SECS
#: (the clock is read every CHECK_EVERY calls): commits stay on time and rebalances are not held up.
POLL_SECS = 0.2
CHECK_EVERY = 64

#: storm-kafka-client's ``FirstPollOffsetStrategy``: where a partition starts. EARLIEST / LATEST:
#: the partition's beginning / end, whatever was committed before this topology run (Storm: "only
#: on topology deployment"; a restarted worker of the same run resumes from its commits).
#: UNCOMMITTED_*: the group's committed offset, else the beginning / the end.
STRATEGIES = ("EARLIEST", "LATEST", "UNCOMMITTED_EARLIEST", "UNCOMMITTED_LATEST")


def _topics(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in value]


class PartitionState:
    """What one assigned partition has in flight: storm-kafka-client's ``OffsetManager``.

    ``emitted`` holds the offsets emitted since the commit point, in order (Kafka delivers a
    partition in offset order; a replay is not emitted again here); ``done`` the ones whose trees
    completed. ``advance`` moves the commit point over the done prefix: gaps in the offsets
    (compaction, transaction markers) are never waited for, since they were never emitted.
    """

    __slots__ = ("commit_at", "committed", "done", "emitted", "epoch", "fails", "next", "paused", "pending")

    def __init__(self, epoch: int):
        self.epoch = epoch
        self.emitted: deque[int] = deque()
        self.done: set[int] = set()
        #: offset -> message, of the messages emitted and not done (a replay decodes it again)
        self.pending: dict[int, Any] = {}
        self.fails: dict[int, int] = {}  # offset -> failures so far, of the pending that failed
        self.commit_at = -1  # next offset to commit (the first not done); -1: nothing emitted yet
        self.committed = -1  # what was last committed by this task
        self.paused = False
        self.next = -1  # checkpointed: the next offset to emit (-1: not known yet)

    def advance(self) -> int:
        emitted, done = self.emitted, self.done
        while emitted and emitted[0] in done:
            off = emitted.popleft()
            done.discard(off)
            self.commit_at = off + 1
        return self.commit_at


class KafkaSpout(ConnectorSpout, Spout):
    """Reads Kafka topics through a consumer group, at-least-once (see docs/connectors.md, Kafka).

    Each message's value is decoded by ``kafka.format`` into the default stream's fields; override
    ``decode(payload)`` for another shape (``self.message`` is the confluent-kafka Message).
    """

    connector = "kafka"
    prefix = "kafka."
    client = CLIENT
    settings: ClassVar[dict[str, Any]] = {
        "kafka.bootstrap.servers": REQUIRED,
        "kafka.topic": REQUIRED,  # a name, "a,b", or a list
        "kafka.group.id": None,  # None: "squall-<topology name>-<component>"
        "kafka.format": "text",
        "kafka.first.poll.offset.strategy": "UNCOMMITTED_EARLIEST",
        "kafka.offset.commit.period.ms": 30000,  # storm-kafka-client's default
        "kafka.max.retries": None,  # None: replay forever (Storm's default)
        # storm-kafka-client's default backoff: retry 1 at once, retry k after 2 ms x 2^(k-1), <= 10 s
        "kafka.retry.initial.delay.ms": 0,
        "kafka.retry.delay.period.ms": 2,
        "kafka.retry.delay.max.ms": 10000,
        "kafka.dead.letter.topic": None,
        "kafka.max.uncommitted.offsets": 10000,  # per partition: paused beyond this
        "kafka.max.poll.records": 500,
        "kafka.session.timeout.ms": 45000,  # librdkafka's default; a dead task's partitions wait this long
        "kafka.consumer.config": {},  # other librdkafka consumer settings, passed as they are
        "kafka.producer.config": {},  # librdkafka producer settings for the dead-letter topic
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        strategy = conf.get("kafka.first.poll.offset.strategy") or "UNCOMMITTED_EARLIEST"
        if strategy not in STRATEGIES:
            out.append(
                (
                    f"kafka.first.poll.offset.strategy={strategy!r} is not a strategy",
                    f"use one of {', '.join(STRATEGIES)}",
                )
            )
        retries = conf.get("kafka.max.retries")
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            out.append(
                (f"kafka.max.retries={retries!r} is not a count", "use None (replay forever) or an integer >= 0")
            )
        for key in ("kafka.offset.commit.period.ms", "kafka.max.uncommitted.offsets", "kafka.max.poll.records"):
            v = conf.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                out.append(
                    (
                        f"{key}={v!r} must be a positive integer",
                        f"remove it (default {cls.settings[key]}) or set e.g. {cls.settings[key]}",
                    )
                )
        for key in ("kafka.retry.initial.delay.ms", "kafka.retry.delay.period.ms", "kafka.retry.delay.max.ms"):
            v = conf.get(key)
            if v is not None and (not isinstance(v, int | float) or isinstance(v, bool) or v < 0):
                out.append((f"{key}={v!r} must be a number of milliseconds >= 0", f"e.g. {cls.settings[key]}"))
        for key in ("kafka.consumer.config", "kafka.producer.config"):
            v = conf.get(key)
            if v is not None and not isinstance(v, dict):
                out.append(
                    (
                        f"{key} must be a dict of librdkafka settings, not {type(v).__name__}",
                        f"{key}: {{'fetch.min.bytes': 1, ...}}",
                    )
                )
        topic = conf.get("kafka.topic")
        if topic is not None and not isinstance(topic, str | list | tuple):
            out.append(
                (f"kafka.topic={topic!r} is neither a name nor a list of names", "kafka.topic: 'words' or ['a', 'b']")
            )
        return out

    # -- life cycle -------------------------------------------------------------------------------

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        ck = require(*CLIENT)
        self._ck = ck
        s = self.setting
        # a subclass's decode(payload) method, else the kafka.format decoder
        custom = getattr(self, "decode", None)
        self._decode: Any = custom if custom is not None else self.make_decoder(conf)
        self.topics = _topics(s(conf, "kafka.topic"))
        group = conf.get("kafka.group.id") or f"squall-{conf.get('topology.name')}-{context.component_id}"
        self.group = group
        self.strategy = conf.get("kafka.first.poll.offset.strategy") or "UNCOMMITTED_EARLIEST"
        self.commit_secs = s(conf, "kafka.offset.commit.period.ms") / 1000.0
        retries = conf.get("kafka.max.retries")
        self.max_retries: int | None = None if retries is None else int(retries)
        self.dead_letter: str | None = conf.get("kafka.dead.letter.topic")
        self.max_uncommitted = int(s(conf, "kafka.max.uncommitted.offsets"))
        self.poll_records = int(s(conf, "kafka.max.poll.records"))
        # The run this task belongs to: a commit carries it, so that EARLIEST / LATEST apply once
        # per run (Storm: "on topology deployment"), not again when a killed worker comes back.
        self.run_id = str(conf.get("storm.id") or uuid.uuid4().hex)
        servers = s(conf, "kafka.bootstrap.servers")
        cc = {
            "bootstrap.servers": servers,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "latest" if self.strategy.endswith("LATEST") else "earliest",
            "session.timeout.ms": int(s(conf, "kafka.session.timeout.ms")),
            "client.id": f"squall-{context.component_id}-{context.task_id}",
            **(conf.get("kafka.consumer.config") or {}),
        }
        self.consumer = ck.Consumer(cc, logger=log)
        self.producer: Any = None
        if self.dead_letter:
            pc = {"bootstrap.servers": servers, **(conf.get("kafka.producer.config") or {})}
            self.producer = ck.Producer(pc, logger=log)
        self.parts: dict[tuple[str, int], PartitionState] = {}
        self.buffer: deque[Any] = deque()  # polled messages not yet emitted
        #: failed tuples waiting for their retry: a heap of (due, sequence, tup_id)
        self.replays: list[tuple[float, int, tuple[str, int, int, int]]] = []
        self.replay_seq = 0
        self.retry_initial = s(conf, "kafka.retry.initial.delay.ms") / 1000.0
        self.retry_period = s(conf, "kafka.retry.delay.period.ms") / 1000.0
        self.retry_max = s(conf, "kafka.retry.delay.max.ms") / 1000.0
        self.epoch = 0
        self.next_commit = time.monotonic() + self.commit_secs
        self.next_poll = 0.0
        self.countdown = 0
        self.given_up = 0  # since the last commit (logged once per commit)
        self.given_up_total = 0
        self.errors = 0
        self.dead_letter_failed = 0
        tasks = context.component_tasks(context.component_id)
        self.n_tasks, self.index = len(tasks), tasks.index(context.task_id)
        self.seek_to: dict[tuple[str, int], int] | None = None
        self.assigned = False  # checkpointed: partitions assigned (on the first poll, after any seek)
        self.next_assign = 0.0
        if not self.checkpointed:
            self.consumer.subscribe(
                self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )

    def close(self) -> None:
        try:
            self._commit(sync=True)
        finally:
            self.consumer.close()  # leaves the group: the partitions move at once
            if self.producer is not None:
                self.producer.flush(5)

    def deactivate(self) -> None:
        self._commit(sync=True)

    # -- rebalances -------------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.epoch += 1
        for tp in partitions:
            self.parts[(tp.topic, tp.partition)] = PartitionState(self.epoch)
        if self.strategy in ("EARLIEST", "LATEST") and partitions:
            self._first_offsets(partitions)
            consumer.assign(partitions)
        log.info("%s: assigned %s", self.group, [f"{tp.topic}/{tp.partition}" for tp in partitions])

    def _first_offsets(self, partitions: list[Any]) -> None:
        """EARLIEST / LATEST: a partition this run did not commit starts at its beginning / end."""
        if self.strategy not in ("EARLIEST", "LATEST") or not partitions:
            return  # UNCOMMITTED_*: the group's committed offset, else auto.offset.reset
        committed = self.consumer.committed(partitions, timeout=10)
        where = self._ck.OFFSET_BEGINNING if self.strategy == "EARLIEST" else self._ck.OFFSET_END
        for tp, c in zip(partitions, committed, strict=True):
            if c.offset < 0 or c.metadata != self.run_id:  # not committed by this run
                tp.offset = where

    # -- the rewind contract (checkpointed topologies: docs/state.md, section 4) --------------------

    def position(self) -> list[list[Any]]:
        """``[[topic, partition, next offset to emit], ...]`` of this task's partitions ([] before
        they are assigned, at the first poll: they then start as usual)."""
        if not self.assigned and self.seek_to is not None:
            return [[t, p, o] for (t, p), o in self.seek_to.items()]
        return [[t, p, st.next] for (t, p), st in self.parts.items() if st.next >= 0]

    def seek(self, position: Any) -> None:
        """Emit from ``position``'s offsets on (assigned at the next poll)."""
        self.seek_to = {(str(t), int(p)): int(o) for t, p, o in position or []}
        self.assigned = False
        self.next_assign = 0.0
        self.parts = {}
        self.buffer.clear()

    def commit(self, position: Any) -> None:
        """Commit ``position``'s offsets to the group (asynchronously: lag tools see them, and a
        run started afresh resumes there)."""
        offsets = [self._ck.TopicPartition(str(t), int(p), int(o), metadata=self.run_id) for t, p, o in position or []]
        if not offsets:
            return
        if self.producer is not None and self.producer.flush(10):
            log.warning("%s: dead letters not delivered within 10 s: commit postponed", self.group)
            return
        self.consumer.commit(offsets=offsets, asynchronous=True)

    def _start_offsets(self, partitions: list[Any]) -> None:
        """Checkpointed, no seek: the offset each partition starts at by the strategy, made concrete
        (the group's commit, else the beginning or the end), so that every position names it."""
        if not partitions:
            return
        committed = self.consumer.committed(partitions, timeout=10)
        fresh = self.strategy in ("EARLIEST", "LATEST")  # commits of other runs do not count
        for tp, c in zip(partitions, committed, strict=True):
            if c.offset >= 0 and not (fresh and c.metadata != self.run_id):
                tp.offset = c.offset
                continue
            low, high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            tp.offset = low if self.strategy.endswith("EARLIEST") else high

    def _assign_own(self) -> None:
        """Checkpointed: assign task i of n the partitions p with p % n == i of every topic, at
        the sought offsets, else where the strategy starts. Retried every second until every
        topic has partitions."""
        now = time.monotonic()
        if now < self.next_assign:
            return
        self.next_assign = now + 1.0
        mine: list[Any] = []
        for topic in self.topics:
            meta = self.consumer.list_topics(topic, timeout=5).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                self.errors += 1
                if self.errors & (self.errors - 1) == 0:
                    log.warning(
                        "%s: topic %s has no partitions yet (%s): retrying", self.group, topic, meta and meta.error
                    )
                return
            mine += [
                self._ck.TopicPartition(topic, p) for p in sorted(meta.partitions) if p % self.n_tasks == self.index
            ]
        sought = self.seek_to or {}
        try:
            self._start_offsets([tp for tp in mine if (tp.topic, tp.partition) not in sought])
        except self._ck.KafkaException as e:
            log.warning("%s: where to start is not known yet (%s): retrying", self.group, e)
            return
        self.epoch += 1
        self.parts = {(tp.topic, tp.partition): PartitionState(self.epoch) for tp in mine}
        for tp in mine:
            off = sought.get((tp.topic, tp.partition))
            if off is not None:
                tp.offset = off
            self.parts[(tp.topic, tp.partition)].next = tp.offset
        self.consumer.assign(mine)
        self.assigned = True
        self.buffer.clear()
        log.info(
            "%s: task %d of %d reads %s",
            self.group,
            self.index,
            self.n_tasks,
            [f"{tp.topic}/{tp.partition}" for tp in mine],
        )

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        """Commit what is acked, then forget the partitions: their tuples in flight are not
        committed by this task (a late ack is ignored); the new owner replays them."""
        try:
            self._commit(sync=True)
        except Exception as e:  # the generation may be over already: the new owner replays
            log.warning("%s: commit on revoke failed: %s", self.group, e)
        self._forget(partitions)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        self._forget(partitions)  # not ours any more: committing would be refused anyway

    def _forget(self, partitions: list[Any]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        for key in gone:
            self.parts.pop(key, None)
        if gone:
            self.buffer = deque(m for m in self.buffer if (m.topic(), m.partition()) not in gone)
            self.replays = [r for r in self.replays if (r[2][0], r[2][1]) not in gone]
            heapq.heapify(self.replays)
        log.info("%s: revoked %s", self.group, sorted(f"{t}/{p}" for t, p in gone))

    # -- the tuple path ---------------------------------------------------------------------------

    def next_tuple(self) -> None:
        self.countdown -= 1
        if self.countdown <= 0 or not self.buffer:  # every CHECK_EVERY calls, or nothing to emit
            self.countdown = CHECK_EVERY
            if not self.buffer or time.monotonic() >= self.next_poll:
                self._poll()
        if self.replays and self.replays[0][0] <= time.monotonic():
            self._replay()
            return
        if not self.buffer:
            return
        msg = self.buffer.popleft()
        topic, part, off = msg.topic(), msg.partition(), msg.offset()
        st = self.parts.get((topic, part))
        if st is None:  # revoked after the poll
            return
        checkpointed = self.checkpointed
        if checkpointed:
            st.next = off + 1
        else:
            st.emitted.append(off)
        payload = msg.value()
        try:
            values = self._decode(payload if payload is not None else b"")
        except Exception as e:  # a subclass's decode too: never stop the spout
            self._undecodable(msg, st, off, _reason(e))
            return
        if not checkpointed:
            st.pending[off] = msg
        self.emit(values, tup_id=(topic, part, off, st.epoch))

    def ack(self, tup_id: Any) -> None:
        if self.checkpointed:
            return  # commit(position) acknowledges at the broker
        st = self.parts.get((tup_id[0], tup_id[1]))
        if st is None or st.epoch != tup_id[3]:
            return  # a late ack of a revoked partition: its new owner replays the message
        off = tup_id[2]
        st.pending.pop(off, None)
        if st.fails:
            st.fails.pop(off, None)
        st.done.add(off)

    def fail(self, tup_id: Any) -> None:
        if self.checkpointed:
            return  # the rollback to the last checkpoint replays it
        st = self.parts.get((tup_id[0], tup_id[1]))
        if st is None or st.epoch != tup_id[3]:
            return
        off = tup_id[2]
        if off not in st.pending:
            return
        n = st.fails[off] = st.fails.get(off, 0) + 1
        if self.max_retries is not None and n > self.max_retries:
            self._give_up(tup_id, st, n)
        else:
            self._retry_later(tup_id, n)

    # -- helpers (not per tuple) -------------------------------------------------------------------

    def _replay(self) -> None:
        tup_id = heapq.heappop(self.replays)[2]
        st = self.parts.get((tup_id[0], tup_id[1]))
        if st is None or st.epoch != tup_id[3]:
            return
        off = tup_id[2]
        msg = st.pending.get(off)
        if msg is None:
            return
        payload = msg.value()
        try:
            values = self._decode(payload if payload is not None else b"")
        except Exception as e:  # a decode that is not deterministic
            del st.pending[off]
            st.fails.pop(off, None)
            self._undecodable(msg, st, off, _reason(e))
            return
        self.emit(values, tup_id=tup_id)

    def _retry_later(self, tup_id: Any, fails: int) -> None:
        """storm-kafka-client's KafkaSpoutRetryExponentialBackoff: the first retry after the initial
        delay, the k-th after period x 2^(k-1), at most the maximum."""
        backoff = min(self.retry_period * (1 << min(fails - 1, 40)), self.retry_max)
        delay = self.retry_initial if fails == 1 else backoff
        self.replay_seq += 1
        heapq.heappush(self.replays, (time.monotonic() + delay, self.replay_seq, tup_id))

    def _poll(self) -> None:
        """Commit when due, pause or resume partitions, and poll the consumer (which also runs the
        rebalance callbacks: called at least every ``POLL_SECS`` while the buffer lasts, so a
        rebalance never waits for a slow topology to work through it)."""
        now = time.monotonic()
        self.next_poll = now + POLL_SECS
        if self.checkpointed and not self.assigned:
            self._assign_own()
            if not self.assigned:
                return
        if now >= self.next_commit:
            self._commit(sync=False)
            self.next_commit = now + self.commit_secs
        self._pace()
        if self.producer is not None:
            self.producer.poll(0)
        msgs = self.consumer.consume(max(1, self.poll_records - len(self.buffer)), 0)
        if not msgs:
            return
        for m in msgs:
            if m.error() is not None:
                self._client_error(m.error())
                msgs = [x for x in msgs if x.error() is None]
                break
        self.buffer.extend(msgs)

    def _client_error(self, err: Any) -> None:
        if err.code() == self._ck.KafkaError._PARTITION_EOF:
            return
        self.errors += 1
        if self.errors & (self.errors - 1) == 0:  # 1, 2, 4, 8...: logged, never per message
            log.warning("%s: consumer error (%d so far): %s", self.group, self.errors, err)

    def _pace(self) -> None:
        """Pause a partition whose uncommitted offsets reached ``kafka.max.uncommitted.offsets``
        (storm-kafka-client's maxUncommittedOffsets: a message failing forever must not let the
        others run ahead without bound), resume it once the commit point moved."""
        pause: list[Any] = []
        resume: list[Any] = []
        for (topic, part), st in self.parts.items():
            st.advance()
            full = len(st.emitted) >= self.max_uncommitted
            if full != st.paused:
                st.paused = full
                (pause if full else resume).append(self._ck.TopicPartition(topic, part))
        if pause:
            self.consumer.pause(pause)
        if resume:
            self.consumer.resume(resume)

    def _undecodable(self, msg: Any, st: PartitionState, off: int, reason: str) -> None:
        payload = msg.value() or b""
        self.emit_error(f"{msg.topic()}/{msg.partition()}@{off}", reason, payload)
        self._dead_letter(msg.topic(), msg.partition(), off, payload, msg.key(), reason)
        if not self.checkpointed:
            st.done.add(off)
        self.given_up += 1

    def _give_up(self, tup_id: Any, st: PartitionState, fails: int) -> None:
        topic, part, off, _ = tup_id
        msg = st.pending.pop(off)
        st.fails.pop(off, None)
        reason = f"failed {fails} times (kafka.max.retries={self.max_retries})"
        payload = msg.value() or b""
        self.emit_error(f"{topic}/{part}@{off}", reason, payload)
        self._dead_letter(topic, part, off, payload, msg.key(), reason)
        st.done.add(off)
        self.given_up += 1

    def _dead_letter(self, topic: str, part: int, off: int, payload: bytes, key: Any, reason: str) -> None:
        if self.producer is None or self.dead_letter is None:
            return
        headers = {"squall.source": f"{topic}/{part}@{off}", "squall.reason": reason}
        report = self._dead_letter_report
        try:
            self.producer.produce(self.dead_letter, payload, key=key, headers=headers, on_delivery=report)
        except BufferError:
            self.producer.flush(5)
            self.producer.produce(self.dead_letter, payload, key=key, headers=headers, on_delivery=report)

    def _commit(self, sync: bool) -> None:
        """Commit each partition's done prefix (what moved since the last commit)."""
        if self.given_up:
            log.warning(
                "%s: %d message(s) given up since the last commit (undecodable or kafka.max.retries "
                "reached; %d in all): on the connector_errors stream%s",
                self.group,
                self.given_up,
                self.given_up_total + self.given_up,
                f" and in {self.dead_letter}" if self.dead_letter else "",
            )
            self.given_up_total += self.given_up
            self.given_up = 0
        offsets, moved = [], []
        for (topic, part), st in self.parts.items():
            at = st.advance()
            if at >= 0 and at != st.committed:
                offsets.append(self._ck.TopicPartition(topic, part, at, metadata=self.run_id))
                moved.append((st, at))
        if not offsets:
            return
        # dead letters are stored (or their failure counted and logged) before their offsets are committed
        if self.producer is not None and self.producer.flush(10):
            log.warning("%s: dead letters not delivered within 10 s: commit postponed", self.group)
            return
        self.consumer.commit(offsets=offsets, asynchronous=not sync)
        for st, at in moved:
            st.committed = at

    def _dead_letter_report(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.dead_letter_failed += 1
            log.error(
                "%s: a message given up could not be written to %s (%d so far; it was on the "
                "connector_errors stream): %s",
                self.group,
                self.dead_letter,
                self.dead_letter_failed,
                err,
            )


def _reason(e: Exception) -> str:
    return str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"


def _encode(value: Any) -> bytes:
    """A value as message bytes: bytes as they are, str as UTF-8, None as empty, else JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if value is None:
        return b""
    return json.dumps(value, default=str).encode("utf-8")


class KafkaBolt(Connector, Bolt):
    """Produces each tuple to Kafka; acks it on its delivery report, fails it on a failed one.

    Reports are read every 64 tuples and on every tick tuple (once a second), so a tuple is acked
    within about a second of its delivery.

    By default (Storm's ``FieldNameBasedTupleToKafkaMapper``) the value is field
    ``kafka.value.field`` ("message"), the key field ``kafka.key.field`` ("key", None when the
    tuple has no such field), headers the fields listed in ``kafka.header.fields``; str is sent as
    UTF-8, bytes as they are, anything else as JSON. Override ``to_record(tup) -> (topic, key,
    value, headers)`` for another mapping.
    """

    connector = "kafka"
    prefix = "kafka."
    client = CLIENT
    settings: ClassVar[dict[str, Any]] = {
        "kafka.bootstrap.servers": REQUIRED,
        "kafka.topic": REQUIRED,
        "kafka.key.field": "key",
        "kafka.value.field": "message",
        "kafka.header.fields": [],
        "kafka.producer.config": {},  # other librdkafka producer settings (acks, linger.ms...)
    }
    auto_ack: ClassVar[bool] = False
    #: Delivery reports are read on every tuple and every tick: ticks keep them coming when no
    #: tuple does.
    config: ClassVar[dict[str, Any] | None] = {TICKS: 1}

    @classmethod
    def spec(
        cls,
        name: str | None = None,
        inputs: Any = None,
        par: int | None = None,
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``Bolt.spec``; ``config`` adds to the class's (its tick tuples stay) instead of replacing it."""
        return super().spec(name, inputs, par, {**(cls.config or {}), **(config or {})}, **kwargs)

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        if not conf.get(TICKS):
            out.append(
                (
                    f"{cls.__name__} reads its delivery reports on tick tuples, but {TICKS} is not set for it",
                    f"keep {TICKS}: 1 in the config of {cls.__name__} "
                    "(a subclass's config = {...} replaces the class's)",
                )
            )
        pc = conf.get("kafka.producer.config")
        if pc is not None and not isinstance(pc, dict):
            out.append(
                (
                    "kafka.producer.config must be a dict of librdkafka settings",
                    "kafka.producer.config: {'acks': 'all'}",
                )
            )
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        ck = require(*CLIENT)
        s = self.setting
        self.topic = s(conf, "kafka.topic")
        self.key_field = s(conf, "kafka.key.field")
        self.value_field = s(conf, "kafka.value.field")
        self.header_fields = list(s(conf, "kafka.header.fields") or [])
        pc = {"bootstrap.servers": s(conf, "kafka.bootstrap.servers"), **(conf.get("kafka.producer.config") or {})}
        self.producer = ck.Producer(pc, logger=log)
        self.failed = 0
        self.countdown = CHECK_EVERY
        self._report = self._delivered

    def to_record(self, tup: Tuple) -> tuple[str, Any, Any, Any]:
        """(topic, key, value, headers) of a tuple; override for another mapping."""
        v = tup.values
        fields = v._fields if hasattr(v, "_fields") else ()
        key = getattr(v, self.key_field) if self.key_field in fields else None
        value = getattr(v, self.value_field) if self.value_field in fields else v[0]
        headers = [(h, _encode(getattr(v, h))) for h in self.header_fields] if self.header_fields else None
        return self.topic, None if key is None else _encode(key), _encode(value), headers

    def process(self, tup: Tuple) -> None:
        topic, key, value, headers = self.to_record(tup)
        on_delivery = partial(self._report, tup)
        try:
            self.producer.produce(topic, value, key=key, headers=headers, on_delivery=on_delivery)
        except BufferError:  # librdkafka's queue is full: serve reports, try once more
            self.producer.poll(0.1)
            try:
                self.producer.produce(topic, value, key=key, headers=headers, on_delivery=on_delivery)
            except BufferError:
                self.fail(tup)
                return
        except Exception as e:  # e.g. a message larger than message.max.bytes: Storm's KafkaBolt fails it
            self._failed(tup, e)
            return
        self.countdown -= 1
        if self.countdown <= 0:  # delivery reports: every CHECK_EVERY tuples and every tick
            self.countdown = CHECK_EVERY
            self.producer.poll(0)

    def process_tick(self, tup: Tuple) -> None:
        self.producer.poll(0)

    def _delivered(self, tup: Tuple, err: Any, msg: Any) -> None:
        if err is None:
            self.ack(tup)
        else:
            self._failed(tup, err)

    def _failed(self, tup: Tuple, err: Any) -> None:
        self.failed += 1
        if self.failed & (self.failed - 1) == 0:  # 1, 2, 4, 8...: logged, never per tuple
            log.warning("KafkaBolt: delivery failed (%d so far): %s", self.failed, err)
        self.fail(tup)

    def cleanup(self) -> None:
        left = self.producer.flush(10)
        if left:
            log.warning("KafkaBolt: %d message(s) not delivered at close (their tuples time out and replay)", left)
