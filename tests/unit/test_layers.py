"""The folders are the architecture: a lower layer never imports a higher one.

Every ``import`` in a module counts, including those inside functions (a lazy import is
still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import squall

ROOT = Path(squall.__file__).parent

#: layer -> packages (under squall.) it must never import
FORBIDDEN = {
    "errors": {"topology", "runtime", "transport", "local", "ui", "cluster", "compat", "connectors", "cli", "testing"},
    # checkpointed state (KeyValueState, backends): below the declarations, needs only errors
    "state": {"topology", "runtime", "transport", "local", "ui", "cluster", "compat", "connectors", "cli", "testing"},
    "topology": {"runtime", "transport", "local", "ui", "cluster", "compat", "connectors", "cli", "testing"},
    "transport": {"runtime", "local", "ui", "cluster", "compat", "connectors", "cli", "testing"},
    "runtime": {"local", "ui", "cluster", "compat", "connectors", "cli", "testing"},
    "compat": {"local", "ui", "cluster", "connectors", "cli", "testing"},
    "local": {"ui", "cluster", "cli", "testing"},
    "ui": {"cluster", "compat", "connectors", "cli", "testing"},
    # spouts and bolts for brokers, files and HTTP: user-level components (topology + errors only)
    "connectors": {"runtime", "transport", "local", "ui", "cluster", "compat", "cli", "testing"},
    # cluster mode on Ray: above local/ and ui/ (it hosts their Coordinator and UiServer in actors)
    "cluster": {"connectors", "cli", "testing"},
    # `squall quickstart`: writes files from its templates, needs nothing but errors
    "quickstart": {
        "topology",
        "runtime",
        "transport",
        "local",
        "ui",
        "cluster",
        "compat",
        "connectors",
        "cli",
        "testing",
    },
}


def squall_imports(path: Path, root: Path = ROOT) -> set[str]:
    """The ``squall.*`` modules a file imports, relative imports resolved."""
    package = ".".join(("squall", *path.relative_to(root).parent.parts))
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "squall")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "squall":
                out.add(mod)
    return out


def layer_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


MODULES = sorted(p for p in ROOT.rglob("*.py") if layer_of(p) in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_import(path: Path) -> None:
    forbidden = FORBIDDEN[layer_of(path)]
    bad = sorted(m for m in squall_imports(path) if m == "squall" or m.split(".")[1] in forbidden)
    assert not bad, f"{path.relative_to(ROOT)} ({layer_of(path)} layer) imports {bad}"


def test_every_layer_has_modules() -> None:
    layers = {layer_of(p) for p in MODULES}
    assert {"errors", "topology", "runtime", "transport", "local"} <= layers


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The test above can fail: an upward import (lazy or not) is found."""
    fake = tmp_path / "topology" / "probe.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from squall.runtime.worker import Worker\n    from ..local import coordinator\n")
    assert squall_imports(fake, tmp_path) == {"squall.runtime.worker", "squall.local"}
