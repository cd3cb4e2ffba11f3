"""Topologies of the Kafka tests (importable: workers load them by reference).

The broker's address, topics and groups differ per run: the topologies' ``config`` holds
placeholders (so that they build), and each test's run config overrides them.
"""

from __future__ import annotations

import os
import time

from connector_harness import RecordingSink

from squall import Bolt, ReliableSpout, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.kafka import KafkaBolt, KafkaSpout

PLACEHOLDERS = {"kafka.bootstrap.servers": "127.0.0.1:9", "kafka.topic": "placeholder"}


class IdSpout(KafkaSpout):
    outputs = ["id"]


class JsonIdSpout(KafkaSpout):
    outputs = ["id", "n"]


class KillTopo(Topology):
    """Two spout tasks of one group share a 2-partition topic; the sink records every id."""

    config = PLACEHOLDERS
    ids = IdSpout.spec(par=2)
    sink = RecordingSink.spec(inputs=[ids], par=2)


class Flaky(Bolt):
    """Fails an id divisible by 10 the first two times it sees it (its spout replays it), and an
    id that ends in 07 always (its spout gives up after kafka.max.retries)."""

    outputs = ["id"]
    auto_ack = False

    def initialize(self, conf, context):
        self.seen: dict[int, int] = {}

    def process(self, tup):
        n = tup.values.n
        if n % 100 == 7:
            self.fail(tup)
            return
        if n % 10 == 0:
            k = self.seen[n] = self.seen.get(n, 0) + 1
            if k <= 2:
                self.fail(tup)
                return
        self.emit([tup.values.id], anchors=[tup])
        self.ack(tup)


class ErrorSink(Bolt):
    """Records ``source<TAB>reason`` of each message on the connector_errors stream."""

    def initialize(self, conf, context):
        path = os.path.join(conf["test.dir"], f"errors-{context.task_id}-{os.getpid()}.log")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 (closed when the worker ends)

    def process(self, tup):
        v = tup.values
        self.out.write(f"{v.connector}\t{v.source}\t{v.reason}\n")


class PoisonTopo(Topology):
    """JSON messages, some undecodable, some failed twice then processed, some failed for good."""

    config = PLACEHOLDERS
    ids = JsonIdSpout.spec()
    flaky = Flaky.spec(inputs=[ids])
    sink = RecordingSink.spec(inputs=[flaky])
    errors = ErrorSink.spec(inputs=[ids[ERROR_STREAM]])


class OriginSink(Bolt):
    """Records ``<component>:<id>`` (which spout the tuple came from)."""

    def initialize(self, conf, context):
        path = os.path.join(conf["test.dir"], f"seen-{context.task_id}-{os.getpid()}.log")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 (closed when the worker ends)

    def process(self, tup):
        self.out.write(f"{tup.component}:{tup.values.id}\n")


def _strategy(name: str) -> dict[str, str]:
    return {"kafka.first.poll.offset.strategy": name, "kafka.group.id": f"strategy-{name}"}


class StrategyTopo(Topology):
    """One spout per first-poll strategy, each in its own group, on the same topic."""

    config = PLACEHOLDERS
    earliest = IdSpout.spec(config=_strategy("EARLIEST"))
    latest = IdSpout.spec(config=_strategy("LATEST"))
    uncommitted_earliest = IdSpout.spec(config=_strategy("UNCOMMITTED_EARLIEST"))
    uncommitted_latest = IdSpout.spec(config=_strategy("UNCOMMITTED_LATEST"))
    sink = OriginSink.spec(inputs=[earliest, latest, uncommitted_earliest, uncommitted_latest])


class Numbers(ReliableSpout):
    """``test.count`` numbered tuples (key, message, color); records acks and give-ups."""

    outputs = ["key", "message", "color"]
    max_fails = 2

    def initialize(self, conf, context):
        self.todo = iter(range(int(conf["test.count"])))
        folder = conf["test.dir"]
        self.acked = open(os.path.join(folder, f"acked-{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115
        self.failed = open(os.path.join(folder, f"failed-{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115

    def next_tuple(self):
        n = next(self.todo)  # StopIteration ends the source
        self.emit([f"k{n}", f"m{n}", "red" if n % 2 else "blue"], tup_id=n)

    def ack(self, tup_id):
        super().ack(tup_id)
        self.acked.write(f"{tup_id}\n")

    def fail(self, tup_id):
        super().fail(tup_id)
        self.failed.write(f"{tup_id}\n")

    def give_up(self, tup_id, values):
        pass  # recorded by fail; the test checks the count


class SinkTopo(Topology):
    config = {**PLACEHOLDERS, "topology.message.timeout.secs": 30}
    numbers = Numbers.spec()
    out = KafkaBolt.spec(inputs=[numbers], config={"kafka.header.fields": ["color"]})


class SlowSink(RecordingSink):
    """RecordingSink taking ``test.sleep`` seconds a tuple: tuples stay in flight for a while."""

    def initialize(self, conf, context):
        super().initialize(conf, context)
        self.sleep = float(conf.get("test.sleep", 0.01))

    def process(self, tup):
        time.sleep(self.sleep)
        super().process(tup)


class RebalanceTopo(Topology):
    config = {**PLACEHOLDERS, "topology.max.spout.pending": 100}
    ids = IdSpout.spec()
    sink = SlowSink.spec(inputs=[ids])
