"""The RabbitMQ spout and sink against a real broker (Debian's rabbitmq-server, started by the
``rabbitmq`` fixture): the spout's worker killed twice, the broker restarted mid-stream, poison
messages, retries and dead-lettering, publisher confirms."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pika
import pytest
import rabbitmq_server
from broker_topologies import RabbitPoison, RabbitToSink, ToRabbit
from connector_harness import read_seen, run_killing
from runs import read_errors, run_in_thread, stop, wait_for

from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState

rabbitmq = rabbitmq_server.rabbitmq  # the session fixture
N = 50_000


def channel(server):
    conn = pika.BlockingConnection(pika.URLParameters(server.url))
    return conn, conn.channel()


def publish(server, queue, bodies, persistent=True, declare=True):
    conn, ch = channel(server)
    if declare:
        ch.queue_declare(queue, durable=True)
    props = pika.BasicProperties(delivery_mode=2 if persistent else 1)
    for body in bodies:
        ch.basic_publish("", queue, body, props)
    conn.close()


def settled(server, queue):
    """The queue is empty and nothing is unacknowledged (rabbitmqctl's view)."""
    return server.queue_counts(queue) == (0, 0)


@pytest.mark.timeout(240)
def test_every_message_is_processed_when_the_spouts_worker_is_killed_twice(rabbitmq, tmp_path):
    queue = "kills"
    publish(rabbitmq, queue, (str(i).encode() for i in range(N)), persistent=False)
    expected = {str(i) for i in range(N)}
    seen: set[str] = set()

    def progress():
        seen.update(read_seen(str(tmp_path)))
        return len(seen)

    conf = {
        "rabbitmq.url": rabbitmq.url,
        "rabbitmq.queue": queue,
        "test.dir": str(tmp_path),
        "topology.max.spout.pending": 500,  # small bites: the kills come while most is still queued
    }
    run = run_killing(RabbitToSink, conf, victim="source", done=lambda: progress() >= N, kills=2, progress=progress)
    assert len(run.killed) == 2
    assert seen >= expected  # at least once: duplicates allowed, nothing lost
    wait_for(lambda: settled(rabbitmq, queue), 30, "the queue empty with no unacked messages")


@pytest.mark.timeout(240)
def test_the_spout_reconnects_after_a_broker_restart_and_loses_nothing(rabbitmq, tmp_path):
    queue = "restart"
    n = 20_000
    publish(rabbitmq, queue, (str(i).encode() for i in range(n)))  # persistent: they survive the restart
    conf = {
        "rabbitmq.url": rabbitmq.url,
        "rabbitmq.queue": queue,
        "test.dir": str(tmp_path),
        "topology.max.spout.pending": 200,
    }
    coord, runner, out = run_in_thread(RabbitToSink, conf)
    try:
        wait_for(lambda: len(read_seen(str(tmp_path))) > 1000, 60, "the first thousand messages")
        rabbitmq.restart()
        restarted_at = len(set(read_seen(str(tmp_path))))
        assert restarted_at < n, "the run ended before the restart: nothing was tested"
        wait_for(
            lambda: set(read_seen(str(tmp_path))) >= {str(i) for i in range(n)}, 120, "every message after the restart"
        )
        wait_for(lambda: settled(rabbitmq, queue), 30, "the queue empty with no unacked messages")
        wait_for(lambda: any("reconnected to RabbitMQ" in x.line for x in coord.logs()), 30, "the reconnection logged")
    finally:
        stop(coord, runner, out)


@pytest.mark.timeout(180)
def test_poison_messages_go_to_the_error_stream_and_the_dead_letter_exchange(rabbitmq, tmp_path):
    queue, dead = "poison", "poison.dead"
    conn, ch = channel(rabbitmq)
    ch.exchange_declare("squall.dlx", "fanout", durable=True)
    ch.queue_declare(dead, durable=True)
    ch.queue_bind(dead, "squall.dlx")
    conn.close()
    good = [f'{{"id": "ok{i}"}}'.encode() for i in range(200)]
    bad = [b"{not json", b"\xff\xfe", b'{"other": 1}']
    failing = [b'{"id": "fail1"}', b'{"id": "fail2"}']
    publish(rabbitmq, queue, good[:100] + bad + failing + good[100:])
    conf = {
        "rabbitmq.url": rabbitmq.url,
        "rabbitmq.queue": queue,
        "rabbitmq.max.retries": 2,
        "rabbitmq.dead.letter.exchange": "squall.dlx",
        "test.dir": str(tmp_path),
    }
    coord, runner, out = run_in_thread(RabbitPoison, conf)
    try:
        wait_for(lambda: set(read_seen(str(tmp_path))) >= {f"ok{i}" for i in range(200)}, 60, "the good messages")
        wait_for(lambda: rabbitmq.queue_counts(dead)[0] == 5, 60, "5 dead-lettered messages")
        wait_for(lambda: settled(rabbitmq, queue), 30, "the queue empty with no unacked messages")
    finally:
        result = stop(coord, runner, out)
    errors = read_errors(tmp_path)
    assert len(errors) == 5, errors
    reasons = [e.split("|")[2] for e in errors]
    assert sum(r.startswith("undecodable") for r in reasons) == 3
    assert sum(r == "failed 3 times (rabbitmq.max.retries=2)" for r in reasons) == 2
    assert all(e.startswith("rabbitmq|poison#") for e in errors)
    conn, ch = channel(rabbitmq)
    dead_letters = []
    while (got := ch.basic_get(dead, auto_ack=True))[0] is not None:
        dead_letters.append((got[2], got[1].headers["x-squall-reason"]))
    conn.close()
    assert sorted(b for b, _ in dead_letters) == sorted(bad + failing)
    assert result.component_totals()["source"]["failed"] == 6  # fail1 and fail2, 3 times each


@pytest.mark.timeout(120)
def test_without_a_dead_letter_exchange_poison_goes_to_the_queues_own(rabbitmq, tmp_path):
    """rabbitmq.dead.letter.exchange unset: undecodable messages are rejected without requeue, and
    RabbitMQ dead-letters them to the queue's x-dead-letter-exchange (the queue is the user's:
    rabbitmq.declare False)."""
    queue, dead = "poison.own", "poison.own.dead"
    conn, ch = channel(rabbitmq)
    ch.exchange_declare("own.dlx", "fanout", durable=True)
    ch.queue_declare(dead, durable=True)
    ch.queue_bind(dead, "own.dlx")
    ch.queue_declare(queue, durable=True, arguments={"x-dead-letter-exchange": "own.dlx"})
    conn.close()
    publish(rabbitmq, queue, [b'{"id": "ok1"}', b"{not json", b'{"id": "ok2"}', b"[1, 2]"], declare=False)
    conf = {"rabbitmq.url": rabbitmq.url, "rabbitmq.queue": queue, "rabbitmq.declare": False, "test.dir": str(tmp_path)}
    coord, runner, out = run_in_thread(RabbitPoison, conf)
    try:
        wait_for(lambda: set(read_seen(str(tmp_path))) >= {"ok1", "ok2"}, 60, "the good messages")
        wait_for(lambda: rabbitmq.queue_counts(dead)[0] == 2, 60, "2 messages in the queue's own dead-letter queue")
        wait_for(lambda: settled(rabbitmq, queue), 30, "the queue empty with no unacked messages")
    finally:
        stop(coord, runner, out)
    assert sorted(e.split("|")[2].split(":")[0] for e in read_errors(tmp_path)) == ["undecodable", "undecodable"]


@pytest.mark.timeout(120)
def test_a_missing_queue_is_named_with_the_fix_and_consumed_once_it_exists(rabbitmq, tmp_path):
    conf = {
        "rabbitmq.url": rabbitmq.url,
        "rabbitmq.queue": "declared.later",
        "rabbitmq.declare": False,
        "rabbitmq.reconnect.max.secs": 0.5,
        "test.dir": str(tmp_path),
    }
    coord, runner, out = run_in_thread(RabbitToSink, conf)
    try:
        wait_for(
            lambda: any("no queue 'declared.later'" in x.line and "declare it first" in x.line for x in coord.logs()),
            30,
            "the missing queue named in the log, with the fix",
        )
        publish(rabbitmq, "declared.later", (str(i).encode() for i in range(100)))
        wait_for(lambda: set(read_seen(str(tmp_path))) >= {str(i) for i in range(100)}, 60, "the messages")
    finally:
        stop(coord, runner, out)


@pytest.mark.timeout(120)
def test_the_sink_publishes_with_confirms_and_fails_what_the_broker_returns(rabbitmq, tmp_path):
    conn, ch = channel(rabbitmq)
    ch.queue_declare("sunk", durable=True)
    conn.close()
    result = Coordinator(
        ToRabbit,
        {"rabbitmq.url": rabbitmq.url, "rabbitmq.routing.key": "sunk", "test.n": 1000},
        status_out=io.StringIO(),
    ).run()
    assert result.state is RunState.COMPLETED
    assert rabbitmq.queue_counts("sunk") == (1000, 0)
    conn, ch = channel(rabbitmq)
    bodies = set()
    while (got := ch.basic_get("sunk", auto_ack=True))[0] is not None:
        bodies.add(got[2])
    conn.close()
    assert bodies == {f"m{i}".encode() for i in range(1000)}

    # No queue is bound to this routing key: the broker returns every message (mandatory), each tuple fails.
    result = Coordinator(
        ToRabbit,
        {"rabbitmq.url": rabbitmq.url, "rabbitmq.routing.key": "nowhere", "test.n": 20},
        status_out=io.StringIO(),
    ).run()
    totals = result.component_totals()
    assert totals["numbers"]["failed"] == 20
    assert totals["numbers"]["acked"] == 0
    assert any("returned the message" in e["error"] for e in result.errors)


@pytest.mark.timeout(120)
def test_the_wordcount_example_counts_every_word_of_the_queue(rabbitmq, tmp_path):
    """examples/wordcount_rabbitmq as its README runs it: the producer, then the topology."""
    import importlib.util

    from squall.topology.loader import load_topology

    folder = Path(__file__).resolve().parents[2] / "examples" / "wordcount_rabbitmq"
    spec = importlib.util.spec_from_file_location("wordcount_rabbitmq_producer", folder / "producer.py")
    producer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(producer)
    n = 5000
    producer.produce(rabbitmq.url, "example.sentences", n)
    words = sum(len(s.split()) for s, _ in zip(itertools.cycle(producer.SENTENCES), range(n)))
    topology = load_topology(str(folder / "topology.py"))
    conf = {"rabbitmq.url": rabbitmq.url, "rabbitmq.queue": "example.sentences", "topology.workers": 2}
    coord, runner, out = run_in_thread(topology, conf)
    try:
        wait_for(lambda: coord.statistics().components["count"].executed >= words, 60, f"{words} words counted")
        wait_for(lambda: settled(rabbitmq, "example.sentences"), 30, "the queue empty with no unacked messages")
    finally:
        result = stop(coord, runner, out)
    totals = result.component_totals()
    assert totals["sentences"]["acked"] == n
    assert totals["count"]["executed"] == words  # no failure, no replay: each word counted once
