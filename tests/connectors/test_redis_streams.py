"""The Redis Streams spout and sink against a real Redis (Debian's redis-server, started by the
``redis_server`` fixture of tests/conftest.py): the spout's worker killed twice, Redis restarted
mid-stream, poison entries, retries and the dead-letter stream, XADD refused."""

from __future__ import annotations

import io

import pytest
from broker_topologies import RedisPoison, RedisToSink, ToRedis
from connector_harness import read_seen, run_killing
from runs import read_errors, run_in_thread, stop, wait_for

from squall.local.coordinator import Coordinator
from squall.local.statistics import RunState

N = 50_000


def produce(server, stream, entries):
    r = server.client()
    pipe = r.pipeline(transaction=False)
    for i, fields in enumerate(entries):
        pipe.xadd(stream, fields)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def settled(server, stream, group):
    """No pending entry, and the group has read the whole stream (XPENDING, XINFO GROUPS' lag)."""
    r = server.client()
    pending = r.xpending(stream, group)["pending"]
    lag = next(g["lag"] for g in r.xinfo_groups(stream) if g["name"].decode() == group)
    return pending == 0 and lag == 0


@pytest.mark.timeout(240)
def test_every_entry_is_processed_when_the_spouts_worker_is_killed_twice(redis_server, tmp_path):
    stream = "kills"
    produce(redis_server, stream, ({"id": str(i)} for i in range(N)))
    expected = {str(i) for i in range(N)}
    seen: set[str] = set()

    def progress():
        seen.update(read_seen(str(tmp_path)))
        return len(seen)

    conf = {
        "redis.url": redis_server.url,
        "redis.stream": stream,
        "test.dir": str(tmp_path),
        "topology.max.spout.pending": 500,
        "redis.batch.size": 200,
    }
    run = run_killing(RedisToSink, conf, victim="source", done=lambda: progress() >= N, kills=2, progress=progress)
    assert len(run.killed) == 2
    assert seen >= expected
    wait_for(lambda: settled(redis_server, stream, "source"), 30, "no pending entries")


@pytest.mark.timeout(240)
def test_the_spout_goes_on_after_a_redis_restart_and_loses_nothing(redis_server, tmp_path):
    stream = "restart"
    n = 20_000
    produce(redis_server, stream, ({"id": str(i)} for i in range(n)))
    conf = {
        "redis.url": redis_server.url,
        "redis.stream": stream,
        "test.dir": str(tmp_path),
        "topology.max.spout.pending": 200,
        "redis.batch.size": 100,
    }
    coord, runner, out = run_in_thread(RedisToSink, conf)
    try:
        wait_for(lambda: len(read_seen(str(tmp_path))) > 1000, 60, "the first thousand entries")
        redis_server.restart()
        assert len(set(read_seen(str(tmp_path)))) < n, "the run ended before the restart: nothing was tested"
        wait_for(
            lambda: set(read_seen(str(tmp_path))) >= {str(i) for i in range(n)}, 120, "every entry after the restart"
        )
        wait_for(lambda: settled(redis_server, stream, "source"), 30, "no pending entries")
        wait_for(lambda: any("Redis is back" in x.line for x in coord.logs()), 30, "the reconnection logged")
    finally:
        stop(coord, runner, out)


