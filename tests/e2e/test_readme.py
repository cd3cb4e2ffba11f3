"""The README's examples do what the README says, and its Python snippets run as written.

Every ```python block of README.md is preceded by a marker (an HTML comment, invisible on the
rendered page) saying how it is tested:

    <!-- readme-test: file NAME.py -->       a complete example: saved as NAME.py (other snippets may
                                            import it by that name) and run in a subprocess: imported,
                                            each Topology it defines run with squall.testing (no user
                                            error, every component at work), each test_* function called
    <!-- readme-test: skip REASON -->       left out (it needs a broker, a cluster...): say which

A python block without a marker fails the test, so a new snippet is a decision, not an accident.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from squall.testing import complete_topology, read_tuples
from squall.topology.loader import load_topology

# Loaded by path (workers load it by path too): imported as a module named `topology`, workers would
# import whichever `topology.py` comes first on the sys.path other tests left (examples/multilang's).
WordCount = load_topology(str(Path(__file__).resolve().parents[2] / "examples" / "wordcount" / "topology.py"))

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_testing_example():
    result = complete_topology(WordCount, mocked_sources={"word_spout": [["dog"], ["cat"], ["dog"]]})
    assert sorted(read_tuples(result, "count_bolt")) == [("cat", 1), ("dog", 10), ("dog", 20)]


def test_wordcount_on_two_workers_counts_exactly():
    words = [["dog"], ["cat"], ["zebra"], ["elephant"]] * 500
    result = complete_topology(WordCount, mocked_sources={"word_spout": words}, workers=2)
    final = {}
    for word, count in read_tuples(result, "count_bolt"):
        final[word] = max(final.get(word, 0), count)
    assert final == {"dog": 5000, "cat": 500, "zebra": 500, "elephant": 500}


def test_reliable_wordcount_example_counts_exactly(workers):
    from collections import Counter

    from squall.topology.loader import load_topology

    topo = load_topology(str(Path(__file__).resolve().parents[2] / "examples" / "reliable_wordcount" / "topology.py"))
    sentences = sys.modules[topo.__module__].SENTENCES
    result = complete_topology(topo, workers=workers)
    expected = Counter(w for s in sentences for w in s.split())
    final = {}
    for word, count in read_tuples(result, "count"):
        final[word] = max(final.get(word, 0), count)
    assert final == dict(expected)
    spout = next(t for t in result.tasks.values() if t["component"] == "sentences")
    storms = sum("storm" in s for s in sentences)
    assert spout["acked"] == len(sentences) and spout["failed"] == storms


# -- the README's python snippets --------------------------------------------------------------------------

BLOCK = re.compile(r"(?:<!--\s*readme-test:\s*(?P<marker>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)

# Run in the snippets' folder: import a snippet, run what it defines; exit non-zero on any failure.
HARNESS = textwrap.dedent(
    """
    import importlib, inspect, sys

    from squall import Topology
    from squall.testing import run_topology

    module = importlib.import_module(sys.argv[1])
    ran = []
    for name, obj in vars(module).items():
        if isinstance(obj, type) and issubclass(obj, Topology) and obj.__module__ == module.__name__:
            result = run_topology(obj, duration=3.0, timeout=30.0)
            assert result.reason in ("completed", "stopped"), (name, result.reason, result.message)
            assert not result.errors, [e["traceback"] for e in result.errors]
            for c in result.statistics.user_components():
                assert (c.emitted if c.kind == "spout" else c.executed) > 0, (name, c)
            ran.append(f"{name}: {result.reason}")
        elif name.startswith("test_") and inspect.isfunction(obj):
            obj()
            ran.append(name)
    assert ran, "the snippet defines no Topology and no test_ function: mark it skip, or make it one"
    print("ran", ", ".join(ran))
    """
)


def readme_snippets():
    """``(marker, code)`` for every python block of README.md, in order."""
    return [(m["marker"], m["code"]) for m in BLOCK.finditer(README.read_text())]


def test_every_python_snippet_is_marked():
    snippets = readme_snippets()
    assert len(snippets) == README.read_text().count("```python")
    unmarked = [code.splitlines()[0] for marker, code in snippets if marker is None]
    assert not unmarked, f"README python blocks without a <!-- readme-test: ... --> marker, starting: {unmarked}"
    for marker, _ in snippets:
        assert re.fullmatch(r"file \w+\.py|skip \S.*", marker), f"unknown marker {marker!r}"


def snippet_files():
    return [(marker.split()[1], code) for marker, code in readme_snippets() if marker and marker.startswith("file ")]


@pytest.mark.parametrize("name", [name for name, _ in snippet_files()])
def test_readme_snippet_runs_as_written(name, tmp_path):
    for file, code in snippet_files():  # every file: a snippet may import another by its name
        (tmp_path / file).write_text(code)
    (tmp_path / "_readme_harness.py").write_text(HARNESS)
    p = subprocess.run(
        [sys.executable, "_readme_harness.py", name.removesuffix(".py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert p.returncode == 0, f"README snippet {name} failed:\n{p.stdout}\n{p.stderr}"
    assert p.stdout.startswith("ran "), p.stdout


def test_io_bound_example_runs_its_calls_concurrently():
    """examples/io_bound: 400 users through an async bolt and a threaded one (50 ms calls each) on
    2 workers, every tree acked; one call at a time per worker would take 20 s."""
    from squall.topology.loader import load_topology

    topo = load_topology(str(Path(__file__).resolve().parents[2] / "examples" / "io_bound" / "topology.py"))
    result = complete_topology(topo, workers=2)
    assert sorted(u for (u, _stored) in read_tuples(result, "store")) == list(range(400))
    spout = next(t for t in result.tasks.values() if t["component"] == "users")
    assert (spout["acked"], spout["failed"]) == (400, 0)
    assert result.elapsed < 12
