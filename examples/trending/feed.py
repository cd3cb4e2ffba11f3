"""Feed hashtags to a broker for from_redis.py / from_kafka.py: generated ones stamped with the wall
clock (trending.py's generator: a Zipf-like mix whose favourites change every minute), or the
``<unix time>\\t<hashtag>`` lines of a file, as they are.

    python examples/trending/feed.py --redis redis://127.0.0.1:6379/0 [--rate 2000] [--duration SECS]
    python examples/trending/feed.py --kafka 127.0.0.1:9092 [--rate 2000]
    python examples/trending/feed.py --redis redis://127.0.0.1:6379/0 --file tags.tsv

Each message is a JSON object ``{"hashtag": "#redis", "ts": 1764440000.25}``: the field ``message``
of an entry of the Redis stream ``hashtags`` (XADD, trimmed to about ``--maxlen`` entries), or the
value of a message of the Kafka topic ``hashtags`` (created with one partition if missing).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator

from trending import generated

BATCH = 1000  # messages per round trip (a Redis pipeline, a Kafka poll)
REPORT_SECS = 10.0


def message(tag: str, ts: float) -> bytes:
    return json.dumps({"hashtag": tag, "ts": ts}, separators=(",", ":")).encode()


def from_file(path: str) -> Iterator[list[bytes]]:
    """The file's lines as messages, in batches; a line that is not ``<time>\\t<tag>`` is skipped."""
    batch: list[bytes] = []
    skipped = 0
    with open(path) as f:
        for line in f:
            ts, _, tag = line.rstrip("\n").partition("\t")
            try:
                batch.append(message(tag, float(ts)))
            except ValueError:
                skipped += 1
                continue
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
    if skipped:
        print(f"feed: skipped {skipped:,} line(s) of {path} that are not <unix time>\\t<hashtag>", file=sys.stderr)


def generate(rate: float, duration: float | None, seed: int | None) -> Iterator[list[bytes]]:
    """``rate`` hashtags a second, stamped with the wall clock, in batches, for ``duration`` s (None: ever)."""
    rng = random.Random(seed)
    started = time.time()
    sent = 0
    while duration is None or time.time() - started < duration:
        now = time.time()
        due = min(int((now - started) * rate) - sent, BATCH)
        if due <= 0:
            time.sleep(min(0.05, 1 / rate))
            continue
        sent += due
        yield [message(generated(rng, now), now) for _ in range(due)]


def to_redis(url: str, stream: str, maxlen: int | None, batches: Iterable[list[bytes]]) -> int:
    import redis

    r = redis.Redis.from_url(url)
    progress = Progress(f"Redis stream '{stream}'")
    try:
        for batch in batches:
            pipe = r.pipeline(transaction=False)
            for m in batch:
                pipe.xadd(stream, {"message": m}, maxlen=maxlen, approximate=True)
            pipe.execute()
            progress.add(len(batch))
    except redis.ConnectionError as e:
        sys.exit(f"feed: cannot reach Redis at {url} ({e}); start it first: redis-server --port PORT")
    finally:
        r.close()
    return progress.sent


def to_kafka(bootstrap: str, topic: str, batches: Iterable[list[bytes]]) -> int:
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    if topic not in admin.list_topics(timeout=10).topics:
        for f in admin.create_topics([NewTopic(topic, 1, 1)]).values():  # one partition: one order
            try:
                f.result(timeout=30)
            except KafkaException as e:  # created meanwhile
                print(f"feed: {topic}: {e}", file=sys.stderr)
    failed: list[object] = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    progress = Progress(f"Kafka topic '{topic}'")

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failed.append(err)

    for batch in batches:
        for m in batch:
            while True:
                try:
                    p.produce(topic, m, on_delivery=delivered)
                    break
                except BufferError:  # the producer's local queue is full: let it send
                    p.poll(0.1)
        p.poll(0)
        progress.add(len(batch))
    left = p.flush(60)
    if left or failed:
        print(f"feed: {left + len(failed):,} message(s) not delivered ({failed[:1]})", file=sys.stderr)
    return progress.sent - left - len(failed)


class Progress:
    """How many were sent, printed every REPORT_SECS."""

    def __init__(self, where: str):
        self.where = where
        self.sent = 0
        self.next = 0.0

    def add(self, n: int) -> None:
        self.sent += n
        now = time.monotonic()
        if now >= self.next:
            self.next = now + REPORT_SECS
            print(f"feed: {self.sent:,} hashtags to {self.where}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    to = ap.add_mutually_exclusive_group(required=True)
    to.add_argument("--redis", metavar="URL", help="a Redis URL: redis://127.0.0.1:6379/0")
    to.add_argument("--kafka", metavar="BOOTSTRAP", help="Kafka bootstrap servers: 127.0.0.1:9092")
    ap.add_argument("--stream", default="hashtags", help="the Redis stream or Kafka topic (default: hashtags)")
    ap.add_argument("--file", help="send this file's <unix time>\\t<hashtag> lines instead, then stop")
    ap.add_argument("--rate", type=float, default=2000.0, help="generated hashtags per second (default 2000)")
    ap.add_argument("--duration", type=float, help="stop generating after this many seconds (default: never)")
    ap.add_argument("--seed", type=int, help="the generator's seed")
    ap.add_argument(
        "--maxlen",
        type=int,
        default=None,
        help="Redis: trim the stream to about this many entries (default: 1,000,000 when generating, none for a file)",
    )
    args = ap.parse_args(argv)
    if args.rate <= 0:
        ap.error("--rate must be above 0")
    batches = from_file(args.file) if args.file else generate(args.rate, args.duration, args.seed)
    try:
        if args.redis:
            maxlen = args.maxlen if args.maxlen or args.file else 1_000_000
            n = to_redis(args.redis, args.stream, maxlen, batches)
        else:
            n = to_kafka(args.kafka, args.stream, batches)
    except KeyboardInterrupt:
        return
    print(f"feed: done, {n:,} hashtags sent", file=sys.stderr)


if __name__ == "__main__":
    main()
