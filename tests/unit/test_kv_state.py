"""KeyValueState: a key is changed when its value differs from the last checkpoint's, whatever dict
method made it so (and no read does); take_changes encodes them and makes the state the new base;
restored brings a backend's bytes back with nothing changed."""

from __future__ import annotations

import pytest

from squall.state import KeyValueState
from squall.state.kv import decode_key, decode_value, decoded, encode


def fresh() -> KeyValueState:
    state = KeyValueState.restored({encode("a"): encode(1), encode("b"): encode(2), encode(("t", 1)): encode(3)})
    assert state.changed == set()
    return state


@pytest.mark.parametrize(
    ("mutate", "changed"),
    [
        (lambda s: s.__setitem__("a", 10), {"a"}),
        (lambda s: s.__setitem__("new", 1), {"new"}),
        (lambda s: s.__delitem__("a"), {"a"}),
        (lambda s: s.pop("a"), {"a"}),
        (lambda s: s.pop("missing", None), set()),
        (lambda s: s.popitem(), {("t", 1)}),  # the last inserted key
        (lambda s: s.setdefault("a", 99), set()),  # present: unchanged
        (lambda s: s.setdefault("new", 99), {"new"}),
        (lambda s: s.update({"a": 0}, b=0), {"a", "b"}),
        (lambda s: s.update([("c", 0)]), {"c"}),
        (lambda s: s.clear(), {"a", "b", ("t", 1)}),
        (lambda s: s.__ior__({"z": 0}), {"z"}),
        (lambda s: (s.get("a"), s["b"], "a" in s, list(s.items()), s.copy(), s | {"q": 1}), set()),  # reads
    ],
    ids=[
        "set",
        "set-new",
        "del",
        "pop",
        "pop-missing",
        "popitem",
        "setdefault-present",
        "setdefault-new",
        "update",
        "update-pairs",
        "clear",
        "ior",
        "reads",
    ],
)
def test_each_mutating_method_marks_the_keys_it_changes(mutate, changed):
    state = fresh()
    mutate(state)
    assert state.changed == changed


def test_failed_mutations_mark_nothing():
    state = fresh()
    with pytest.raises(KeyError):
        del state["missing"]
    with pytest.raises(KeyError):
        state.pop("missing")
    state.clear()
    state.take_changes()  # the empty state is the base now
    with pytest.raises(KeyError):
        state.popitem()
    assert state.changed == set()


def test_augmented_assignment_marks_the_key():
    state = fresh()
    state["a"] += 5
    state |= {"b": 7}
    assert isinstance(state, KeyValueState)
    assert state.changed == {"a", "b"} and state == {"a": 6, "b": 7, ("t", 1): 3}


def test_a_new_state_marks_the_keys_it_starts_with():
    assert KeyValueState({"x": 1}, y=2).changed == {"x", "y"}


def test_take_changes_encodes_values_marks_deletions_and_forgets():
    state = fresh()
    state["a"] = [1, "two"]
    del state["b"]
    state["gone"] = 1
    del state["gone"]  # set then deleted between two checkpoints: never in one, nothing to write
    state["none"] = None  # a None value is a value, not a deletion
    state[("t", 1)] = 3  # written again with the value it had: no change
    changes = state.take_changes()
    assert changes == {
        encode("a"): encode([1, "two"]),
        encode("b"): None,
        encode("none"): encode(None),
    }
    assert state.changed == set() and state.take_changes() == {}
    state["a"] = 1
    assert state.take_changes() == {encode("a"): encode(1)}


def test_tuple_keys_come_back_as_tuples_and_tuple_values_as_lists():
    state = KeyValueState()
    state[("word", ("nested", 2))] = ("a", 1)
    state[b"raw"] = {"k": (1, 2)}
    state[3] = 1.5
    stored = {k: v for k, v in state.take_changes().items() if v is not None}
    restored = KeyValueState.restored(stored)
    assert restored == {("word", ("nested", 2)): ["a", 1], b"raw": {"k": [1, 2]}, 3: 1.5}
    assert decoded(stored) == restored
    assert decode_key(encode(("a", 1))) == ("a", 1) and decode_value(encode(("a", 1))) == ["a", 1]


def test_restored_is_a_fresh_state_whose_later_changes_are_tracked():
    restored = KeyValueState.restored({encode("k"): encode(1)})
    assert restored == {"k": 1} and restored.changed == set()
    restored["k"] = 2
    assert restored.take_changes() == {encode("k"): encode(2)}


def test_a_value_changed_in_place_is_written_at_the_next_checkpoint():
    """Lists, dicts, sets can change without an assignment: their encodings are compared."""
    state = KeyValueState.restored({encode("l"): encode([1]), encode("d"): encode({"k": 1})})
    assert state.changed == set()
    state["l"].append(2)
    assert state.changed == {"l"}
    assert state.take_changes() == {encode("l"): encode([1, 2])}
    assert state.take_changes() == {}  # unchanged since: nothing written again
    state["d"]["k"] += 1
    assert state.take_changes() == {encode("d"): encode({"k": 2})}
