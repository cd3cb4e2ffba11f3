"""examples/trending fed by a broker (issue 13): feed.py writes 10 minutes of timestamped hashtags
to a real Redis stream (Debian's redis-server) or Kafka topic (Tansu), the example's topology reads
them on 2 worker processes until every window the watermark passed fired, and each window's global
top 10 equals a direct computation over the same events; a hashtag is acknowledged at the broker
(XACK, the offset commit) only once it left its windows. And the README's commands, live."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_trending import hashtag_file, trending

from squall.local.coordinator import Coordinator
from squall.topology.loader import load_topology

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent / "connectors"))  # the redis-server and Kafka broker fixtures
import redis_server as servers  # noqa: E402
from kafka_server import kafka_broker  # noqa: E402, F401 (the session fixture)

redis_server = servers.redis_server  # the session fixture
EXAMPLE = HERE.parents[1] / "examples" / "trending"
TrendingRedis = load_topology(f"{EXAMPLE / 'from_redis.py'}:TrendingRedis")
TrendingKafka = load_topology(f"{EXAMPLE / 'from_kafka.py'}:TrendingKafka")
LAG = 2.0  # RollingCounts.lag
TOP = re.compile(r"top \d+ at \d\d:\d\d:\d\d: #")  # TotalRankings' log line


def feed(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python examples/trending/feed.py ARGS``, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "feed.py"), *args], capture_output=True, text=True, timeout=timeout, check=True
    )


def captured(result, component: str) -> list[list]:
    """What ``component`` emitted on its default stream, from the capture hooks' reports."""
    return [
        v
        for report in result.hook_reports
        for c, s, values in report
        if (c, s) == (component, "default")
        for v in values
    ]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def pending_ts(client, stream: str, group: str, ts_of: dict[bytes, float]) -> list[float]:
    """The event times of the entries read by ``group`` and not XACKed yet."""
    rows = client.xpending_range(stream, group, min="-", max="+", count=len(ts_of) + 1)
    return [ts_of[row["message_id"]] for row in rows]


def expected_windows(events: list[tuple[float, str]]) -> list[int]:
    """The stream never ends: the windows that fire are those the watermark (the newest time a
    counting task saw, minus the lag) passed; both tasks see hashtags of the last seconds."""
    last = max(ts for ts, _ in events)
    return [end for end in trending.window_ends(events) if end <= last - LAG - 3]


def run_until_windows(topology, conf: dict, n: int, then=None):
    """Run ``topology`` on 2 worker processes, every emitted tuple captured, until its ``total``
    emitted ``n`` windows and ``then()`` (if given) ran; stop it, return its RunResult."""
    coord = Coordinator(
        topology,
        {
            "squall.stats.interval.secs": 0.5,
            "squall.stats.round.secs": 0.25,
            "topology.workers": 2,
            "squall.drain.timeout.secs": 0,  # the last 5 minutes stay in their windows: do not wait
            **conf,
        },
        hooks="squall.testing:worker_hooks",  # every tuple each component emits, reported at the stop
        hooks_data={"capture": True},
        status_out=io.StringIO(),
        handle_signals=False,
    )
    out: dict = {}
    runner = threading.Thread(target=lambda: out.setdefault("result", coord.run()), daemon=True)
    runner.start()
    try:
        snap = coord.wait_statistics(timeout=60)
        deadline = time.monotonic() + 90
        while snap.components.get("total") is None or snap.components["total"].emitted < n:
            assert not snap.state.final, (snap.state, snap.message)
            assert time.monotonic() < deadline, f"not within 90 s: {n} windows from 'total'"
            snap = coord.wait_statistics(snap, timeout=5)
        if then is not None:
            then()
    finally:
        coord.request_stop("test done")
        runner.join(timeout=60)
    result = out["result"]
    assert result.reason == "stopped", (result.reason, result.statistics.message)
    return result


def check_windows(result, events, expected) -> None:
    """Every window the watermark passed fired, each global top 10 equals the direct computation."""
    got = {end: [list(x) for x in top] for end, top in captured(result, "total")}
    assert set(expected) <= set(got), sorted(set(expected) - set(got))
    for end, top in got.items():
        assert top == trending.direct_top(events, end), end
    assert len({tuple(map(tuple, t[:3])) for t in got.values()}) >= 3  # the rankings did change
    totals = result.component_totals()
    assert totals["hashtags"]["emitted"] == len(events)
    assert totals["hashtags"]["failed"] == 0


