"""squall visualize's graph builders (topology/graph.py): DOT and Mermaid from a topology's declarations."""

import os
import re
import subprocess
import sys
from pathlib import Path

from squall import Bolt, Grouping, Spout, Stream, Topology
from squall.topology import graph
from squall.topology.loader import load_topology

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = ROOT / "examples" / "wordcount" / "topology.py"


class Numbers(Spout):
    outputs = ["n"]

    def next_tuple(self):
        self.emit([1])


class Split(Bolt):
    outputs = [Stream(["n"], name="even"), Stream(["n"], name="odd"), Stream(["n"], name="routed", direct=True)]

    def process(self, tup):
        pass


class Sink(Bolt):
    outputs = ["n"]

    def process(self, tup):
        pass


class MultiStream(Topology):
    config = {"topology.name": 'multi "streams"'}
    numbers = Numbers.spec(par=2)
    split = Split.spec(inputs={numbers: Grouping.fields("n")}, par=3)
    evens = Sink.spec(inputs={split["even"]: Grouping.GLOBAL})
    odds = Sink.spec(inputs={split["odd"]: Grouping.SHUFFLE, numbers: Grouping.ALL}, par=2)
    routed = Sink.spec(inputs=[split["routed"]])


def test_wordcount_nodes_and_edges():
    nodes, edges = graph.graph(load_topology(str(WORDCOUNT)).describe())
    assert nodes == [graph.Node("word_spout", "spout", 1), graph.Node("count_bolt", "bolt", 2)]
    assert edges == [graph.Edge("word_spout", "count_bolt", "default", "fields(word)")]


def test_wordcount_dot():
    dot = graph.to_dot(load_topology(str(WORDCOUNT)).describe())
    assert dot.startswith('digraph "WordCount" {\n  rankdir=LR;')
    assert '"word_spout" [label="word_spout\\nspout, par 1", shape=ellipse' in dot
    assert '"count_bolt" [label="count_bolt\\nbolt, par 2", shape=box' in dot
    assert '"word_spout" -> "count_bolt" [label="default · fields(word)"];' in dot
    assert dot.endswith("}\n")


def test_wordcount_mermaid():
    mermaid = graph.to_mermaid(load_topology(str(WORDCOUNT)).describe())
    assert mermaid.splitlines()[:4] == [
        "flowchart LR",
        '  c0(["word_spout<br/>spout, par 1"])',
        '  c1["count_bolt<br/>bolt, par 2"]',
        '  c0 -->|"default · fields(word)"| c1',
    ]
    assert "  class c0 spout;" in mermaid and "  class c1 bolt;" in mermaid


def test_multi_stream_edges_one_per_subscription():
    _, edges = graph.graph(MultiStream.describe())
    assert [(e.source, e.target, e.label) for e in edges] == [
        ("numbers", "split", "default · fields(n)"),
        ("split", "evens", "even · global"),
        ("split", "odds", "odd · shuffle"),
        ("numbers", "odds", "default · all"),
        ("split", "routed", "routed · direct"),
    ]


def test_multi_stream_dot_and_mermaid():
    desc = MultiStream.describe()
    desc["name"] = MultiStream.config["topology.name"]
    dot = graph.to_dot(desc)
    assert dot.startswith('digraph "multi \\"streams\\"" {')  # quotes escaped
    assert dot.count(" -> ") == 5
    assert '"split" -> "odds" [label="odd · shuffle"];' in dot
    assert '"numbers" [label="numbers\\nspout, par 2", shape=ellipse' in dot
    mermaid = graph.to_mermaid(desc)
    assert '  c1 -->|"odd · shuffle"| c3' in mermaid
    assert '  c0 -->|"default · all"| c3' in mermaid
    assert "  class c1,c2,c3,c4 bolt;" in mermaid
    # every node id is one Mermaid accepts, whatever the component's name
    assert all(re.fullmatch(r"c\d+", i) for i in re.findall(r"^  (\S+?)[\[(]", mermaid, re.M))


def test_grouping_labels():
    assert graph.grouping_label({"type": "shuffle"}) == "shuffle"
    assert graph.grouping_label({"type": "partial_key", "fields": ["a", "b"]}) == "partial_key(a, b)"
    assert graph.grouping_label({"type": "custom", "class": "mod.sub.ModGrouping"}) == "custom(ModGrouping)"


def test_mermaid_escapes_markup_in_names():
    desc = {"name": "t", "components": [{"name": 'a"<b>#', "type": "spout", "par": 1, "inputs": []}]}
    assert '  c0(["a#34;#60;b#62;#35;<br/>spout, par 1"])' in graph.to_mermaid(desc)


def test_graphviz_accepts_the_dot():  # Graphviz's dot comes from scripts/test.sh
    done = subprocess.run(
        ["dot", "-Tsvg"], input=graph.to_dot(MultiStream.describe()), capture_output=True, text=True, check=True
    )
    assert "<svg" in done.stdout and ">odd · shuffle<" in done.stdout


def test_visualize_command_writes_each_format(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "squall.cli", "visualize", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
        )

    done = run(WORDCOUNT, "--format", "mermaid")
    assert done.returncode == 0, done.stderr
    assert done.stdout == graph.to_mermaid(load_topology(str(WORDCOUNT)).describe())
    out = tmp_path / "g.dot"
    assert run(WORDCOUNT, "-o", out).returncode == 0
    assert out.read_text().startswith('digraph "WordCount"')
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('nope')\n")
    done = run(bad)
    assert done.returncode == 2 and "nope" in done.stderr


def test_svg_without_graphviz_names_the_package(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # the venv's bin: no Graphviz there
    done = subprocess.run(
        [sys.executable, "-m", "squall.cli", "visualize", str(WORDCOUNT), "-o", str(tmp_path / "g.svg")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "apt-get install graphviz" in done.stderr and "--format dot" in done.stderr
    assert not (tmp_path / "g.svg").exists()
