"""The rewind contract (docs/state.md, section 4) of the file, Kafka and Redis Streams spouts, against
real files and real brokers (Tansu, redis-server): spout instances driven directly, as the worker
drives them in a checkpointed topology. Read 10,000 messages, take ``position()`` at 4,000, read on;
a NEW instance (as after a crash) ``seek``s there and emits exactly messages 4,001.. in order;
``commit`` shows at the source (offsets file, committed offsets, the group's last-delivered id);
acks and fails touch nothing at the source; with par 2 each task reads its own input and seeks
back to its own."""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka_server import kafka_broker  # noqa: F401 (the session fixture)
from redis_server import redis_server  # noqa: F401 (the session fixture)

from squall.connectors.files import FileSpout, read_offsets
from squall.connectors.kafka import KafkaSpout
from squall.connectors.redis_streams import RedisStreamSpout

N, AT = 10_000, 4_000


class Context:
    """What a worker gives a task: its component, its task id, the component's tasks."""

    def __init__(self, index: int = 0, n: int = 1):
        self.component_id = "source"
        self.task_id = 10 + index
        self.tasks = [10 + i for i in range(n)]

    def component_tasks(self, name: str) -> list[int]:
        return self.tasks


class Driven:
    """A spout instance driven in this process: ``emit`` records (stream, values, tup_id)."""

    def __init__(self, cls: type, conf: dict[str, Any], index: int = 0, n: int = 1, checkpointed: bool = True):
        spout = cls()
        spout.logger = logging.getLogger("test_rewind")
        spout.component_name = "source"
        spout.checkpointed = checkpointed  # set by the runtime before initialize
        self.out: list[tuple[str, Any, Any]] = []  # every emit
        self.emitted: list[tuple[Any, Any]] = []  # (value, tup_id) of the default stream's

        def emit(values: Any, tup_id: Any = None, stream: str | None = None, **kw: Any) -> None:
            self.out.append((stream or "default", values[0], tup_id))
            if stream in (None, "default"):
                self.emitted.append((values[0], tup_id))

        spout.emit = emit
        spout.initialize({"topology.name": "rewind", **conf}, Context(index, n))
        self.spout = spout

    def pump(self, count: int, timeout: float = 60.0) -> list[tuple[Any, Any]]:
        """Call next_tuple until ``count`` tuples were emitted (at most: the spouts emit one per
        call, FileSpout a few hundred) or the deadline passes."""
        deadline = time.monotonic() + timeout
        while len(self.emitted) < count and time.monotonic() < deadline:
            before = len(self.out)
            self.spout.next_tuple()
            if len(self.out) == before:
                time.sleep(0.001)
        return self.emitted

    def idle(self, secs: float) -> None:
        """Keep calling next_tuple for a while (to show that nothing more comes)."""
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            self.spout.next_tuple()
            time.sleep(0.001)


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- files --------------------------------------------------------------------------------------


class Lines(FileSpout):
    outputs = ["line"]


def file_conf(tmp_path) -> dict[str, Any]:
    return {
        "file.path": str(tmp_path / "in"),
        "file.offsets.dir": str(tmp_path / "offsets"),
        "file.scan.interval.ms": 1,
        "file.poll.interval.ms": 1,
        "file.offsets.commit.period.ms": 1,
    }


