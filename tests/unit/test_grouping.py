"""Groupings: the stable hash, every picker, and that fields grouping agrees across processes."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall import Grouping
from squall.topology.grouping import (
    CYCLE,
    DIRECTED,
    FIXED,
    KEY,
    MANY,
    make_picker,
    stable_hash,
)
from squall.transport.wire import pack, unpack

# Computed once with mmh3 5.3 (murmur3 x86_32, seed 0); a change here moves keys between tasks
# for every running topology, so it must be deliberate.
KNOWN_HASHES = [
    ("dog", -1312749093),
    ("cat", 1751422759),
    ("", 0),
    ("héllo", -1130389400),
    (b"dog", -1312749093),
    (0, -764297089),
    (1, -1810453357),
    (-7, 1918780564),
    (2**70, 1610113535),
    (None, 1111242131),
    (True, 702450259),
    (1.5, -1796487960),
    ((1, "a"), 527456265),
    (["a", "b"], 837240275),
]


def indices(picker, values_list):
    return [picker.pick(v) for v in values_list]


def tasks_of(picker, values):
    return [picker.targets[i] for i in picker.pick(values)]


# -- stable_hash ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), KNOWN_HASHES, ids=[repr(v) for v, _ in KNOWN_HASHES])
def test_stable_hash_known_constants(value, expected):
    assert stable_hash(value) == expected


def test_stable_hash_list_and_tuple_alike():
    assert stable_hash((1, "a")) == stable_hash([1, "a"])
    assert stable_hash(("a", ("b", 2))) == stable_hash(["a", ["b", 2]])


@given(st.text())
def test_stable_hash_of_text_is_murmur3_of_utf8(s):
    import mmh3

    h = stable_hash(s)
    assert h == stable_hash(s) == stable_hash(s.encode("utf-8")) == mmh3.hash(s.encode("utf-8"))
    assert -(2**31) <= h < 2**31


@given(st.integers())
def test_stable_hash_of_int_is_hash_of_decimal_text(n):
    assert stable_hash(n) == stable_hash(str(n))


_wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: st.lists(children, max_size=4).map(tuple),
    max_leaves=8,
)


@given(_wire_values)
def test_stable_hash_survives_the_wire(value):
    """A value and what a remote worker decodes from it hash alike (so a bolt re-emitting it groups alike)."""
    assert stable_hash(unpack(pack(value))) == stable_hash(value)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize("value", [Colour.RED, Level.HIGH], ids=["StrEnum", "IntEnum"])
def test_stable_hash_of_str_and_int_subclasses_survives_the_wire(value):
    """msgpack sends a str (int) subclass as a plain str (int): the hash must not depend on which
    one a task holds, or the same key goes to different tasks depending on whether it crossed a
    process boundary (local channels pass objects as they are, remote ones decode plain types)."""
    plain = unpack(pack(value))
    assert type(plain) in (str, int) and plain == value
    assert stable_hash(value) == stable_hash(plain)
    picker = make_picker(Grouping.fields("k"), source_fields=["k"], targets=range(1, 17))
    assert picker.pick([value]) == picker.pick([plain])


# -- fields -----------------------------------------------------------------------------------


def test_fields_same_value_same_task():
    picker = make_picker(Grouping.fields("word"), source_fields=["n", "word"], targets=[10, 11, 12, 13])
    assert picker.mode == KEY
    for word in ["dog", "cat", "zebra", "", "ünïcode", None, 7, (1, 2)]:
        first = picker.pick([0, word])
        assert all(picker.pick([n, word]) == first for n in range(20))
    # An independently compiled picker (another emitting task) agrees.
    other = make_picker(Grouping.fields("word"), source_fields=["n", "word"], targets=[13, 12, 11, 10], source_task=9)
    words = [f"w{i}" for i in range(200)]
    assert indices(picker, [[0, w] for w in words]) == indices(other, [[1, w] for w in words])


def test_fields_index_is_hash_mod_n():
    picker = make_picker(Grouping.fields("word"), source_fields=["word"], targets=[1, 2, 3, 4, 5])
    for word in ["dog", "cat", 42, None]:
        assert picker.pick([word]) == [stable_hash(word) % 5]


def test_fields_spreads_distinct_words_evenly():
    picker = make_picker(Grouping.fields("word"), source_fields=["word"], targets=[1, 2, 3, 4])
    counts = Counter(picker.fn([f"word-{i}"]) for i in range(10_000))
    assert sorted(counts) == [0, 1, 2, 3]
    for c in counts.values():
        assert 2000 <= c <= 3000, counts


def test_fields_on_several_fields():
    picker = make_picker(Grouping.fields("a", "b"), source_fields=["a", "x", "b"], targets=[1, 2, 3, 4, 5, 6, 7])
    assert picker.mode == KEY
    for a, b in [("dog", 1), ("cat", 2), (None, "z")]:
        first = picker.pick([a, "ignored", b])
        assert picker.pick([a, "other", b]) == first
    counts = Counter(picker.fn([f"k{i}", 0, i % 3]) for i in range(7000))
    assert len(counts) == 7
    assert Grouping.fields(["a", "b"]) == Grouping.fields("a", "b")


def test_fields_with_no_fields_is_global():
    picker = make_picker(Grouping.fields(), source_fields=["word"], targets=[5, 3, 4])
    assert picker.mode == FIXED
    assert tasks_of(picker, ["anything"]) == [3]


# -- shuffle, none, global, all, direct -------------------------------------------------------


@pytest.mark.parametrize("grouping", [Grouping.SHUFFLE, Grouping.NONE, Grouping.LOCAL_OR_SHUFFLE])
@pytest.mark.parametrize("n", [1, 3, 4, 7])
def test_shuffle_gives_exactly_equal_counts(grouping, n):
    picker = make_picker(grouping, source_fields=["w"], targets=list(range(100, 100 + n)), source_task=3)
    assert picker.mode == CYCLE
    for rounds in (1, 2, 50):
        counts = Counter(picker.pick(["x"])[0] for _ in range(n * rounds))
        assert sorted(counts) == list(range(n))
        assert set(counts.values()) == {rounds}


def test_shuffle_order_differs_between_emitters():
    """Emitters start their cycles at different tasks, so a burst of emits does not pile on one task."""
    targets = list(range(1, 9))
    firsts = {
        make_picker(Grouping.SHUFFLE, source_fields=["w"], targets=targets, source_task=t).fn() for t in range(1, 30)
    }
    assert len(firsts) > 1


def test_global_picks_the_lowest_task():
    picker = make_picker(Grouping.GLOBAL, source_fields=["w"], targets=[7, 3, 5])
    assert picker.mode == FIXED
    assert picker.targets == [3, 5, 7]
    for w in ["a", "b", "c"]:
        assert tasks_of(picker, [w]) == [3]


def test_all_returns_every_task():
    picker = make_picker(Grouping.ALL, source_fields=["w"], targets=[9, 2, 4])
    assert picker.mode == MANY
    assert sorted(tasks_of(picker, ["x"])) == [2, 4, 9]
    assert picker.pick(["y"]) == [0, 1, 2]


def test_direct_is_chosen_by_the_emitter():
    picker = make_picker(Grouping.DIRECT, source_fields=["w"], targets=[2, 1])
    assert picker.mode == DIRECTED
    assert picker.targets == [1, 2]
    with pytest.raises(AssertionError):
        picker.pick(["x"])


# -- local or shuffle -------------------------------------------------------------------------


def test_local_or_shuffle_picks_only_local_tasks():
    targets = [1, 2, 3, 4, 5, 6]
    local = [2, 5]
    picker = make_picker(Grouping.LOCAL_OR_SHUFFLE, source_fields=["w"], targets=targets, local_targets=local)
    counts = Counter(tasks_of(picker, ["x"])[0] for _ in range(100))
    assert counts == {2: 50, 5: 50}


def test_local_or_shuffle_without_local_tasks_uses_all():
    targets = [1, 2, 3, 4]
    picker = make_picker(Grouping.LOCAL_OR_SHUFFLE, source_fields=["w"], targets=targets, local_targets=[])
    counts = Counter(tasks_of(picker, ["x"])[0] for _ in range(400))
    assert counts == {1: 100, 2: 100, 3: 100, 4: 100}


def test_local_or_shuffle_ignores_local_tasks_that_are_not_targets():
    """local_targets naming only other components' tasks means no local consumer: use all targets."""
    picker = make_picker(Grouping.LOCAL_OR_SHUFFLE, source_fields=["w"], targets=[1, 2], local_targets=[7, 8])
    counts = Counter(tasks_of(picker, ["x"])[0] for _ in range(10))
    assert counts == {1: 5, 2: 5}
    mixed = make_picker(Grouping.LOCAL_OR_SHUFFLE, source_fields=["w"], targets=[1, 2], local_targets=[2, 8])
    assert {tasks_of(mixed, ["x"])[0] for _ in range(10)} == {2}


