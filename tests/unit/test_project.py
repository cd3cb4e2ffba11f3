"""streamparse project folders: config.json, topology_specs, which topology a name means (squall/local/project.py)."""

import json
import os

import pytest

from squall.errors import ConfigError, TopologyLoadError
from squall.local.project import Project, find_project, read_project, resolve

TOPOLOGY = "from squall import Topology\n"


def make_project(root, config=None, topologies=("wordcount",), specs="topologies"):
    """A streamparse-layout project in ``root``: config.json, topology files, src/, and the files
    streamparse projects carry that Squall does not use."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = {"serializer": "json", "topology_specs": f"{specs}/", "envs": {"prod": {"nimbus": "", "workers": []}}}
    (root / "config.json").write_text(json.dumps(cfg if config is None else config))
    (root / specs).mkdir(parents=True, exist_ok=True)
    for name in topologies:
        (root / specs / f"{name}.py").write_text(TOPOLOGY)
    (root / "src" / "bolts").mkdir(parents=True, exist_ok=True)
    (root / "project.clj").write_text('(defproject x "0.0.1-SNAPSHOT")\n')
    (root / "fabfile.py").write_text("def pre_submit(*args):\n    pass\n")
    (root / "virtualenvs").mkdir(exist_ok=True)
    (root / "virtualenvs" / "wordcount.txt").write_text("streamparse\n")
    return read_project(str(root / "config.json"))


def test_no_config_json_is_no_project(tmp_path):
    assert find_project(str(tmp_path)) is None


def test_the_current_folder_or_an_explicit_config(tmp_path, monkeypatch):
    make_project(tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    project = find_project()
    assert project is not None and project.root == str(tmp_path / "p")
    monkeypatch.chdir(tmp_path)
    assert find_project() is None
    explicit = find_project(config_file="p/config.json")
    assert explicit is not None and explicit.root == str(tmp_path / "p")
    with pytest.raises(ConfigError, match="does not exist"):
        find_project(config_file="nope/config.json")


@pytest.mark.parametrize(("text", "message"), [("{oops", "is not valid JSON"), ("[1, 2]", "must hold a JSON object")])
def test_a_config_json_that_cannot_be_used_is_refused(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ConfigError, match=message):
        find_project(str(tmp_path))


def test_topologies_are_the_py_files_of_topology_specs(tmp_path):
    project = make_project(tmp_path, topologies=("wordcount", "pixelcount"))
    (tmp_path / "topologies" / "__init__.py").write_text("")
    (tmp_path / "topologies" / "notes.txt").write_text("")
    (tmp_path / "topologies" / "sub.py").mkdir()
    assert list(project.topologies()) == ["pixelcount", "wordcount"]
    assert project.topologies()["wordcount"] == str(tmp_path / "topologies" / "wordcount.py")


def test_topology_specs_default_and_custom(tmp_path):
    default = make_project(tmp_path / "a", config={"envs": {}})
    assert default.topology_dir == str(tmp_path / "a" / "topologies")
    custom = make_project(tmp_path / "b", config={"topology_specs": "defs/topos/"}, specs="defs/topos")
    assert custom.topology_dir == str(tmp_path / "b" / "defs" / "topos")
    assert list(custom.topologies()) == ["wordcount"]
    missing = Project(str(tmp_path / "c"), {"topology_specs": "nowhere/"})
    assert missing.topologies() == {}


def test_src_then_the_root_go_on_sys_path(tmp_path):
    project = make_project(tmp_path)
    assert project.path_entries() == [str(tmp_path / "src"), str(tmp_path)]
    assert Project(str(tmp_path / "bare")).path_entries() == [str(tmp_path / "bare")]


def test_a_name_means_the_projects_topology(tmp_path, monkeypatch):
    project = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    file = str(tmp_path / "topologies" / "wordcount.py")
    for ref in ("wordcount", "wordcount.py"):
        r = resolve(ref, project)
        assert (r.ref, r.name, r.how) == (file, "wordcount", "project")
    r = resolve("wordcount:WordCount", project)
    assert (r.ref, r.name) == (f"{file}:WordCount", "wordcount")


def test_an_existing_file_comes_first(tmp_path, monkeypatch):
    project = make_project(tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    # a file path of the project: the file, and still the project's name for the run
    r = resolve("topologies/wordcount.py", project)
    assert (r.ref, r.name, r.how) == (str(tmp_path / "p" / "topologies" / "wordcount.py"), "wordcount", "file")
    # a file here named like the project's topology wins over it, and is not named after it
    (tmp_path / "p" / "wordcount.py").write_text(TOPOLOGY)
    r = resolve("wordcount.py", project)
    assert (r.ref, r.name, r.how) == (str(tmp_path / "p" / "wordcount.py"), None, "file")
    r = resolve("wordcount.py:Other", project)
    assert r.ref == str(tmp_path / "p" / "wordcount.py") + ":Other"
    # outside any project
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text(TOPOLOGY)
    assert resolve(str(elsewhere), None).ref == str(elsewhere)
    assert resolve(str(elsewhere), None).name is None


def test_a_project_name_comes_before_a_module(tmp_path, monkeypatch):
    project = make_project(tmp_path, topologies=("json",))
    monkeypatch.chdir(tmp_path)
    assert resolve("json", project).how == "project"  # not the standard library's json
    r = resolve("json.decoder:JSONDecoder", project)  # not a project name: a module reference
    assert (r.ref, r.name, r.how) == ("json.decoder:JSONDecoder", None, "module")
    assert resolve("os.path:X", None).how == "module"


def test_unknown_names_say_what_was_tried(tmp_path, monkeypatch):
    project = make_project(tmp_path, topologies=("wordcount", "pixelcount"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        TopologyLoadError, match=r"no topology 'wordcont'.*has no topology 'wordcont'.*pixelcount, wordcount"
    ):
        resolve("wordcont", project)
    with pytest.raises(TopologyLoadError, match=r"topology file 'wordcont.py' does not exist, and the project"):
        resolve("wordcont.py", project)
    with pytest.raises(TopologyLoadError, match=r"there is no config.json here"):
        resolve("wordcont", None)
    with pytest.raises(TopologyLoadError, match=r"^topology file 'x/y.py' does not exist$"):
        resolve("x/y.py:C", None)
    # without the module check, an unknown name is left to the loader (it imports it)
    assert resolve("wordcont", project, check_module=False).how == "module"


def test_without_a_name_the_only_topology(tmp_path):
    one = make_project(tmp_path / "one")
    r = resolve(None, one)
    assert (r.ref, r.name) == (str(tmp_path / "one" / "topologies" / "wordcount.py"), "wordcount")
    two = make_project(tmp_path / "two", topologies=("b", "a"))
    with pytest.raises(TopologyLoadError, match=r"has 2 topologies \(a, b\): name one, e.g. `squall run a`"):
        resolve(None, two)
    none = make_project(tmp_path / "none", topologies=())
    with pytest.raises(TopologyLoadError, match="has no topology"):
        resolve(None, none)
    with pytest.raises(TopologyLoadError, match="which topology"):
        resolve(None, None)


def test_environments(tmp_path):
    envs = {"prod": {"nimbus": "nimbus", "options": {"topology.max.spout.pending": 7}}, "beta": {}}
    project = make_project(tmp_path / "two", config={"envs": envs})
    assert project.env("prod") == ("prod", envs["prod"])
    assert project.env_options("prod") == {"topology.max.spout.pending": 7}
    assert project.env(None) == (None, {})  # several and none named: none used (sparse would refuse)
    assert project.env_options(None) == {}
    assert project.env_options("beta") == {}
    with pytest.raises(ConfigError, match=r"no environment 'dev' in .*config.json \(its envs: beta, prod\)"):
        project.env("dev")
    single = make_project(tmp_path / "one", config={"envs": {"prod": {"options": {"topology.debug": True}}}})
    assert single.env(None)[0] == "prod"  # the only one, as sparse picks it
    assert single.env_options(None) == {"topology.debug": True}
    assert make_project(tmp_path / "no", config={}).env(None) == (None, {})
    bad = make_project(tmp_path / "bad", config={"envs": {"prod": {"options": [1]}}})
    with pytest.raises(ConfigError, match=r"envs\.prod\.options must be an object"):
        bad.env_options("prod")


def test_name_of_follows_symlinks(tmp_path):
    project = make_project(tmp_path / "p")
    link = tmp_path / "link.py"
    os.symlink(tmp_path / "p" / "topologies" / "wordcount.py", link)
    assert project.name_of(str(link)) == "wordcount"
    assert project.name_of(str(tmp_path / "p" / "fabfile.py")) is None
