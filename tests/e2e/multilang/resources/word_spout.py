"""A pystorm spout run as a multilang subprocess (ShellSpout): N words with tup_ids (argv[1]),
replayed on fail; nothing more once they are all out."""

import sys

from pystorm import Spout

WORDS = ["dog", "cat", "zebra", "elephant"]


class WordSpout(Spout):
    outputs = ["word"]

    def initialize(self, conf, context):
        self.todo = list(range(int(sys.argv[1])))

    def next_tuple(self):
        if self.todo:
            i = self.todo.pop(0)
            self.emit([WORDS[i % len(WORDS)]], tup_id=i)

    def fail(self, tup_id):
        self.todo.append(tup_id)


if __name__ == "__main__":
    WordSpout().run()