# -- partial key ------------------------------------------------------------------------------


def test_partial_key_spreads_a_hot_key_over_exactly_two_tasks():
    picker = make_picker(Grouping.partial_key("word"), source_fields=["word", "n"], targets=[1, 2, 3, 4])
    assert picker.mode == KEY
    counts = Counter(tasks_of(picker, ["cat", n])[0] for n in range(1000))
    assert len(counts) == 2
    assert sorted(counts.values()) == [500, 500]  # the less loaded candidate wins, so they alternate


@pytest.mark.parametrize("key", ["hot", "dog", "cat", "x", "user-42", 7])
def test_partial_key_every_hot_key_gets_two_distinct_candidates(key):
    """The point of partial key grouping is splitting a hot key over two tasks; two candidates that
    hash to the same task (1 key in n) put the whole hot key on one task."""
    picker = make_picker(Grouping.partial_key("k"), source_fields=["k"], targets=[1, 2, 3, 4])
    counts = Counter(tasks_of(picker, [key])[0] for _ in range(100))
    assert len(counts) == 2, counts


def test_partial_key_many_keys_spread_over_all_tasks():
    picker = make_picker(Grouping.partial_key("k"), source_fields=["k"], targets=[1, 2, 3, 4])
    counts = Counter(tasks_of(picker, [f"key{i}"])[0] for i in range(8000))
    assert sorted(counts) == [1, 2, 3, 4]
    assert max(counts.values()) - min(counts.values()) <= 8000 * 0.05
    one = make_picker(Grouping.partial_key("k"), source_fields=["k"], targets=[9])
    assert {tasks_of(one, [f"key{i}"])[0] for i in range(50)} == {9}


