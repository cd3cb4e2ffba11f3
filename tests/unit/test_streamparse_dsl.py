"""streamparse's DSL verdicts, kept: what streamparse refuses Squall refuses (with a message naming the
file), what it accepts Squall runs. The cases are the shapes of streamparse's own DSL tests.

Each case is the body of a topology file: streamparse's verdict is taken by executing it, Squall's by
loading the same file with ``squall.compat.loader.load_topology`` (what ``squall run`` does).
"""

from __future__ import annotations

import textwrap

import pytest

from squall.compat.loader import load_topology
from squall.errors import InvalidTopologyError, SquallError, TopologyLoadError
from squall.topology.dsl import Topology as SquallTopology

HEADER = """\
from io import BytesIO
from streamparse import Bolt, Grouping, JavaBolt, JavaSpout, ShellBolt, Spout, Stream, Topology
from streamparse.storm import Component

class WordSpout(Spout):
    outputs = ["word"]

class WordCountBolt(Bolt):
    outputs = ["word", "count"]

class MultiStreamWordCountBolt(Bolt):
    outputs = [Stream(fields=["word", "count"]), Stream(fields=["all_word_count"], name="sum")]

class DatabaseDumperBolt(Bolt):
    outputs = []

class PointlessSpout(Spout):
    outputs = []

class MyComponent(Component):
    outputs = []

class BadSpout(Spout):
    outputs = ["foo", 2]

class StrSpout(Spout):
    outputs = "foo"
"""

#: (case, topology class body, streamparse accepts it)
CASES = [
    (
        "basic",
        "word_spout = WordSpout.spec(par=2)\n"
        "word_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields('word')}, par=8)",
        True,
    ),
    (
        "inputs_as_list",
        "word_spout = WordSpout.spec(par=2)\nword_bolt = WordCountBolt.spec(inputs=[word_spout], par=8)",
        True,
    ),
    (
        "multi_stream_bolt",
        "word_spout = WordSpout.spec(par=2)\n"
        "word_bolt = MultiStreamWordCountBolt.spec(inputs=[word_spout], par=8)\n"
        "db_dumper_bolt = DatabaseDumperBolt.spec(par=4, inputs=[word_bolt['sum'], word_bolt['default']])",
        True,
    ),
    (
        "long_chain",
        "word_spout = WordSpout.spec()\nword_bolt1 = WordCountBolt.spec(inputs=[word_spout])\n"
        + "\n".join(f"word_bolt{i} = WordCountBolt.spec(inputs=[word_bolt{i - 1}])" for i in range(2, 13)),
        True,
    ),
    (
        "many_spouts",
        "\n".join(f"word_spout{i} = WordSpout.spec()" for i in range(1, 6))
        + "\nword_bolt = WordCountBolt.spec(inputs=[word_spout1, word_spout2, word_spout3, word_spout4, word_spout5])",
        True,
    ),
    (
        "every_grouping",
        "word_spout = WordSpout.spec()\n"
        "a = WordCountBolt.spec(inputs={word_spout: Grouping.SHUFFLE})\n"
        "b = WordCountBolt.spec(inputs={word_spout: Grouping.GLOBAL})\n"
        "c = WordCountBolt.spec(inputs={word_spout: Grouping.ALL})\n"
        "d = WordCountBolt.spec(inputs={word_spout: Grouping.NONE})\n"
        "e = WordCountBolt.spec(inputs={word_spout: Grouping.LOCAL_OR_SHUFFLE})\n"
        "f = WordCountBolt.spec(inputs={word_spout: Grouping.fields(['word'])})\n"
        "g = WordCountBolt.spec(inputs={word_spout: Grouping.custom_object("
        "'org.apache.storm.grouping.PartialKeyGrouping', [])})\n"
        "h = WordCountBolt.spec(inputs={a: Grouping.fields('word', 'count')}, par=3)",
        True,
    ),
    ("class_config", "config = {'topology.max.spout.pending': 10}\nword_spout = WordSpout.spec()", True),
    (
        "invalid_group_field",
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields('foo')})",
        False,
    ),
    (
        "empty_group_field",
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields()})",
        False,
    ),
    ("duplicate_name", "word = WordSpout.spec()\nword_ = WordCountBolt.spec(name='word', inputs=[word])", False),
    ("no_input_bolt", "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[])", False),
    ("no_outputs_spout", "word_spout = PointlessSpout.spec()", False),
    ("base_component", "word_spout = MyComponent.spec()", False),
    (
        "component_instead_of_spec",
        "word_spout = WordSpout(input_stream=BytesIO(), output_stream=BytesIO(), rdb_signal=None)",
        False,
    ),
    ("no_spout", "pass", False),
    ("zero_par", "word_spout = WordSpout.spec(par=0)", False),
    ("negative_par", "word_spout = WordSpout.spec(par=-1)", False),
    ("float_par", "word_spout = WordSpout.spec(par=5.4)", False),
    ("dict_par_bad_key", "word_spout = WordSpout.spec(par={1000: 5, 'beta': 1})", False),
    ("dict_par_bad_value", "word_spout = WordSpout.spec(par={'prod': 5.5, 'beta': 1})", False),
    (
        "input_dict_key_str",
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs={'word_spout': Grouping.fields('word')})",
        False,
    ),
    (
        "input_dict_val_str",
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs={word_spout: 'word'})",
        False,
    ),
    ("inputs_str", "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs='word_spout')", False),
    (
        "config_str",
        'word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[word_spout], config=\'{"foo": "bar"}\')',
        False,
    ),
    (
        "topology_config_str",
        'config = \'{"foo": "bar"}\'\n'
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[word_spout])",
        False,
    ),
    ("outputs_int", "bad_spout = BadSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[bad_spout])", False),
    ("outputs_str", "bad_spout = StrSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[bad_spout])", False),
    (
        "unknown_stream",
        "word_spout = WordSpout.spec()\nword_bolt = WordCountBolt.spec(inputs=[word_spout['word']])",
        False,
    ),
    (
        "shell_bolt_no_command",
        "word_spout = WordSpout.spec(par=2)\nword_bolt = ShellBolt.spec(script='count_words.pl', "
        "inputs={word_spout: Grouping.fields('word')}, par=8, outputs=['word', 'count'])",
        False,
    ),
    (
        "java_bolt_invalid_args",
        "word_spout = WordSpout.spec(par=2)\nword_bolt = JavaBolt.spec(full_class_name='com.bar.Count', "
        "args_list=[{'foo': 'bar'}, 1], inputs={word_spout: Grouping.fields('word')}, outputs=['word', 'count'])",
        False,
    ),
]