@pytest.mark.timeout(180)
def test_poison_entries_go_to_the_error_stream_and_the_dead_letter_stream(redis_server, tmp_path):
    stream, dead = "poison", "poison.dead"
    good = [{"message": f'{{"id": "ok{i}"}}'} for i in range(200)]
    bad = [{"message": b"{not json"}, {"message": b"\xff\xfe"}, {"message": b'{"other": 1}'}, {"x": b"1"}]
    failing = [{"message": b'{"id": "fail1"}'}, {"message": b'{"id": "fail2"}'}]
    produce(redis_server, stream, good[:100] + bad + failing + good[100:])
    conf = {
        "redis.url": redis_server.url,
        "redis.stream": stream,
        "redis.max.retries": 2,
        "redis.dead.letter.stream": dead,
        "test.dir": str(tmp_path),
    }
    coord, runner, out = run_in_thread(RedisPoison, conf)
    try:
        wait_for(lambda: set(read_seen(str(tmp_path))) >= {f"ok{i}" for i in range(200)}, 60, "the good entries")
        wait_for(lambda: redis_server.client().xlen(dead) == 6, 60, "6 dead-lettered entries")
        wait_for(lambda: settled(redis_server, stream, "source"), 30, "no pending entries")
    finally:
        result = stop(coord, runner, out)
    errors = read_errors(tmp_path)
    assert len(errors) == 6, errors
    reasons = [e.split("|")[2] for e in errors]
    assert sum(r.startswith("undecodable") for r in reasons) == 3
    assert sum(r == "no field b'message'" for r in reasons) == 1
    assert sum(r == "failed 3 times (redis.max.retries=2)" for r in reasons) == 2
    assert all(e.startswith("redis|poison@") for e in errors)
    dead_letters = redis_server.client().xrange(dead)
    assert sorted(f.get(b"message", b"-") for _, f in dead_letters) == sorted(
        [b"{not json", b"\xff\xfe", b'{"other": 1}', b"-", b'{"id": "fail1"}', b'{"id": "fail2"}']
    )
    assert all(b"squall-reason" in f for _, f in dead_letters)
    assert result.component_totals()["source"]["failed"] == 6  # fail1 and fail2, 3 times each


@pytest.mark.timeout(120)
def test_the_sink_adds_entries_and_fails_what_redis_refuses(redis_server):
    r = redis_server.client()
    result = Coordinator(
        ToRedis, {"redis.url": redis_server.url, "redis.stream": "sunk", "test.n": 1000}, status_out=io.StringIO()
    ).run()
    assert result.state is RunState.COMPLETED
    entries = r.xrange("sunk")
    assert len(entries) == 1000
    assert {f[b"message"] for _, f in entries} == {f"m{i}".encode() for i in range(1000)}
    assert all(set(f) == {b"message", b"key"} for _, f in entries)

    # A key of another type: Redis refuses XADD (WRONGTYPE), each tuple fails.
    r.set("not-a-stream", "x")
    result = Coordinator(
        ToRedis, {"redis.url": redis_server.url, "redis.stream": "not-a-stream", "test.n": 20}, status_out=io.StringIO()
    ).run()
    totals = result.component_totals()
    assert totals["numbers"]["failed"] == 20
    assert totals["numbers"]["acked"] == 0
    assert any("WRONGTYPE" in e["error"] for e in result.errors)


@pytest.mark.timeout(120)
def test_entries_pending_in_a_consumer_that_never_comes_back_are_claimed(redis_server, tmp_path):
    """A consumer of the group (not one of the topology's tasks) read 300 entries and vanished:
    the spout takes them over with XAUTOCLAIM once they are idle for redis.claim.idle.ms."""
    stream = "claim"
    produce(redis_server, stream, ({"id": str(i)} for i in range(1000)))
    r = redis_server.client()
    r.xgroup_create(stream, "source", id="0")
    taken = r.xreadgroup("source", "gone-for-good", {stream: ">"}, count=300)[0][1]
    assert len(taken) == 300
    conf = {
        "redis.url": redis_server.url,
        "redis.stream": stream,
        "redis.claim.idle.ms": 500,
        "test.dir": str(tmp_path),
    }
    coord, runner, out = run_in_thread(RedisToSink, conf)
    try:
        everything = {str(i) for i in range(1000)}
        wait_for(lambda: set(read_seen(str(tmp_path))) >= everything, 60, "every entry, the claimed ones too")
        wait_for(lambda: settled(redis_server, stream, "source"), 30, "no pending entries")
    finally:
        stop(coord, runner, out)
    consumers = {c["name"].decode(): c["pending"] for c in r.xinfo_consumers(stream, "source")}
    assert consumers["gone-for-good"] == 0
