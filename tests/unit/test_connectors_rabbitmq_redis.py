"""The RabbitMQ and Redis Streams connectors' config mistakes, refused when the topology is built
(before anything starts), the modules importing without their client libraries, and the RabbitMQ
spout's batched acknowledgement (the longest settled run of delivery tags)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from squall import Bolt, InvalidTopologyError, Spout, Topology
from squall.connectors.notes import Notes
from squall.connectors.rabbitmq import RabbitMQBolt, RabbitMQSpout
from squall.connectors.redis_streams import RedisStreamBolt, RedisStreamSpout

RABBIT = {"rabbitmq.url": "amqp://127.0.0.1:5672/", "rabbitmq.queue": "q"}
REDIS = {"redis.url": "redis://127.0.0.1:6379/0", "redis.stream": "s"}


class Sink(Bolt):
    pass


def build(spout, config=None):
    return type("T", (Topology,), {"config": config or {}, "src": spout, "sink": Sink.spec(inputs=[spout])})


def refused(make, *patterns):
    with pytest.raises(InvalidTopologyError) as e:
        make()
    text = str(e.value)
    for p in patterns:
        assert p in text, text
    return text


def test_a_rabbitmq_spout_without_url_or_queue_is_refused():
    text = refused(lambda: build(RabbitMQSpout.spec()), "needs 'rabbitmq.url'", "needs 'rabbitmq.queue'")
    assert "component 'src'" in text
    build(RabbitMQSpout.spec(config=RABBIT))
    build(RabbitMQSpout.spec(), config=RABBIT)


def test_rabbitmq_typos_formats_and_numbers_are_refused():
    refused(
        lambda: build(RabbitMQSpout.spec(config={**RABBIT, "rabbitmq.prefech": 10})), "unknown key 'rabbitmq.prefech'"
    )
    refused(lambda: build(RabbitMQSpout.spec(config={**RABBIT, "rabbitmq.format": "xml"})), "rabbitmq.format='xml'")
    refused(lambda: build(RabbitMQSpout.spec(config={**RABBIT, "rabbitmq.prefetch": 0})), "rabbitmq.prefetch=0")
    refused(lambda: build(RabbitMQSpout.spec(config={**RABBIT, "rabbitmq.max.retries": -1})), "rabbitmq.max.retries=-1")
    refused(lambda: build(RabbitMQSpout.spec(config={**RABBIT, "rabbitmq.max.retries": "3"})), "is not an integer >= 0")


class Src(Spout):
    outputs = ["message"]


def sink_topology(bolt_spec):
    return type("T", (Topology,), {"src": (src := Src.spec()), "out": bolt_spec(src)})


def test_a_rabbitmq_sink_needs_a_routing_key_or_its_field():
    url = {"rabbitmq.url": "amqp://127.0.0.1/"}
    refused(
        lambda: sink_topology(lambda src: RabbitMQBolt.spec(inputs=[src], config=url)),
        "needs 'rabbitmq.routing.key' or 'rabbitmq.routing.key.field'",
    )
    sink_topology(lambda src: RabbitMQBolt.spec(inputs=[src], config={**url, "rabbitmq.routing.key": "q"}))
    sink_topology(lambda src: RabbitMQBolt.spec(inputs=[src], config={**url, "rabbitmq.routing.key.field": "k"}))


def test_a_redis_spout_without_url_or_stream_and_its_bad_numbers_are_refused():
    refused(lambda: build(RedisStreamSpout.spec()), "needs 'redis.url'", "needs 'redis.stream'")
    build(RedisStreamSpout.spec(config=REDIS))
    refused(lambda: build(RedisStreamSpout.spec(config={**REDIS, "redis.batch.size": 0})), "redis.batch.size=0")
    refused(
        lambda: build(RedisStreamSpout.spec(config={**REDIS, "redis.claim.idle.ms": 1.5})), "redis.claim.idle.ms=1.5"
    )
    refused(lambda: build(RedisStreamSpout.spec(config={**REDIS, "redis.grup": "g"})), "unknown key 'redis.grup'")


def test_a_redis_sink_needs_a_stream_or_its_field_and_a_sane_maxlen():
    url = {"redis.url": "redis://127.0.0.1/"}
    refused(
        lambda: sink_topology(lambda src: RedisStreamBolt.spec(inputs=[src], config=url)),
        "needs 'redis.stream' or 'redis.stream.field'",
    )
    refused(
        lambda: sink_topology(lambda src: RedisStreamBolt.spec(inputs=[src], config={**REDIS, "redis.maxlen": 0})),
        "redis.maxlen=0",
    )
    sink_topology(lambda src: RedisStreamBolt.spec(inputs=[src], config={**REDIS, "redis.maxlen": 1000}))


@pytest.mark.parametrize(
    ("module", "cls", "extra"),
    [
        ("squall.connectors.rabbitmq", "RabbitMQSpout", "rabbitmq"),
        ("squall.connectors.redis_streams", "RedisStreamSpout", "redis"),
    ],
)
def test_the_modules_import_without_their_client_library_and_say_how_to_install_it(module, cls, extra):
    """With the library hidden (``sys.modules[name] = None`` makes its import fail), the module
    imports and a topology using the connector is refused with the pip line."""
    lib = "pika" if extra == "rabbitmq" else "redis"
    code = (
        f"import sys; sys.modules[{lib!r}] = None\n"
        "import importlib.util\n"
        "importlib.util.find_spec = lambda name, *a: None\n"
        f"from {module} import {cls}\n"
        "from squall import Topology\n"
        "try:\n"
        f"    type('T', (Topology,), {{'src': {cls}.spec(config={{**{RABBIT!r}, **{REDIS!r}}})}})\n"
        "except Exception as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"pip install 'squall[{extra}]'" in out, out


class Channel:
    """Records what the spout sends (the spout's logic under test, not a broker)."""

    def __init__(self):
        self.sent = []

    def basic_ack(self, tag, multiple=False):
        self.sent.append(("ack", tag, multiple))


def spout_with(settled, low=1):
    s = RabbitMQSpout.__new__(RabbitMQSpout)
    s.settled, s.low, s.channel = dict(settled), low, Channel()
    return s


def test_acks_go_out_as_one_multiple_ack_up_to_the_last_acked_tag_of_the_settled_run():
    s = spout_with({1: True, 2: True, 3: False, 4: True, 6: True})  # 5 still in flight
    s._flush()
    assert s.channel.sent == [("ack", 4, True)]
    assert s.low == 5 and s.settled == {6: True}


def test_a_run_ending_on_a_rejected_tag_acks_only_up_to_the_last_acked_one():
    s = spout_with({1: True, 2: False})  # multiple=True on tag 2 would be an unknown tag: a channel error
    s._flush()
    assert s.channel.sent == [("ack", 1, True)]
    assert s.low == 3
    s = spout_with({1: False})
    s._flush()
    assert s.channel.sent == []
    assert s.low == 2


def test_nothing_is_acked_while_the_lowest_tag_is_in_flight():
    s = spout_with({2: True, 3: True})
    s._flush()
    assert s.channel.sent == [] and s.low == 1


def test_notes_log_the_first_then_at_most_one_line_per_period_with_the_count(caplog):
    notes = Notes(logging.getLogger("test.notes"))
    with caplog.at_level(logging.WARNING, "test.notes"):
        for i in range(50):
            notes.note("undecodable", f"message {i} undecodable")
    assert [r.getMessage() for r in caplog.records] == ["message 0 undecodable"]
    assert notes.counts == {"undecodable": 50}


def test_a_redis_spout_with_par_above_1_cannot_be_checkpointed():
    from squall.connectors.redis_streams import RedisStreamSpout

    assert RedisStreamSpout.checkpoint_problems({"redis.stream": "s"}, 1) == []
    ((text, fix),) = RedisStreamSpout.checkpoint_problems({"redis.stream": "s"}, 3)
    assert "par=3" in text and "'s'" in text and "the other 2 would idle" in text
    assert "par=1" in fix
