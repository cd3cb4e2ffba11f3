"""Topologies of the FileSpout tests (module level: workers import them). The files, the offsets
folder and ``test.dir`` come from the run's overrides (``file.path`` here is a placeholder)."""

import os

from connector_harness import RecordingSink

from squall import Bolt, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.files import FileSpout


class NumberedLines(FileSpout):
    """Each line is an id (format text)."""

    outputs = ["id"]


class JsonLines(FileSpout):
    """Each line is a JSON object with an "id" field (format json)."""

    outputs = ["id"]
    config = {"file.format": "json"}


class ErrorRecorder(Bolt):
    """Records ``source`` and ``reason`` of each error tuple in ``<test.dir>/errors/``."""

    def initialize(self, conf, context):
        folder = os.path.join(conf["test.dir"], "errors")
        os.makedirs(folder, exist_ok=True)
        self.out = open(os.path.join(folder, f"seen-{context.task_id}-{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115

    def process(self, tup):
        self.out.write(f"{tup.values.source}\t{tup.values.reason}\n")


PLACEHOLDER = {"file.path": "(given by the test)"}


class FilesToSink(Topology):
    config = {**PLACEHOLDER, "topology.workers": 2, "topology.message.timeout.secs": 5}
    lines = NumberedLines.spec()
    sink = RecordingSink.spec(inputs=[lines], par=2)


class PoisonLines(Topology):
    config = {**PLACEHOLDER, "topology.workers": 1}
    lines = JsonLines.spec()
    sink = RecordingSink.spec(inputs=[lines])
    errors = ErrorRecorder.spec(inputs=[lines[ERROR_STREAM]])
