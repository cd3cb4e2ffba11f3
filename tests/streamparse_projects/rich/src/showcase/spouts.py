"""A ReliableSpout that emits 0..N-1 slowly (so that tick tuples arrive during the run), then stops."""
import time

from streamparse import ReliableSpout, Stream

N = 400


class NumberSpout(ReliableSpout):
    outputs = [Stream(["n"])]
    max_fails = 5

    def initialize(self, conf, context):
        self.n = 0
        self.start = time.monotonic()
        self.rate = conf.get("test.rate", 400)  # numbers per second

    def next_tuple(self):
        if self.n >= N:
            raise StopIteration  # finite, for the tests: the run waits for what is pending
        due = int((time.monotonic() - self.start) * self.rate) + 1
        while self.n < min(due, N):
            self.emit([self.n], tup_id=self.n)
            self.n += 1