# -- custom -----------------------------------------------------------------------------------


class EvenTasks:
    """Sends every tuple to the even task ids; records how it was prepared and called."""

    def __init__(self):
        self.prepared = None
        self.calls = []

    def prepare(self, context, stream, target_tasks):
        self.prepared = (context, stream, list(target_tasks))
        self.targets = target_tasks

    def choose_tasks(self, task_id, values):
        self.calls.append((task_id, tuple(values)))
        return [t for t in self.targets if t % 2 == 0]


def test_custom_grouping_is_prepared_and_used():
    obj = EvenTasks()
    grouping = Grouping.custom(obj)
    context = {"ctx": True}
    picker = make_picker(
        grouping, source_fields=["w"], targets=[4, 1, 2, 3], source_task=11, stream="s", context=context
    )
    assert obj.prepared == (context, "s", [1, 2, 3, 4])
    assert picker.mode == MANY
    assert tasks_of(picker, ["x"]) == [2, 4]
    assert picker.pick(["y"]) == [1, 3]
    assert obj.calls == [(11, ("x",)), (11, ("y",))]
    assert grouping.to_dict() == {"type": "custom", "class": f"{__name__}.EvenTasks"}


# -- declarations -----------------------------------------------------------------------------


def test_grouping_repr_eq_hash_to_dict():
    assert repr(Grouping.SHUFFLE) == "Grouping.SHUFFLE"
    assert repr(Grouping.LOCAL_OR_SHUFFLE) == "Grouping.LOCAL_OR_SHUFFLE"
    assert repr(Grouping.fields("a", "b")) == "Grouping.fields('a', 'b')"
    assert repr(Grouping.partial_key("a")) == "Grouping.partial_key('a')"
    assert Grouping.fields("a") == Grouping.fields("a") != Grouping.partial_key("a")
    assert hash(Grouping.fields("a")) == hash(Grouping.fields(("a",)))
    assert Grouping.ALL.to_dict() == {"type": "all"}
    assert Grouping.partial_key("a", "b").to_dict() == {"type": "partial_key", "fields": ["a", "b"]}


# -- the same task in every process -----------------------------------------------------------

_CHILD = r"""
import json
from squall import Grouping
from squall.topology.grouping import make_picker

def choices():
    values = [f"word-{i}-ß" for i in range(1000)]
    values += list(range(-50, 50)) + [2**40, None, True, False, 1.25, b"raw"]
    values += [("a", 1), ("b", (2, None)), ()]
    one = make_picker(Grouping.fields("v"), source_fields=["n", "v"], targets=[3, 5, 7, 11, 13, 17, 19])
    two = make_picker(Grouping.fields("n", "v"), source_fields=["n", "v"], targets=list(range(1, 12)))
    return [one.pick([0, v])[0] for v in values] + [two.pick([i % 5, v])[0] for i, v in enumerate(values)]
"""


def test_fields_grouping_agrees_across_processes():
    scope: dict = {}
    exec(_CHILD, scope)
    mine = scope["choices"]()
    assert len(set(mine)) > 5
    code = _CHILD + "\nprint(json.dumps(choices()))\n"
    procs = []
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert json.loads(out) == mine
