"""Exactly-once state from the file, Kafka and Redis Streams spouts: a StatefulBolt word count on
real workers fed by each connector (the input written while it runs), workers killed with SIGKILL
twice at random moments; the committed state equals collections.Counter of the input exactly, and
the source shows the last checkpoint's commit at the end of the input (offsets records, the group's
committed offsets, the group's last-delivered id)."""

from __future__ import annotations

import io
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import stateful_topologies as S
from kafka_server import kafka_broker  # noqa: F401 (the session fixture)
from redis_server import redis_server  # noqa: F401 (the session fixture)
from runs import wait_for

from squall.connectors.files import read_offsets
from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState
from squall.state import open_backend
from squall.state.kv import decoded

N = 20_000
KILLS = 2
EXPECTED = dict(Counter(S.word(i) for i in range(N)))


def committed_counts(topology: type, conf: dict[str, Any]) -> dict[str, int]:
    """The committed state of the counting tasks, summed (the spouts' positions left out)."""
    backend = open_backend(topology.__name__, conf)
    try:
        words: dict[str, int] = {}
        for task in backend.tasks():
            for w, n in decoded(backend.load(task)).items():
                if w != "position":
                    words[w] = words.get(w, 0) + n
        return words
    finally:
        backend.close()


def run_with_kills(topology: type, conf: dict[str, Any], feed: Callable[[], None], at_end: Callable[[], bool]) -> Any:
    """Run ``topology`` while ``feed`` writes the input; kill a random worker -9 ``KILLS`` times
    (each once every worker is back), wait until ``at_end()`` (the source shows the commit of the
    whole input), stop the run."""
    conf = {"topology.workers": 2, "squall.stats.interval.secs": 0.5, **conf}
    coord = Coordinator(topology, conf, timeout=180, status_out=io.StringIO(), handle_signals=False)
    out: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: out.setdefault("result", coord.run()), daemon=True)
    runner.start()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    rng = random.Random(13)
    killed: list[bool] = []  # per kill: whether the input was still being written
    deadline = time.monotonic() + 90
    try:
        while len(killed) < KILLS and runner.is_alive() and time.monotonic() < deadline:
            live = [h for i, h in coord.handles.items() if i not in coord.restart_at and h.poll() is None]
            if not (len(live) == len(coord.handles) == len(coord.ready) and coord.state is RunState.ACTIVE):
                time.sleep(0.05)
                continue
            time.sleep(rng.uniform(0.3, 1.2))  # a random moment: maybe mid-checkpoint
            try:
                os.kill(rng.choice(live).pid, signal.SIGKILL)
                killed.append(feeder.is_alive())
            except ProcessLookupError:
                pass
        feeder.join(timeout=60)
        assert len(killed) == KILLS, f"{len(killed)} kills: {coord.message}"
        assert killed[0], "the first kill came after the whole input was written: a weaker test"
        wait_for(at_end, 90, "the commit of the whole input at the source")
    finally:
        coord.request_stop("test done")
        runner.join(timeout=60)
    assert all(n >= 1 for n in coord.incarnation.values()), coord.incarnation  # full restarts happened
    return out.get("result")


def paced(write: Callable[[range], None], chunk: int = 1000, pause: float = 0.25) -> Callable[[], None]:
    def feed() -> None:
        for start in range(0, N, chunk):
            write(range(start, min(start + chunk, N)))
            time.sleep(pause)

    return feed


@pytest.mark.timeout(240)
def test_file_spout_state_is_exactly_once_through_kills(tmp_path):
    data, offsets = tmp_path / "in", tmp_path / "offsets"
    data.mkdir()

    def write(numbers: range) -> None:  # 4 files, the input spread over them
        for f in range(4):
            with open(data / f"{f}.log", "a") as out:
                out.write("".join(f"{S.word(i)}\n" for i in numbers if i % 4 == f))

    conf = {
        "file.path": str(data),
        "file.offsets.dir": str(offsets),
        "file.scan.interval.ms": 100,
        "squall.state.dir": str(tmp_path / "state"),
    }

    def at_end() -> bool:
        sizes = {str(p): p.stat().st_size for p in data.iterdir()}
        return len(sizes) == 4 and read_offsets(str(offsets)) == sizes

    run_with_kills(S.FileCount, conf, paced(write), at_end)
    assert committed_counts(S.FileCount, conf) == EXPECTED


