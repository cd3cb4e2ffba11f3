"""Topologies of the connector benchmark (``bench/connectors.py``): the seed's word count fed from a
connector spout into a counting sink, acking on (workers import this module by reference).

Each broker adds its spout subclass and topology class here (``<Broker>WordCount``); the broker's
address and names travel in the run's config (the class configs hold placeholders).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from squall import Bolt, Grouping, Topology
from squall.connectors.kafka import KafkaSpout


class WordCountBolt(Bolt):
    """The seed's count bolt: counts each word, emits ``[word, count]`` (anchored, auto-acked)."""

    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counter = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counter[word] += 1
        self.emit([word, self.counter[word]])


class CountingSink(Bolt):
    """Counts what arrives (its executed count, in the run's statistics, is what the bench reads)."""

    def initialize(self, conf, context):
        self.n = 0

    def process(self, tup):
        self.n += 1


def word_count(name: str, spout: Any, config: dict[str, Any]) -> type:
    """The benchmark's topology, named ``name`` (a module-level name of this module): ``spout`` ->
    count (fields grouping on the word, par 2) -> counting sink (par 2)."""
    count = WordCountBolt.spec(inputs={spout: Grouping.fields("word")}, par=2)
    sink = CountingSink.spec(inputs=[count], par=2)
    attrs = {
        "__module__": __name__,
        "__qualname__": name,
        "config": config,
        "words": spout,
        "count": count,
        "sink": sink,
    }
    return type(name, (Topology,), attrs)


# --- Kafka: KafkaWordCount_p<N>, N spout tasks ---------------------------------------------------


class KafkaWords(KafkaSpout):
    outputs = ["word"]


for _n in (1, 2, 3, 4):
    _name = f"KafkaWordCount_p{_n}"
    globals()[_name] = word_count(
        _name, KafkaWords.spec(par=_n), {"kafka.bootstrap.servers": "127.0.0.1:9", "kafka.topic": "placeholder"}
    )
