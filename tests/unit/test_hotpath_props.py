"""The hot path's inline copies run against the reference functions they copy.

For speed, a few rules are written out inline where they run per tuple (a Python call costs
about as much as the rest of the emit). Each such copy is checked here, by running the copy
that actually runs against the reference:

* every compiled sender of ``StreamRouter`` (plain, tracked, first hop) against ``Picker.pick``;
* the spout's root ids and latency sampling against ``acker.make_root`` / ``is_latency_sampled``;
* the bolt's ack routing against ``acker.acker_of``;
* the acker's batch path (``AckerExecutor.execute_acks``) against ``XorLedger`` and a plain model.
"""

from __future__ import annotations

import ast
import enum
import inspect
import random
import textwrap
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall import Grouping
from squall.runtime.acker import (
    ROOT_RANDOM_BITS,
    TASK_MASK,
    AckerExecutor,
    XorLedger,
    acker_of,
    is_latency_sampled,
    make_root,
)
from squall.runtime.bolt_executor import BoltExecutor
from squall.runtime.error_log import ErrorLog
from squall.runtime.router import Channel, Consumer, StreamRouter
from squall.runtime.spout_executor import SpoutExecutor
from squall.runtime.tuples import tuples_maker
from squall.topology.bolt import Bolt
from squall.topology.grouping import make_picker
from squall.topology.spout import Spout
from squall.topology.stream import Stream

FIELDS = ("a", "b")
SOURCE_TASK = 3


class Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    S = 1
    L = 3


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.sampled_from(list(Color) + list(Size)),
)
# A key field: any value that can cross processes (msgpack), scalars and small lists/tuples of them.
_keys = st.one_of(_scalars, st.lists(_scalars, max_size=3), st.tuples(_scalars, _scalars))
_values = st.lists(st.tuples(_keys, _scalars).map(list), min_size=1, max_size=40)

# Every grouping whose sender is compiled (one consumer, one target per tuple), and ALL (general path).
GROUPINGS = {
    "shuffle": Grouping.SHUFFLE,
    "none": Grouping.NONE,
    "local_or_shuffle": Grouping.LOCAL_OR_SHUFFLE,
    "fields_one": Grouping.fields("a"),
    "fields_two": Grouping.fields("a", "b"),
    "fields_none": Grouping.fields(),
    "global": Grouping.GLOBAL,
    "partial_key": Grouping.partial_key("a"),
    "all": Grouping.ALL,
}


def _picker(grouping: Grouping, n: int) -> Any:
    targets = list(range(10, 10 + n))
    return make_picker(grouping, source_fields=FIELDS, targets=targets, local_targets=targets[::2], source_task=3)


def build(grouping: Grouping, n: int, tracked: bool) -> tuple[StreamRouter, Consumer, Any]:
    """A router for one consumer, and a twin picker (same deterministic state) as the reference."""
    picker = _picker(grouping, n)
    chans = [Channel(SOURCE_TASK, "default", t, local=True, peer=0) for t in picker.targets]
    tchans = (
        [Channel(SOURCE_TASK, "default", t, local=True, peer=0, tracked=True) for t in picker.targets]
        if tracked
        else None
    )
    consumer = Consumer("dst", picker, chans, tchans)
    return StreamRouter("src", SOURCE_TASK, Stream(FIELDS), [consumer]), consumer, _picker(grouping, n)


def landed(bufs: list[list[Any]]) -> list[int]:
    """Indices of the buffers that got something; empties them (in place: the router holds them)."""
    hit = [i for i, b in enumerate(bufs) if b]
    for i in hit:
        bufs[i].clear()
    return hit


# -- compiled senders against Picker.pick -------------------------------------------------------


@pytest.mark.parametrize("name", list(GROUPINGS))
@settings(max_examples=60, deadline=None)
@given(values_list=_values, n=st.integers(1, 7))
def test_plain_sender_sends_where_the_picker_picks(name, values_list, n):
    router, c, ref = build(GROUPINGS[name], n, tracked=False)
    for values in values_list:
        router.send(values)
        assert landed(c.bufs) == sorted(ref.pick(values))


