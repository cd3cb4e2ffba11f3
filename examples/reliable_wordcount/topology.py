"""A reliable word count: every sentence is tracked until all its words are counted.

    squall run examples/reliable_wordcount/topology.py

The spout emits each sentence with a tup_id; the split bolt's emits are anchored to the
sentence (auto_anchor) and acked after process() (auto_ack). A split that raises (here: on
purpose, the first time it sees each sentence with "storm") fails the sentence's tree; the
spout is told fail(tup_id) and, being a ReliableSpout, emits it again. The run ends when every
sentence is acked: the counts are exact, each "storm" sentence was processed twice by split
but counted once.
"""

from collections import Counter

from squall import Bolt, Grouping, ReliableSpout, Topology

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
    "a storm is coming",
] * 2000


class SentenceSpout(ReliableSpout):
    outputs = ["sid", "sentence"]
    max_fails = 3  # then give_up() logs it: never silently dropped

    def initialize(self, conf, context):
        self.sentences = enumerate(SENTENCES)

    def next_tuple(self):
        i, sentence = next(self.sentences)  # StopIteration ends the spout; pending trees still finish
        self.emit([i, sentence], tup_id=i)


class SplitBolt(Bolt):
    outputs = ["word"]

    def initialize(self, conf, context):
        self.seen_storm = set()

    def process(self, tup):
        sid, sentence = tup.values
        if "storm" in sentence and sid not in self.seen_storm:
            self.seen_storm.add(sid)
            raise RuntimeError("flaky split (on purpose): the sentence will be replayed")
        for word in sentence.split():
            self.emit([word])


class CountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values.word
        self.counts[word] += 1
        self.emit([word, self.counts[word]])


class ReliableWordCount(Topology):
    config = {"topology.max.spout.pending": 1000, "topology.message.timeout.secs": 10}
    sentences = SentenceSpout.spec()
    split = SplitBolt.spec(inputs={sentences: Grouping.fields("sid")}, par=2)
    count = CountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)
