from streamparse import BatchingBolt, Bolt, Stream, TicklessBatchingBolt


class RouterBolt(Bolt):
    """Fails the first delivery of every tenth number (the spout replays it), splits the rest by
    parity on named streams and sends each number straight to one task of `direct_sink`."""

    outputs = [
        Stream(["n"], name="even"),
        Stream(["n", "parity"], name="odd"),
        Stream(["n", "target"], name="direct", direct=True),
    ]

    def initialize(self, conf, context):
        self.seen = set()
        tasks = context["task->component"]
        self.targets = sorted(int(t) for t, c in tasks.items() if c == "direct_sink")
        self.logger.info("router %s ready, direct targets %s", self.task_id, self.targets)
        self.log("pystorm log() works", "warn")

    def process(self, tup):
        assert tup.component == "numbers" and tup.stream == "default" and isinstance(tup.task, int)
        n = tup.values.n
        if n % 10 == 0 and n not in self.seen:
            self.seen.add(n)
            raise ValueError(f"first delivery of {n}")
        if n == 7:
            print("end")  # in-process, stdout is nobody's protocol channel
            print('{"command": "emit", "tuple": ["junk"]}')
        if n == 5:
            self.raise_exception(RuntimeError("reported, not raised"), tup)
        self.report_metric("routed", n)
        if n % 2 == 0:
            tasks = self.emit([n], stream="even", need_task_ids=True)
            if not (isinstance(tasks, list) and len(tasks) == 1):
                raise AssertionError(f"need_task_ids gave {tasks!r}")
        else:
            self.emit([n, "odd"], stream="odd")
        target = self.targets[n % len(self.targets)]
        self.emit([n, target], stream="direct", direct_task=target)


class TickCounterBolt(Bolt):
    """Counts even numbers and tick tuples; emits the tick count on each tick."""

    outputs = [Stream(["n"]), Stream(["task", "ticks"], name="ticks")]

    def initialize(self, conf, context):
        self.ticks = 0

    def process(self, tup):
        self.emit([tup.values[0]])

    def process_tick(self, tup):
        assert tup.component == "__system" and tup.stream == "__tick"
        self.ticks += 1
        self.emit([self.task_id, self.ticks], stream="ticks")


class DirectSinkBolt(Bolt):
    outputs = ["n", "target", "task"]

    def process(self, tup):
        n, target = tup.values
        self.emit([n, target, self.task_id])


class OddBatcher(BatchingBolt):
    """pystorm's BatchingBolt: batches processed on ticks (and what is left when the run drains)."""

    outputs = ["size", "total"]
    ticks_between_batches = 1

    def group_key(self, tup):
        return tup.values.parity

    def process_batch(self, key, tups):
        assert key == "odd"
        self.emit([len(tups), sum(t.values.n for t in tups)])


class EvenTickless(TicklessBatchingBolt):
    """pystorm's TicklessBatchingBolt: no timer thread in-process, Squall's ticks instead."""

    outputs = ["size"]
    secs_between_batches = 0.1

    def process_batch(self, key, tups):
        self.emit([len(tups)])
