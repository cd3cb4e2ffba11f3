"""RabbitMQ: a spout reading a queue with manual acknowledgements, and a sink publishing with
publisher confirms (pika, ``pip install 'squall[rabbitmq]'``). See docs/connectors.md, "RabbitMQ".

**The spout and pika's threads.** pika's ``BlockingConnection`` is not thread-safe, so the spout
uses its connection from one thread only, the worker's: ``next_tuple``, ``ack`` and ``fail`` all run
there, and nothing blocks. ``next_tuple`` emits one buffered delivery per call; when the buffer is
empty it sends the acknowledgements gathered since the last time and lets pika do its I/O without
waiting (``process_data_events(time_limit=0)``: read what arrived, run the consumer callback, which
appends to the buffer). Acknowledgements go out per batch, as one ``basic.ack`` with
``multiple=True`` up to the highest delivery tag whose predecessors are all settled (acked, rejected
or dead-lettered). Only (re)connecting blocks (bounded by ``rabbitmq.connect.timeout.secs``), with
backoff between attempts.

**Reliability.** A delivery is acknowledged at the broker once its tuple tree completed. A failed
tree is rejected with ``requeue=True`` (the broker delivers it again), up to ``rabbitmq.max.retries``
times; then the message is dead-lettered (published to ``rabbitmq.dead.letter.exchange`` and
acknowledged, or, without one, rejected without requeue: the queue's own dead-letter exchange gets
it if it has one), counted (``given_up``), logged, and emitted on the error stream. The prefetch
(``basic.qos``) is ``rabbitmq.prefetch``, else ``topology.max.spout.pending``. After a lost
connection (a broker restart), the broker redelivers everything not acknowledged; tags of the old
channel are forgotten, never acknowledged on the new one (their tuple ids carry the channel's
generation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from typing import Any

from squall.connectors.base import REQUIRED, Connector, ConnectorSpout, require
from squall.connectors.notes import Notes, int_problems
from squall.errors import DeliveryError
from squall.topology.bolt import Bolt
from squall.topology.config import AUTO_MAX_SPOUT_PENDING
from squall.topology.spout import Spout
from squall.topology.tuple import Tuple

log = logging.getLogger("squall.connectors.rabbitmq")

CLIENT = ("pika", "rabbitmq", "pika")
TAG_SPAN = 1 << 40  # tuple id = channel generation * TAG_SPAN + delivery tag
IDLE_POLL_SECS = 0.001  # after a poll that brought nothing, the next one waits this long
FLUSH_ACKS = 256  # settled deliveries that make next_tuple send their basic.ack at once
IDLE_FLUSH_SECS = 0.1  # while deactivated, acks are sent at most this often (or per FLUSH_ACKS)
MAX_FAIL_COUNTS = 100_000  # failure counts kept for requeued messages (the oldest forgotten first)


def quiet_pika() -> None:
    """pika logs every connection step at INFO: keep its warnings and errors only, unless the user
    set its logger's level."""
    pika_log = logging.getLogger("pika")
    if pika_log.level == logging.NOTSET:
        pika_log.setLevel(logging.WARNING)


def _connect(pika: Any, url: str, timeout: float, heartbeat: int | None = None) -> Any:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return pika.BlockingConnection(params)