@pytest.mark.parametrize("name", [k for k in GROUPINGS if k != "all"])
@settings(max_examples=60, deadline=None)
@given(values_list=_values, n=st.integers(1, 7), seed=st.integers(0, 2**32))
def test_tracked_sender_sends_where_the_picker_picks(name, values_list, n, seed):
    router, c, ref = build(GROUPINGS[name], n, tracked=True)
    assert router.send_tracked_fast is not None
    rng = random.Random(seed)
    for values in values_list:
        root = rng.getrandbits(64)
        edge = router.send_tracked_fast(values, root)
        (i,) = ref.pick(values)
        assert [j for j, b in enumerate(c.tbufs) if b] == [i]
        assert c.tbufs[i] == [values] and c.tids[i] == [(root, edge)] and 0 <= edge < 2**64
        landed(c.tbufs), landed(c.tids)
        assert not any(c.bufs)


@pytest.mark.parametrize("name", [k for k in GROUPINGS if k != "all"])
@settings(max_examples=60, deadline=None)
@given(values_list=_values, n=st.integers(1, 7), seed=st.integers(0, 2**32))
def test_first_hop_sender_sends_where_the_picker_picks(name, values_list, n, seed):
    router, c, ref = build(GROUPINGS[name], n, tracked=True)
    assert router.send_first is not None
    rng = random.Random(seed)
    for values in values_list:
        root = rng.getrandbits(64)
        router.send_first(values, root)
        (i,) = ref.pick(values)
        assert [j for j, b in enumerate(c.tbufs) if b] == [i]
        assert c.tbufs[i] == [values] and c.tids[i] == [root]
        landed(c.tbufs), landed(c.tids)


@pytest.mark.parametrize("name", list(GROUPINGS))
@settings(max_examples=30, deadline=None)
@given(values_list=_values, n=st.integers(1, 7))
def test_general_path_sends_where_the_picker_picks(name, values_list, n):
    router, c, ref = build(GROUPINGS[name], n, tracked=False)
    for values in values_list:
        tasks = router.send_general(values, need_task_ids=True)
        picked = ref.pick(values)
        assert landed(c.bufs) == sorted(picked) and tasks == [ref.targets[i] for i in picked]


def _nested_functions(method: Any) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    (top,) = tree.body
    return {f"{top.name}.<locals>.{n.name}" for n in ast.walk(top) if isinstance(n, ast.FunctionDef) and n is not top}


def test_the_tests_above_cover_every_compiled_sender():
    """Every closure the router compiles is one of the senders tested above (a new one must be added)."""
    compiled = set()
    for method in (StreamRouter._compile, StreamRouter._compile_tracked, StreamRouter._compile_first):
        compiled |= {f"StreamRouter.{q}" for q in _nested_functions(method)}
    seen = set()
    for grouping in GROUPINGS.values():
        for n in (1, 3):
            router, _c, _ref = build(grouping, n, tracked=True)
            for fn in (router.send, router.send_tracked_fast, router.send_first):
                if fn is not None and fn != router.send_general:
                    seen.add(fn.__qualname__)
    assert seen == compiled


# -- spout: root ids and latency sampling ---------------------------------------------------------


class _Spout(Spout):
    outputs = list(FIELDS)


def make_spout(n_ackers: int, home: int, task: int, draws: list[int]) -> tuple[SpoutExecutor, Consumer]:
    """A spout executor whose random root bits are ``draws``, in order, emitting to one consumer."""
    router, consumer, _ref = build(Grouping.fields("a"), 3, tracked=True)
    router.task = task
    ack_bufs: list[list[Any]] = [[] for _ in range(n_ackers)]
    ctl_bufs: list[list[Any]] = [[] for _ in range(n_ackers)]
    it = iter(draws)

    def getrandbits(k: int) -> int:
        assert k == ROOT_RANDOM_BITS
        return next(it)

    with mock.patch("squall.runtime.spout_executor.random.getrandbits", getrandbits):
        ex = SpoutExecutor(
            task,
            "spout",
            _Spout(),
            {"default": router},
            ErrorLog(),
            ack_bufs=ack_bufs,
            ctl_bufs=ctl_bufs,
            home_acker=home,
        )
    return ex, consumer


