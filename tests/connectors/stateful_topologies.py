"""Topologies of the checkpointed connector runs (test_rewind_e2e.py): a connector spout feeding a
StatefulBolt word count, at module level so that workers import them. Connection keys are
placeholders; each test's run config gives the real ones."""

from __future__ import annotations

from typing import Any

from squall import Grouping, StatefulBolt, Topology
from squall.connectors.files import FileSpout
from squall.connectors.kafka import KafkaSpout
from squall.connectors.redis_streams import RedisStreamSpout

PLACEHOLDERS = {
    "file.path": "placeholder",
    "kafka.bootstrap.servers": "127.0.0.1:9",
    "kafka.topic": "placeholder",
    "redis.url": "redis://127.0.0.1:9/0",
    "redis.stream": "placeholder",
    "topology.state.checkpoint.interval.ms": 300,
}


def word(i: int) -> str:
    """The i-th word of every input: deterministic, uneven (some words far more frequent)."""
    return f"w{(i * 7919) % 61 if i % 3 else i % 7}"


class Count(StatefulBolt):
    outputs = ["word", "count"]

    def process(self, tup: Any) -> None:
        w = tup.values[0]
        self.state[w] = self.state.get(w, 0) + 1


class FileWords(FileSpout):
    outputs = ["word"]


class KafkaWords(KafkaSpout):
    outputs = ["word"]


class RedisWords(RedisStreamSpout):
    outputs = ["word"]


class FileCount(Topology):
    config = PLACEHOLDERS
    words = FileWords.spec(par=2)
    count = Count.spec(inputs={words: Grouping.fields("word")}, par=2)


class KafkaCount(Topology):
    config = PLACEHOLDERS
    words = KafkaWords.spec(par=2)
    count = Count.spec(inputs={words: Grouping.fields("word")}, par=2)


class RedisCount(Topology):
    config = PLACEHOLDERS
    words = RedisWords.spec(par=1)
    count = Count.spec(inputs={words: Grouping.fields("word")}, par=2)
