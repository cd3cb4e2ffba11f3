"""Topology validation: every problem is refused when the class is defined, naming the component
and the fix; well-formed topologies resolve to the expected ComponentDefs."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from squall import (
    Bolt,
    Grouping,
    InvalidTopologyError,
    Problem,
    Spout,
    Stream,
    StreamId,
    Topology,
)
from squall.topology.spec import ComponentSpec, InputDef

ROOT = Path(__file__).resolve().parents[2]


class WordSpout(Spout):
    outputs = ["word"]


class NamedStreamSpout(Spout):
    outputs = [Stream(["word"], name="words"), Stream(["n"], name="numbers")]


class DirectSpout(Spout):
    outputs = [Stream(["n"], name="direct", direct=True), Stream(["n"], name="plain")]


class DefaultDirectSpout(Spout):
    outputs = [Stream(["n"], direct=True)]


class CountBolt(Bolt):
    outputs = ["word", "count"]


class SinkBolt(Bolt):
    pass


def line(component: str, message: str, fix: str) -> str:
    """A regex matching one problem line exactly: component, message and fix."""
    return re.escape(f"component '{component}': {message} -> {fix}")


# -- each problem, alone ----------------------------------------------------------------------


def test_unknown_input_component_did_you_mean():
    with pytest.raises(
        InvalidTopologyError,
        match=line("count_bolt", "unknown input component 'word_spot'", "did you mean 'word_spout'?"),
    ) as exc:

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs=["word_spot"])

    assert exc.value.topology == "T"
    assert exc.value.problems == [
        Problem("count_bolt", "unknown input component 'word_spot'", "did you mean 'word_spout'?")
    ]


def test_unknown_input_component_without_close_name_lists_choices():
    with pytest.raises(
        InvalidTopologyError,
        match=line("count_bolt", "unknown input component 'zzz'", "use one of: word_spout, count_bolt"),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={"zzz": Grouping.SHUFFLE})


def test_input_spec_not_in_topology():
    stray = WordSpout.spec(name="elsewhere")
    with pytest.raises(
        InvalidTopologyError,
        match=r"component 'count_bolt': input 'elsewhere' \(WordSpout\) "
        r"is not part of this topology -> declare that spec",
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs=[stray])


def test_unknown_input_stream_did_you_mean():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt",
            "input 'src' has no stream 'wrods' (it declares: ['words', 'numbers'])",
            "did you mean 'words'?",
        ),
    ):

        class T(Topology):
            src = NamedStreamSpout.spec()
            count_bolt = CountBolt.spec(inputs={src["wrods"]: Grouping.SHUFFLE})


def test_default_stream_of_component_with_only_named_streams():
    with pytest.raises(
        InvalidTopologyError,
        match=r"component 'count_bolt': input 'src' has no stream 'default'.*"
        r"-> subscribe to one of \['words', 'numbers'\]",
    ):

        class T(Topology):
            src = NamedStreamSpout.spec()
            count_bolt = CountBolt.spec(inputs=[src])


def test_fields_grouping_on_undeclared_field_did_you_mean():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt",
            "Grouping.fields('wrd') on input 'word_spout' stream 'default', which has no field 'wrd' "
            "(it declares ['word'])",
            "did you mean 'word'?",
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("wrd")})


def test_fields_grouping_on_unrelated_field_says_how_to_fix():
    with pytest.raises(
        InvalidTopologyError,
        match=re.escape("which has no field 'colour' (it declares ['word']) -> group on one of the declared fields"),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("colour")})


def test_partial_key_on_undeclared_field():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt",
            "Grouping.partial_key('wrd') on input 'word_spout' stream 'default', which has no field 'wrd' "
            "(it declares ['word'])",
            "did you mean 'word'?",
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.partial_key("wrd")})


@pytest.mark.parametrize("par", [0, -1, "2", 1.5, True])
def test_bad_parallelism(par):
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt", f"par={par!r} is invalid", "set par to a positive integer (the number of parallel tasks)"
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs=[word_spout], par=par)


def test_bad_parallelism_on_spout():
    with pytest.raises(InvalidTopologyError, match=r"component 'word_spout': par=0 is invalid -> set par"):

        class T(Topology):
            word_spout = WordSpout.spec(par=0)
            count_bolt = CountBolt.spec(inputs=[word_spout])


def test_two_components_with_the_same_name():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "x",
            "two components are named 'x' (attributes 'a' and 'b')",
            "give one of them another name with spec(name=...)",
        ),
    ):

        class T(Topology):
            a = WordSpout.spec(name="x")
            b = CountBolt.spec(name="x", inputs=[a])


def test_spec_name_colliding_with_an_attribute_name():
    with pytest.raises(InvalidTopologyError, match=r"two components are named 'word_spout'"):

        class T(Topology):
            word_spout = WordSpout.spec()
            other = WordSpout.spec(name="word_spout")
            count_bolt = CountBolt.spec(inputs=[word_spout])


def test_the_same_spec_under_two_attributes_is_refused():
    """``b = a`` places one spec twice: one of the two components must not vanish silently."""
    with pytest.raises(InvalidTopologyError, match=r"'a'.*'b'|'b'.*'a'"):

        class T(Topology):
            a = WordSpout.spec()
            b = a
            count_bolt = CountBolt.spec(inputs=[a])


def test_spout_with_inputs():
    with pytest.raises(
        InvalidTopologyError, match=line("second", "a spout cannot have inputs", "remove inputs=..., or make it a Bolt")
    ):

        class T(Topology):
            first = WordSpout.spec()
            second = WordSpout.spec(inputs=[first])


def test_bolt_without_inputs():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt",
            "a bolt needs at least one input",
            "pass inputs=[some_spout] (or a dict with groupings) to spec()",
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec()


def test_bolt_with_empty_input_dict():
    with pytest.raises(InvalidTopologyError, match=r"component 'count_bolt': a bolt needs at least one input"):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={})


def test_direct_grouping_on_non_direct_stream():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "sink",
            "Grouping.DIRECT on input 'src' stream 'plain', which is not declared direct",
            "declare Stream(['n'], name='plain', direct=True) in src.outputs, or use another grouping",
        ),
    ):

        class T(Topology):
            src = DirectSpout.spec()
            sink = SinkBolt.spec(inputs={src["plain"]: Grouping.DIRECT})


def test_direct_stream_subscribed_with_shuffle():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "sink",
            "input 'src' stream 'direct' is direct but subscribed with Grouping.SHUFFLE",
            "subscribe to a direct stream with Grouping.DIRECT",
        ),
    ):

        class T(Topology):
            src = DirectSpout.spec()
            sink = SinkBolt.spec(inputs={src["direct"]: Grouping.SHUFFLE})


def test_direct_stream_subscribed_with_fields():
    with pytest.raises(
        InvalidTopologyError,
        match=r"stream 'direct' is direct but subscribed with "
        r"Grouping.fields\('n'\)",
    ):

        class T(Topology):
            src = DirectSpout.spec()
            sink = SinkBolt.spec(inputs={src["direct"]: Grouping.fields("n")})


def test_component_class_that_is_not_a_spout_or_bolt():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "thing",
            "<class 'object'> is not a Spout or Bolt subclass",
            "derive the class from squall.Spout or squall.Bolt",
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            thing = ComponentSpec(object)


def test_plain_class_placed_with_component_spec():
    class NotAComponent:
        outputs = ["x"]

    with pytest.raises(
        InvalidTopologyError,
        match=r"component 'thing': .*NotAComponent'> is not a Spout or Bolt "
        r"subclass -> derive the class from squall.Spout",
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            thing = ComponentSpec(NotAComponent)


def test_spout_class_instead_of_spec():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "word_spout",
            f"class attribute word_spout = {WordSpout!r} is a component, not a spec",
            "write word_spout = WordSpout.spec(...)",
        ),
    ):

        class T(Topology):
            word_spout = WordSpout
            other_spout = WordSpout.spec()


def test_bolt_instance_instead_of_spec():
    with pytest.raises(
        InvalidTopologyError,
        match=r"component 'count_bolt': class attribute count_bolt = .* "
        r"is a component, not a spec -> write count_bolt = CountBolt\.spec",
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt()


def test_topology_with_no_spout():
    with pytest.raises(
        InvalidTopologyError, match=line("T", "the topology has no spout", "add a Spout: word_spout = WordSpout.spec()")
    ):

        class T(Topology):
            a = CountBolt.spec(inputs=["b"])
            b = CountBolt.spec(inputs=["a"])


def test_topology_with_no_components():
    with pytest.raises(
        InvalidTopologyError,
        match=line("Empty", "the topology has no components", "declare them as class attributes: x = MySpout.spec()"),
    ):

        class Empty(Topology):
            config = {"topology.workers": 1}


def test_reserved_names():
    with pytest.raises(InvalidTopologyError, match=r"component '__acker': names starting with '__' are reserved"):

        class T(Topology):
            word_spout = WordSpout.spec(name="__acker")


def test_subscribing_twice_to_one_stream():
    with pytest.raises(
        InvalidTopologyError,
        match=line(
            "count_bolt", "subscribes twice to 'word_spout' stream 'default'", "keep one subscription per stream"
        ),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.SHUFFLE, "word_spout": Grouping.ALL})


def test_grouping_that_is_not_a_grouping():
    with pytest.raises(
        InvalidTopologyError,
        match=r"component 'count_bolt': input 'word_spout' stream 'default': "
        r"'shuffle' is not a Grouping -> use Grouping.SHUFFLE",
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: "shuffle"})


def test_input_that_is_not_a_component():
    with pytest.raises(InvalidTopologyError, match=r"component 'count_bolt': input 42 is not a component spec"):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs=[42])


def test_custom_grouping_without_the_methods():
    with pytest.raises(InvalidTopologyError, match=r"component 'count_bolt': custom grouping .* lacks prepare"):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.custom(object())})


def test_partial_key_without_fields():
    with pytest.raises(InvalidTopologyError, match=r"Grouping.partial_key\(\) needs at least one field"):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs={word_spout: Grouping.partial_key()})


@pytest.mark.parametrize("config", [[1], "abc", 5])
def test_component_config_not_a_dict(config):
    with pytest.raises(
        InvalidTopologyError,
        match=re.escape(f"component 'count_bolt': config={config!r} is not a dict -> pass config={{'key': value}}"),
    ):

        class T(Topology):
            word_spout = WordSpout.spec()
            count_bolt = CountBolt.spec(inputs=[word_spout], config=config)


@pytest.mark.parametrize("stream", [Stream([1, 2]), Stream(["a"], name=None)], ids=["int-fields", "none-name"])
def test_stream_with_non_string_names_is_refused(stream):
    """A stream whose field names or name are not strings is a problem to report, not a crash."""

    class OddSpout(Spout):
        outputs = [stream]

    with pytest.raises(InvalidTopologyError, match=r"component 'odd'"):

        class T(Topology):
            odd = OddSpout.spec()
            count_bolt = CountBolt.spec(inputs={odd: Grouping.fields("x")})


def test_bad_outputs_are_reported_with_the_component():
    class BadOutputs(Spout):
        outputs = ["a", Stream(["b"], name="s")]

    with pytest.raises(InvalidTopologyError, match=r"component 'src': outputs mixes field names and Stream objects"):

        class T(Topology):
            src = BadOutputs.spec()


def test_several_problems_are_reported_together():
    with pytest.raises(InvalidTopologyError) as exc:

        class Broken(Topology):
            word_spout = WordSpout.spec(par=0)
            count_bolt = CountBolt.spec(inputs={"word_spot": Grouping.SHUFFLE})
            fields_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("wrd")})
            lonely_bolt = SinkBolt.spec()
            src = DirectSpout.spec()
            direct_bolt = SinkBolt.spec(inputs={src["direct"]: Grouping.SHUFFLE})
            stray = WordSpout

    err = exc.value
    text = str(err)
    expected = [
        "component 'stray': class attribute stray",
        "component 'word_spout': par=0 is invalid",
        "component 'count_bolt': unknown input component 'word_spot' -> did you mean 'word_spout'?",
        "component 'fields_bolt': Grouping.fields('wrd')",
        "component 'lonely_bolt': a bolt needs at least one input",
        "component 'direct_bolt': input 'src' stream 'direct' is direct but subscribed with Grouping.SHUFFLE",
    ]
    assert len(err.problems) == len(expected)
    assert text.startswith(f"topology 'Broken' is invalid ({len(expected)} problem(s)):\n")
    for fragment in expected:
        assert fragment in text
    assert [str(p) in text for p in err.problems] == [True] * len(expected)
    assert {p.component for p in err.problems} == {
        "stray",
        "word_spout",
        "count_bolt",
        "fields_bolt",
        "lonely_bolt",
        "direct_bolt",
    }
    assert all(p.fix for p in err.problems)


def test_problem_str():
    assert str(Problem("c", "is wrong", "fix it")) == "component 'c': is wrong -> fix it"
    assert str(Problem("c", "is wrong")) == "component 'c': is wrong"


def test_invalid_topology_error_is_a_topology_error():
    from squall import SquallError, TopologyError

    assert issubclass(InvalidTopologyError, TopologyError)
    assert issubclass(TopologyError, SquallError)


# -- what valid topologies resolve to ---------------------------------------------------------


def test_list_inputs_default_to_shuffle_and_direct():
    class T(Topology):
        word_spout = WordSpout.spec()
        src = DirectSpout.spec()
        dd = DefaultDirectSpout.spec()
        count_bolt = CountBolt.spec(inputs=[word_spout])
        direct_bolt = SinkBolt.spec(inputs=[src["direct"], src["plain"]])
        default_direct_bolt = SinkBolt.spec(inputs=[dd])
        single_bolt = SinkBolt.spec(inputs=word_spout)

    assert T.components["count_bolt"].inputs == (InputDef("word_spout", "default", Grouping.SHUFFLE),)
    assert T.components["direct_bolt"].inputs == (
        InputDef("src", "direct", Grouping.DIRECT),
        InputDef("src", "plain", Grouping.SHUFFLE),
    )
    assert T.components["default_direct_bolt"].inputs == (InputDef("dd", "default", Grouping.DIRECT),)
    assert T.components["single_bolt"].inputs == (InputDef("word_spout", "default", Grouping.SHUFFLE),)


def test_spec_getitem_selects_a_named_stream():
    class T(Topology):
        src = NamedStreamSpout.spec()
        words_bolt = CountBolt.spec(inputs={src["words"]: Grouping.fields("word")})
        numbers_bolt = SinkBolt.spec(inputs={src["numbers"]: Grouping.ALL, src["words"]: Grouping.GLOBAL})

    assert T.components["words_bolt"].inputs == (InputDef("src", "words", Grouping.fields("word")),)
    assert T.components["numbers_bolt"].inputs == (
        InputDef("src", "numbers", Grouping.ALL),
        InputDef("src", "words", Grouping.GLOBAL),
    )
    sid = T.src["words"]
    assert isinstance(sid, StreamId) and sid.component is T.src and sid.stream == "words"
    assert repr(sid) == "NamedStreamSpout['words']"


def test_string_component_names_as_inputs():
    class T(Topology):
        a = CountBolt.spec(inputs={"word_spout": Grouping.fields("word")})
        b = SinkBolt.spec(inputs=["a"])
        c = SinkBolt.spec(inputs=[StreamId("src", "numbers")])
        d = SinkBolt.spec(inputs={StreamId("renamed"): Grouping.ALL})
        word_spout = WordSpout.spec()
        src = NamedStreamSpout.spec()
        other = WordSpout.spec(name="renamed")

    assert T.components["a"].inputs == (InputDef("word_spout", "default", Grouping.fields("word")),)
    assert T.components["b"].inputs == (InputDef("a", "default", Grouping.SHUFFLE),)
    assert T.components["c"].inputs == (InputDef("src", "numbers", Grouping.SHUFFLE),)
    assert T.components["d"].inputs == (InputDef("renamed", "default", Grouping.ALL),)
    assert list(T.components) == ["a", "b", "c", "d", "word_spout", "src", "renamed"]


def test_resolved_defs():
    class T(Topology):
        config = {"topology.workers": 2}
        word_spout = WordSpout.spec(par=3, config={"k": 1})
        count_bolt = CountBolt.spec(name="counter", inputs={word_spout: Grouping.fields("word")}, par=2)

    spout, bolt = T.components.values()
    assert (spout.name, spout.kind, spout.par, spout.config, spout.cls) == (
        "word_spout",
        "spout",
        3,
        {"k": 1},
        WordSpout,
    )
    assert spout.outputs == {"default": Stream(["word"])}
    assert spout.inputs == ()
    assert (bolt.name, bolt.kind, bolt.par, bolt.config) == ("counter", "bolt", 2, {})
    assert bolt.outputs == {"default": Stream(["word", "count"])}
    assert bolt.class_ref == f"{__name__}.CountBolt"
    assert T.config == {"topology.workers": 2}


def test_class_level_par_and_config_defaults():
    class WideBolt(Bolt):
        outputs = ["x"]
        par = 4
        config = {"a": 1}

    class T(Topology):
        word_spout = WordSpout.spec()
        wide = WideBolt.spec(inputs=[word_spout])
        narrow = WideBolt.spec(inputs=[word_spout], par=1, config={"a": 2})

    assert (T.components["wide"].par, T.components["wide"].config) == (4, {"a": 1})
    assert (T.components["narrow"].par, T.components["narrow"].config) == (1, {"a": 2})


def test_describe():
    class Custom:
        def prepare(self, context, stream, targets):
            pass

        def choose_tasks(self, task_id, values):
            return []

    class T(Topology):
        config = {"topology.max.spout.pending": 10}
        word_spout = WordSpout.spec()
        src = DirectSpout.spec(par=2)
        count_bolt = CountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2, config={"x": 1})
        sink = SinkBolt.spec(inputs={src["direct"]: Grouping.DIRECT, count_bolt: Grouping.custom(Custom())})

    d = T.describe()
    assert json.loads(json.dumps(d)) == d
    assert d == {
        "name": "T",
        "config": {"topology.max.spout.pending": 10},
        "components": [
            {
                "name": "word_spout",
                "class": f"{__name__}.WordSpout",
                "type": "spout",
                "par": 1,
                "config": {},
                "concurrency": 1,
                "mode": "sync",
                "outputs": {"default": {"fields": ["word"], "direct": False}},
                "inputs": [],
            },
            {
                "name": "src",
                "class": f"{__name__}.DirectSpout",
                "type": "spout",
                "par": 2,
                "config": {},
                "concurrency": 1,
                "mode": "sync",
                "outputs": {"direct": {"fields": ["n"], "direct": True}, "plain": {"fields": ["n"], "direct": False}},
                "inputs": [],
            },
            {
                "name": "count_bolt",
                "class": f"{__name__}.CountBolt",
                "type": "bolt",
                "par": 2,
                "config": {"x": 1},
                "concurrency": 1,
                "mode": "sync",
                "outputs": {"default": {"fields": ["word", "count"], "direct": False}},
                "inputs": [
                    {"component": "word_spout", "stream": "default", "grouping": {"type": "fields", "fields": ["word"]}}
                ],
            },
            {
                "name": "sink",
                "class": f"{__name__}.SinkBolt",
                "type": "bolt",
                "par": 1,
                "config": {},
                "concurrency": 1,
                "mode": "sync",
                "outputs": {},
                "inputs": [
                    {"component": "src", "stream": "direct", "grouping": {"type": "direct"}},
                    {
                        "component": "count_bolt",
                        "stream": "default",
                        "grouping": {"type": "custom", "class": f"{__name__}.test_describe.<locals>.Custom"},
                    },
                ],
            },
        ],
    }


def test_inheritance_of_specs_and_config():
    class Base(Topology):
        config = {"topology.workers": 2, "topology.debug": True}
        word_spout = WordSpout.spec()

    class Child(Base):
        config = {"topology.workers": 4}
        count_bolt = CountBolt.spec(inputs={Base.word_spout: Grouping.fields("word")})

    class GrandChild(Child):
        sink = SinkBolt.spec(inputs=["count_bolt"])

    class Same(Base):
        pass

    assert list(Base.components) == ["word_spout"]
    assert list(Child.components) == ["word_spout", "count_bolt"]
    assert list(GrandChild.components) == ["word_spout", "count_bolt", "sink"]
    assert list(Same.components) == ["word_spout"]
    assert Child.components["count_bolt"].inputs == (InputDef("word_spout", "default", Grouping.fields("word")),)
    assert Base.config == {"topology.workers": 2, "topology.debug": True}
    assert Child.config == {"topology.workers": 4, "topology.debug": True}
    assert GrandChild.config == Child.config
    assert Child.word_spout is Base.word_spout


def test_subclass_can_replace_an_inherited_spec():
    class Base(Topology):
        word_spout = WordSpout.spec()
        count_bolt = CountBolt.spec(inputs=["word_spout"])

    class Wider(Base):
        word_spout = WordSpout.spec(par=3)

    assert list(Wider.components) == ["word_spout", "count_bolt"]
    assert Wider.components["word_spout"].par == 3
    assert Base.components["word_spout"].par == 1


def test_inherited_problem_is_refused_in_subclass():
    class Base(Topology):
        word_spout = WordSpout.spec()

    with pytest.raises(
        InvalidTopologyError,
        match=r"topology 'Child' is invalid.*\n.*component 'count_bolt': "
        r"unknown input component 'word_spot'",
    ):

        class Child(Base):
            count_bolt = CountBolt.spec(inputs=["word_spot"])


def test_wordcount_example_validates():
    path = ROOT / "examples" / "wordcount" / "topology.py"
    spec = importlib.util.spec_from_file_location("squall_example_wordcount", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wc = module.WordCount
    assert list(wc.components) == ["word_spout", "count_bolt"]
    assert wc.components["count_bolt"].par == 2
    assert wc.components["count_bolt"].inputs == (InputDef("word_spout", "default", Grouping.fields("word")),)
    assert wc.describe()["components"][1]["inputs"][0]["grouping"] == {"type": "fields", "fields": ["word"]}
