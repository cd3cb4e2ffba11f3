"""squall.testing catches a user's mistakes instead of hiding them: values that cannot cross
processes, misspelled or malformed mocked sources, errors during the run; and unit-tests one
component alone (``component_harness``)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest

from squall import BatchingBolt, Bolt, EmitError, Grouping, ReliableSpout, Spout, Stream, Topology
from squall.errors import SquallError, UnknownComponentError, UserCodeError
from squall.local.inprocess import run_in_process
from squall.testing import ComponentHarness, complete_topology, component_harness, make_tuple, read_tuples

ROOT = Path(__file__).resolve().parents[2]


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / name / "topology.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wordcount = load_example("wordcount")


class Words(Spout):
    outputs = ["word"]

    def next_tuple(self):
        raise StopIteration


class Tags(Bolt):
    """Emits a set: fine inside one process, impossible to send to another worker."""

    outputs = ["word", "tags"]

    def process(self, tup):
        self.emit([tup.values.word, {"noun", tup.values.word}])


class SetTopo(Topology):
    words = Words.spec()
    tags = Tags.spec(inputs=[words])


class Opaque:
    pass


class Wrap(Bolt):
    outputs = ["word", "obj"]

    def process(self, tup):
        self.emit([tup.values.word, Opaque()])


class ObjTopo(Topology):
    words = Words.spec()
    wrap = Wrap.spec(inputs=[words])


# -- values that cannot cross processes ---------------------------------------------------------------


def test_a_set_fails_at_its_emit_in_complete_topology_naming_component_stream_and_value(capsys):
    result = complete_topology(SetTopo, {"words": [["dog"], ["cat"]]})
    assert read_tuples(result, "tags") == []
    first, _ = result.errors
    assert first["component"] == "tags" and first["where"] == "process"
    assert "EmitError: component 'tags' (task" in first["error"]
    assert "on stream 'default'" in first["error"]
    assert "field 'tags' = {" in first["error"] and "(set)" in first["error"]
    err = capsys.readouterr().err
    assert "squall.testing: 2 error(s) raised by user code" in err and "(and 1 more like it)" in err
    with pytest.raises(UserCodeError, match=r"field 'obj' = <.*Opaque object.*> \(Opaque\)") as info:
        complete_topology(ObjTopo, {"words": [["dog"]]}, strict=True)
    assert len(info.value.errors) == 1


def test_the_check_is_storms_key_and_can_be_turned_off():
    result = complete_topology(SetTopo, {"words": [["dog"]]}, conf={"topology.testing.always.try.serialize": False})
    assert read_tuples(result, "tags") == [("dog", {"noun", "dog"})] and not result.errors
    # A plain run does not pay for the check unless asked (Storm's default: false).
    assert not run_in_process(SetTopo).errors


# -- mocked sources ----------------------------------------------------------------------------------


def test_a_misspelled_mocked_source_is_refused_with_a_did_you_mean():
    with pytest.raises(
        SquallError, match=r"mocked_sources: 'wrods' is not a component of the topology: did you mean 'words'\?"
    ):
        complete_topology(SetTopo, {"wrods": [["dog"]]}, timeout=5)
    with pytest.raises(SquallError, match=r"'tags' is a bolt, not a spout .*its spouts: words"):
        complete_topology(SetTopo, {"tags": [["dog"]]}, timeout=5)


def test_malformed_mocked_values_are_refused_before_the_run():
    with pytest.raises(SquallError) as info:
        complete_topology(SetTopo, {"words": ["dog", "cat"]}, timeout=5)
    assert str(info.value) == (
        "mocked_sources['words'][0] is 'dog' (str): each item is one tuple's values, "
        "a list with one value per field ['word'], e.g. ['dog']"
    )
    with pytest.raises(SquallError) as info:
        complete_topology(SetTopo, {"words": [["dog"], ["cat", 2]]}, timeout=5)
    assert str(info.value) == (
        "mocked_sources['words'][1] = ['cat', 2] has 2 value(s), but spout 'words' declares 1 field(s) ['word']: "
        "give one value per field"
    )
    with pytest.raises(SquallError, match=r"mocked_sources\['words'\] must be a list of tuples' values"):
        complete_topology(SetTopo, {"words": "dog"}, timeout=5)
    with pytest.raises(SquallError, match=r"mocked_sources\['words'\]\[0\] is 7 \(int\)"):
        complete_topology(SetTopo, {"words": [7]}, timeout=5)


class Flaky(Bolt):
    outputs = ["word"]

    def process(self, tup):
        if tup.values.word == "bad":
            raise ValueError("cannot count 'bad'")
        self.emit([tup.values.word])


class FlakyTopo(Topology):
    words = Words.spec()
    flaky = Flaky.spec(inputs=[words])


def test_user_errors_are_printed_and_returned_by_default_and_raised_with_strict(capsys):
    result = complete_topology(FlakyTopo, {"words": [["ok"], ["bad"], ["fine"]]})
    assert read_tuples(result, "flaky") == [("ok",), ("fine",)]
    assert [e["error"] for e in result.errors] == ["ValueError: cannot count 'bad'"]
    err = capsys.readouterr().err
    assert "1 error(s) raised by user code during the run" in err
    assert "flaky:" in err and "in process: ValueError: cannot count 'bad'" in err
    assert "raise ValueError(\"cannot count 'bad'\")" in err  # the traceback, the user's frames
    with pytest.raises(UserCodeError, match="in process: ValueError: cannot count 'bad'") as info:
        complete_topology(FlakyTopo, {"words": [["bad"]]}, strict=True)
    assert info.value.errors[0]["component"] == "flaky"
    assert complete_topology(FlakyTopo, {"words": [["ok"]]}, strict=True).errors == []


# -- one component alone -----------------------------------------------------------------------------


def test_the_readme_word_count_bolt_alone():
    bolt = component_harness(wordcount.WordCountBolt, fields=["word"])
    bolt.process(["dog"])
    bolt.process(make_tuple(["cat"], fields=["word"]))
    bolt.process(["dog"])
    assert bolt.emitted == {"default": [("dog", 10), ("cat", 1), ("dog", 20)]}
    assert [t.values.word for t in bolt.acked] == ["dog", "cat", "dog"] and bolt.failed == []
    assert bolt.instance.counter == {"dog": 20, "cat": 1}
    assert isinstance(bolt.logger, logging.Logger) and bolt.instance.logger is bolt.logger
    assert bolt.emits[0].anchors == (bolt.acked[0],)  # auto-anchored to the tuple in process()
    assert bolt.context.component_tasks(bolt.name) == [bolt.task]


def test_a_bolt_of_a_topology_gets_its_config_inputs_and_context():
    bolt = component_harness(wordcount.WordCount, "count_bolt", conf={"myapp.flag": 1}, task_index=1)
    assert bolt.conf["myapp.flag"] == 1 and bolt.conf["topology.name"] == "WordCount"
    assert bolt.context["source->stream->fields"] == {"word_spout": {"default": ["word"]}}
    assert bolt.context.component_tasks("count_bolt") == [1, 2] and bolt.task == 2
    bolt.process(["zebra"])
    (tup,) = bolt.acked
    assert tup.component == "word_spout" and tup.values.word == "zebra"  # built from the input's fields
    with pytest.raises(SquallError, match="did you mean 'count_bolt'"):
        component_harness(wordcount.WordCount, "cuont_bolt")
    with pytest.raises(UnknownComponentError):
        bolt.context.component_tasks("nope")


def test_a_spout_alone():
    spout = component_harness(wordcount.WordSpout)
    for _ in range(5):
        assert spout.next_tuple()
    assert spout.emitted["default"] == [("dog",), ("cat",), ("zebra",), ("elephant",), ("dog",)]
    assert component_harness(Words).next_tuple() is False  # exhausted


class Reliable(ReliableSpout):
    outputs = ["n"]

    def initialize(self, conf, context):
        self.it = iter(range(2))

    def next_tuple(self):
        n = next(self.it)
        self.emit([n], tup_id=n)


def test_a_reliable_spout_replays_what_fails():
    spout = component_harness(Reliable)
    spout.next_tuple()
    spout.next_tuple()
    spout.ack(0)
    spout.fail(1)  # as in a run, the replay waits for the spout's next turn
    assert [(e.values, e.tup_id) for e in spout.emits] == [((0,), 0), ((1,), 1)]
    assert spout.next_tuple()
    assert [(e.values, e.tup_id) for e in spout.emits] == [((0,), 0), ((1,), 1), ((1,), 1)]
    assert list(spout.instance.unacked) == [1]


class Strict(Bolt):
    outputs = [Stream(["a", "b"]), Stream(["x"], name="side")]

    def process(self, tup):
        kind = tup.values[0]
        if kind == "arity":
            self.emit([1])
        elif kind == "stream":
            self.emit([1], stream="sdie")
        elif kind == "set":
            self.emit([1, {2}])
        else:
            self.emit([kind], stream="side", anchors=[])


def test_emits_are_checked_as_in_a_topology_and_a_raise_fails_the_tuple():
    bolt = component_harness(Strict)
    with pytest.raises(EmitError, match=r"emitted 1 value\(s\) \[1\] on stream 'default', which declares 2 field"):
        bolt.process(["arity"])
    with pytest.raises(EmitError, match=r"stream 'sdie', which it does not declare"):
        bolt.process(["stream"])
    with pytest.raises(EmitError, match=r"field 'b' = \{2\} \(set\)"):
        bolt.process(["set"])
    assert len(bolt.failed) == 3 and bolt.acked == [] and bolt.emits == []
    bolt.process(["ok"])
    assert bolt.emitted == {"side": [("ok",)]} and bolt.emits[0].anchors == ()


class Summer(BatchingBolt):
    outputs = ["total"]
    config = {"topology.tick.tuple.freq.secs": 1}

    def process_batch(self, key, tups):
        self.emit([sum(t.values[0] for t in tups)])


def test_a_batching_bolt_alone_flushes_on_tick():
    bolt = component_harness(Summer)
    for n in (1, 2, 3):
        bolt.process([n])
    assert bolt.emitted == {} and bolt.acked == []
    bolt.tick()
    assert bolt.emitted == {"default": [(6,)]} and len(bolt.acked) == 3
    assert bolt.emits[0].anchors == tuple(bolt.acked)
    assert bolt.conf["topology.tick.tuple.freq.secs"] == 1


def test_a_harness_is_what_the_module_documents():
    assert isinstance(component_harness(wordcount.WordCountBolt), ComponentHarness)
    with pytest.raises(SquallError, match="needs a Spout or Bolt"):
        component_harness(object)


class NeedsDb(Bolt):
    outputs = ["x"]

    def initialize(self, conf, context):
        self.url = conf["myapp.db"]
        self.me = context["componentid"]


def test_initialize_gets_conf_and_context():
    bolt = component_harness(NeedsDb, "db_bolt", conf={"myapp.db": "sqlite://"})
    assert bolt.instance.url == "sqlite://" and bolt.instance.me == "db_bolt"
    ctx = {"componentid": "given"}
    assert component_harness(NeedsDb, conf={"myapp.db": "x"}, context=ctx).instance.me == "given"


def test_topology_built_from_the_harness_grouping_is_untouched():
    # the Topology class used for a harness is only read: it still runs as a whole
    result = complete_topology(wordcount.WordCount, {"word_spout": [["dog"], ["cat"], ["dog"]]})
    assert sorted(read_tuples(result, "count_bolt")) == [("cat", 1), ("dog", 10), ("dog", 20)]
    assert Grouping.fields("word") == wordcount.WordCount.components["count_bolt"].inputs[0].grouping
