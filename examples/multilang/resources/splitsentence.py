"""Storm's split sentence bolt, written with pystorm: run by Squall as a multilang subprocess."""

from pystorm import Bolt


class SplitSentence(Bolt):
    outputs = ["word"]

    def process(self, tup):  # auto_anchor and auto_ack: pystorm's defaults
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
