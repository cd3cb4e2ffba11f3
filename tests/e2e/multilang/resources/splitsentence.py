"""A pystorm bolt run as a multilang subprocess: splits sentences into words (auto-anchored, auto-acked)."""

import os

from pystorm import Bolt


class SplitSentence(Bolt):
    outputs = ["word"]

    def initialize(self, conf, context):
        # the tests read this file to find (and kill) the subprocess
        marker = conf.get("test.pid_dir")
        if marker:
            with open(os.path.join(marker, f"split-{context['taskid']}-{os.getpid()}"), "w"):
                pass

    def process(self, tup):
        for word in tup.values[0].split(" "):
            if word:
                self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
