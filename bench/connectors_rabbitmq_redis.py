"""RabbitMQ and Redis Streams connectors: messages/s through the word count, next to the client
library's own consumer alone (the ceiling), in the same run. A benchmark, not a test: see
bench/README.md, "Connectors: RabbitMQ and Redis Streams".

    python bench/connectors_rabbitmq_redis.py [--broker rabbitmq|redis|both] [--messages 100000]
                                              [--workers 2] [--repeat 1]

Per broker: start a broker of its own on 127.0.0.1 (Debian's rabbitmq-server / redis-server, as the
tests do), then per round (1) produce N sentences and time the client library alone reading and
acknowledging them (pika: basic_consume, prefetch 1000, one multiple ack per 100 messages; redis-py:
XREADGROUP 500 at a time, XACK pipelined with the next read), (2) produce N again and time the word
count (spout -> split -> count by fields, acking on) from activation until the spout has acked N
trees, and print both rates and their ratio. Exits 1 if a run did not ack every message.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "connectors"))  # the brokers' start/stop, as the tests use them

from squall import Bolt, Grouping, Topology  # noqa: E402
from squall.connectors.rabbitmq import RabbitMQSpout  # noqa: E402
from squall.connectors.redis_streams import RedisStreamSpout  # noqa: E402

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class RabbitSentences(RabbitMQSpout):
    outputs = ["sentence"]


class RedisSentences(RedisStreamSpout):
    outputs = ["sentence"]


class SplitBolt(Bolt):
    outputs = ["word"]

    def process(self, tup):
        for word in tup.values.sentence.split():
            self.emit([word])


class CountBolt(Bolt):
    """The counting sink: counts words, emits nothing."""

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        self.counts[tup.values.word] += 1


class CountMessages(Bolt):
    """The spout straight into a counting sink: what the connector costs without the word count."""

    def initialize(self, conf, context):
        self.n = 0

    def process(self, tup):
        self.n += 1


class RabbitToSink(Topology):
    config = {"rabbitmq.url": "amqp://127.0.0.1/", "rabbitmq.queue": "bench", "topology.max.spout.pending": 1000}
    source = RabbitSentences.spec()
    sink = CountMessages.spec(inputs=[source], par=2)


class RedisToSink(Topology):
    config = {"redis.url": "redis://127.0.0.1/", "redis.stream": "bench", "topology.max.spout.pending": 1000}
    source = RedisSentences.spec()
    sink = CountMessages.spec(inputs=[source], par=2)


class RabbitWordCount(Topology):
    config = {"rabbitmq.url": "amqp://127.0.0.1/", "rabbitmq.queue": "bench", "topology.max.spout.pending": 1000}
    source = RabbitSentences.spec()
    split = SplitBolt.spec(inputs=[source], par=2)
    count = CountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)


class RedisWordCount(Topology):
    config = {"redis.url": "redis://127.0.0.1/", "redis.stream": "bench", "topology.max.spout.pending": 1000}
    source = RedisSentences.spec()
    split = SplitBolt.spec(inputs=[source], par=2)
    count = CountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)


def bodies(n):
    return (s.encode() for s, _ in zip(itertools.cycle(SENTENCES), range(n)))


# -- RabbitMQ -----------------------------------------------------------------------------------
def rabbit_produce(url, queue, n):
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare(queue, durable=True)
    for body in bodies(n):
        ch.basic_publish("", queue, body)
    conn.close()


def rabbit_ceiling(url, queue, n):
    """pika alone: consume and acknowledge ``n`` messages; messages/s."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1000)
    got = 0

    def on_message(ch, method, _props, _body):
        nonlocal got
        got += 1
        if got % 100 == 0 or got == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if got >= n:
            ch.stop_consuming()

    ch.basic_consume(queue, on_message)
    t0 = time.perf_counter()
    ch.start_consuming()
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


# -- Redis --------------------------------------------------------------------------------------
def redis_produce(url, stream, n):
    import redis

    r = redis.Redis.from_url(url)
    pipe = r.pipeline(transaction=False)
    for i, body in enumerate(bodies(n)):
        pipe.xadd(stream, {"message": body})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def redis_ceiling(url, stream, n):
    """redis-py alone: read ``n`` entries through a consumer group and XACK them; messages/s."""
    import redis

    r = redis.Redis.from_url(url)
    r.xgroup_create(stream, "ceiling", id="0", mkstream=True)
    got, acks = 0, []
    t0 = time.perf_counter()
    while got < n:
        pipe = r.pipeline(transaction=False)
        if acks:
            pipe.xack(stream, "ceiling", *acks)
        pipe.xreadgroup("ceiling", "c", {stream: ">"}, count=500)
        read = pipe.execute()[-1]
        entries = read[0][1] if read else []
        acks = [entry_id for entry_id, _ in entries]
        got += len(entries)
    r.xack(stream, "ceiling", *acks)
    return n / (time.perf_counter() - t0)


