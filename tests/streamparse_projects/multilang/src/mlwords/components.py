from collections import Counter

from streamparse import Bolt, Spout

SENTENCES = ["the cow jumped over the moon", "an apple a day keeps the doctor away",
             "four score and seven years ago", "snow white and the seven dwarfs", "i am at two with nature"]
N = 300


class SentenceSpout(Spout):
    outputs = ["sentence"]

    def initialize(self, conf, context):
        self.i = 0

    def next_tuple(self):
        if self.i >= N:
            raise StopIteration  # finite, for the tests
        self.emit([SENTENCES[self.i % len(SENTENCES)]], tup_id=self.i)
        self.i += 1


class CountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values.word
        self.counts[word] += 1
        self.emit([word, self.counts[word]])
