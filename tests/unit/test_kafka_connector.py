"""The Kafka connector's logic without a broker: config mistakes refused when the topology is built,
the commit point over acked offsets (storm-kafka-client's OffsetManager), late acks after a revoke,
and the module importing without confluent-kafka. The broker-backed tests: tests/connectors."""

from __future__ import annotations

import subprocess
import sys
from collections import deque

import pytest

from squall import InvalidTopologyError, Spout, Topology
from squall.connectors.kafka import KafkaBolt, KafkaSpout, PartitionState

OK = {"kafka.bootstrap.servers": "127.0.0.1:9092", "kafka.topic": "words"}


class Source(Spout):
    outputs = ["message"]


def build(**components):
    return type("T", (Topology,), components)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kafka.topic": "words"}, "needs 'kafka.bootstrap.servers'"),
        ({**OK, "kafka.topc": "x"}, r"unknown key 'kafka.topc'"),
        ({**OK, "kafka.first.poll.offset.strategy": "EARLY"}, "is not a strategy"),
        ({**OK, "kafka.max.retries": -1}, "is not a count"),
        ({**OK, "kafka.max.retries": "3"}, "is not a count"),
        ({**OK, "kafka.offset.commit.period.ms": 0}, "must be a positive integer"),
        ({**OK, "kafka.consumer.config": "fetch.min.bytes=1"}, "must be a dict"),
        ({**OK, "kafka.topic": 3}, "neither a name nor a list"),
        ({**OK, "kafka.format": "xml"}, "is not a format"),
        ({**OK, "kafka.retry.delay.max.ms": -1}, "milliseconds >= 0"),
    ],
)
def test_spout_config_mistakes_are_refused_at_build_time(config, message):
    with pytest.raises(InvalidTopologyError, match=message) as e:
        build(src=KafkaSpout.spec(config=config))
    assert "component 'src'" in str(e.value)


def test_a_good_spout_config_builds():
    build(src=KafkaSpout.spec(config={**OK, "kafka.max.retries": 3, "kafka.topic": ["a", "b"]}))


def test_sink_config_mistakes_are_refused_and_ticks_kept():
    with pytest.raises(InvalidTopologyError, match=r"needs .kafka\.topic."):
        build(src=Source.spec(), out=KafkaBolt.spec(inputs=["src"], config={"kafka.bootstrap.servers": "x:1"}))
    spec = KafkaBolt.spec(config={**OK, "kafka.key.field": "word"})
    assert spec.config["topology.tick.tuple.freq.secs"] == 1  # spec(config=) adds to the class's

    class NoTicks(KafkaBolt):
        config = OK

    with pytest.raises(InvalidTopologyError, match="reads its delivery reports on tick tuples"):
        build(src=Source.spec(), out=NoTicks.spec(inputs=["src"]))


def test_the_commit_point_is_the_end_of_the_done_prefix():
    st = PartitionState(epoch=1)
    st.emitted.extend([10, 11, 12, 15, 16])  # 13, 14: a gap (compaction, a transaction marker)
    assert st.advance() == -1  # nothing emitted is done yet
    st.done.update({11, 12})
    assert st.advance() == -1  # 10 is not done: nothing can be committed
    st.done.add(10)
    assert st.advance() == 13
    st.done.add(16)
    assert st.advance() == 13
    st.done.add(15)
    assert st.advance() == 17  # the gap was never emitted: not waited for
    assert not st.emitted and not st.done


class FakeMessage:
    """A polled message as the spout reads it (topic, partition, offset, value)."""

    def __init__(self, topic, part, off):
        self._t, self._p, self._o = topic, part, off

    def topic(self):
        return self._t

    def partition(self):
        return self._p

    def offset(self):
        return self._o


class TP:
    def __init__(self, topic, partition):
        self.topic, self.partition = topic, partition


