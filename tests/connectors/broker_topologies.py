"""Topologies of the RabbitMQ and Redis Streams tests, at module level so workers import them.

Connection keys are placeholders here: each test passes the real ones (its broker's URL, its queue
or stream) in the run's config, which overrides the topology's.
"""

from __future__ import annotations

import os
import time

from connector_harness import RecordingSink

from squall import Bolt, ReliableSpout, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.rabbitmq import RabbitMQBolt, RabbitMQSpout
from squall.connectors.redis_streams import RedisStreamBolt, RedisStreamSpout

RABBIT = {"rabbitmq.url": "amqp://guest:guest@127.0.0.1:5672/%2F", "rabbitmq.queue": "placeholder"}
REDIS = {"redis.url": "redis://127.0.0.1:6379/0", "redis.stream": "placeholder"}


class RabbitIds(RabbitMQSpout):
    outputs = ["id"]


class RedisIds(RedisStreamSpout):
    outputs = ["id"]


class ErrorSink(Bolt):
    """Records what arrives on the error stream: ``source|reason`` lines in ``<test.dir>/errors-*.log``."""

    def initialize(self, conf, context):
        path = os.path.join(conf["test.dir"], f"errors-{context.task_id}-{os.getpid()}.log")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 (closed when the worker ends)

    def process(self, tup):
        v = tup.values
        self.out.write(f"{v.connector}|{v.source}|{v.reason}|{bytes(v.payload)!r}\n")


class FailSome(Bolt):
    """Fails every tuple whose id starts with "fail" (they exhaust their retries), acks the rest."""

    outputs = ["id"]
    auto_ack = False

    def process(self, tup):
        if str(tup.values.id).startswith("fail"):
            self.fail(tup)
        else:
            self.emit([tup.values.id], anchors=[tup])
            self.ack(tup)


class Relay(Bolt):
    """Passes each id on, anchored, taking ~0.2 ms: trees queue up in every worker, so a killed
    worker always takes some in-flight ones with it (a spout acking too early would lose them)."""

    outputs = ["id"]

    def process(self, tup):
        time.sleep(0.0002)
        self.emit([tup.values.id])


class RabbitToSink(Topology):
    """The spout's worker is killed: the sinks (par 2) record every id they see."""

    config = {**RABBIT, "topology.workers": 2}
    source = RabbitIds.spec(par=1)
    relay = Relay.spec(inputs=[source], par=2)
    sink = RecordingSink.spec(inputs=[relay], par=2)


class RabbitPoison(Topology):
    config = {**RABBIT, "topology.workers": 1, "rabbitmq.format": "json"}
    source = RabbitIds.spec()
    check = FailSome.spec(inputs=[source])
    sink = RecordingSink.spec(inputs=[check])
    errors = ErrorSink.spec(inputs=[source[ERROR_STREAM]])


class RedisToSink(Topology):
    config = {**REDIS, "topology.workers": 2, "redis.field": "id"}
    source = RedisIds.spec(par=1)
    relay = Relay.spec(inputs=[source], par=2)
    sink = RecordingSink.spec(inputs=[relay], par=2)


class RedisPoison(Topology):
    config = {**REDIS, "topology.workers": 1, "redis.format": "json"}
    source = RedisIds.spec()
    check = FailSome.spec(inputs=[source])
    sink = RecordingSink.spec(inputs=[check])
    errors = ErrorSink.spec(inputs=[source[ERROR_STREAM]])


class Numbers(ReliableSpout):
    """``test.n`` numbered messages ("m0", "m1", ...), each tried ``max_fails`` times, then exhausted."""

    outputs = ["message", "key"]
    max_fails = 1

    def initialize(self, conf, context):
        self.it = iter(range(conf.get("test.n", 100)))
        self.key = conf.get("test.key", "")

    def next_tuple(self):
        n = next(self.it)
        self.emit([f"m{n}", self.key], tup_id=n)

    def give_up(self, tup_id, values):
        pass  # counted in given_up: the test reads it from the statistics


class ToRabbit(Topology):
    config = {"rabbitmq.url": RABBIT["rabbitmq.url"], "rabbitmq.routing.key": "placeholder", "topology.workers": 1}
    numbers = Numbers.spec()
    publish = RabbitMQBolt.spec(inputs=[numbers])


class ToRedis(Topology):
    config = {"redis.url": REDIS["redis.url"], "redis.stream": "placeholder", "topology.workers": 1}
    numbers = Numbers.spec()
    publish = RedisStreamBolt.spec(inputs=[numbers])
