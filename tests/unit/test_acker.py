"""The XOR ledger: a tree completes exactly when every edge is acked, in any order."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from squall.runtime.acker import TASK_MASK, RotatingMap, XorLedger, acker_of, make_root

ROOT = make_root(12345, 0, 1, 7)


def tree_messages(shape, rng):
    """The xor values a tree of ``shape`` produces (shape[i] = children of tuple i, BFS): the
    spout's announcement of its one edge, then one ack per tuple: its edge ^ its children's."""
    edges = [rng.getrandbits(64)]
    children = {}
    nxt = 1
    for i, k in enumerate(shape):
        if i >= len(edges):
            break
        kids = []
        for _ in range(k):
            edges.append(rng.getrandbits(64))
            kids.append(nxt)
            nxt += 1
        children[i] = kids
    msgs = [edges[0]]
    for i, e in enumerate(edges):
        x = 0
        for c in children.get(i, []):
            x ^= edges[c]
        msgs.append(e ^ x)
    return msgs


@settings(max_examples=300, deadline=None)
@given(shape=st.lists(st.integers(min_value=0, max_value=4), max_size=30), seed=st.integers(0, 2**32))
def test_tree_completes_exactly_at_the_last_message(shape, seed):
    rng = random.Random(seed)
    msgs = tree_messages(shape, rng)
    rng.shuffle(msgs)
    ledger = XorLedger()
    assert [ledger.ack(ROOT, v) for v in msgs] == [False] * (len(msgs) - 1) + [True]
    assert len(ledger.pending) == 0


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=20), seed=st.integers(0, 2**32))
def test_a_missing_ack_never_completes(shape, seed):
    rng = random.Random(seed)
    msgs = tree_messages(shape, rng)
    del msgs[rng.randrange(len(msgs))]
    rng.shuffle(msgs)
    ledger = XorLedger()
    assert not any(ledger.ack(ROOT, v) for v in msgs)


def test_multi_anchored_diamond():
    # spout tuple a -> b, c (anchored to a); d anchored to both b and c. d's id for the root is
    # d ^ d = 0 (Storm XORs the edge in once per anchor), so d's own ack carries 0: a no-op.
    rng = random.Random(1)
    a, b, c, d = (rng.getrandbits(64) for _ in range(4))
    msgs = [a, a ^ b ^ c, b ^ d, c ^ d, 0]
    for _ in range(20):
        rng.shuffle(msgs)
        ledger = XorLedger()
        done = [ledger.ack(ROOT, v) for v in msgs]
        assert done.count(True) == 1 and len(ledger.pending) == 0


def test_many_trees_interleaved():
    rng = random.Random(5)
    ledger = XorLedger()
    msgs = []
    for t in range(200):
        root = make_root(rng.getrandbits(40), 0, 1, t % 3)
        msgs += [(root, v) for v in tree_messages([rng.randrange(3) for _ in range(5)], rng)]
    rng.shuffle(msgs)
    assert sum(ledger.ack(r, v) for r, v in msgs) == 200 and len(ledger.pending) == 0


def test_fail_forgets_the_tree():
    ledger = XorLedger()
    ledger.ack(ROOT, 99)
    ledger.fail(ROOT)
    assert ledger.failed == 1 and len(ledger.pending) == 0


@settings(max_examples=200, deadline=None)
@given(r=st.integers(0, 2**40 - 1), n=st.integers(1, 64), idx=st.integers(0, 63), task=st.integers(1, TASK_MASK - 1))
def test_root_says_its_acker_and_spout_task(r, n, idx, task):
    idx %= n
    root = make_root(r, idx, n, task)
    assert 0 <= root < 2**64
    assert acker_of(root, n) == idx and root & TASK_MASK == task


def test_rotating_map_expires_after_rotations():
    m = RotatingMap(3)
    m.put("a", 1)
    assert m.rotate() == {} and "a" in m
    assert m.rotate() == {} and "a" in m
    assert m.rotate() == {"a": 1} and "a" not in m and len(m) == 0
    m.put("b", 2)
    assert m.pop("b") == 2 and len(m) == 0


def test_timeouts_drop_ledger_entries():
    ledger = XorLedger()
    ledger.ack(ROOT, 123)
    for _ in range(3):
        ledger.rotate()
    assert ledger.expired == 1 and len(ledger.pending) == 0
