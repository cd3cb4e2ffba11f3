"""The word count fed by a FileSpout (``bench/connectors_file.py``; module level: workers import
it). ``file.path``, ``file.offsets.dir`` and ``bench.out_dir`` come from the run's overrides."""

from __future__ import annotations

import json
import os
from collections import Counter

from squall import Bolt, Grouping, Topology
from squall.connectors.files import FileSpout


class Sentences(FileSpout):
    outputs = ["sentence"]


class Split(Bolt):
    outputs = ["word"]

    def process(self, tup):
        emit = self.emit
        for word in tup.values[0].split():
            emit([word])


class Count(Bolt):
    """Counts words; writes its counts to ``<bench.out_dir>/count-<task>.json`` when the run stops."""

    outputs = ["word", "count"]

    def initialize(self, conf, context):
        self.counts: Counter[str] = Counter()
        self.path = os.path.join(conf["bench.out_dir"], f"count-{context.task_id}.json")

    def process(self, tup):
        self.counts[tup.values[0]] += 1

    def cleanup(self):
        with open(self.path, "w") as f:
            json.dump(self.counts, f)


class FileWordCount(Topology):
    config = {"file.path": "(given by the bench)", "topology.workers": 2}
    sentences = Sentences.spec()
    split = Split.spec(inputs=[sentences], par=2)
    count = Count.spec(inputs={split: Grouping.fields("word")}, par=2)
