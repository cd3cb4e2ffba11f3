"""The streamparse word count bolt (pystorm), run as a multilang subprocess by the benchmark."""

from collections import Counter

from pystorm import Bolt


class WordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        self.emit([word, self.counts[word]])


if __name__ == "__main__":
    WordCountBolt().run()
