"""Trending topics fed by a Kafka topic: trending.py's bolts (RollingCounts, TotalRankings), the
hashtags read from the topic ``hashtags`` that feed.py (or any producer) writes to.

    python examples/trending/feed.py --kafka 127.0.0.1:9092 &
    squall run examples/trending/from_kafka.py [--conf kafka.bootstrap.servers=HOST:PORT]

Each message's value is a JSON object ``{"hashtag": "#redis", "ts": 1764440000.25}`` (``ts``: unix
time in seconds, the event time the windows use), decoded by the connector's ``json`` format; a
message that does not decode is logged, counted and committed (``connector_errors``).

One spout task reads the topic's one partition (feed.py creates it so) in its order: the windows
are in event time and a counting task's watermark follows the newest time it saw, so hashtags must
come roughly in time order (``RollingCounts.lag``, 2 s, absorbs the rest; older ones go to
``late_tuples``). Several partitions, read at their own pace, would make many late.
"""

from __future__ import annotations

from trending import RollingCounts, TotalRankings, Trending

from squall import Grouping, Topology
from squall.connectors.kafka import KafkaSpout


class KafkaHashtags(KafkaSpout):
    outputs = ["hashtag", "ts"]


class TrendingKafka(Topology):
    config = {
        **Trending.config,
        "kafka.bootstrap.servers": "127.0.0.1:9092",
        "kafka.topic": "hashtags",
        "kafka.format": "json",
    }
    hashtags = KafkaHashtags.spec(
        par=1,
        config={
            # A partition is paused once this many of its offsets wait for their commit, and a
            # window holds 5 minutes of them: the default (10,000, 5 s at 2,000 a second) would stop
            # the partition, and with it the watermark that fires windows and releases them.
            "kafka.max.uncommitted.offsets": 5_000_000,
            "kafka.offset.commit.period.ms": 5000,
            "kafka.session.timeout.ms": 6000,  # a restarted task gets its partition back sooner
        },
    )
    counts = RollingCounts.spec(inputs={hashtags: Grouping.fields("hashtag")}, par=2)
    total = TotalRankings.spec(inputs={counts: Grouping.GLOBAL})
