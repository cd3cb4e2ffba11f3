"""A pystorm bolt run as a multilang subprocess: splits sentences into words (auto-anchored, auto-acked)."""

import os
import signal

from pystorm import Bolt


class SplitSentence(Bolt):
    outputs = ["word"]

    def initialize(self, conf, context):
        # the tests read this folder to find the subprocesses
        self.dir = conf.get("test.pid_dir")
        if self.dir:
            with open(os.path.join(self.dir, f"split-{context['taskid']}-{os.getpid()}"), "w"):
                pass
        self.kill_after = conf.get("test.kill_after")
        self.seen = 0

    def process(self, tup):
        self.seen += 1
        if self.kill_after and self.seen == self.kill_after:
            try:  # the first subprocess to get here, only: it dies mid-stream, by SIGKILL
                os.close(os.open(os.path.join(self.dir, "killed"), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        for word in tup.values[0].split(" "):
            if word:
                self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
