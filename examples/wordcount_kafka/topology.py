"""The seed's word count fed from a Kafka topic, its counts written to another (see README.md).

    python examples/wordcount_kafka/produce.py --count 100000
    squall run examples/wordcount_kafka/topology.py

``words`` (a KafkaSpout, 2 tasks sharing the topic's partitions through the consumer group
``wordcount``) -> ``count_bolt`` (the seed's WordCountBolt, fields grouping on the word) ->
``counts`` (a KafkaBolt: key = the word, value = its count, to the topic ``word-counts``). Every
message is acked at Kafka (its offset committed) only once its count was delivered to
``word-counts``. Messages that are not UTF-8 go to ``errors`` (the spout's connector_errors stream).
The broker's address: $KAFKA_BOOTSTRAP (default 127.0.0.1:9092).
"""

import os
from collections import Counter

from squall import Bolt, Grouping, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.kafka import KafkaBolt, KafkaSpout

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")


class WordSpout(KafkaSpout):
    outputs = ["word"]


class WordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counter = Counter()
        self.pid = os.getpid()
        self.total = 0

    def process(self, tup):
        word = tup.values[0]
        self.counter[word] += 1
        self.total += 1
        if self.total % 10000 == 0:
            self.logger.info(f"counted [{self.total:,}] words [pid={self.pid}]")
        self.emit([word, self.counter[word]])


class ErrorLog(Bolt):
    def process(self, tup):
        self.logger.warning("undecodable message at %s: %s", tup.values.source, tup.values.reason)


class WordCountKafka(Topology):
    config = {"kafka.bootstrap.servers": BOOTSTRAP}
    words = WordSpout.spec(
        par=2,
        config={
            "kafka.topic": "words",
            "kafka.group.id": "wordcount",
            # a killed task's partitions move after this (librdkafka's default, 45 s, is long;
            # Tansu also takes about half of it to let a consumer join)
            "kafka.session.timeout.ms": 6000,
            "kafka.offset.commit.period.ms": 1000,
        },
    )
    count_bolt = WordCountBolt.spec(inputs={words: Grouping.fields("word")}, par=2)
    counts = KafkaBolt.spec(
        inputs=[count_bolt],
        config={"kafka.topic": "word-counts", "kafka.key.field": "word", "kafka.value.field": "count"},
    )
    errors = ErrorLog.spec(inputs=[words[ERROR_STREAM]])
