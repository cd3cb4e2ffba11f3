"""Topologies with multilang subprocess components (module level: workers import them).

Their scripts are in ``multilang/resources/`` (Storm's folder name), found through ``base_dir``.
"""

import os
import sys

from squall import Bolt, Grouping, ReliableSpout, ShellBolt, ShellSpout, Spout, Topology

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


class LastSentence(Last):
    outputs = ["sentence"]


class LastText(Last):
    outputs = ["text", "n"]


class LastWord(Last):
    outputs = ["word"]


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


class InFlight(Topology):
    """The Node.js bolt holds each tuple 20 ms before it acks: tuples inside a subprocess are in flight."""

    sentences = Sentences.spec()
    echo = ShellBolt.spec(
        command="node",
        script="wordcount.js",
        args=["echo", "delay", "20"],
        outputs=["sentence"],
        inputs=[sentences],
        base_dir=HERE,
    )
    last = LastSentence.spec(inputs=[echo])


TRICKY = [
    'a "quoted" word',
    "back\\slash \\n \\u0041 \\\\",
    "end",
    "\nend\n",
    "line\nend\nline",
    "naïve café, Grüße, 日本語, Ελληνικά",
    "emoji 🎉🐍👍🏽 and 𝄞",
    "",
    '{"json": [1, 2]}',
    "tab\tand\r\nCRLF",
    "\u2028\u2029 separators",
]


class TrickySpout(Spout):
    outputs = ["text", "n"]

    def initialize(self, conf, context):
        self.it = iter(enumerate(TRICKY))

    def next_tuple(self):
        i, text = next(self.it)
        self.emit([text, i], tup_id=i)


class Tricky(Topology):
    """Tricky strings through a pystorm bolt, a Node.js bolt and a storm.py-like bolt, echoed."""

    texts = TrickySpout.spec()
    py = ShellBolt.spec(
        command=sys.executable, script="echo_bolt.py", outputs=["text", "n"], inputs=[texts], base_dir=HERE
    )
    js = ShellBolt.spec(
        command="node", script="wordcount.js", args=["echo"], outputs=["text", "n"], inputs=[py], base_dir=HERE
    )
    stormpy = ShellBolt.spec(
        command=sys.executable,
        script="stormpy_like.py",
        args=["bolt", "echo"],
        outputs=["text", "n"],
        inputs=[js],
        base_dir=HERE,
    )
    last = LastText.spec(inputs=[stormpy])


STORMPY_SENTENCES = [  # what stormpy_like.py's spout emits
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "snow white and the seven dwarfs",
]


class StormPyLike(Topology):
    """A storm.py-like spout (ShellSpout) and bolt: blocking task ids, pid before the pid file."""

    sentences = ShellSpout.spec(
        command=sys.executable, script="stormpy_like.py", args=["spout", "30"], outputs=["sentence"], base_dir=HERE
    )
    split = ShellBolt.spec(
        command=sys.executable,
        script="stormpy_like.py",
        args=["bolt"],
        outputs=["word"],
        inputs=[sentences],
        par=2,
        base_dir=HERE,
    )
    last = LastWord.spec(inputs=[split])


class Junk(Topology):
    """A bolt that prints on stdout."""

    sentences = Sentences.spec()
    junk = ShellBolt.spec(command=sys.executable, script="junk.py", inputs=[sentences], base_dir=HERE)