@settings(max_examples=100, deadline=None)
@given(
    draws=st.lists(st.integers(0, 2**ROOT_RANDOM_BITS - 1), min_size=1, max_size=30, unique=True),
    n_ackers=st.integers(1, 256),
    home=st.integers(0, 255),
    task=st.integers(1, TASK_MASK - 1),
    announce=st.booleans(),
)
def test_spout_roots_are_make_root_and_sampling_is_is_latency_sampled(draws, n_ackers, home, task, announce):
    home %= n_ackers
    ex, consumer = make_spout(n_ackers, home, task, draws)
    emit = ex.instance.emit
    for i in range(len(draws)):
        # stream=None takes the first-hop path; naming the stream takes the announcing path.
        emit([f"w{i}", i], tup_id=i, stream="default" if announce else None)
    expected = [make_root(r, home, n_ackers, task) for r in draws]
    assert list(ex.pending.buckets[0]) == expected
    assert all(0 <= root < 2**64 and acker_of(root, n_ackers) == home for root in expected)
    assert set(ex.started) == {root for root in expected if is_latency_sampled(root)}
    if announce:
        assert ex.ack_bufs[home][0::2] == expected  # type: ignore[index]
    else:
        assert sorted(r for ids in consumer.tids for r in ids) == sorted(expected)
    ex.execute_acks(expected, len(expected))
    assert ex.acked == len(draws) and ex.pending.size == 0 and not ex.started
    assert ex.latency_n == sum(map(is_latency_sampled, expected))


def test_latency_sampling_takes_about_one_tree_in_16():
    rng = random.Random(7)
    roots = [make_root(rng.getrandbits(ROOT_RANDOM_BITS), rng.randrange(3), 3, 5) for _ in range(16000)]
    assert 800 <= sum(map(is_latency_sampled, roots)) <= 1200


# -- bolt: acks go to the acker of their root ------------------------------------------------------


class _Bolt(Bolt):
    outputs = ["x"]


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(
        st.one_of(
            st.integers(0, 2**ROOT_RANDOM_BITS - 1).map(lambda r: ("first", r)),
            st.tuples(st.integers(0, 2**ROOT_RANDOM_BITS - 1), st.integers(1, 2**64 - 1)).map(lambda p: ("one", p)),
            st.tuples(st.integers(0, 2**ROOT_RANDOM_BITS - 1), st.integers(0, 2**ROOT_RANDOM_BITS - 1)).map(
                lambda p: ("two", p)
            ),
        ),
        min_size=1,
        max_size=20,
    ),
    n_ackers=st.integers(1, 9),
    seed=st.integers(0, 2**32),
    fail=st.booleans(),
)
def test_bolt_acks_and_fails_go_to_acker_of_their_root(ids, n_ackers, seed, fail):
    rng = random.Random(seed)
    spout_task = 2
    ack_bufs: list[list[Any]] = [[] for _ in range(n_ackers)]
    ctl_bufs: list[list[Any]] = [[] for _ in range(n_ackers)]
    done_bufs: dict[int, list[Any]] = {spout_task: []}

    class B(_Bolt):
        def process(self, tup):
            if fail:
                raise ValueError("boom")

    ex = BoltExecutor(7, "bolt", B(), {}, ErrorLog(), ack_bufs=ack_bufs, ctl_bufs=ctl_bufs, done_bufs=done_bufs)
    ex.errors.log.disabled = True

    def root() -> int:
        return make_root(rng.getrandbits(ROOT_RANDOM_BITS), rng.randrange(n_ackers), n_ackers, spout_task)

    mids: list[Any] = []
    for kind, _ in ids:
        if kind == "first":
            mids.append(root())
        elif kind == "one":
            mids.append((root(), rng.getrandbits(64) | 1))
        else:
            mids.append((root(), rng.getrandbits(64), root(), rng.getrandbits(64)))
    make = tuples_maker("src", "default", 1, ("v",))
    ex.execute_tracked(make([[i] for i in range(len(mids))], mids), len(mids))

    expect_acks: list[list[Any]] = [[] for _ in range(n_ackers)]
    expect_ctl: list[list[Any]] = [[] for _ in range(n_ackers)]
    expect_done: list[int] = []
    for mid in mids:
        roots_vals = [(mid, None)] if type(mid) is int else list(zip(mid[0::2], mid[1::2], strict=True))
        for r, v in roots_vals:
            if fail:
                expect_ctl[acker_of(r, n_ackers)].append((2, r))
            elif v is None:
                expect_done.append(r)  # a first-hop tuple without children: done, told to the spout
            else:
                expect_acks[acker_of(r, n_ackers)] += [r, v]
    assert ack_bufs == expect_acks and ctl_bufs == expect_ctl and done_bufs[spout_task] == expect_done


