"""``squall quickstart NAME``: a new project, laid out as ``sparse quickstart`` lays out streamparse's.

    NAME/
        config.json            topology_specs, and one environment ("local") with Storm options
        topologies/NAME.py     a word count topology (``from squall import ...``)
        src/spouts/words.py    its spout
        src/bolts/wordcount.py its bolt
        tests/test_NAME.py     its tests, with squall.testing
        pytest.ini             src/ on sys.path for pytest, as `squall run` puts it
        README.md, .gitignore

``cd NAME && squall run NAME`` (or ``squall run`` alone) runs it; ``pytest`` there tests it.
The files are the templates in ``template/`` (package data), with ``{{project_name}}``,
``{{topology_class}}`` and ``{{test_name}}`` replaced. Unlike streamparse's there is no
``project.clj``, ``fabfile.py`` nor ``virtualenvs/``: nothing is deployed to a Storm cluster.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path

from squall.errors import SquallError

#: what a project name must look like: it names a folder, a file under topologies/ and a test module
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
#: names that would shadow the project's own packages (or Squall) when the topology module is imported
RESERVED = frozenset({"bolts", "spouts", "topologies", "tests", "src", "squall", "test"})


class QuickstartError(SquallError):
    """The project cannot be created (a bad name, a folder in the way)."""


def _destination(template: str, name: str, test_name: str) -> str:
    """Where template file ``template`` (a path under template/) goes in the new project."""
    target = template.removesuffix(".tmpl")
    if target == "topologies/topology.py":
        return f"topologies/{name}.py"
    if target == "tests/test_topology.py":
        return f"tests/test_{test_name}.py"
    if target == "gitignore":
        return ".gitignore"
    return target


def _templates() -> list[tuple[str, str]]:
    """(relative path, text) of every template file."""
    root = resources.files(__name__).joinpath("template")
    out: list[tuple[str, str]] = []
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            rel = f"{prefix}{entry.name}"
            if entry.is_dir():
                pending.append((f"{rel}/", entry))
            elif entry.name.endswith(".tmpl"):
                out.append((rel, entry.read_text(encoding="utf-8")))
    return sorted(out)


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise QuickstartError(
            f"project name {name!r}: use letters, digits, _ and - (starting with a letter or _): "
            "it names the folder, topologies/NAME.py and the topology"
        )
    if name.lower() in RESERVED or keyword.iskeyword(name):
        raise QuickstartError(f"project name {name!r} would shadow a package of the project or Squall: choose another")


def topology_class(name: str) -> str:
    """``word_count`` / ``word-count`` -> ``WordCount``."""
    parts = [p for p in re.split(r"[_-]+", name) if p]
    cls = "".join(p[:1].upper() + p[1:] for p in parts) or "Main"
    return cls if cls[0].isalpha() else f"T{cls}"


def create(name: str, parent: Path | str = ".") -> list[Path]:
    """Create project ``name`` in ``parent``; the files written. Refuses an existing non-empty folder."""
    check_name(name)
    project = Path(parent) / name
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        what = "a folder that is not empty" if project.is_dir() else "a file"
        raise QuickstartError(f"{project} already exists and is {what}: choose another name, or remove it")
    values = {
        "{{project_name}}": name,
        "{{topology_class}}": topology_class(name),
        "{{test_name}}": name.replace("-", "_"),
    }
    written = []
    for rel, template in _templates():
        text = template
        for key, value in values.items():
            text = text.replace(key, value)
        path = project / _destination(rel, name, values["{{test_name}}"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