class RabbitMQSpout(ConnectorSpout, Spout):
    """Reads ``rabbitmq.queue``; one tuple per message (decoded with ``rabbitmq.format``)."""

    connector = "rabbitmq"
    prefix = "rabbitmq."
    client = CLIENT
    settings = {
        "rabbitmq.url": REQUIRED,  # amqp://user:password@host:port/vhost
        "rabbitmq.queue": REQUIRED,
        "rabbitmq.format": "text",
        "rabbitmq.declare": True,  # declare the queue (durable) if missing; False: it must exist
        "rabbitmq.prefetch": None,  # None: topology.max.spout.pending, else 1000
        "rabbitmq.max.retries": None,  # failed deliveries requeued this many times; None: forever
        "rabbitmq.dead.letter.exchange": None,  # where given-up and undecodable messages go
        "rabbitmq.dead.letter.routing.key": None,  # None: the message's own routing key
        "rabbitmq.connect.timeout.secs": 5.0,
        "rabbitmq.reconnect.max.secs": 5.0,  # backoff ceiling between connection attempts
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        limits = {"rabbitmq.prefetch": 1, "rabbitmq.max.retries": 0}
        return super().config_problems(conf) + int_problems(cls, conf, limits)

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.pika = require(*CLIENT)
        quiet_pika()

        def get(key: str) -> Any:
            return self.setting(conf, key)

        self.url: str = get("rabbitmq.url")
        self.queue: str = get("rabbitmq.queue")
        self.declare = bool(get("rabbitmq.declare"))
        pending = conf.get("topology.max.spout.pending")
        self.prefetch = int(get("rabbitmq.prefetch") or pending or AUTO_MAX_SPOUT_PENDING)
        retries = get("rabbitmq.max.retries")
        self.max_retries: int | None = None if retries is None else int(retries)
        self.dlx: str | None = get("rabbitmq.dead.letter.exchange")
        self.dl_key: str | None = get("rabbitmq.dead.letter.routing.key")
        self.timeout = float(get("rabbitmq.connect.timeout.secs"))
        self.backoff_max = float(get("rabbitmq.reconnect.max.secs"))
        if getattr(type(self), "decode", None) is None:
            self.decode = self.make_decoder(conf)
        self.notes = Notes(self.logger)
        self.given_up = 0  # past rabbitmq.max.retries (shown in the spout's statistics)
        self.undecodable = 0
        self.conn: Any = None
        self.channel: Any = None
        self.gen = 0  # the channel's generation: tuple ids of an older one are not acked
        self.buffer: deque[tuple[int, Any, Any, bytes]] = deque()  # deliveries not yet emitted
        self.inflight: dict[int, tuple[Any, Any, bytes]] = {}  # tag -> delivery, emitted, not settled
        self.settled: dict[int, bool] = {}  # tag -> True: to ack; False: rejected already
        self.low = 1  # the lowest delivery tag not yet settled at the broker
        self.fail_counts: dict[Any, int] = {}
        self.next_poll = 0.0
        self.next_connect = 0.0
        self.backoff = 0.1
        self.lost_at: float | None = None
        self.active = False
        self.next_idle_flush = 0.0
        self._connect()

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self.next_connect:
            return False
        pika = self.pika
        conn = None
        try:
            conn = _connect(pika, self.url, self.timeout)
            ch = conn.channel()
            ch.queue_declare(self.queue, durable=True, passive=not self.declare)
            if self.dlx:
                ch.exchange_declare(self.dlx, passive=True)
            ch.basic_qos(prefetch_count=self.prefetch)
            ch.basic_consume(self.queue, self._on_message, auto_ack=False)
        except pika.exceptions.ChannelClosedByBroker as exc:  # a missing queue or exchange
            self._retry_later(now)
            if exc.reply_code == 404:
                fix = "declare it first" + ("" if self.declare else ", or set rabbitmq.declare to True")
            else:  # 406: the queue exists with other arguments (a quorum queue, a dead-letter exchange...)
                fix = "set rabbitmq.declare to False to use the queue as it was declared"
            self.notes.note("config", f"{self.component_name}: RabbitMQ refused: {exc.reply_text} ({fix}); retrying")
            self._close_quietly(conn)
            return False
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._retry_later(now)
            self._close_quietly(conn)
            self.notes.note("connect", f"{self.component_name}: cannot connect to RabbitMQ at {self._where()}: {exc!r}")
            return False
        self.conn, self.channel = conn, ch
        self.gen += 1
        self.low = 1
        self.backoff = 0.1
        if self.lost_at is not None:
            self.logger.warning(
                "%s: reconnected to RabbitMQ after %.1f s", self.component_name, time.monotonic() - self.lost_at
            )
            self.lost_at = None
        return True

    def _where(self) -> str:
        return self.url.rsplit("@", 1)[-1]  # no credentials in logs

    def _retry_later(self, now: float) -> None:
        self.next_connect = now + self.backoff
        self.backoff = min(self.backoff * 2, self.backoff_max)

    def _lost(self, exc: BaseException) -> None:
        """The connection or channel is gone: forget its deliveries (the broker redelivers them)."""
        dropped = len(self.buffer) + len(self.inflight)
        self.logger.warning(
            "%s: lost the RabbitMQ connection (%r); reconnecting; %d unacknowledged deliveries will be "
            "redelivered by the broker",
            self.component_name,
            exc,
            dropped,
        )
        self._close_quietly(self.conn)
        self.conn = self.channel = None
        self.buffer.clear()
        self.inflight.clear()
        self.settled.clear()
        self.lost_at = time.monotonic()
        self._retry_later(self.lost_at)

    @staticmethod
    def _close_quietly(conn: Any) -> None:
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to do
                conn.close()

    def _on_message(self, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        self.buffer.append((method.delivery_tag, method, props, body))

    # -- next_tuple -----------------------------------------------------------------------------
    def _poll(self) -> None:
        """Send the gathered acks and take what arrived, without waiting."""
        if self.channel is None and not self._connect():
            return
        now = time.monotonic()
        if now < self.next_poll:
            return
        if self.channel.is_closed:  # closed by the broker (an error reply) while the connection lives
            self._lost(RuntimeError("the channel was closed by the broker"))
            return
        try:
            self._flush()
            self.conn.process_data_events(time_limit=0)
        except (self.pika.exceptions.AMQPError, OSError) as exc:
            self._lost(exc)
            return
        if not self.buffer:
            self.next_poll = now + IDLE_POLL_SECS

    def _flush(self) -> None:
        """One ``basic.ack(multiple=True)`` for the longest settled run from the lowest open tag."""
        settled = self.settled
        if not settled:
            return
        tag, last_acked = self.low, 0
        pop = settled.pop
        while tag in settled:
            if pop(tag):
                last_acked = tag
            tag += 1
        self.low = tag
        if last_acked:
            self.channel.basic_ack(last_acked, multiple=True)

    def next_tuple(self) -> None:
        buffer = self.buffer
        if not buffer:
            self._poll()
            if not buffer:
                return
        elif len(self.settled) >= FLUSH_ACKS:
            self._poll()
        tag, method, props, body = buffer.popleft()
        try:
            values = self.decode(body)
        except ValueError as exc:  # bad UTF-8 or JSON, wrong fields (UnicodeDecodeError is one)
            self.undecodable += 1
            self._give_up(tag, (method, props, body), f"undecodable: {exc}")
            return
        self.inflight[tag] = (method, props, body)
        self.emit(values, tup_id=self.gen * TAG_SPAN + tag)

    # -- ack / fail -----------------------------------------------------------------------------
    def ack(self, tup_id: Any) -> None:
        gen, tag = divmod(tup_id, TAG_SPAN)
        if gen != self.gen:
            return  # a delivery of a lost channel: the broker redelivers it
        entry = self.inflight.pop(tag, None)
        if entry is None:
            return
        if self.fail_counts and entry[0].redelivered:
            self.fail_counts.pop(self._key(entry), None)
        self.settled[tag] = True
        if not self.active and (len(self.settled) >= FLUSH_ACKS or time.monotonic() >= self.next_idle_flush):
            self._send_now()  # deactivated (a drain): next_tuple will not send them; close() sends the rest

    def fail(self, tup_id: Any) -> None:
        gen, tag = divmod(tup_id, TAG_SPAN)
        if gen != self.gen:
            return
        entry = self.inflight.pop(tag, None)
        if entry is None:
            return
        key = self._key(entry)
        n = self.fail_counts.pop(key, 0) + 1
        if self.max_retries is not None and n > self.max_retries:
            self.given_up += 1
            self._give_up(tag, entry, f"failed {n} times (rabbitmq.max.retries={self.max_retries})")
            return
        self.fail_counts[key] = n
        if len(self.fail_counts) > MAX_FAIL_COUNTS:
            del self.fail_counts[next(iter(self.fail_counts))]
        self._settle(tag, requeue=True)

    @staticmethod
    def _key(entry: tuple[Any, Any, bytes]) -> Any:
        """What identifies a message across its redeliveries: its message id, else its body."""
        return entry[1].message_id or entry[2]

    def _give_up(self, tag: int, entry: tuple[Any, Any, bytes], reason: str) -> None:
        """Dead-letter a message (undecodable, or past its retries): error stream, count, log."""
        method, props, body = entry
        source = f"{self.queue}#{method.delivery_tag}"
        self.emit_error(source, reason, body)
        self.notes.note(reason.split(":")[0].split(" ")[0], f"{self.component_name}: {source} {reason}")
        if self.dlx:
            key = self.dl_key if self.dl_key is not None else method.routing_key
            headers = dict(props.headers or {})
            headers["x-squall-reason"] = reason
            props.headers = headers
            try:
                self.channel.basic_publish(self.dlx, key, body, props)
            except (self.pika.exceptions.AMQPError, OSError) as exc:
                self._lost(exc)
                return
            self.settled[tag] = True
        else:
            self._settle(tag, requeue=False)

    def _settle(self, tag: int, requeue: bool) -> None:
        """Reject one delivery now (the acks gathered before it go first, keeping their order)."""
        try:
            self._flush()
            self.channel.basic_reject(tag, requeue=requeue)
        except (self.pika.exceptions.AMQPError, OSError) as exc:
            self._lost(exc)
            return
        self.settled[tag] = False

    def _send_now(self) -> None:
        self.next_idle_flush = time.monotonic() + IDLE_FLUSH_SECS
        if self.channel is None:
            return
        try:
            self._flush()
            self.conn.process_data_events(time_limit=0)
        except (self.pika.exceptions.AMQPError, OSError) as exc:
            self._lost(exc)

    def activate(self) -> None:
        self.active = True

    def deactivate(self) -> None:
        self.active = False
        self._send_now()

    def close(self) -> None:
        self._send_now()
        self._close_quietly(self.conn)
        self.conn = self.channel = None


def _body(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class RabbitMQBolt(Connector, Bolt):
    """Publishes each tuple's ``rabbitmq.message.field`` (default: its first field) to
    ``rabbitmq.exchange`` with ``rabbitmq.routing.key`` (or the values of the tuple fields named by
    ``rabbitmq.exchange.field`` / ``rabbitmq.routing.key.field``), with publisher confirms: the tuple
    is acked once the broker confirmed the message, failed when it nacked or returned it
    (unroutable, with ``rabbitmq.mandatory``) or the connection broke.

    Publishing waits for the broker's confirm, so it runs on the task's own threads
    (``concurrency_mode = "threads"``, ``concurrency`` threads, each with its own connection:
    pika's connections are not thread-safe); raise ``concurrency`` for more messages in flight.
    """

    connector = "rabbitmq"
    prefix = "rabbitmq."
    client = CLIENT
    concurrency = 4
    concurrency_mode = "threads"
    settings = {
        "rabbitmq.url": REQUIRED,
        "rabbitmq.exchange": "",  # "": the default exchange (the routing key names a queue)
        "rabbitmq.exchange.field": None,
        "rabbitmq.routing.key": None,
        "rabbitmq.routing.key.field": None,
        "rabbitmq.message.field": None,  # None: the tuple's first field
        "rabbitmq.persistent": True,  # delivery_mode 2: the message survives a broker restart
        "rabbitmq.mandatory": True,  # an unroutable message fails its tuple
        "rabbitmq.connect.timeout.secs": 5.0,
    }

    @classmethod
    def config_problems(cls, conf: dict[str, Any]) -> list[tuple[str, str]]:
        out = super().config_problems(conf)
        if conf.get("rabbitmq.routing.key") is None and conf.get("rabbitmq.routing.key.field") is None:
            out.append(
                (
                    f"{cls.__name__} needs 'rabbitmq.routing.key' or 'rabbitmq.routing.key.field'",
                    "give the routing key (the queue's name for the default exchange), or the tuple field holding it",
                )
            )
        return out

    def initialize(self, conf: dict[str, Any], context: Any) -> None:
        self.pika = require(*CLIENT)
        quiet_pika()

        def get(key: str) -> Any:
            return self.setting(conf, key)

        self.url: str = get("rabbitmq.url")
        self.exchange: str = get("rabbitmq.exchange")
        self.exchange_field: str | None = get("rabbitmq.exchange.field")
        self.key: str | None = get("rabbitmq.routing.key")
        self.key_field: str | None = get("rabbitmq.routing.key.field")
        self.message_field: str | None = get("rabbitmq.message.field")
        self.mandatory = bool(get("rabbitmq.mandatory"))
        self.timeout = float(get("rabbitmq.connect.timeout.secs"))
        self.properties = self.pika.BasicProperties(delivery_mode=2 if get("rabbitmq.persistent") else 1)
        self.local = threading.local()  # each thread's own connection
        self.conns: list[Any] = []  # all of them, closed at cleanup
        self.lock = threading.Lock()

    def _channel(self) -> Any:
        ch = getattr(self.local, "channel", None)
        if ch is None or ch.is_closed:
            conn = _connect(self.pika, self.url, self.timeout, heartbeat=0)  # idle threads answer no heartbeats
            ch = conn.channel()
            ch.confirm_delivery()
            self.local.conn, self.local.channel = conn, ch
            with self.lock:
                self.conns.append(conn)
        return ch

    def _drop(self) -> None:
        RabbitMQSpout._close_quietly(getattr(self.local, "conn", None))
        self.local.conn = self.local.channel = None

    def process(self, tup: Tuple) -> None:
        values = tup.values
        value = values[0] if self.message_field is None else getattr(values, self.message_field)
        exchange = self.exchange if self.exchange_field is None else getattr(values, self.exchange_field)
        key = self.key if self.key_field is None else getattr(values, self.key_field)
        body = _body(value)
        errors = self.pika.exceptions
        for attempt in (1, 2):  # a connection that broke since the last call gets one fresh retry
            try:
                self._channel().basic_publish(exchange, key, body, self.properties, mandatory=self.mandatory)
                return
            except (errors.UnroutableError, errors.NackError) as exc:
                raise DeliveryError(
                    f"RabbitMQ {'returned' if isinstance(exc, errors.UnroutableError) else 'nacked'} the message "
                    f"for exchange '{exchange}' with routing key '{key}' (no queue bound to it?)"
                ) from None
            except (errors.AMQPError, OSError):
                self._drop()
                if attempt == 2:
                    raise

    def cleanup(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for conn in conns:
            RabbitMQSpout._close_quietly(conn)
