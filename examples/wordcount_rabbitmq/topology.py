"""The seed's word count fed from a RabbitMQ queue (see README.md in this folder).

    python examples/wordcount_rabbitmq/producer.py --count 100000
    squall run examples/wordcount_rabbitmq/topology.py

Each message of the queue ``sentences`` is a line of text. The spout emits it with the message's
delivery tag as its tuple id; the split bolt's words are anchored to it, and the message is
acknowledged at RabbitMQ only once every word of it is counted (a crash anywhere before that: the
broker delivers it again). ``SQUALL_RABBITMQ_URL`` (or ``--conf rabbitmq.url=...``) points at the
broker; the default is a RabbitMQ on this machine with its default account.
"""

import os
from collections import Counter

from squall import Bolt, Grouping, Topology
from squall.connectors.rabbitmq import RabbitMQSpout

URL = os.environ.get("SQUALL_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


class SentenceSpout(RabbitMQSpout):
    outputs = ["sentence"]  # one value per message: its text (rabbitmq.format "text")


class SplitBolt(Bolt):
    outputs = ["word"]

    def process(self, tup):
        for word in tup.values.sentence.split():
            self.emit([word])


class WordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counter = Counter()
        self.total = 0

    def process(self, tup):
        word = tup.values.word
        self.counter[word] += 1
        self.total += 1
        if self.total % 100_000 == 0:
            self.logger.info("counted %s words; most common: %s", f"{self.total:,}", self.counter.most_common(3))
        self.emit([word, self.counter[word]])


class WordCountRabbitMQ(Topology):
    config = {
        "rabbitmq.url": URL,
        "rabbitmq.queue": "sentences",
        "topology.max.spout.pending": 1000,  # also RabbitMQ's prefetch: unacked messages per spout task
    }
    sentences = SentenceSpout.spec()
    split = SplitBolt.spec(inputs=[sentences], par=2)
    count = WordCountBolt.spec(inputs={split: Grouping.fields("word")}, par=2)
