"""Produce words to the example's topic (created with 2 partitions if missing), or read the counts.

python examples/wordcount_kafka/produce.py --count 100000     # words: dog cat zebra elephant
python examples/wordcount_kafka/produce.py --counts           # the latest count of each word
"""

import argparse
import os
from itertools import cycle, islice

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
WORDS = ["dog", "cat", "zebra", "elephant"]


def create(topic: str, partitions: int = 2) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    if topic in admin.list_topics(timeout=10).topics:
        return
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        try:
            f.result(timeout=30)
        except KafkaException as e:  # created meanwhile
            print(f"{topic}: {e}")


def produce(count: int) -> None:
    create("words")
    create("word-counts")
    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 20})
    for i, word in enumerate(islice(cycle(WORDS), count)):
        p.produce("words", word.encode())
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    print(f"produced {count - left:,} words to 'words' at {BOOTSTRAP}")


def counts() -> dict[str, int]:
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "wordcount-reader", "enable.auto.commit": False})
    parts = c.list_topics("word-counts", timeout=10).topics["word-counts"].partitions
    c.assign([TopicPartition("word-counts", p, OFFSET_BEGINNING) for p in parts])
    latest: dict[str, int] = {}
    idle = 0
    while idle < 5:
        batch = c.consume(1000, 0.2)
        idle = 0 if batch else idle + 1
        for m in batch:
            if m.error() is None:
                word, n = m.key().decode(), int(m.value())
                latest[word] = max(latest.get(word, 0), n)
    c.close()
    return latest


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--counts", action="store_true", help="print the latest count of each word instead")
    args = ap.parse_args()
    if args.counts:
        print(counts())
    else:
        produce(args.count)
