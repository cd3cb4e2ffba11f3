"""A topology's graph as text: Graphviz DOT and Mermaid (``squall visualize``, streamparse's ``sparse visualize``).

Pure functions of a topology's declarations, nothing runs: they read ``Topology.describe()``
(components with their kind, parallelism and inputs). Components are the nodes, spouts and bolts
shaped differently (DOT: spouts are ellipses, bolts boxes; Mermaid: spouts stadiums, bolts
rectangles), each labelled with its name and parallelism; every subscription is an edge from the
emitting component to the subscriber, labelled with the stream and the grouping
(``default · fields(word)``). The edges keep the declaration order, so the output is stable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The formats ``squall visualize`` writes (svg goes through Graphviz's ``dot``).
FORMATS = ("dot", "mermaid", "svg")


@dataclass(frozen=True, slots=True)
class Node:
    """A component: its name, ``spout`` or ``bolt``, its parallelism (tasks)."""

    name: str
    kind: str
    par: int

    @property
    def label(self) -> str:
        return f"{self.name}\n{self.kind}, par {self.par}"


@dataclass(frozen=True, slots=True)
class Edge:
    """A subscription: ``target`` consumes ``source``'s ``stream`` with ``grouping``."""

    source: str
    target: str
    stream: str
    grouping: str

    @property
    def label(self) -> str:
        return f"{self.stream} · {self.grouping}"


def grouping_label(grouping: Mapping[str, Any]) -> str:
    """``shuffle``, ``fields(word, n)``, ``custom(mod.Class)``: a grouping's ``to_dict()`` in one word."""
    kind = str(grouping.get("type", "?"))
    if grouping.get("fields"):
        return f"{kind}({', '.join(map(str, grouping['fields']))})"
    if grouping.get("class"):
        return f"{kind}({str(grouping['class']).rsplit('.', 1)[-1]})"
    return kind


def graph(description: Mapping[str, Any]) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of a ``Topology.describe()``: components in definition order, then their inputs."""
    components = description.get("components", [])
    nodes = [Node(str(c["name"]), str(c.get("type", "bolt")), int(c.get("par", 1))) for c in components]
    edges = [
        Edge(
            str(i["component"]), str(c["name"]), str(i.get("stream", "default")), grouping_label(i.get("grouping", {}))
        )
        for c in components
        for i in c.get("inputs", [])
    ]
    return nodes, edges


def _dot_quote(text: str) -> str:
    """A DOT double-quoted string; a newline becomes DOT's centred line break ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(description: Mapping[str, Any]) -> str:
    """Graphviz DOT (``dot -Tsvg`` draws it): left to right, spouts as ellipses, bolts as boxes."""
    nodes, edges = graph(description)
    name = str(description.get("name", "topology"))
    lines = [
        f"digraph {_dot_quote(name)} {{",
        "  rankdir=LR;",
        f"  label={_dot_quote(name)}; labelloc=t; fontname=Helvetica;",
        "  node [fontname=Helvetica, style=filled];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    for n in nodes:
        shape, fill = ("ellipse", "#cfe2ff") if n.kind == "spout" else ("box", "#fff3cd")
        lines.append(
            f"  {_dot_quote(n.name)} [label={_dot_quote(n.label)}, shape={shape}, fillcolor={_dot_quote(fill)}];"
        )
    for e in edges:
        lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)} [label={_dot_quote(e.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_UNSAFE = re.compile(r'["#<>]')


def _mermaid_text(text: str) -> str:
    """Text inside a Mermaid quoted label: quotes and markup characters as entity codes, newlines as <br/>."""
    escaped = _MERMAID_UNSAFE.sub(lambda m: f"#{ord(m.group())};", text)
    return escaped.replace("\n", "<br/>")


def to_mermaid(description: Mapping[str, Any]) -> str:
    """A Mermaid flowchart (GitHub renders it in Markdown): spouts as stadiums, bolts as rectangles.

    Node ids are ``c0``, ``c1``... (a component name may hold characters Mermaid's ids do not
    allow); the names are in the labels."""
    nodes, edges = graph(description)
    ids = {n.name: f"c{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for n in nodes:
        label = f'"{_mermaid_text(n.label)}"'
        lines.append(f"  {ids[n.name]}([{label}])" if n.kind == "spout" else f"  {ids[n.name]}[{label}]")
    for e in edges:
        source = ids.get(e.source, e.source)
        lines.append(f'  {source} -->|"{_mermaid_text(e.label)}"| {ids[e.target]}')
    lines.append("  classDef spout fill:#cfe2ff,stroke:#3d6fb4;")
    lines.append("  classDef bolt fill:#fff3cd,stroke:#b48a1e;")
    for kind in ("spout", "bolt"):
        members = [ids[n.name] for n in nodes if n.kind == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind};")
    return "\n".join(lines) + "\n"
