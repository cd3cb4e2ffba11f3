"""Finding the topology a user means: file, file:Class, module:Class; clear errors otherwise."""

import sys

import pytest

from squall.errors import TopologyLoadError
from squall.topology.loader import load_topology, topology_ref

HEAD = "from squall import Bolt, Spout, Topology\nclass S(Spout):\n    outputs = ['w']\n"


def write(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(HEAD + body)
    return p


def test_the_one_topology_in_a_file(tmp_path):
    p = write(tmp_path, "one_topo.py", "class Only(Topology):\n    s = S.spec()\n")
    cls = load_topology(str(p))
    assert cls.__name__ == "Only"
    assert topology_ref(cls) == f"{p}:Only"  # a file loaded by path is referenced by path


def test_several_topologies_need_a_class_name(tmp_path):
    p = write(tmp_path, "two_topos.py", "class A(Topology):\n    s = S.spec()\nclass B(Topology):\n    s = S.spec()\n")
    with pytest.raises(TopologyLoadError, match=r"several topologies \(A, B\); pick one with .*:ClassName"):
        load_topology(str(p))
    assert load_topology(f"{p}:B").__name__ == "B"


def test_unknown_class_name_lists_what_is_there(tmp_path):
    p = write(tmp_path, "named_topo.py", "class A(Topology):\n    s = S.spec()\n")
    with pytest.raises(TopologyLoadError, match=r"no topology class 'Nope' \(found: \['A'\]\)"):
        load_topology(f"{p}:Nope")


def test_a_file_without_topology(tmp_path):
    p = write(tmp_path, "no_topo.py", "")
    with pytest.raises(TopologyLoadError, match="defines no Topology subclass"):
        load_topology(str(p))


def test_missing_file_and_module():
    with pytest.raises(TopologyLoadError, match="does not exist"):
        load_topology("/nonexistent/topo.py")
    with pytest.raises(TopologyLoadError, match="cannot import module 'no_such_module_xyz'"):
        load_topology("no_such_module_xyz:T")


def test_streamparse_layout_puts_src_on_the_path(tmp_path):
    (tmp_path / "src" / "spouts").mkdir(parents=True)
    (tmp_path / "src" / "spouts" / "__init__.py").write_text("")
    (tmp_path / "src" / "spouts" / "words_sp.py").write_text(
        "from squall import Spout\nclass WordSpout(Spout):\n    outputs = ['word']\n"
    )
    (tmp_path / "topologies").mkdir()
    p = tmp_path / "topologies" / "wc_sp.py"
    p.write_text(
        "from squall import Topology\nfrom spouts.words_sp import WordSpout\n"
        "class WC(Topology):\n    w = WordSpout.spec()\n"
    )
    assert load_topology(str(p)).__name__ == "WC"


def test_files_with_the_same_name_in_different_folders_stay_apart(tmp_path, monkeypatch):
    """Three `topology.py` files loaded by path: each its own module (the third used to get the second's)."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading by path puts the folders on sys.path
    for name in ("topology", "squall_topology_topology", "squall_topology_topology_3"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # put back afterwards (another test's module)
    loaded = []
    for k in range(3):
        folder = tmp_path / f"ex{k}"
        folder.mkdir()
        p = write(folder, "topology.py", f"class T{k}(Topology):\n    s = S.spec()\n")
        loaded.append(load_topology(str(p)))
    assert [t.__name__ for t in loaded] == ["T0", "T1", "T2"]
    assert load_topology(str(tmp_path / "ex2" / "topology.py")) is loaded[2]  # loaded once per file
    for name in ("topology", "squall_topology_topology", "squall_topology_topology_3"):
        sys.modules.pop(name)  # this test's modules go (monkeypatch then puts back what was there)


def test_two_projects_with_the_same_package_names(tmp_path):
    """Two streamparse-style projects (both with src/bolts) load in one process, each with its own bolts."""
    for proj, out in (("one", "a"), ("two", "b")):
        (tmp_path / proj / "src" / "bolts").mkdir(parents=True)
        (tmp_path / proj / "src" / "bolts" / "__init__.py").write_text("")
        (tmp_path / proj / "src" / "bolts" / "count.py").write_text(
            f"from squall import Bolt\nclass CountBolt(Bolt):\n    outputs = [{out!r}]\n"
        )
        (tmp_path / proj / "topologies").mkdir()
        (tmp_path / proj / "topologies" / "wc.py").write_text(
            "from squall import Spout, Topology\nfrom bolts.count import CountBolt\n"
            "class S(Spout):\n    outputs = ['w']\n"
            "class WC(Topology):\n    s = S.spec()\n    c = CountBolt.spec(inputs=[s])\n"
        )
    one = load_topology(str(tmp_path / "one" / "topologies" / "wc.py"))
    two = load_topology(str(tmp_path / "two" / "topologies" / "wc.py"))
    assert list(one.components["c"].outputs["default"].fields) == ["a"]
    assert list(two.components["c"].outputs["default"].fields) == ["b"]