def test_file_spout_seeks_back_to_its_position_and_commit_writes_the_records(tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "a.log"
    path.write_text("".join(f"{i}\n" for i in range(N)))
    conf = file_conf(tmp_path)
    first = Driven(Lines, conf)
    got = first.pump(AT)
    at = len(got)  # FileSpout emits a burst per call: the position falls after a whole one
    pos = first.spout.position()
    assert [v for v, _ in got] == [str(i) for i in range(at)]
    first.pump(N)
    for _, tup_id in first.emitted[: at + 10]:
        first.spout.ack(tup_id)
    for _, tup_id in first.emitted[at + 10 :]:
        first.spout.fail(tup_id)  # checkpointed: nothing is emitted again
    first.idle(0.3)
    assert [v for v, _ in first.emitted] == [str(i) for i in range(N)]
    assert read_offsets(str(tmp_path / "offsets")) == {}, "acks wrote a record (only commit may)"

    again = Driven(Lines, conf)  # a new instance, as after a crash
    again.spout.seek(pos)
    again.pump(N - at)
    again.idle(0.2)
    assert [v for v, _ in again.emitted] == [str(i) for i in range(at, N)]
    again.spout.commit(pos)
    assert read_offsets(str(tmp_path / "offsets")) == {str(path): len("".join(f"{i}\n" for i in range(at)))}
    assert read_offsets(str(tmp_path / "offsets")) == {str(path): pos[next(iter(pos))][0]}

    fresh = Driven(Lines, conf)  # no checkpoint to go back to: starts at the committed record
    fresh.pump(N - at)
    assert [v for v, _ in fresh.emitted][:3] == [str(at), str(at + 1), str(at + 2)]
    end = again.spout.position()
    again.spout.commit(end)
    assert read_offsets(str(tmp_path / "offsets")) == {str(path): path.stat().st_size}
    for d in (first, again, fresh):
        d.spout.close()


def test_file_spout_par_2_tasks_each_seek_back_to_their_own_files(tmp_path):
    (tmp_path / "in").mkdir()
    for f in range(6):
        (tmp_path / "in" / f"{f}.log").write_text("".join(f"{f}-{i}\n" for i in range(1000)))
    conf = file_conf(tmp_path)
    tasks = [Driven(Lines, conf, index, 2) for index in range(2)]
    mine = []
    for d in tasks:
        d.spout.scan()
        mine.append({p.path for p in d.spout.files.values()})
    assert mine[0] and mine[1] and not mine[0] & mine[1], mine
    positions, all_lines = [], []
    for d, paths in zip(tasks, mine, strict=True):
        total = 1000 * len(paths)
        d.pump(total // 2)
        positions.append((len(d.emitted), d.spout.position()))
        d.pump(total)
        all_lines.append([v for v, _ in d.emitted])
        assert len(all_lines[-1]) == total
    assert sorted(all_lines[0] + all_lines[1]) == sorted(f"{f}-{i}" for f in range(6) for i in range(1000))
    for index, (at, pos) in enumerate(positions):
        again = Driven(Lines, conf, index, 2)
        again.spout.seek(pos)
        again.pump(len(all_lines[index]) - at)
        again.idle(0.2)
        # the files are read in turns: the same lines after the position, per file in order
        after = [v for v, _ in again.emitted]
        assert sorted(after) == sorted(all_lines[index][at:])
        for name in {v.split("-")[0] for v in after}:
            numbers = [int(v.split("-")[1]) for v in after if v.split("-")[0] == name]
            assert numbers == list(range(numbers[0], 1000))
        again.spout.close()
    for d in tasks:
        d.spout.close()


# -- Kafka ------------------------------------------------------------------------------------


def kafka_conf(broker, topic: str, group: str) -> dict[str, Any]:
    return {"kafka.bootstrap.servers": broker.bootstrap, "kafka.topic": topic, "kafka.group.id": group}


def test_kafka_spout_seeks_back_to_its_offsets_and_commits_them_to_the_group(kafka_broker):  # noqa: F811
    topic = kafka_broker.create_topic("rewind-one", 1)
    ends = kafka_broker.produce(topic, (str(i).encode() for i in range(N)))
    assert ends == {0: N}
    conf = kafka_conf(kafka_broker, topic, "rewind-one")
    first = Driven(KafkaSpout, conf)
    assert [v for v, _ in first.pump(AT)] == [str(i) for i in range(AT)]
    pos = first.spout.position()
    assert pos == [[topic, 0, AT]]
    first.pump(N)
    for _, tup_id in first.emitted[:100]:
        first.spout.ack(tup_id)
    for _, tup_id in first.emitted[100:200]:
        first.spout.fail(tup_id)  # checkpointed: nothing replayed
    first.idle(0.5)
    assert [v for v, _ in first.emitted] == [str(i) for i in range(N)]
    assert kafka_broker.committed("rewind-one", topic, 1) == {0: -1001}, "acks committed (only commit may)"
    first.spout.close()

    again = Driven(KafkaSpout, conf)  # a new instance, as after a crash
    again.spout.seek(pos)
    assert again.spout.position() == pos  # a checkpoint before the first poll keeps it
    again.pump(N - AT)
    again.idle(0.5)
    assert [v for v, _ in again.emitted] == [str(i) for i in range(AT, N)]
    again.spout.commit(pos)
    wait_for(lambda: kafka_broker.committed("rewind-one", topic, 1) == {0: AT}, 30, "the commit at the broker")
    fresh = Driven(KafkaSpout, conf)  # no checkpoint to go back to: starts at the committed offsets
    fresh.pump(3)
    assert [v for v, _ in fresh.emitted] == [str(AT), str(AT + 1), str(AT + 2)]
    assert fresh.spout.position() == [[topic, 0, AT + 3]]
    fresh.spout.close()
    again.spout.commit(again.spout.position())
    wait_for(lambda: kafka_broker.committed("rewind-one", topic, 1) == {0: N}, 30, "the last commit")
    again.spout.close()


def test_kafka_spout_par_2_tasks_take_partitions_by_number_and_seek_back_to_their_own(kafka_broker):  # noqa: F811
    topic = kafka_broker.create_topic("rewind-four", 4)
    ends = kafka_broker.produce(topic, (str(i).encode() for i in range(N)))
    assert sum(ends.values()) == N and len(ends) == 4
    conf = kafka_conf(kafka_broker, topic, "rewind-four")
    positions = []
    for index in range(2):
        own = [p for p in range(4) if p % 2 == index]
        total = sum(ends[p] for p in own)
        d = Driven(KafkaSpout, conf, index, 2)
        d.pump(total // 3)
        pos = d.spout.position()
        assert {p for _, p, _ in pos} <= set(own)
        d.pump(total)
        d.idle(0.3)
        assert len(d.emitted) == total
        assert {t[1] for _, t in d.emitted} == set(own)
        d.spout.close()
        again = Driven(KafkaSpout, conf, index, 2)
        again.spout.seek(pos)
        sought = {p: off for _, p, off in pos}
        rest = sum(ends[p] - sought.get(p, 0) for p in own)
        again.pump(rest)
        again.idle(0.3)
        assert len(again.emitted) == rest
        for p in own:  # each partition: exactly the offsets after the position, in order
            offsets = [t[2] for _, t in again.emitted if t[1] == p]
            assert offsets == list(range(sought.get(p, 0), ends[p])), p
        again.spout.commit(pos)
        positions.append(pos)
        again.spout.close()
    expected = {p: off for pos in positions for _, p, off in pos}
    wait_for(
        lambda: {p: o for p, o in kafka_broker.committed("rewind-four", topic, 4).items() if o >= 0} == expected,
        30,
        "both tasks' commits at the broker",
    )


# -- Redis Streams ----------------------------------------------------------------------------


def redis_group(server, stream: str, group: str) -> dict[str, Any]:
    return next(g for g in server.client().xinfo_groups(stream) if g["name"].decode() == group)


def test_redis_spout_seeks_back_to_its_entry_and_commit_moves_the_group(redis_server):  # noqa: F811
    stream = "rewind"
    r = redis_server.client()
    pipe = r.pipeline(transaction=False)
    for i in range(N):
        pipe.xadd(stream, {"message": str(i)})
    ids = pipe.execute()
    conf = {"redis.url": redis_server.url, "redis.stream": stream, "redis.batch.size": 300}
    first = Driven(RedisStreamSpout, conf)
    assert [v for v, _ in first.pump(AT)] == [str(i) for i in range(AT)]
    pos = first.spout.position()
    assert pos == ids[AT - 1].decode()
    first.pump(N)
    for _, tup_id in first.emitted[:100]:
        first.spout.ack(tup_id)
    for _, tup_id in first.emitted[100:200]:
        first.spout.fail(tup_id)  # checkpointed: nothing replayed
    first.idle(0.3)
    assert [v for v, _ in first.emitted] == [str(i) for i in range(N)]
    group = redis_group(redis_server, stream, "source")
    assert group["pending"] == 0 and group["last-delivered-id"] == b"0-0", group  # acks moved nothing
    first.spout.close()

    again = Driven(RedisStreamSpout, conf)  # a new instance, as after a crash
    again.spout.seek(pos)
    again.pump(N - AT)
    again.idle(0.3)
    assert [v for v, _ in again.emitted] == [str(i) for i in range(AT, N)]
    again.spout.commit(pos)
    group = redis_group(redis_server, stream, "source")
    assert group["last-delivered-id"] == pos.encode() and group["pending"] == 0, group
    fresh = Driven(RedisStreamSpout, conf)  # no checkpoint to go back to: starts after the commit
    fresh.pump(3)
    assert [v for v, _ in fresh.emitted] == [str(AT), str(AT + 1), str(AT + 2)]
    again.spout.commit(again.spout.position())
    group = redis_group(redis_server, stream, "source")
    assert group["last-delivered-id"] == ids[-1] and group["pending"] == 0 and group["lag"] == 0, group
    for d in (again, fresh):
        d.spout.close()


def test_redis_spout_par_2_the_first_task_reads_the_stream_the_other_idles(redis_server):  # noqa: F811
    stream = "rewind-par"
    r = redis_server.client()
    for i in range(500):
        r.xadd(stream, {"message": str(i)})
    conf = {"redis.url": redis_server.url, "redis.stream": stream}
    tasks = [Driven(RedisStreamSpout, conf, index, 2) for index in range(2)]
    tasks[0].pump(200)
    pos = tasks[0].spout.position()
    tasks[1].idle(0.3)
    tasks[0].pump(500)
    assert [v for v, _ in tasks[0].emitted] == [str(i) for i in range(500)]
    assert tasks[1].emitted == [] and tasks[1].spout.position() is None
    again = [Driven(RedisStreamSpout, conf, index, 2) for index in range(2)]
    again[0].spout.seek(pos)
    again[1].spout.seek(None)
    again[0].pump(300)
    again[1].idle(0.3)
    assert [v for v, _ in again[0].emitted] == [str(i) for i in range(200, 500)]
    assert again[1].emitted == []
    for d in tasks + again:
        d.spout.close()


def test_at_least_once_is_unchanged_when_not_checkpointed(redis_server, tmp_path):  # noqa: F811
    """Not checkpointed: a failed line or entry is emitted again, and acks reach the source."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("x\ny\n")
    d = Driven(Lines, file_conf(tmp_path), checkpointed=False)
    d.pump(2)
    d.spout.fail(d.emitted[0][1])
    d.pump(3)
    assert [v for v, _ in d.emitted] == ["x", "y", "x"]
    d.spout.close()
    r = redis_server.client()
    r.xadd("plain", {"message": "m"})
    d = Driven(RedisStreamSpout, {"redis.url": redis_server.url, "redis.stream": "plain"}, checkpointed=False)
    d.pump(1)
    d.spout.fail(d.emitted[0][1])
    assert [v for v, _ in d.emitted] == ["m", "m"]
    d.spout.ack(d.emitted[0][1])
    d.spout.close()
    assert redis_group(redis_server, "plain", "source")["pending"] == 0


def test_file_spout_finds_a_file_rotated_after_the_checkpoint_by_its_inode(tmp_path):
    (tmp_path / "in").mkdir()
    log = tmp_path / "in" / "app.log"
    log.write_text("".join(f"old-{i}\n" for i in range(1000)))
    conf = {**file_conf(tmp_path), "file.path": str(tmp_path / "in" / "*.log")}
    first = Driven(Lines, conf)
    at = len(first.pump(400))
    pos = first.spout.position()
    first.spout.close()
    log.rename(tmp_path / "in" / "app.log.1")  # logrotate: no longer matched by *.log
    log.write_text("new-0\nnew-1\n")
    again = Driven(Lines, conf)  # after the crash
    again.spout.seek(pos)
    again.pump(1000 - at + 2)
    again.idle(0.2)
    got = [v for v, _ in again.emitted]
    assert sorted(got) == sorted([f"old-{i}" for i in range(at, 1000)] + ["new-0", "new-1"])
    assert [v for v in got if v.startswith("old")] == [f"old-{i}" for i in range(at, 1000)]
    again.spout.close()
