"""Trending topics: storm-starter's RollingTopWords, on Squall's windowed bolts.

hashtags (spout) --fields(hashtag)--> counts (RollingCounts, par 2: each task counts its hashtags over
the last 5 minutes, every 10 s, and ranks its own top 10) --global--> total (TotalRankings: the
global top 10 of each window, logged as it comes).

Run it live (hashtags generated, stamped with the wall clock):  squall run examples/trending/trending.py
or on a file of "<unix time>\\t<hashtag>" lines, in event time:  --conf trending.source=FILE
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter

from squall import Bolt, Grouping, ReliableSpout, Sliding, Topology, WindowedBolt

TOP_N = 10
WORDS = "python storm squall rust kafka ray redis flink spark go java cats dogs news music art"
TOPICS = [f"#{w}" for w in WORDS.split()]


class HashtagSpout(ReliableSpout):
    """Hashtags with their time: from ``trending.source`` (a file, in its order), else generated
    (``trending.rate`` per second, a Zipf-like mix whose favourites drift every minute)."""

    outputs = ["hashtag", "ts"]

    def initialize(self, conf, context):
        source = conf.get("trending.source")
        self.lines = open(source) if source else None  # noqa: SIM115 (read to its end by next_tuple)
        self.rate = float(conf.get("trending.rate", 2000))
        self.rng = random.Random(context.task_id)
        self.started = time.time()
        self.sent = 0
        self.n = 0

    def next_tuple(self):
        if self.lines is not None:
            line = self.lines.readline()
            if not line:
                raise StopIteration
            ts, tag = line.rstrip("\n").split("\t")
            self._send(tag, float(ts))
            return
        now = time.time()
        due = int((now - self.started) * self.rate) - self.sent
        for _ in range(min(due, 100)):
            self._send(generated(self.rng, now), now)
            self.sent += 1

    def _send(self, tag, ts):
        self.n += 1
        self.emit([tag, ts], tup_id=self.n)


def generated(rng, now):
    """One hashtag drawn from a Zipf-like mix whose favourites change every minute (also what
    feed.py writes to a broker)."""
    shift = int(now // 60)
    rank = min(int(rng.paretovariate(1.2)) - 1, len(TOPICS) - 1)
    return TOPICS[(rank + shift) % len(TOPICS)]


def ranked(counts, n=TOP_N):
    """The top ``n`` (hashtag, count) pairs: most counted first, ties by name."""
    return [[tag, c] for tag, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


class RollingCounts(WindowedBolt):
    """Counts over a 5-minute window sliding every 10 s (event time: the tuples' ``ts``), kept up to
    date from each window's new and expired tuples, and this task's own top 10 (storm-starter's
    intermediate rankings)."""

    outputs = ["end", "task", "ranking"]
    window = Sliding(300, 10)
    timestamp_field = "ts"
    lag = 2.0  # a tuple may arrive up to 2 s after a later one and still count
    # Rankings go out unanchored: the next window's supersedes a lost one, and TotalRankings needs
    # them in order (anchored and unanchored emits travel on separate channels and may reorder:
    # a window with no new tuple would be emitted unanchored under the default anchor = "new").
    anchor = None

    def initialize(self, conf, context):
        self.counts = Counter()
        self.task = context.task_id

    def process_window(self, window):
        counts = self.counts
        for t in window.new:
            counts[t.values.hashtag] += 1
        for t in window.expired:
            tag = t.values.hashtag
            counts[tag] -= 1
            if not counts[tag]:
                del counts[tag]
        self.emit([window.end, self.task, ranked(counts)])


class TotalRankings(Bolt):
    """The global top 10 of each window: the union of the counting tasks' own top 10s (a hashtag is
    counted by one task only, so the global top 10 is in it). A window is complete once every
    counting task has reported it or a later one (a task with nothing in a window skips it)."""

    outputs = ["end", "ranking"]
    upstream = "counts"

    def initialize(self, conf, context):
        self.tasks = set(context.component_tasks(self.upstream))
        self.reached = {}  # task -> the latest window end it reported
        self.waiting = {}  # window end -> {task: ranking}

    def process(self, tup):
        end, task, ranking = tup.values
        self.reached[task] = end
        self.waiting.setdefault(end, {})[task] = ranking
        if len(self.reached) < len(self.tasks):
            return
        done = min(self.reached.values())
        for e in sorted(x for x in self.waiting if x <= done):
            parts = self.waiting.pop(e)
            top = ranked(Counter({tag: c for r in parts.values() for tag, c in r}))
            self.emit([e, top])
            self.logger.info("top %d at %s: %s", len(top), time.strftime("%H:%M:%S", time.localtime(e)), fmt(top))


def fmt(top):
    return "  ".join(f"{tag} {c}" for tag, c in top)


class Trending(Topology):
    config = {
        # Storm's rule for windows: a tuple is acked when it leaves its last window (after 310 s), so
        # trees must live longer than that, and the spout must keep a window's worth in flight.
        "topology.message.timeout.secs": 2 * (300 + 10),
        "topology.max.spout.pending": 0,
    }
    hashtags = HashtagSpout.spec()
    counts = RollingCounts.spec(inputs={hashtags: Grouping.fields("hashtag")}, par=2)
    total = TotalRankings.spec(inputs={counts: Grouping.GLOBAL})


def direct_top(events, end, length=300, n=TOP_N):
    """The top ``n`` of the window ending at ``end``, computed directly from ``(ts, hashtag)`` pairs."""
    return ranked(Counter(tag for ts, tag in events if end - length <= ts < end), n)


def window_ends(events, every=10):
    """The window ends from the first event's to the last's."""
    first = (math.floor(min(ts for ts, _ in events) / every) + 1) * every
    return [first + k * every for k in range(int((max(ts for ts, _ in events) - first) // every) + 1)]
