"""A pystorm bolt Storm would run as a multilang subprocess (streamparse's ShellBolt.spec)."""
from pystorm import Bolt


class SplitSentence(Bolt):
    outputs = ["word"]

    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
