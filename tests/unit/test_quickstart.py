"""`squall quickstart NAME`'s files (squall/quickstart): names, refusals, what is written."""

import json

import pytest

from squall.quickstart import QuickstartError, check_name, create, topology_class


@pytest.mark.parametrize(
    ("name", "cls"), [("wordcount", "Wordcount"), ("word_count", "WordCount"), ("my-app", "MyApp"), ("_x1", "X1")]
)
def test_topology_class_names(name, cls):
    check_name(name)
    assert topology_class(name) == cls


@pytest.mark.parametrize("name", ["", "1st", "a b", "x/y", "../up", "bolts", "spouts", "squall", "tests", "class"])
def test_bad_names_are_refused(name):
    with pytest.raises(QuickstartError):
        check_name(name)


def test_the_files_and_their_contents(tmp_path):
    written = create("my-app", tmp_path)
    root = tmp_path / "my-app"
    rel = sorted(p.relative_to(root).as_posix() for p in written)
    assert rel == [
        ".gitignore",
        "README.md",
        "config.json",
        "pytest.ini",
        "src/bolts/__init__.py",
        "src/bolts/wordcount.py",
        "src/spouts/__init__.py",
        "src/spouts/words.py",
        "tests/test_my_app.py",
        "topologies/my-app.py",
    ]
    assert json.loads((root / "config.json").read_text())["topology_specs"] == "topologies/"
    topology = (root / "topologies" / "my-app.py").read_text()
    assert "class MyApp(Topology):" in topology and "from squall import Grouping, Topology" in topology
    assert "{{" not in "".join(p.read_text() for p in written)
    test = (root / "tests" / "test_my_app.py").read_text()
    assert '"topologies" / "my-app.py"' in test and "from squall.testing import" in test
    for path in written:
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")


def test_an_existing_folder_must_be_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    assert create("empty", tmp_path)
    with pytest.raises(QuickstartError, match="already exists and is a folder that is not empty"):
        create("empty", tmp_path)
    (tmp_path / "afile").write_text("")
    with pytest.raises(QuickstartError, match="already exists and is a file"):
        create("afile", tmp_path)