# -- acker: the batch path against XorLedger -------------------------------------------------------


def tree_messages(n_edges: int, rng: random.Random) -> list[int]:
    """Ack values of a random tree: an announcement, then one ack per tuple (its edge ^ its children's)."""
    edges = [rng.getrandbits(64) for _ in range(n_edges)]
    children: dict[int, list[int]] = {i: [] for i in range(n_edges)}
    for i in range(1, n_edges):
        children[rng.randrange(i)].append(i)
    msgs = [edges[0]]
    for i, edge in enumerate(edges):
        x = edge
        for c in children[i]:
            x ^= edges[c]
        msgs.append(x)
    return msgs


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=25),
    seed=st.integers(0, 2**32),
    n_rotations=st.integers(0, 2),
    drop=st.integers(0, 3),
)
def test_acker_batch_path_agrees_with_xor_ledger_and_a_model(sizes, seed, n_rotations, drop):
    rng = random.Random(seed)
    spout_tasks = (1, 2)
    msgs: list[tuple[int, int]] = []
    incomplete: set[int] = set()
    for k, size in enumerate(sizes):
        root = make_root(rng.getrandbits(ROOT_RANDOM_BITS), 0, 1, spout_tasks[k % 2])
        tree = [(root, v) for v in tree_messages(size, rng)]
        if k < drop:  # a lost ack: this tree never completes
            del tree[rng.randrange(len(tree))]
            incomplete.add(root)
        msgs += tree
    rng.shuffle(msgs)
    # Cut into batches; at most 2 rotations in between (a third would expire entries).
    cuts = sorted(rng.sample(range(len(msgs) + 1), min(len(msgs) + 1, rng.randrange(1, 6))))
    rotate_at = set(rng.sample(cuts, min(n_rotations, len(cuts))))

    acker = AckerExecutor(99, {t: [] for t in spout_tasks}, {t: [] for t in spout_tasks})
    ledger = XorLedger()
    one_by_one: list[int] = []
    start = 0
    for cut in sorted({*cuts, len(msgs)}):
        batch = [x for pair in msgs[start:cut] for x in pair]
        acker.execute_acks(batch, len(batch))
        one_by_one += [r for r, v in msgs[start:cut] if ledger.ack(r, v)]
        if cut in rotate_at:
            acker.rotate()
            ledger.rotate()
        start = cut

    # The model: a tree completes at its last message, when the XOR of all its messages is 0.
    last: dict[int, int] = {r: i for i, (r, _v) in enumerate(msgs)}
    model = [r for i, (r, _v) in enumerate(msgs) if last[r] == i and r not in incomplete]
    told = acker.spout_acks
    assert sorted(told[1] + told[2], key=model.index) == model
    for t in spout_tasks:
        assert told[t] == [r for r in model if r & TASK_MASK == t]
    assert one_by_one == model
    assert acker.ledger.completed == ledger.completed == len(model)
    assert len(acker.ledger.pending) == len(ledger.pending) == len(incomplete)
    assert acker.ledger.pending.size == sum(map(len, acker.ledger.pending.buckets))
    assert acker.executed == len(msgs)


def test_acker_batch_path_expires_after_three_rotations():
    acker = AckerExecutor(99, {1: []}, {1: []})
    root = make_root(5, 0, 1, 1)
    acker.execute_acks([root, 7], 2)
    acker.rotate()
    acker.execute_acks([root, 1], 2)  # found in an older bucket: moved to the newest, value 7 ^ 1
    acker.rotate()
    acker.rotate()
    assert root in acker.ledger.pending and acker.ledger.expired == 0
    acker.execute_acks([root, 6], 2)  # 7 ^ 1 ^ 6 == 0: complete
    assert acker.spout_acks[1] == [root] and len(acker.ledger.pending) == 0
    acker.execute_acks([root, 3], 2)  # a late message starts an entry that expires
    for _ in range(3):
        acker.rotate()
    assert acker.ledger.expired == 1 and len(acker.ledger.pending) == 0