@pytest.mark.timeout(180)
def test_top10_of_every_window_from_a_redis_stream_on_2_workers(redis_server, tmp_path):
    stream = "trending-known"
    events = hashtag_file(tmp_path / "tags.tsv", n=4000, secs=600.0)  # 10 minutes of event time
    feed("--redis", redis_server.url, "--stream", stream, "--file", str(tmp_path / "tags.tsv"))
    client = redis_server.client()
    entries = client.xrange(stream)
    assert len(entries) == len(events)
    ts_of = {entry_id: json.loads(fields[b"message"])["ts"] for entry_id, fields in entries}
    last = max(ts for ts, _ in events)
    expected = expected_windows(events)

    def acked_out_of_windows():
        # every entry that left its last window before the last expected one fired is XACKed
        # (a tuple with time ts is in the windows ending up to ts + 300)
        wait_for(
            lambda: min(pending_ts(client, stream, "hashtags", ts_of), default=last) >= expected[-1] - 300 - 10,
            30,
            "the entries out of every window acknowledged at Redis",
        )

    conf = {"redis.url": redis_server.url, "redis.stream": stream}
    result = run_until_windows(TrendingRedis, conf, len(expected), then=acked_out_of_windows)
    check_windows(result, events, expected)
    # entries still in a window that did not fire are not acknowledged: the next run reads them again
    still = pending_ts(client, stream, "hashtags", ts_of)
    in_open_windows = [ts for ts in ts_of.values() if ts > last - 290]
    assert len(still) >= len(in_open_windows) > 0
    assert min(still) >= expected[-1] - 310


@pytest.mark.timeout(180)
def test_top10_of_every_window_from_a_kafka_topic_on_2_workers(kafka_broker, tmp_path):  # noqa: F811
    topic = "trending-known"
    # 12,400 hashtags wait in a window at once: above the spout's default kafka.max.uncommitted.offsets
    # (10,000), which would pause the partition, and with it the watermark that fires windows
    events = hashtag_file(tmp_path / "tags.tsv", n=24_000, secs=600.0, seed=5)
    feed("--kafka", kafka_broker.bootstrap, "--stream", topic, "--file", str(tmp_path / "tags.tsv"))
    last = max(ts for ts, _ in events)
    expected = expected_windows(events)
    group = "trending-test"
    # the group's offset commits: those of the hashtags out of every window that fired (every
    # kafka.offset.commit.period.ms), never one of a hashtag still in an open window
    first_open = next(i for i, (ts, _) in enumerate(events) if ts >= expected[-1] - 300)
    conf = {"kafka.bootstrap.servers": kafka_broker.bootstrap, "kafka.topic": topic, "kafka.group.id": group}
    result = run_until_windows(
        TrendingKafka,
        conf,
        len(expected),
        then=lambda: wait_for(
            lambda: kafka_broker.committed(group, topic, 1)[0] >= first_open - 100, 30, "the offsets committed"
        ),
    )
    check_windows(result, events, expected)
    committed = kafka_broker.committed(group, topic, 1)[0]
    assert first_open - 100 <= committed <= next(i for i, (ts, _) in enumerate(events) if ts > last - 290)


@pytest.mark.timeout(120)
def test_the_readme_commands_run_live_from_redis(redis_server, squall_cli):
    """feed.py generating hashtags with the wall clock beside `squall run examples/trending/from_redis.py`."""
    url = redis_server.url
    feeder = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "feed.py"), "--redis", url, "--stream", "live", "--rate", "500"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = squall_cli(
            "run",
            EXAMPLE / "from_redis.py",
            "--no-ui",
            "--conf",
            f"redis.url={url}",
            "--conf",
            "redis.stream=live",
            "--conf",
            "squall.drain.timeout.secs=0",  # windows hold their tuples for 5 minutes: do not wait for them
        )
        first = run.wait_line(TOP.search, timeout=60)  # the first window may hold a few hashtags only
        second = run.wait_line(TOP.search, after=first + 1, timeout=30)  # 10 s later: at least 10 s of them
        line = run.lines()[second]
        assert line.count(" #") == 10, line  # 16 hashtags, 500 a second: the top 10 is full
        run.send_signal(signal.SIGINT)
        code, _, err = run.finish()
        assert code == 0, err[-3000:]
    finally:
        feeder.terminate()
        feeder.wait(timeout=30)
    assert redis_server.client().xlen("live") > 0