@pytest.mark.timeout(240)
def test_kafka_spout_state_is_exactly_once_through_kills(kafka_broker, tmp_path):  # noqa: F811
    topic = kafka_broker.create_topic("stateful", 2)
    ends: dict[int, int] = {}

    def feed() -> None:
        ends.update(kafka_broker.produce(topic, (S.word(i).encode() for i in range(N)), pace=0.3))

    conf = {
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "kafka.group.id": "stateful",
        "squall.state.dir": str(tmp_path / "state"),
    }

    def at_end() -> bool:
        return len(ends) == 2 and kafka_broker.committed("stateful", topic, 2) == ends

    run_with_kills(S.KafkaCount, conf, feed, at_end)
    assert sum(ends.values()) == N
    assert committed_counts(S.KafkaCount, conf) == EXPECTED


@pytest.mark.timeout(240)
def test_redis_spout_state_is_exactly_once_through_kills(redis_server, tmp_path):  # noqa: F811
    stream = "stateful"
    r = redis_server.client()
    last: list[bytes] = []

    def write(numbers: range) -> None:
        pipe = r.pipeline(transaction=False)
        for i in numbers:
            pipe.xadd(stream, {"message": S.word(i)})
        last[:] = pipe.execute()[-1:]

    conf = {"redis.url": redis_server.url, "redis.stream": stream, "squall.state.dir": str(tmp_path / "state")}

    def at_end() -> bool:
        if r.xlen(stream) != N:
            return False
        group = next(g for g in r.xinfo_groups(stream) if g["name"] == b"words")
        return group["last-delivered-id"] == last[0] and group["pending"] == 0 and group["lag"] == 0

    run_with_kills(S.RedisCount, conf, paced(write), at_end)
    assert committed_counts(S.RedisCount, conf) == EXPECTED


def run_until(topology: type, conf: dict[str, Any], at_end: Callable[[], bool]) -> None:
    """Run ``topology`` until ``at_end()``, then stop it."""
    conf = {"topology.workers": 2, "squall.stats.interval.secs": 0.5, **conf}
    coord = Coordinator(topology, conf, timeout=120, status_out=io.StringIO(), handle_signals=False)
    runner = threading.Thread(target=coord.run, daemon=True)
    runner.start()
    try:
        wait_for(at_end, 90, "the commit of the whole input at the source")
    finally:
        coord.request_stop("test done")
        runner.join(timeout=60)


@pytest.mark.timeout(240)
def test_a_new_run_starts_from_the_checkpoint_not_from_the_brokers_commits(kafka_broker, redis_server, tmp_path):  # noqa: F811
    """The second run of each topology reads through another group (nothing committed there): its
    spouts start where the last checkpoint of the first run left them, not at the group's start."""
    first, more = 6_000, 3_000
    expected = dict(Counter(S.word(i) for i in range(first + more)))

    topic = kafka_broker.create_topic("resumed", 2)
    ends = kafka_broker.produce(topic, (S.word(i).encode() for i in range(first)))
    conf: dict[str, Any] = {
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "squall.state.dir": str(tmp_path / "kafka"),
    }
    run_until(S.KafkaCount, {**conf, "kafka.group.id": "one"}, lambda: kafka_broker.committed("one", topic, 2) == ends)
    more_ends = kafka_broker.produce(topic, (S.word(i).encode() for i in range(first, first + more)))
    ends = {p: max(ends.get(p, 0), more_ends.get(p, 0)) for p in set(ends) | set(more_ends)}
    run_until(S.KafkaCount, {**conf, "kafka.group.id": "two"}, lambda: kafka_broker.committed("two", topic, 2) == ends)
    assert committed_counts(S.KafkaCount, conf) == expected

    stream, r = "resumed", redis_server.client()

    def add(numbers: range) -> bytes:
        pipe = r.pipeline(transaction=False)
        for i in numbers:
            pipe.xadd(stream, {"message": S.word(i)})
        return pipe.execute()[-1]

    def delivered(group: str, last: bytes) -> Callable[[], bool]:
        return lambda: any(
            g["name"] == group.encode() and g["last-delivered-id"] == last for g in r.xinfo_groups(stream)
        )

    conf = {"redis.url": redis_server.url, "redis.stream": stream, "squall.state.dir": str(tmp_path / "redis")}
    last = add(range(first))
    run_until(S.RedisCount, {**conf, "redis.group": "one"}, delivered("one", last))
    last = add(range(first, first + more))
    run_until(S.RedisCount, {**conf, "redis.group": "two"}, delivered("two", last))
    assert committed_counts(S.RedisCount, conf) == expected
