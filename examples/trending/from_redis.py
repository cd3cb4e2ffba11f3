"""Trending topics fed by a Redis stream: trending.py's bolts (RollingCounts, TotalRankings), the
hashtags read from the stream ``hashtags`` that feed.py (or any producer) appends to.

    python examples/trending/feed.py --redis redis://127.0.0.1:6379/0 &
    squall run examples/trending/from_redis.py [--conf redis.url=redis://HOST:PORT/DB]

Each entry's field ``message`` is a JSON object ``{"hashtag": "#redis", "ts": 1764440000.25}``
(``ts``: unix time in seconds, the event time the windows use), decoded by the connector's ``json``
format; an entry that does not decode is logged, counted and acknowledged (``connector_errors``).

One spout task reads the stream in its order: the windows are in event time and a counting task's
watermark follows the newest time it saw, so hashtags must come roughly in time order
(``RollingCounts.lag``, 2 s, absorbs the rest; older ones go to ``late_tuples``). The consumer group
is ``hashtags``: a new group starts at the stream's first entry (``--conf redis.start.id=$``: new
entries only); a group that ran before resumes where it was.
"""

from __future__ import annotations

from trending import RollingCounts, TotalRankings, Trending

from squall import Grouping, Topology
from squall.connectors.redis_streams import RedisStreamSpout

# A hashtag stays unacknowledged while it is in a window (5 minutes + 10 s, Storm's rule for
# windows); its tuple tree may live topology.message.timeout.secs.
TREE_SECS = Trending.config["topology.message.timeout.secs"]


class RedisHashtags(RedisStreamSpout):
    outputs = ["hashtag", "ts"]


class TrendingRedis(Topology):
    config = {
        **Trending.config,
        "redis.url": "redis://127.0.0.1:6379/0",
        "redis.stream": "hashtags",
        "redis.format": "json",
    }
    # XAUTOCLAIM takes over entries idle longer than redis.claim.idle.ms, the spout's own included,
    # and an entry waits minutes in its windows: claim only those older than a tuple tree can live.
    hashtags = RedisHashtags.spec(par=1, config={"redis.claim.idle.ms": (TREE_SECS + 60) * 1000})
    counts = RollingCounts.spec(inputs={hashtags: Grouping.fields("hashtag")}, par=2)
    total = TotalRankings.spec(inputs={counts: Grouping.GLOBAL})
