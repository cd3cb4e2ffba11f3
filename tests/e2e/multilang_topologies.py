"""Topologies with multilang subprocess components (module level: workers import them).

Their scripts are in ``multilang/resources/`` (Storm's folder name), found through ``base_dir``.
"""

import os
import sys

from squall import Bolt, Grouping, ReliableSpout, ShellBolt, Topology

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multilang")

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]
N_SENTENCES = 200


class Sentences(ReliableSpout):
    """N_SENTENCES sentences (conf ``test.n``), each tracked: a failed one is emitted again."""

    outputs = ["sentence"]

    def initialize(self, conf, context):
        self.it = iter(range(conf.get("test.n", N_SENTENCES)))

    def next_tuple(self):
        i = next(self.it)
        self.emit([SENTENCES[i % len(SENTENCES)]], tup_id=i)


class Last(Bolt):
    """Passes (word, count) on: the captured emits are the counts."""

    outputs = ["word", "count"]

    def process(self, tup):
        self.emit(list(tup.values))


def expected_counts(n=N_SENTENCES):
    out = {}
    for i in range(n):
        for w in SENTENCES[i % len(SENTENCES)].split():
            out[w] = out.get(w, 0) + 1
    return out


class PythonAndNode(Topology):
    """A pystorm bolt (Python) and a hand-written Node.js bolt, as subprocesses, in one topology."""

    sentences = Sentences.spec()
    split = ShellBolt.spec(
        command=sys.executable, script="splitsentence.py", outputs=["word"], inputs=[sentences], par=2, base_dir=HERE
    )
    count = ShellBolt.spec(
        command="node",
        script="wordcount.js",
        outputs=["word", "count"],
        inputs={split: Grouping.fields("word")},
        par=2,
        base_dir=HERE,
    )
    last = Last.spec(inputs=[count])
