"""The Kafka spout and sink against a real Kafka-protocol broker (Tansu, kafka_server.py): a spout's
worker killed twice mid-stream loses nothing and ends with every partition committed; poison
messages, replays and give-ups; the first-poll strategies; the sink's delivery reports."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import kafka_topologies as K
from connector_harness import read_seen, run_killing
from kafka_server import kafka_broker  # noqa: F401 (the session fixture)

from squall.testing import run_topology

GROUP_TIMEOUTS = {
    # librdkafka's 45 s session timeout would make every kill wait 45 s for the partitions
    "kafka.session.timeout.ms": 4000,
    "kafka.consumer.config": {"heartbeat.interval.ms": 500},
    "kafka.offset.commit.period.ms": 500,
}


def lines(folder, prefix):
    out = []
    for name in os.listdir(folder):
        if name.startswith(prefix):
            with open(os.path.join(folder, name)) as f:
                out.extend(line.rstrip("\n") for line in f if line.strip())
    return out


def seen_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder) if n.startswith("seen-"))


def test_spout_worker_killed_twice_loses_nothing_and_commits_every_partition(kafka_broker, tmp_path):  # noqa: F811
    n = 50_000
    topic = kafka_broker.create_topic("kill", 2)
    ends: dict[int, int] = {}
    # paced over ~15 s, so that both kills happen while messages still arrive
    producer = threading.Thread(
        target=lambda: ends.update(kafka_broker.produce(topic, (str(i).encode() for i in range(n)), pace=0.3))
    )
    producer.start()
    conf = {
        "topology.workers": 2,
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "kafka.group.id": "kill",
        # the trees in flight to a killed worker's sink are replayed after this
        "topology.message.timeout.secs": 5,
        "test.dir": str(tmp_path),
        **GROUP_TIMEOUTS,
    }
    state = {"complete": False}

    def done():
        if producer.is_alive():
            return False
        if not state["complete"]:
            state["complete"] = len(set(read_seen(str(tmp_path)))) == n
        return state["complete"] and kafka_broker.committed("kill", topic, 2) == ends

    run = run_killing(
        K.KillTopo, conf, victim="ids", done=done, kills=2, progress=lambda: seen_bytes(tmp_path), timeout=150
    )
    producer.join()
    assert len(run.killed) == 2
    seen = read_seen(str(tmp_path))
    assert set(seen) == {str(i) for i in range(n)}  # every id at least once (duplicates allowed)
    assert sum(ends.values()) == n
    assert kafka_broker.committed("kill", topic, 2) == ends  # nothing left for the group


def test_poison_messages_replays_and_give_ups(kafka_broker, tmp_path):  # noqa: F811
    topic = kafka_broker.create_topic("poison", 2)
    dead = kafka_broker.create_topic("poison-dlt", 1)
    count = 2000
    messages, good, poison, given_up = [], set(), set(), set()
    for i in range(count):
        if i % 250 == 3:
            messages.append(b"{not json %d" % i)
            poison.add(i)
        elif i % 250 == 5:
            messages.append(json.dumps({"id": str(i)}).encode())  # no field "n"
            poison.add(i)
        else:
            messages.append(json.dumps({"id": str(i), "n": i}).encode())
            (given_up if i % 100 == 7 else good).add(str(i))
    ends = kafka_broker.produce(topic, messages)
    conf = {
        "topology.workers": 1,
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "kafka.group.id": "poison",
        "kafka.format": "json",
        "kafka.max.retries": 2,
        "kafka.dead.letter.topic": dead,
        "test.dir": str(tmp_path),
        **GROUP_TIMEOUTS,
    }

    def done():
        return (
            set(read_seen(str(tmp_path))) >= good
            and len(lines(tmp_path, "errors-")) >= len(poison) + len(given_up)
            and kafka_broker.committed("poison", topic, 2) == ends
        )

    run_killing(K.PoisonTopo, conf, victim="ids", done=done, kills=0, timeout=90)
    assert set(read_seen(str(tmp_path))) == good  # failed twice then processed; given-up ids never reach the sink
    errors = [line.split("\t") for line in lines(tmp_path, "errors-")]
    assert {e[0] for e in errors} == {"kafka"}
    reasons = {e[1]: e[2] for e in errors}  # source -> reason
    assert len(reasons) == len(errors) == len(poison) + len(given_up)  # each once
    assert sum("Expecting" in r for r in reasons.values()) == len(poison) // 2
    assert sum("no field 'n'" in r for r in reasons.values()) == len(poison) // 2
    assert sum(r == "failed 3 times (kafka.max.retries=2)" for r in reasons.values()) == len(given_up)
    letters = kafka_broker.read_all(dead, 1, expect=len(poison) + len(given_up))
    assert len(letters) == len(poison) + len(given_up)
    headers = [dict(m.headers()) for m in letters]
    assert {h["squall.source"].decode() for h in headers} == set(reasons)
    assert sorted(m.value() for m in letters) == sorted(messages[i] for i in poison | {int(x) for x in given_up})
    assert kafka_broker.committed("poison", topic, 2) == ends


def test_first_poll_offset_strategies(kafka_broker, tmp_path):  # noqa: F811
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = kafka_broker.create_topic("strategy", 1)
    kafka_broker.produce(topic, [f"old{i}".encode() for i in range(100)], last_alone=True)
    for strategy in ("EARLIEST", "LATEST", "UNCOMMITTED_EARLIEST"):  # UNCOMMITTED_LATEST: no commit
        c = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": f"strategy-{strategy}"})
        c.commit(offsets=[TopicPartition(topic, 0, 50)], asynchronous=False)
        c.close()
    conf = {
        "topology.workers": 1,
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "test.dir": str(tmp_path),
        **GROUP_TIMEOUTS,
    }
    spouts = ("earliest", "latest", "uncommitted_earliest", "uncommitted_latest")
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    sent = []

    def done():
        # new messages, one batch each, until every spout saw one (each joins its group in its own time)
        msg = f"new{len(sent)}"
        p.produce(topic, msg.encode())
        p.flush(10)
        sent.append(msg)
        got = {line.split(":", 1)[0] for line in read_seen(str(tmp_path)) if ":new" in line}
        return got == set(spouts)

    run_killing(K.StrategyTopo, conf, victim="earliest", done=done, kills=0, timeout=90)
    by: dict[str, set[str]] = {s: set() for s in spouts}
    for line in read_seen(str(tmp_path)):
        comp, value = line.split(":", 1)
        by[comp].add(value)

    def old(s):
        return sorted(int(v[3:]) for v in by[s] if v.startswith("old"))

    assert old("earliest") == list(range(100))  # from the start, whatever was committed before
    assert old("uncommitted_earliest") == list(range(50, 100))  # from the group's commit
    assert old("latest") == []  # from the end, whatever was committed before
    assert old("uncommitted_latest") == []  # no commit: from the end


def test_sink_acks_on_delivery_with_keys_and_headers(kafka_broker, tmp_path):  # noqa: F811
    topic = kafka_broker.create_topic("sink-out", 2)
    conf = {
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "test.count": 1000,
        "test.dir": str(tmp_path),
    }
    res = run_topology(K.SinkTopo, conf=conf, timeout=60)
    assert res.reason == "completed"
    assert sorted(int(x) for x in lines(tmp_path, "acked-")) == list(range(1000))
    assert lines(tmp_path, "failed-") == []
    got = kafka_broker.read_all(topic, 2, expect=1000)
    assert len(got) == 1000
    records = {(m.key(), m.value(), tuple(m.headers())) for m in got}
    assert records == {(b"k%d" % i, b"m%d" % i, (("color", b"red" if i % 2 else b"blue"),)) for i in range(1000)}


def test_sink_fails_the_tuple_on_a_failed_delivery(kafka_broker, tmp_path):  # noqa: F811
    conf = {
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": "no-such-topic",  # and the producer may not create it
        # librdkafka waits topic.metadata.propagation.max.ms (30 s) for a new topic to show up
        "kafka.producer.config": {
            "allow.auto.create.topics": False,
            "message.timeout.ms": 1500,
            "topic.metadata.propagation.max.ms": 1000,
        },
        "test.count": 20,
        "test.dir": str(tmp_path),
    }
    res = run_topology(K.SinkTopo, conf=conf, timeout=60)
    assert res.reason == "completed"
    assert lines(tmp_path, "acked-") == []
    # each tuple failed on its delivery report, replayed once, then given up; none timed out
    assert sorted(int(x) for x in lines(tmp_path, "failed-")) == sorted(list(range(20)) * 2)
    spout = next(st for st in res.tasks.values() if st["component"] == "numbers")
    assert spout["timed_out"] == 0
    assert sum(st["failed"] for st in res.tasks.values() if st["component"] == "out") == 40


def test_the_kafka_word_count_example(kafka_broker, tmp_path, monkeypatch):  # noqa: F811
    """examples/wordcount_kafka as its README runs it: produce.py, then the topology."""
    import subprocess
    import sys

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    root = os.path.join(os.path.dirname(__file__), "..", "..")
    example = os.path.join(root, "examples", "wordcount_kafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_broker.bootstrap)
    out = subprocess.run(
        [sys.executable, os.path.join(example, "produce.py"), "--count", "4000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    c = Consumer(
        {"bootstrap.servers": kafka_broker.bootstrap, "group.id": "example-check", "enable.auto.commit": False}
    )
    c.assign([TopicPartition("word-counts", p, OFFSET_BEGINNING) for p in (0, 1)])
    latest: dict[str, int] = {}

    def done():
        for m in c.consume(1000, 0.1):
            if m.error() is None:
                latest[m.key().decode()] = max(latest.get(m.key().decode(), 0), int(m.value()))
        # every count delivered; every offset committed (committed <= the end: their sum is the total)
        return (
            latest == {w: 1000 for w in ("dog", "cat", "zebra", "elephant")}
            and sum(kafka_broker.committed("wordcount", "words", 2).values()) == 4000
        )

    try:
        run_killing(
            os.path.join(example, "topology.py") + ":WordCountKafka",
            {"topology.workers": 2},
            victim="words",
            done=done,
            kills=0,
            timeout=90,
        )
    finally:
        c.close()
        print("latest counts", latest, kafka_broker.committed("wordcount", "words", 2))


def test_a_revoked_partition_is_not_committed_by_its_old_owner(kafka_broker, tmp_path):  # noqa: F811
    """A consumer joins the spout's group mid-stream and takes the partition it reads: the spout
    commits what was acked at the revoke, and the acks of that partition's tuples still in flight
    change nothing; once the consumer leaves, the spout takes the partition back and ends with
    everything committed."""
    from confluent_kafka import Consumer, Producer

    topic = kafka_broker.create_topic("rebalance", 2)
    n = 600
    p = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, str(i).encode(), partition=0)  # offset i; partition 1 stays empty
    assert p.flush(30) == 0
    conf = {
        "topology.workers": 1,
        "kafka.bootstrap.servers": kafka_broker.bootstrap,
        "kafka.topic": topic,
        "kafka.group.id": "rebalance",
        "test.dir": str(tmp_path),
        "test.sleep": 0.01,  # 100 trees in flight (topology.max.spout.pending) take ~1 s
        **GROUP_TIMEOUTS,
    }
    # the range assignor gives partition 0 to the first member id in order: this one ("a-..." <
    # the spout's "squall-...")
    other = Consumer(
        {
            "bootstrap.servers": kafka_broker.bootstrap,
            "group.id": "rebalance",
            "client.id": "a-test",
            "enable.auto.commit": False,
            "session.timeout.ms": 4000,
            "heartbeat.interval.ms": 500,
        }
    )
    taken: list[int] = []
    checks: dict[str, Any] = {}

    def step():
        seen = read_seen(str(tmp_path))
        if "joined" not in checks and len(seen) > 50:
            other.subscribe([topic], on_assign=lambda c, ps: taken.extend(tp.partition for tp in ps))
            checks["joined"] = True
        elif "joined" in checks and "left" not in checks:
            other.poll(0.1)  # messages ignored: this member only holds its partition, commits nothing
            if taken and "at_revoke" not in checks:
                checks["at_revoke"] = kafka_broker.committed("rebalance", topic, 2)[0]
                checks["until"] = time.monotonic() + 3
            elif "until" in checks and time.monotonic() > checks["until"]:
                checks["after"] = kafka_broker.committed("rebalance", topic, 2)[0]
                checks["late"] = sorted(int(i) for i in set(seen) if int(i) >= checks["at_revoke"])
                other.close()  # leaves the group: the spout takes the partition back
                checks["left"] = True
        return "left" in checks and len(set(seen)) == n and kafka_broker.committed("rebalance", topic, 2)[0] == n

    run_killing(K.RebalanceTopo, conf, victim="ids", done=step, kills=0, timeout=90)
    assert taken == [0], f"the test consumer was given {taken}, not the spout's partition"
    assert checks["at_revoke"] > 0  # committed while the spout owned it
    # tuples beyond that commit were processed and acked after the revoke (the sink records an id
    # before its ack), yet the commit did not move: the old owner ignored their acks
    assert checks["late"], checks
    assert checks["after"] == checks["at_revoke"]
    assert set(read_seen(str(tmp_path))) == {str(i) for i in range(n)}