# -- the topology -------------------------------------------------------------------------------
def topology_rate(topology, conf, n, workers, timeout=300.0):
    """The word count from activation until the spout acked ``n`` trees; messages/s."""
    from squall.local.coordinator import Coordinator
    from squall.local.statistics import RunState

    coord = Coordinator(
        topology,
        {"topology.workers": workers, "squall.stats.round.secs": 0.1, **conf},
        status_out=io.StringIO(),
        handle_signals=False,
    )
    runner = threading.Thread(target=coord.run, daemon=True)
    runner.start()
    snap = coord.wait_statistics(timeout=60)
    while snap.state is RunState.STARTING:
        snap = coord.wait_statistics(snap, timeout=60)
    t0 = time.perf_counter()
    deadline = t0 + timeout
    acked = 0
    while time.perf_counter() < deadline:
        snap = coord.wait_statistics(snap, timeout=10)
        acked = snap.components["source"].acked
        if acked >= n:
            break
    elapsed = time.perf_counter() - t0
    coord.request_stop("bench done")
    runner.join(timeout=60)
    if acked < n:
        raise SystemExit(f"FAILED: the spout acked {acked:,} of {n:,} messages in {timeout:.0f} s")
    return n / elapsed


def bench_rabbitmq(args, folder):
    from rabbitmq_server import RabbitMQServer

    server = RabbitMQServer(Path(folder))
    server.start()
    try:
        out = []
        for k in range(args.repeat):
            rabbit_produce(server.url, f"ceiling{k}", args.messages)
            ceiling = rabbit_ceiling(server.url, f"ceiling{k}", args.messages)
            rates = []
            for name, topology in (("wc", RabbitWordCount), ("sink", RabbitToSink)):
                rabbit_produce(server.url, f"{name}{k}", args.messages)
                conf = {"rabbitmq.url": server.url, "rabbitmq.queue": f"{name}{k}"}
                rates.append(topology_rate(topology, conf, args.messages, args.workers))
            out.append(report("rabbitmq", ceiling, *rates))
        return out
    finally:
        server.close()


def bench_redis(args, folder):
    from redis_server import RedisServer

    server = RedisServer(Path(folder))
    server.start()
    try:
        out = []
        for k in range(args.repeat):
            redis_produce(server.url, f"ceiling{k}", args.messages)
            ceiling = redis_ceiling(server.url, f"ceiling{k}", args.messages)
            rates = []
            for name, topology in (("wc", RedisWordCount), ("sink", RedisToSink)):
                redis_produce(server.url, f"{name}{k}", args.messages)
                conf = {"redis.url": server.url, "redis.stream": f"{name}{k}"}
                rates.append(topology_rate(topology, conf, args.messages, args.workers))
            out.append(report("redis", ceiling, *rates))
        return out
    finally:
        server.stop()


def report(broker, ceiling, wordcount, sink):
    print(
        f"{broker:9s} client alone {ceiling:8,.0f} msg/s | word count (acking on) {wordcount:8,.0f} msg/s,"
        f" ratio {wordcount / ceiling:.2f} | spout -> counting sink {sink:8,.0f} msg/s, ratio {sink / ceiling:.2f}",
        flush=True,
    )
    return wordcount / ceiling


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--broker", choices=["rabbitmq", "redis", "both"], default="both")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    print(f"{args.messages:,} sentences of ~6 words, {args.workers} workers, {os.cpu_count()} cores", flush=True)
    for broker, fn in (("rabbitmq", bench_rabbitmq), ("redis", bench_redis)):
        if args.broker in (broker, "both"):
            with tempfile.TemporaryDirectory(prefix=f"squall-bench-{broker}-") as folder:
                ratios = fn(args, folder)
            if len(ratios) > 1:
                print(f"{broker:9s} median ratio {statistics.median(ratios):.2f} over {len(ratios)} rounds")


if __name__ == "__main__":
    main()