def test_a_revoked_partition_forgets_its_tuples_and_ignores_late_acks():
    spout = KafkaSpout()
    spout.parts = {("t", 0): PartitionState(1), ("t", 1): PartitionState(1)}
    spout.buffer = deque([FakeMessage("t", 0, 5), FakeMessage("t", 1, 7)])
    spout.replays = [(0.0, 1, ("t", 0, 3, 1)), (0.0, 2, ("t", 1, 4, 1))]
    spout.group = "g"
    for key, off in ((("t", 0), 3), (("t", 1), 4)):
        spout.parts[key].emitted.append(off)
        spout.parts[key].pending[off] = FakeMessage(*key, off)
    spout._forget([TP("t", 0)])
    assert list(spout.parts) == [("t", 1)]
    assert [m.partition() for m in spout.buffer] == [1]
    assert [r[2] for r in spout.replays] == [("t", 1, 4, 1)]
    spout.ack(("t", 0, 3, 1))  # late: ignored
    spout.fail(("t", 0, 3, 1))
    # the partition comes back (a new epoch): an ack of the old assignment's tuple is ignored too
    spout.parts[("t", 0)] = PartitionState(2)
    spout.parts[("t", 0)].emitted.append(3)
    spout.ack(("t", 0, 3, 1))
    assert spout.parts[("t", 0)].advance() == -1
    spout.ack(("t", 0, 3, 2))
    assert spout.parts[("t", 0)].advance() == 4


def test_the_module_imports_without_confluent_kafka_and_the_build_names_the_extra():
    code = (
        "import sys; sys.modules['confluent_kafka'] = None\n"
        "import importlib.util; importlib.util.find_spec = lambda name, *a: None\n"
        "from squall import Topology\n"
        "from squall.connectors.kafka import KafkaSpout\n"
        "try:\n"
        "    type('T', (Topology,), {'src': KafkaSpout.spec(config={'kafka.bootstrap.servers': 'x:1',"
        " 'kafka.topic': 't'})})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "InvalidTopologyError" in out.stdout
    assert "pip install 'squall[kafka]'" in out.stdout


def test_retries_back_off_as_storm_kafka_clients_default():
    spout = KafkaSpout()
    spout.replays, spout.replay_seq = [], 0
    spout.retry_initial, spout.retry_period, spout.retry_max = 0.0, 0.002, 10.0
    delays = []
    for fails in (1, 2, 3, 4, 20):
        spout.replays = []
        spout._retry_later(("t", 0, 1, 1), fails)
        delays.append(spout.replays[0][0])
    first = delays[0]
    assert [round(d - first, 3) for d in delays[1:4]] == [0.004, 0.008, 0.016]  # 2 ms x 2^(k-1)
    assert delays[4] - first == pytest.approx(10.0, abs=0.01)  # capped


class PauseRecorder:
    """Records the consumer's pause and resume calls."""

    def __init__(self):
        self.calls = []

    def pause(self, tps):
        self.calls.append(("pause", [tp.partition for tp in tps]))

    def resume(self, tps):
        self.calls.append(("resume", [tp.partition for tp in tps]))


def test_a_partition_too_far_ahead_of_its_commit_point_is_paused_until_it_moves():
    import confluent_kafka

    spout = KafkaSpout()
    spout._ck, spout.consumer, spout.max_uncommitted = confluent_kafka, PauseRecorder(), 3
    a, b = PartitionState(1), PartitionState(1)
    spout.parts = {("t", 0): a, ("t", 1): b}
    a.emitted.extend([0, 1, 2])  # offset 0 fails forever: 3 offsets beyond the commit point
    a.done.update({1, 2})
    b.emitted.extend([0])
    spout._pace()
    assert spout.consumer.calls == [("pause", [0])]
    spout._pace()  # no change, no call
    assert len(spout.consumer.calls) == 1
    a.done.add(0)  # given up or acked at last
    spout._pace()
    assert spout.consumer.calls[-1] == ("resume", [0])
