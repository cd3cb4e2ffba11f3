"""Publish numbered sentences to the RabbitMQ queue of the word count example.

    python examples/wordcount_rabbitmq/producer.py --count 100000 [--url amqp://...] [--queue sentences]

Declares the queue (durable) and publishes persistent messages through pika's BlockingConnection
with publisher confirms off (fast); prints how many it sent.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


def produce(url: str, queue: str, count: int, rate: float = 0.0) -> int:
    """Publish ``count`` sentences to ``queue`` (``rate`` per second at most when > 0)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare(queue, durable=True)
    props = pika.BasicProperties(delivery_mode=2)
    start = time.monotonic()
    for i, sentence in zip(range(count), itertools.cycle(SENTENCES)):
        ch.basic_publish("", queue, sentence.encode(), props)
        if rate and i % 100 == 99:
            ahead = (i + 1) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    conn.close()
    return count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("SQUALL_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    p.add_argument("--queue", default="sentences")
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=0.0, help="messages per second at most (0: as fast as possible)")
    a = p.parse_args()
    n = produce(a.url, a.queue, a.count, a.rate)
    print(f"published {n:,} sentences to queue '{a.queue}'")


if __name__ == "__main__":
    main()
