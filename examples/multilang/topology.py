"""A word count whose split bolt is a pystorm script and whose count bolt is a Node.js script,
each run as a subprocess per task (Storm's ShellBolt, the multilang protocol).

    squall run examples/multilang/topology.py

The scripts are in ``resources/`` next to this file, where Storm keeps them. The Python one needs
pystorm (``pip install 'squall[streamparse]'``), in the Python that runs Squall (``sys.executable``);
the Node.js one needs ``node`` on PATH and no package.
"""

import sys

from squall import Bolt, Grouping, ReliableSpout, ShellBolt, Topology

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
] * 100


class SentenceSpout(ReliableSpout):
    outputs = ["sentence"]

    def initialize(self, conf, context):
        self.sentences = enumerate(SENTENCES)

    def next_tuple(self):
        i, sentence = next(self.sentences)
        self.emit([sentence], tup_id=i)


class PrintBolt(Bolt):
    outputs = ["word", "count"]

    def process(self, tup):
        self.emit(list(tup.values))


class MultilangWordCount(Topology):
    sentences = SentenceSpout.spec()
    split = ShellBolt.spec(
        command=sys.executable, script="splitsentence.py", outputs=["word"], inputs=[sentences], par=2
    )
    count = ShellBolt.spec(
        command="node", script="wordcount.js", outputs=["word", "count"], inputs={split: Grouping.fields("word")}, par=2
    )
    last = PrintBolt.spec(inputs=[count])
