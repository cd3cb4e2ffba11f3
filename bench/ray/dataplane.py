"""(3) The data plane between two worker actors on two Ray nodes: micro-batched actor calls vs a ZeroMQ socket.

    python bench/ray/dataplane.py [--tuples 1000000] [--batches 100,1000] [--window 16] [--repeat 1]

In one run, on one cluster (head + 2 nodes, 127.0.0.1): a producer actor on node1 sends msgpack batches of
small distinct tuples (``("word123", i)``, pre-encoded: both paths pay the same encoding) to a consumer actor
on node2, which decodes each batch (``use_list=False``, as a Squall worker does) and counts it.

* ``actor``: ``consumer.recv.remote(batch, t_sent)``, at most ``--window`` calls in flight (the producer waits
  for the oldest before sending another: a credit window, Ray's retries off).
* ``zmq``: a PUSH socket to the consumer's PULL (CURVE on, as Squall's data sockets); the consumer returns a
  cumulative credit (batches processed) on a second PUSH/PULL pair after each batch, and the producer keeps
  at most ``--window`` batches in flight (Squall's PeerFlow, counted in batches here). The addresses and
  public keys are published through a named registry actor, where the other side looks them up.

tuples/s = tuples / (producer's first send -> consumer's last batch decoded); latency = one batch's
send -> decoded (CLOCK_MONOTONIC is the same clock in every process), p50/p99, under full load and
paced (one batch of 100 every 2 ms: the latency when nothing queues).
"""

from __future__ import annotations

import argparse
import json
import time

import _cluster


class Registry:
    """Where worker actors publish their data addresses (the master's role in cluster mode)."""

    def __init__(self) -> None:
        self.entries: dict[str, object] = {}

    def put(self, key: str, value: object) -> None:
        self.entries[key] = value

    def get(self, key: str) -> object:
        return self.entries.get(key)


class Consumer:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.last = 0.0
        self.lat: list[float] = []

    def recv(self, payload: bytes, t_sent: float) -> int:
        import msgpack

        self.count += len(msgpack.unpackb(payload, use_list=False))
        self.last = time.monotonic()
        self.lat.append(self.last - t_sent)
        return self.count

    def result(self) -> dict[str, object]:
        out = {"count": self.count, "last": self.last, "lat": self.lat}
        self.reset()
        return out

    def serve_zmq(self, registry: object, window: int, expected: int) -> dict[str, object]:
        import msgpack
        import ray
        import zmq

        ctx = zmq.Context.instance()
        pull, public = curve_socket(ctx, zmq.PULL, window, server=True)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        ray.get(registry.put.remote("consumer", (f"tcp://127.0.0.1:{port}", public)))  # type: ignore[attr-defined]
        credit = None
        self.reset()
        batches = 0
        while self.count < expected:
            t_sent, payload = msgpack.unpackb(pull.recv(), use_list=False)
            self.count += len(msgpack.unpackb(payload, use_list=False))
            self.last = time.monotonic()
            self.lat.append(self.last - t_sent)
            batches += 1
            if credit is None:  # the producer's credit socket: published by then
                address, key = ray.get(registry.get.remote("producer"))  # type: ignore[attr-defined]
                credit, _ = curve_socket(ctx, zmq.PUSH, window, server_key=key)
                credit.connect(address)
            credit.send(msgpack.packb(batches))  # cumulative: processed batches (Squall's credit message)
        pull.close(linger=0)
        credit.close(linger=1000)  # type: ignore[union-attr]
        return self.result()


def curve_socket(ctx, kind: int, hwm: int, server: bool = False, server_key: bytes = b""):  # type: ignore[no-untyped-def]
    """A ZeroMQ socket with CURVE on (as Squall's data sockets), SNDHWM = RCVHWM = ``hwm`` messages; and its
    public key."""
    import zmq

    s = ctx.socket(kind)
    public, secret = zmq.curve_keypair()
    s.curve_publickey, s.curve_secretkey = public, secret
    if server:
        s.curve_server = True
    else:
        s.curve_serverkey = server_key
    s.sndhwm = s.rcvhwm = hwm
    return s, public


