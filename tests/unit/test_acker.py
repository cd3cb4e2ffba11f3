"""The XOR ledger: a tree completes exactly when every edge is acked, in any order."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from squall.acker import ACK, ACKED, FAIL, FAILED, INIT, RotatingMap, XorLedger


def tree_messages(shape, rng, root=12345, spout_task=7):
    """Messages a tree of ``shape`` produces: shape[i] = number of children of tuple i (BFS)."""
    edges = [rng.getrandbits(64)]  # the spout tuple's single delivered edge
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
    msgs = [(INIT, root, edges[0], spout_task)]
    for i, e in enumerate(edges):
        x = 0
        for c in children.get(i, []):
            x ^= edges[c]
        msgs.append((ACK, root, e ^ x, 0))
    return msgs


@settings(max_examples=300, deadline=None)
@given(shape=st.lists(st.integers(min_value=0, max_value=4), max_size=30), seed=st.integers(0, 2**32))
def test_tree_completes_exactly_at_the_last_message(shape, seed):
    rng = random.Random(seed)
    msgs = tree_messages(shape, rng)
    rng.shuffle(msgs)
    ledger = XorLedger()
    for m in msgs[:-1]:
        assert ledger.update(*m) is None
    assert ledger.update(*msgs[-1]) == (ACKED, 7)
    assert len(ledger.pending) == 0


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=20), seed=st.integers(0, 2**32))
def test_a_missing_ack_never_completes(shape, seed):
    rng = random.Random(seed)
    msgs = tree_messages(shape, rng)
    drop = rng.randrange(len(msgs))
    del msgs[drop]
    rng.shuffle(msgs)
    ledger = XorLedger()
    assert all(ledger.update(*m) is None for m in msgs)


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(st.integers(min_value=0, max_value=3), max_size=15), seed=st.integers(0, 2**32))
def test_a_fail_anywhere_fails_the_tree_once(shape, seed):
    rng = random.Random(seed)
    msgs = tree_messages(shape, rng)
    i = rng.randrange(1, len(msgs))  # one tuple is failed instead of acked
    msgs[i] = (FAIL, 12345, 0, 0)
    rng.shuffle(msgs)
    ledger = XorLedger()
    results = [r for r in (ledger.update(*m) for m in msgs) if r is not None]
    assert results == [(FAILED, 7)]


def test_multi_anchored_diamond():
    # spout tuple a -> b, c (anchored to a); d anchored to both b and c (Storm's XOR per anchor).
    rng = random.Random(1)
    a, b, c, d = (rng.getrandbits(64) for _ in range(4))
    # d's message id for root 1 is d ^ d = 0 (anchored twice to the same root), so its own ack
    # carries 0 and changes nothing (as in Storm): the tree completes with these four.
    msgs = [(INIT, 1, a, 3), (ACK, 1, a ^ b ^ c, 0), (ACK, 1, b ^ d, 0), (ACK, 1, c ^ d, 0)]
    for perm in range(20):
        rng.shuffle(msgs)
        ledger = XorLedger()
        out = [ledger.update(*m) for m in msgs]
        assert out[-1] == (ACKED, 3) and all(o is None for o in out[:-1])


def test_many_trees_interleaved():
    rng = random.Random(5)
    ledger = XorLedger()
    msgs = []
    for root in range(200):
        msgs += tree_messages([rng.randrange(3) for _ in range(5)], rng, root=root, spout_task=root % 3)
    rng.shuffle(msgs)
    done = [r for r in (ledger.update(*m) for m in msgs) if r is not None]
    assert len(done) == 200 and len(ledger.pending) == 0


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
    ledger.update(INIT, 9, 123, 1)
    for _ in range(3):
        ledger.rotate()
    assert ledger.expired == 1 and len(ledger.pending) == 0