def _file(tmp_path, name, body):
    path = tmp_path / name / "topologies" / f"{name}.py"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + "\n\nclass WordCount(Topology):\n" + textwrap.indent(body, "    ") + "\n")
    return path


def streamparse_accepts(path) -> bool:
    try:
        exec(compile(path.read_text(), str(path), "exec"), {"__name__": "streamparse_verdict"})
    except (ValueError, TypeError, KeyError):
        return False
    return True


@pytest.mark.parametrize(("name", "body", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_same_verdict_as_streamparse(tmp_path, name, body, accepted):
    path = _file(tmp_path, name, body)
    assert streamparse_accepts(path) is accepted  # the case states streamparse's verdict rightly
    if accepted:
        cls = load_topology(str(path))
        assert issubclass(cls, SquallTopology)
        assert cls.__name__ == "WordCount"
    else:
        with pytest.raises(SquallError) as info:
            load_topology(str(path))
        message = str(info.value)
        assert isinstance(info.value, TopologyLoadError)
        assert str(path) in message  # names the file ...
        assert "WordCount" in message or "line" in message  # ... and where in it


def test_refusal_message_is_streamparse_s_own(tmp_path):
    path = _file(tmp_path, "dup", "word = WordSpout.spec()\nword_ = WordCountBolt.spec(name='word', inputs=[word])")
    with pytest.raises(
        TopologyLoadError,
        match=r"streamparse refuses the topology in .*dup\.py, line \d+ \(class WordCount\): "
        r"ValueError: Duplicate component name: word",
    ):
        load_topology(str(path))


def test_spec_is_read_whole(tmp_path):
    """Names, kinds, par, streams (named, direct), every grouping, component and topology config."""
    body = (
        "config = {'topology.max.spout.pending': 7}\n"
        "word_spout = WordSpout.spec(par=3, config={'a': 1})\n"
        "counter = MultiStreamWordCountBolt.spec(name='count-bolt', par=2,\n"
        "                                        inputs={word_spout: Grouping.fields('word')})\n"
        "dumper = DatabaseDumperBolt.spec(inputs={counter['sum']: Grouping.GLOBAL, counter: Grouping.ALL})\n"
        "pk = DatabaseDumperBolt.spec(inputs={word_spout: Grouping.custom_object("
        "'org.apache.storm.grouping.PartialKeyGrouping', ['word'])}, par=2)\n"
    )
    cls = load_topology(str(_file(tmp_path, "whole", body)))
    d = {c["name"]: c for c in cls.describe()["components"]}
    assert list(d) == ["word_spout", "count-bolt", "dumper", "pk"]
    assert cls.config == {"topology.max.spout.pending": 7}
    assert d["word_spout"]["type"] == "spout" and d["word_spout"]["par"] == 3 and d["word_spout"]["config"] == {"a": 1}
    assert d["count-bolt"]["outputs"] == {
        "default": {"fields": ["word", "count"], "direct": False},
        "sum": {"fields": ["all_word_count"], "direct": False},
    }
    assert d["count-bolt"]["inputs"] == [
        {"component": "word_spout", "stream": "default", "grouping": {"type": "fields", "fields": ["word"]}}
    ]
    assert {(i["stream"], i["grouping"]["type"]) for i in d["dumper"]["inputs"]} == {
        ("sum", "global"),
        ("default", "all"),
    }
    assert d["pk"]["inputs"][0]["grouping"] == {"type": "partial_key", "fields": ["word"]}
    assert d["count-bolt"]["class"].endswith("MultiStreamWordCountBolt")
    assert load_topology(str(tmp_path / "whole" / "topologies" / "whole.py")) is cls  # once per class


def test_direct_stream_list_input_is_direct_grouping(tmp_path):
    body = "word_spout = DirectSpout.spec()\nsink = WordCountBolt.spec(inputs=[word_spout], par=2)\n"
    path = _file(tmp_path, "direct", body)
    path.write_text(
        path.read_text().replace(
            "class WordCount(Topology):",
            "class DirectSpout(Spout):\n    outputs = [Stream(['word'], direct=True)]\n\n\nclass WordCount(Topology):",
        )
    )
    d = {c["name"]: c for c in load_topology(str(path)).describe()["components"]}
    assert d["sink"]["inputs"][0]["grouping"] == {"type": "direct"}


def test_par_per_environment(tmp_path, monkeypatch):
    body = "word_spout = WordSpout.spec(par={'prod': 5, 'beta': 1})"
    path = _file(tmp_path, "envs", body)
    assert streamparse_accepts(path)
    monkeypatch.delenv("SQUALL_ENV", raising=False)
    with pytest.raises(InvalidTopologyError, match=r"word_spout.*par is per environment.*SQUALL_ENV"):
        load_topology(str(path))
    for env, par in (("prod", 5), ("beta", 1)):
        monkeypatch.setenv("SQUALL_ENV", env)
        other = _file(tmp_path, f"envs_{env}", body)
        assert load_topology(str(other)).components["word_spout"].par == par


def test_java_components_refused_naming_them(tmp_path):
    body = (
        "kafka = JavaSpout.spec(full_class_name='org.apache.storm.kafka.spout.KafkaSpout',\n"
        "                       args_list=[], outputs=['msg'])\n"
        "word_spout = WordSpout.spec()\n"
        "sink = JavaBolt.spec(full_class_name='com.bar.Count', args_list=[1], inputs=[kafka])\n"
    )
    path = _file(tmp_path, "java", body)
    assert streamparse_accepts(path)
    with pytest.raises(InvalidTopologyError) as info:
        load_topology(str(path))
    text = str(info.value)
    assert "component 'kafka': is a JavaSpout (org.apache.storm.kafka.spout.KafkaSpout)" in text
    assert "component 'sink': is a JavaBolt (com.bar.Count)" in text
    assert "no JVM" in text and "Python" in text


def test_custom_java_grouping_refused(tmp_path):
    body = (
        "word_spout = WordSpout.spec()\n"
        "sink = WordCountBolt.spec(inputs={word_spout: Grouping.custom_object('com.foo.MyGrouping', [])})\n"
    )
    with pytest.raises(InvalidTopologyError, match=r"custom Java grouping \(com\.foo\.MyGrouping\)"):
        load_topology(str(_file(tmp_path, "cg", body)))


def test_squall_s_own_checks_apply(tmp_path):
    """What streamparse lets through and no runtime could run: a direct stream read with a non-direct grouping."""
    body = "word_spout = DirectSpout.spec()\nsink = WordCountBolt.spec(inputs={word_spout: Grouping.SHUFFLE})\n"
    path = _file(tmp_path, "squallcheck", body)
    path.write_text(
        path.read_text().replace(
            "class WordCount(Topology):",
            "class DirectSpout(Spout):\n    outputs = [Stream(['word'], direct=True)]\n\n\nclass WordCount(Topology):",
        )
    )
    assert streamparse_accepts(path)
    with pytest.raises(InvalidTopologyError, match=r"sink.*direct"):
        load_topology(str(path))


def test_import_error_names_the_file(tmp_path):
    path = tmp_path / "p" / "topologies" / "broken.py"
    path.parent.mkdir(parents=True)
    path.write_text("from streamparse import Topology\nfrom bolts.nosuch import NoBolt\n")
    with pytest.raises(TopologyLoadError) as info:
        load_topology(str(path))
    text = str(info.value)
    assert str(path) in text and "line 2" in text and "No module named 'bolts" in text


def test_shell_bolt_becomes_squall_multilang_spec(tmp_path):
    """streamparse's ShellBolt.spec (its test_perl_bolt shape): Squall's ShellBolt, the script looked
    for in the project's src/; a script found nowhere is refused naming the component."""
    body = (
        "word_spout = WordSpout.spec(par=2)\n"
        "word_bolt = ShellBolt.spec(command='perl', script='count_words.pl -v', "
        "inputs={word_spout: Grouping.fields('word')}, par=8, outputs=['word', 'count'])\n"
    )
    path = _file(tmp_path, "perl", body)
    assert streamparse_accepts(path)
    with pytest.raises(InvalidTopologyError, match=r"component 'word_bolt'.*count_words\.pl.*not found"):
        load_topology(str(path))
    src = tmp_path / "perl2" / "src"
    other = _file(tmp_path, "perl2", body)
    src.mkdir()
    (src / "count_words.pl").write_text("# perl\n")
    comp = load_topology(str(other)).components["word_bolt"]
    assert comp.kind == "bolt" and comp.par == 8
    assert comp.cls.argv() == ["perl", str(src / "count_words.pl"), "-v"]
    assert comp.inputs[0].grouping.kind == "fields"


def test_component_harness_takes_streamparse_classes(tmp_path):
    """streamparse components unit-tested alone, without Storm: squall.testing.component_harness."""
    from squall.testing import component_harness

    path = _file(
        tmp_path,
        # not "harness": the loader leaves the file's folder on sys.path, where it would shadow
        # tests/connectors/harness.py for the worker processes of later tests in the session
        "streamparse_component_harness",
        "word_spout = WordSpout.spec()\ncounter = MultiStreamWordCountBolt.spec(inputs=[word_spout])",
    )
    path.write_text(
        path.read_text()
        + textwrap.dedent(
            """
        class Counting(MultiStreamWordCountBolt):
            def initialize(self, conf, ctx):
                self.n = 0
                self.seen_conf = self.storm_conf is conf

            def process(self, tup):
                self.n += 1
                self.emit([tup.values[0], self.n])
                self.emit([self.n], stream="sum")
        """
        )
    )
    topo = load_topology(str(path))
    module = __import__("sys").modules[topo.__module__]
    bolt = component_harness(module.Counting)
    bolt.process(["dog"])
    bolt.process(["cat"])
    assert bolt.emitted == {"default": [("dog", 1), ("cat", 2)], "sum": [(1,), (2,)]}
    assert len(bolt.acked) == 2 and bolt.instance.seen_conf
    bolt = component_harness(module.WordCount, "counter")
    assert bolt.definition.kind == "bolt"


OVERRIDES = """
class TaggingSpout(Spout):
    outputs = ["word"]

    def initialize(self, conf, ctx):
        self.words = iter(["dog", "cat"])
        self.count = 0

    def emit(self, tup, tup_id=None, stream=None, direct_task=None, need_task_ids=False):
        self.count += 1
        return super().emit([tup[0].upper()], tup_id=tup_id, stream=stream)

    def next_tuple(self):
        self.emit([next(self.words)])


class TaggingBolt(Bolt):
    outputs = ["word"]

    def initialize(self, conf, ctx):
        self.count = 0

    def emit(self, tup, **kwargs):
        self.count += 1
        return super().emit(["<" + tup[0] + ">"], **kwargs)

    def process(self, tup):
        self.emit([tup.values[0]])
"""


def test_a_component_s_own_emit_override_is_kept(tmp_path):
    """A user class that overrides emit (and calls super().emit) keeps it: the runtime's emit is underneath."""
    from squall.testing import complete_topology, component_harness, read_tuples

    body = "spout = TaggingSpout.spec()\nbolt = TaggingBolt.spec(inputs=[spout])"
    path = _file(tmp_path, "overrides", body)
    path.write_text(
        path.read_text().replace("class WordCount(Topology):", OVERRIDES + "\n\nclass WordCount(Topology):")
    )
    topo = load_topology(str(path))
    res = complete_topology(topo, strict=True)
    assert read_tuples(res, "spout") == [("DOG",), ("CAT",)]
    assert read_tuples(res, "bolt") == [("<DOG>",), ("<CAT>",)]
    bolt = component_harness(topo, "bolt")
    bolt.process(["x"])
    assert bolt.emitted["default"] == [("<x>",)] and bolt.instance.count == 1


def test_loading_imports_no_streamparse_cli_dependencies():
    """Reading a streamparse topology never imports streamparse.util (requests, fabric, pkg_resources)."""
    import subprocess
    import sys
    from pathlib import Path

    topo = Path(__file__).resolve().parents[1] / "streamparse_projects" / "wordcount" / "topologies" / "wordcount.py"
    code = (
        "import sys\nfrom squall.compat.loader import load_topology\n"
        f"load_topology({str(topo)!r})\n"
        "print(sorted(m for m in ('streamparse.util', 'requests', 'fabric', 'pkg_resources') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
