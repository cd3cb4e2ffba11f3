"""Topologies of the HTTP spout tests (module level: workers import them). Ports, URLs and
``test.dir`` come from the run's overrides (the values here are placeholders)."""

import os
import time

from connector_harness import RecordingSink

from squall import Bolt, Topology
from squall.connectors import ERROR_STREAM
from squall.connectors.http_ingest import HttpIngestSpout
from squall.connectors.http_stream import HttpStreamSpout


class IngestIds(HttpIngestSpout):
    outputs = ["id"]
    config = {"http.format": "json"}


class StreamIds(HttpStreamSpout):
    outputs = ["id"]
    config = {"http.stream.format": "json"}


class ErrorRecorder(Bolt):
    """Records ``source`` and ``reason`` of each error tuple in ``<test.dir>/errors/``."""

    def initialize(self, conf, context):
        folder = os.path.join(conf["test.dir"], "errors")
        os.makedirs(folder, exist_ok=True)
        self.out = open(os.path.join(folder, f"seen-{context.task_id}-{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115

    def process(self, tup):
        self.out.write(f"{tup.values.source}\t{tup.values.reason}\n")


class SlowSink(RecordingSink):
    """A RecordingSink that takes ``test.sleep`` seconds per tuple (a consumer slower than the client)."""

    def initialize(self, conf, context):
        super().initialize(conf, context)
        self.sleep = float(conf.get("test.sleep", 0.01))

    def process(self, tup):
        time.sleep(self.sleep)
        super().process(tup)


class IngestToSink(Topology):
    config = {"http.port": 1, "topology.workers": 2}
    ingest = IngestIds.spec()
    sink = RecordingSink.spec(inputs=[ingest], par=2)


class IngestToSlowSink(Topology):
    config = {"http.port": 1, "topology.workers": 1, "http.queue.size": 100, "topology.max.spout.pending": 20}
    ingest = IngestIds.spec()
    sink = SlowSink.spec(inputs=[ingest])
    errors = ErrorRecorder.spec(inputs=[ingest[ERROR_STREAM]])


class StreamToSink(Topology):
    config = {"http.stream.url": "http://127.0.0.1:1/", "topology.workers": 2}
    events = StreamIds.spec()
    sink = RecordingSink.spec(inputs=[events], par=2)


class StreamWithErrors(Topology):
    config = {"http.stream.url": "http://127.0.0.1:1/", "topology.workers": 1}
    events = StreamIds.spec()
    sink = RecordingSink.spec(inputs=[events])
    errors = ErrorRecorder.spec(inputs=[events[ERROR_STREAM]])
