"""Tuples as bolts see them, Stream declarations, and the public API surface."""

from __future__ import annotations

import pytest

from squall import Stream, Tuple
from squall.runtime.tuples import tuples_maker
from squall.topology.stream import DEFAULT_STREAM, normalize_outputs
from squall.topology.tuple import (
    SYSTEM_COMPONENT,
    TICK_STREAM,
    make_tuple,
    tick_tuple,
    values_class,
)

# -- Tuple ------------------------------------------------------------------------------------


def test_tuple_fields():
    tup = Tuple("id-1", "word_spout", "default", 3, ("dog",))
    assert Tuple._fields == ("id", "component", "stream", "task", "values")
    assert (tup.id, tup.component, tup.stream, tup.task, tup.values) == ("id-1", "word_spout", "default", 3, ("dog",))
    assert tup == ("id-1", "word_spout", "default", 3, ("dog",))
    assert tup[4] == ("dog",)
    id_, component, stream, task, values = tup
    assert (id_, component, stream, task, values) == tuple(tup)
    assert not tup.is_tick


def test_tuple_is_immutable():
    tup = make_tuple(["dog"])
    with pytest.raises(AttributeError):
        tup.task = 5
    with pytest.raises(AttributeError):
        tup.extra = 1


def test_tuples_maker_builds_named_values():
    make = tuples_maker("word_spout", "default", 7, ("word", "count"))
    tups = list(make([("dog", 1), ["cat", 2]]))
    assert len(tups) == 2
    for tup, (word, count) in zip(tups, [("dog", 1), ("cat", 2)], strict=True):
        assert type(tup) is Tuple
        assert (tup.id, tup.component, tup.stream, tup.task) == (None, "word_spout", "default", 7)
        assert tup.values.word == tup.values[0] == word
        assert tup.values.count == tup.values[1] == count
        assert tup.values == (word, count)
        assert type(tup.values).__name__ == "WordSpoutDefaultTuple"
        assert type(tup.values)._fields == ("word", "count")
        assert not tup.is_tick
    assert list(make([])) == []


def test_tuples_maker_is_lazy_and_reusable():
    make = tuples_maker("src", "s", 1, ("n",))
    first = make([(1,), (2,)])
    second = make([(3,)])
    assert [t.values.n for t in second] == [3]
    assert [t.values.n for t in first] == [1, 2]


def test_make_tuple_with_fields():
    tup = make_tuple(["dog", 3], component="split-bolt", stream="words", task=4, fields=["word", "count"], id=99)
    assert (tup.id, tup.component, tup.stream, tup.task) == (99, "split-bolt", "words", 4)
    assert tup.values.word == tup.values[0] == "dog"
    assert tup.values.count == tup.values[1] == 3
    assert tup.values[-1] == 3
    assert tup.values._asdict() == {"word": "dog", "count": 3}
    assert type(tup.values).__name__ == "SplitBoltWordsTuple"
    assert repr(tup) == "Tuple(id=99, component='split-bolt', stream='words', task=4, values=('dog', 3))"


def test_make_tuple_defaults():
    tup = make_tuple(("a", "b"))
    assert (tup.id, tup.component, tup.stream, tup.task) == (None, "test", "default", 0)
    assert tup.values.f0 == "a" and tup.values.f1 == "b"
    assert tuple(tup.values) == ("a", "b")


def test_values_class_is_cached_per_stream():
    assert values_class("c", "s", ("a",)) is values_class("c", "s", ("a",))
    assert values_class("c", "s", ("a",)) is not values_class("c", "t", ("a",))


def test_values_with_non_identifier_fields_are_positional():
    tup = make_tuple([1, 2], fields=["not valid", "class"])
    assert tup.values[0] == 1 and tup.values[1] == 2
    assert tuple(tup.values) == (1, 2)
    odd = make_tuple([1], component="a.b", stream="c")
    assert type(odd.values).__name__ == "ValuesTuple"
    assert odd.values.f0 == 1


def test_tick_tuple():
    tick = tick_tuple(5)
    assert tick.is_tick
    assert (tick.id, tick.component, tick.stream, tick.task, tick.values) == (None, "__system", "__tick", -1, (5,))
    assert (SYSTEM_COMPONENT, TICK_STREAM) == ("__system", "__tick")
    assert make_tuple([1], component="__system", stream="__tick").is_tick
    assert not make_tuple([1], component="__system", stream="default").is_tick
    assert not make_tuple([1], component="spout", stream="__tick").is_tick


# -- Stream -----------------------------------------------------------------------------------


def test_stream_declaration():
    s = Stream("word")
    assert (s.fields, s.name, s.direct) == (("word",), DEFAULT_STREAM, False)
    d = Stream(["a", "b"], name="evens", direct=1)
    assert (d.fields, d.name, d.direct) == (("a", "b"), "evens", True)
    assert repr(d) == "Stream(['a', 'b'], name='evens', direct=True)"
    assert repr(s) == "Stream(['word'], name='default')"
    assert Stream(("a", "b"), name="evens", direct=True) == d
    assert hash(Stream(("a", "b"), name="evens", direct=True)) == hash(d)
    assert Stream(["a"]) != Stream(["a"], direct=True)
    assert Stream() == Stream([], name="default")


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (None, {}),
        ([], {}),
        ("word", {"default": Stream(["word"])}),
        (["word", "count"], {"default": Stream(["word", "count"])}),
        (("word",), {"default": Stream(["word"])}),
        (Stream(["n"], name="odd"), {"odd": Stream(["n"], name="odd")}),
        (
            [Stream(["n"], name="even"), Stream(["n", "m"], name="odd", direct=True)],
            {"even": Stream(["n"], name="even"), "odd": Stream(["n", "m"], name="odd", direct=True)},
        ),
    ],
)
def test_normalize_outputs(outputs, expected):
    streams, problems = normalize_outputs(outputs)
    assert problems == []
    assert streams == expected
    assert list(streams) == list(expected)


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        (5, "outputs must be a list of field names or Stream objects, got 5"),
        ({"word": 1}, "outputs must be a list of field names or Stream objects, got {'word': 1}"),
        (["word", 3, None], "outputs must hold only field names (str) or Stream objects, got [3, None]"),
        (
            ["word", Stream(["n"], name="s")],
            "outputs mixes field names and Stream objects; use Stream(...) for every stream",
        ),
        ([Stream(["a"], name="s"), Stream(["b"], name="s")], "stream 's' is declared twice in outputs"),
        (["word", "word"], "stream 'default' declares a field twice: ['word', 'word']"),
        ([Stream(["a", "b", "a"], name="t")], "stream 't' declares a field twice: ['a', 'b', 'a']"),
    ],
)
def test_normalize_outputs_problems(outputs, problem):
    _, problems = normalize_outputs(outputs)
    assert problems == [problem]


def test_normalize_outputs_reports_every_problem():
    _, problems = normalize_outputs(["w", "w", 1, Stream(["a"], name="x")])
    assert problems == [
        "outputs must hold only field names (str) or Stream objects, got [1]",
        "outputs mixes field names and Stream objects; use Stream(...) for every stream",
        "stream 'default' declares a field twice: ['w', 'w']",
    ]


# -- public API -------------------------------------------------------------------------------