class Producer:
    def __init__(self, batch: int) -> None:
        import msgpack

        self.pool = [
            msgpack.packb([(f"word{(j * batch + i) % 1000}", j * batch + i) for i in range(batch)]) for j in range(64)
        ]

    def run_actor(self, consumer: object, n_batches: int, window: int, pace: float) -> float:
        from collections import deque

        import ray

        inflight: deque[object] = deque()
        t0 = time.monotonic()
        for j in range(n_batches):
            if len(inflight) >= window:
                ray.get(inflight.popleft())
            inflight.append(consumer.recv.remote(self.pool[j % 64], time.monotonic()))  # type: ignore[attr-defined]
            if pace:
                time.sleep(pace)
        ray.get(list(inflight))
        return t0

    def run_zmq(self, registry: object, n_batches: int, window: int, pace: float) -> float:
        import msgpack
        import ray
        import zmq

        ctx = zmq.Context.instance()
        credits, public = curve_socket(ctx, zmq.PULL, window, server=True)
        port = credits.bind_to_random_port("tcp://127.0.0.1")
        ray.get(registry.put.remote("producer", (f"tcp://127.0.0.1:{port}", public)))  # type: ignore[attr-defined]
        entry = None
        while entry is None:
            entry = ray.get(registry.get.remote("consumer"))  # type: ignore[attr-defined]
            time.sleep(0.01) if entry is None else None
        address, server_key = entry
        push, _ = curve_socket(ctx, zmq.PUSH, window, server_key=server_key)
        push.connect(address)
        processed = 0
        t0 = time.monotonic()
        for j in range(n_batches):
            while j - processed >= window:  # a credit window in batches, as for the actor calls
                processed = msgpack.unpackb(credits.recv())
            while credits.poll(0):
                processed = msgpack.unpackb(credits.recv())
            push.send(msgpack.packb((time.monotonic(), self.pool[j % 64])))
            if pace:
                time.sleep(pace)
        push.close(linger=-1)
        credits.close(linger=0)
        return t0


def build():  # type: ignore[no-untyped-def]
    import ray

    return (
        ray.remote(num_cpus=0)(Registry),
        ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(Consumer),
        ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(Producer),
    )


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


def run(kind: str, classes, batch: int, tuples: int, window: int, pace: float = 0.0) -> dict[str, object]:  # type: ignore[no-untyped-def]
    import ray

    registry_cls, consumer_cls, producer_cls = classes
    registry = registry_cls.options(name=f"registry-{kind}-{batch}-{pace}").remote()
    consumer = consumer_cls.options(resources={"node2": 0.01}).remote()
    producer = producer_cls.options(resources={"node1": 0.01}).remote(batch)
    n_batches = tuples // batch
    ray.get([consumer.result.remote(), registry.get.remote("x")])
    if kind == "actor":
        t0 = ray.get(producer.run_actor.remote(consumer, n_batches, window, pace))
        res = ray.get(consumer.result.remote())
    else:
        served = consumer.serve_zmq.remote(registry, window, n_batches * batch)
        t0 = ray.get(producer.run_zmq.remote(registry, n_batches, window, pace))
        res = ray.get(served)
    for a in (producer, consumer, registry):
        ray.kill(a)
    secs = res["last"] - t0
    return {
        "path": kind,
        "batch": batch,
        "window": window,
        "paced_ms": pace * 1000,
        "tuples": res["count"],
        "secs": round(secs, 2),
        "tuples_per_s": round(res["count"] / secs),
        "lat_p50_ms": round(pct(res["lat"], 0.5), 2),
        "lat_p99_ms": round(pct(res["lat"], 0.99), 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tuples", type=int, default=1_000_000)
    p.add_argument("--batches", default="100,1000")
    p.add_argument("--window", type=int, default=16)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    import ray

    cluster, times = _cluster.start_cluster()
    ray.init(address=cluster.address)
    print(json.dumps({"cluster_start_s": round(times["total"], 2)}), flush=True)
    classes = build()
    try:
        for _ in range(args.repeat):
            for batch in (int(b) for b in args.batches.split(",")):
                for kind in ("actor", "zmq"):
                    print(json.dumps(run(kind, classes, batch, args.tuples, args.window)), flush=True)
            for kind in ("actor", "zmq"):
                print(json.dumps(run(kind, classes, 100, 50_000, args.window, pace=0.002)), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
