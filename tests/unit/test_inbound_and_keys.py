"""Without processes: inbound checks, byte-capped batches, the run's keys and the ZAP handler.

The end-to-end reproductions (real workers, foreign and key-holding peers) are in
tests/e2e/test_hardening.py (end to end).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import zmq
from test_worker import ACKER, REMOTE_SINK, REMOTE_SPOUT, SINK, SPOUT, Topo, make_worker

from squall.runtime.acker import ACK_STREAM, CTL_STREAM, FAIL, TASK_MASK, make_root
from squall.runtime.inbound import DropLog, Malformed, check_ctl, check_int_pairs, tracked_check, values_check
from squall.runtime.worker import Worker
from squall.topology.config import topology_conf
from squall.transport.security import RunKeys, ZapHandler
from squall.transport.wire import encode_batch, pack, split_groups, unpack
from squall.transport.zeromq import ZmqTransport

# -- checks per batch -------------------------------------------------------------------------------


def test_values_check_wants_the_streams_arity():
    check = values_check(2)
    check(((1, 2), ("a", None)), None)
    check((), None)
    for bad in [((1,),), ((1, 2), (1, 2, 3)), ((1, 2), 5), [(1, 2)], "ab"]:
        with pytest.raises(Malformed):
            check(bad, None)


def test_tracked_check_wants_one_well_formed_id_per_tuple():
    spouts = frozenset({1, 2})
    check = tracked_check(1, spouts)
    root = make_root(99, 0, 2, 1)
    check(((1,), (2,)), ((root, 7), (root, 8, root + 65536, 9)))  # (root, edge) pairs
    check(((1,),), (root,))  # a spout's root on its first hop
    check(((1,), (2,)), (root, (root, 3)))  # a mix
    bad_ids = [
        None,
        (),  # fewer ids than tuples
        ((root, 1), (root, 2), (root, 3)),  # more
        ("x", "y"),
        ((root,), (root, 1)),  # odd length
        ((root, "e"), (root, 1)),
        ((), (root, 1)),
        ((root & ~TASK_MASK) | 999, root),  # a root of no spout task
        (root, (root, 1.5)),
    ]
    for ids in bad_ids:
        with pytest.raises(Malformed):
            check(((1,), (2,)), ids)


def test_ack_and_control_checks():
    check_int_pairs((1, 2, 3, 4), None)
    check_ctl(((FAIL, 5),), None)
    for bad in [(1, 2, 3), ("a", "b"), (1.0, 2), [1, 2]]:
        with pytest.raises(Malformed):
            check_int_pairs(bad, None)
    for bad in [((FAIL,),), ((FAIL, "r"),), (5,)]:
        with pytest.raises(Malformed):
            check_ctl(bad, None)


def test_drop_log_counts_everything_and_logs_at_most_once_per_interval(caplog):
    drops = DropLog("worker 9")
    with caplog.at_level("WARNING", logger="squall.runtime.inbound"):
        for _ in range(50):
            drops.drop("a message that is not a batch", ValueError("nope"))
    assert drops.count == 50
    assert len(caplog.records) == 1 and "worker 9" in caplog.text and "nope" in caplog.text


# -- Worker.on_message: checked whole, then counted and delivered --------------------------------------


class CountingTransport:
    n_overflow = 0
    incarnation = 0

    def __init__(self) -> None:
        self.accepted = 0
        self.peer_inc = {0: 0, 1: 0}

    def accept(self, sender: int, sender_inc: int, target_inc: int) -> bool:
        self.accepted += 1
        return True

    def close(self) -> None:
        pass


def checked_worker() -> tuple[Worker, CountingTransport]:
    t = CountingTransport()
    w = Worker(Topo, topology_conf(Topo.config, {"topology.workers": 2}), 0, transport=t)  # type: ignore[arg-type]
    w.setup()
    return w, t


def test_a_message_with_one_bad_group_is_dropped_whole_and_not_counted_as_received():
    w, t = checked_worker()
    good = (SINK, REMOTE_SPOUT, "default", [[1]])
    for bad in [
        (SINK, REMOTE_SPOUT, "default", [[1, 2]]),  # arity
        (SINK, REMOTE_SPOUT, "nope", [[1]]),  # no such stream
        (99, REMOTE_SPOUT, "default", [[1]]),  # no such task here
        (REMOTE_SINK, REMOTE_SPOUT, "default", [[1]]),  # a task of the other worker
        (SPOUT, REMOTE_SPOUT, "default", [[1]]),  # a spout reads no stream
        (SINK, REMOTE_SINK, "default", [[1]]),  # the sink does not read the sink
        (ACKER, REMOTE_SPOUT, CTL_STREAM, [[FAIL, 1, 2]]),
        (SINK, REMOTE_SPOUT, ACK_STREAM, [1, 2]),  # acks go to ackers and spouts, not bolts
        (SINK, REMOTE_SPOUT, "default", [[1]], ["id"]),
    ]:
        assert w.on_message(encode_batch(1, 0, 0, [good, bad])) == 1
    assert w.executors[SINK].instance.seen == [] and t.accepted == 0 and w.drops.count == 9
    assert set(w.inbound) == {  # only flows of the topology are kept
        (SINK, REMOTE_SPOUT, "default", False),
        (SINK, REMOTE_SPOUT, "default", True),
        (ACKER, REMOTE_SPOUT, CTL_STREAM, False),
    }
    w.on_message(encode_batch(1, 0, 0, [good]))
    assert len(w.executors[SINK].instance.seen) == 1 and t.accepted == 1


def test_headers_and_shapes_that_are_not_batches_are_dropped():
    w, t = checked_worker()
    for payload in [
        b"\x00\x01\x02",
        pack("hello"),
        pack((1, 0, 0)),
        pack((0, 0, 0, ())),  # from itself
        pack((2, 0, 0, ())),  # no worker 2
        pack((True, 0, 0, ())),
        pack((1, 0, 0, [5])),
        pack((1, 0, 0, [[SINK, REMOTE_SPOUT, "default"]])),
        pack((1, 0, 0, [[{"a": 1}, REMOTE_SPOUT, "default", []]])),
    ]:
        assert w.on_message(payload) == 1
    assert w.drops.count == 9 and t.accepted == 0


def test_a_root_from_a_spout_task_is_acked_back_to_it():
    w, _ = checked_worker()
    root = make_root(5, 0, 2, REMOTE_SPOUT)
    w.on_message(encode_batch(1, 0, 0, [(SINK, REMOTE_SPOUT, "default", [[1]], [root])]))
    assert w.drops.count == 0 and len(w.executors[SINK].instance.seen) == 1


# -- batches cut by bytes ----------------------------------------------------------------------------


def test_split_groups_keeps_order_and_ids():
    groups = [(3, 1, "s", [1, 2, 3]), (4, 1, "s", [4, 5], ["a", "b"]), (5, 2, "t", [6])]
    parts = split_groups(groups, 6, 3)
    assert [k for _, k in parts] == [2, 2, 2]
    flat = [(g[0], v) for part, _ in parts for g in part for v in g[3]]
    assert flat == [(3, 1), (3, 2), (3, 3), (4, 4), (4, 5), (5, 6)]
    ids = [i for part, _ in parts for g in part if len(g) > 4 for i in g[4]]
    assert ids == ["a", "b"]
    assert [k for _, k in split_groups(groups, 6, 100)] == [1] * 6
    acks = [(3, 1, "s", [1, 2, 3]), (5, 1, ACK_STREAM, [10, 11, 12, 13, 14, 15]), (3, 1, "s", [4])]
    parts = split_groups(acks, 10, 5)  # 2 per piece, but the acks' root, xor pairs stay together
    assert [g[3] for part, _ in parts for g in part if g[2] == ACK_STREAM] == [[10, 11, 12, 13, 14, 15]]
    assert sum(k for _, k in parts) == 10


def sent_sizes(w: Worker, transport: Any) -> list[int]:
    return [sum(len(g[3]) for g in groups) for _peer, (_s, _si, _ti, groups) in transport.sent]


def test_a_batch_is_cut_once_its_encoding_passes_batch_bytes():
    w, transport = make_worker(**{"squall.transfer.batch.bytes": 10_000})
    ch = next(c for c in w.remote_channels[1] if c.stream == "default" and c.ids is None)
    ch.buf.extend([[b"x" * 1000]] * 30)
    w.flush()
    sizes = sent_sizes(w, transport)
    assert sum(sizes) == 30 and len(sizes) >= 3 and max(sizes) <= 10
    transport.sent.clear()
    ch.buf.extend([[1]] * 1000)  # small values: cut as the last sizes said, until the first piece shows them small
    w.flush()
    sizes = sent_sizes(w, transport)
    assert sum(sizes) == 1000 and len(sizes) == 2
    transport.sent.clear()
    ch.buf.extend([[1]] * 1000)
    w.flush()
    assert sent_sizes(w, transport) == [1000]


def test_a_large_system_batch_goes_whole():
    w, transport = make_worker(**{"squall.transfer.batch.bytes": 1000})
    ch = next(c for c in w.remote_channels[1] if c.stream == ACK_STREAM)
    ch.buf.extend(range(2**40, 2**40 + 2000))  # 2000 acks, about 18 kB: never cut
    w.flush()
    assert sent_sizes(w, transport) == [2000]


def test_a_tuple_larger_than_the_largest_message_is_reported_not_sent():
    w, transport = make_worker(**{"squall.transfer.max.message.bytes": 5000})
    ch = next(c for c in w.remote_channels[1] if c.stream == "default" and c.ids is None)
    ch.buf.extend([[b"x" * 100], [b"y" * 6000], [b"z" * 100]])
    w.flush()
    assert sorted(sent_sizes(w, transport)) == [1, 1]
    (err,) = w.errors.take_new()
    assert err["where"] == "emit" and err["component"] == "numbers" and "stream 'default'" in err["error"]
    assert "squall.transfer.max.message.bytes" in err["error"]


def test_a_too_large_tracked_tuple_of_a_spout_fails_at_once():
    w, _ = make_worker(**{"squall.transfer.max.message.bytes": 5000})

    failed: list[Any] = []
    spout = w.executors[SPOUT]
    spout.instance.fail = failed.append
    for i in range(4):  # shuffled: two of them to the other worker
        spout.instance.emit([b"x" * 6000], tup_id=f"big{i}")
    spout.instance.emit([1], tup_id="small")
    remote = [mid for c in w.remote_channels[1] if c.ids is not None for mid in c.ids]
    w.flush()
    # failed at once (counted, out of the pending map); fail() itself waits for the spout's turn
    assert spout.failed == 2 and spout.pending.size == 3 and len(remote) >= 2
    assert len(spout.fails) == 2 and "small" not in spout.fails and not failed


# -- the transport: weighed messages, bounded receive ---------------------------------------------------


def test_large_messages_take_one_high_water_slot_per_unit():
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    a = ZmqTransport(0, host="127.0.0.2", ctx=ctx, hwm=8, unit_bytes=1000)
    b = ZmqTransport(1, host="127.0.0.2", ctx=ctx, hwm=8, unit_bytes=1000)
    try:
        a.connect({1: (b.address, 0)})
        a.send(1, b"x" * 2500)  # 1 message + 2 fillers
        a.send(1, b"small")
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            b.pull.poll(100)
            got += b.recv_ready(1)  # fillers count towards the limit, and are not returned
        assert got == [b"x" * 2500, b"small"]
        assert a.counters()["sent"] == {"1": [0, 2]}  # fillers are not messages
    finally:
        a.close()
        b.close()
        ctx.term()


# -- keys and the ZAP handler -------------------------------------------------------------------------


def test_a_worker_gets_its_own_secret_only():
    keys = RunKeys.generate(3)
    mine = RunKeys.from_spec(keys.for_worker(1), 1)
    assert mine.worker_public == keys.worker_public and mine.server_public == keys.server_public
    assert mine.worker_secret == (None, keys.worker_secret[1], None)
    with pytest.raises(ValueError, match="not worker 2's"):
        RunKeys.from_spec(keys.for_worker(1), 2)
    assert len(set(keys.worker_public)) == 3 and RunKeys.generate(3).server_public != keys.server_public


def test_the_zap_handler_admits_the_runs_workers_and_names_them():
    keys = RunKeys.generate(2)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    zap = ZapHandler(ctx, keys)
    try:
        raw = zmq.utils.z85.decode(keys.worker_public[1].encode())
        ok = zap.answer([b"1.0", b"7", b"squall", b"127.0.0.1", b"", b"CURVE", raw])
        assert ok == [b"1.0", b"7", b"200", b"OK", b"1", b""]
        stranger = zmq.utils.z85.decode(zmq.curve_keypair()[0])
        assert zap.answer([b"1.0", b"8", b"squall", b"127.0.0.1", b"", b"CURVE", stranger])[2] == b"400"
        assert zap.answer([b"1.0", b"9", b"squall", b"127.0.0.1", b"", b"NULL"])[2] == b"400"
        assert zap.answer([b"1.0"])[2] == b"400"
        assert zap.refused == 2
    finally:
        ctx.term()  # the handler's thread closes its socket and ends
        zap.thread.join(5)
        assert not zap.thread.is_alive()
    assert unpack(pack([1])) == (1,)


# -- the counts in the statistics and the status line ----------------------------------------------------


def test_dropped_and_refused_show_in_the_snapshot_and_the_status_line():
    from squall.local.statistics import RunState, StatsBook
    from squall.local.status import render
    from squall.topology.plan import make_plan

    plan = make_plan(Topo.components, 2, None)
    book = StatsBook("t", plan, {"numbers": "spout", "sink": "bolt"})
    book.worker_started(0, 0, 10)
    book.worker_started(1, 0, 11)
    quiet = book.snapshot(RunState.ACTIVE, 1.0)
    assert "malformed" not in render(None, quiet) and "refused" not in render(None, quiet)
    rnd = book.begin([0, 1], 1.0)
    book.record(0, {"t": "stats", "round": rnd, "inc": 0, "tasks": {}, "malformed": 3, "refused": 1}, 1.1)
    book.record(1, {"t": "stats", "round": rnd, "inc": 0, "tasks": {}, "malformed": 0}, 1.1)
    book.worker_started(0, 1, 12)  # restarted: its earlier counts are kept
    s = book.snapshot(RunState.ACTIVE, 2.0, malformed=2, refused=4)
    assert [(w.malformed, w.refused) for w in s.workers] == [(3, 1), (0, 0)]
    assert (s.malformed_total, s.refused_total) == (5, 5)
    assert s.to_dict()["workers"][0]["malformed"] == 3 and s.to_dict()["malformed"] == 2
    line = render(None, s)
    assert "dropped 5 malformed message(s)" in line and "refused 5 connection(s)" in line
