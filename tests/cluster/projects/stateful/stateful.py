"""A stateful word count for the cluster's exactly-once test (issue 13): a rewindable spout of numbered
words (``test.n`` of them, paced at ``test.rate`` words a second per task), a stateless step, and a
``StatefulBolt`` counting per word. Its state is checkpointed in Redis (``topology.state.provider=redis``,
given by the test), which every node reaches. ``word(i)`` and ``expected(n)`` are the test's reference."""

import time
from collections import Counter

from squall import Bolt, Grouping, Spout, StatefulBolt, Topology

WORDS = [f"w{i:02d}" for i in range(50)] + ["dog", "cat", "zebra", "elephant"]
BURST = 20  # words per next_tuple call


def word(i):
    """The i-th word of the input: deterministic, uneven (some words far more frequent)."""
    return WORDS[(i * 7919 + (i // 3) * 13) % len(WORDS)] if i % 5 else WORDS[(i // 5) % 4 + 50]


def expected(n):
    return Counter(word(i) for i in range(n))


class NumberedWords(Spout):
    """Words 0..n-1, split over its tasks (task k of p emits i with i % p == k); rewinds by index."""

    outputs = ["word"]

    def initialize(self, conf, ctx):
        tasks = ctx.component_tasks(ctx.component_id)
        self.step = len(tasks)
        self.i = sorted(tasks).index(self.task_id)
        self.n = int(conf.get("test.n", 200_000))
        self.rate = float(conf.get("test.rate", 0))
        self.t0 = time.monotonic()
        self.emitted = 0

    def next_tuple(self):
        if self.i >= self.n:
            raise StopIteration
        if self.rate and self.emitted > (time.monotonic() - self.t0) * self.rate:
            return
        for _ in range(BURST):
            if self.i >= self.n:
                return
            self.emit([word(self.i)], tup_id=self.i)
            self.i += self.step
            self.emitted += 1

    def position(self):
        return self.i

    def seek(self, position):
        self.i = int(position)

    def commit(self, position):
        self.committed_at = position


class Lower(Bolt):
    """A stateless step between the spout and the counter: barriers are aligned and forwarded through it."""

    outputs = ["word"]

    def process(self, tup):
        self.emit([tup.values[0].lower()])


class StatefulCount(StatefulBolt):
    outputs = ["word", "count"]

    def process(self, tup):
        w = tup.values[0]
        n = self.state.get(w, 0) + 1
        self.state[w] = n
        self.emit([w, n])


class StatefulWordCount(Topology):
    config = {"topology.workers": 3, "topology.state.checkpoint.interval.ms": 500}
    words = NumberedWords.spec(par=2)
    lower = Lower.spec(inputs=[words], par=2)
    count = StatefulCount.spec(inputs={lower: Grouping.fields("word")}, par=2)
