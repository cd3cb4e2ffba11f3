"""`squall` inside a streamparse project folder, as `sparse` is used: names through config.json's
topology_specs, -n, the only topology, -e/-o, and `squall quickstart NAME`.

The projects are written by the tests in the shape `sparse quickstart` generates (config.json,
topologies/, src/spouts, src/bolts, project.clj, fabfile.py, virtualenvs/), with Squall imports;
the streamparse-import project of the seed article is tests/projects/seed_wordcount."""

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from cli_process import squall, until

WORDS = ["dog", "cat", "zebra", "elephant"]

SPOUT = """\
from itertools import cycle

from squall import Spout


class WordSpout(Spout):
    outputs = ["word"]

    def initialize(self, stormconf, context):
        self.logger.info(
            "conf pending=%s timeout=%s ackers=%s greeting=%s",
            stormconf.get("topology.max.spout.pending"),
            stormconf.get("topology.message.timeout.secs"),
            stormconf.get("topology.acker.executors"),
            stormconf.get("project.greeting"),
        )
        words = ["dog", "cat", "zebra", "elephant"]
        self.words = cycle(words) if stormconf.get("project.forever") else iter(words * 250)

    def next_tuple(self):
        self.emit([next(self.words)])
"""

BOLT = """\
import json
from collections import Counter
from itertools import pairwise

from squall import Bolt


class WordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counter = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counter[word] += 1
        self.emit([word, self.counter[word]])

    def cleanup(self):
        self.logger.info("final counts %s", json.dumps(self.counter))
"""

TOPOLOGY = """\
from squall import Grouping, Topology

from bolts.wordcount import WordCountBolt
from spouts.words import WordSpout


class WordCount(Topology):
    config = {{"topology.message.timeout.secs": 20{extra}}}
    word_spout = WordSpout.spec()
    count_bolt = WordCountBolt.spec(inputs={{word_spout: Grouping.fields("word")}}, par=2)
"""

CONFIG = {
    "serializer": "json",
    "topology_specs": "topologies/",
    "virtualenv_specs": "virtualenvs/",
    "envs": {
        "prod": {
            "user": "",
            "ssh_password": "",
            "nimbus": "",
            "workers": [],
            "log": {"path": "", "max_bytes": 1000000, "backup_count": 10, "level": "info"},
            "virtualenv_root": "",
            "options": {
                "topology.max.spout.pending": 77,
                "topology.message.timeout.secs": 99,
                "project.greeting": "hello",
            },
        }
    },
}


def write_project(root, name="wordcount", forever=False):
    """A project as `sparse quickstart` lays it out, its components importing squall."""
    (root / "topologies").mkdir(parents=True)
    for pkg in ("spouts", "bolts"):
        (root / "src" / pkg).mkdir(parents=True)
        (root / "src" / pkg / "__init__.py").write_text("")
    (root / "src" / "spouts" / "words.py").write_text(SPOUT)
    (root / "src" / "bolts" / "wordcount.py").write_text(BOLT)
    extra = ', "project.forever": True' if forever else ""
    (root / "topologies" / f"{name}.py").write_text(TOPOLOGY.format(extra=extra))
    (root / "config.json").write_text(json.dumps(CONFIG, indent=4))
    (root / "project.clj").write_text(f'(defproject {name} "0.0.1-SNAPSHOT"\n  :target-path "_build")\n')
    (root / "fabfile.py").write_text("def pre_submit(topology_name, env_name, env_config, options):\n    pass\n")
    (root / "virtualenvs").mkdir()
    (root / "virtualenvs" / f"{name}.txt").write_text("streamparse # always required for streamparse projects\n")
    return root


def final_counts(err):
    """The bolt tasks' final counts, summed (each word goes to one task: fields grouping)."""
    total = Counter()
    for found in re.findall(r"count_bolt:\d pid=\d+ \| final counts (\{.*\})", err):
        total.update(json.loads(found))
    return total


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "wordcount")


@pytest.mark.parametrize(
    "args", [["wordcount"], ["-n", "wordcount"], [], ["wordcount.py"], ["topologies/wordcount.py"]]
)
def test_run_by_name_in_the_project_folder(project, squall_cli, args):
    p = squall_cli("run", *args, "--workers", "2", "--no-ui", cwd=project)
    code, _out, err = p.finish(timeout=90)
    assert code == 0, err[-3000:]
    assert "starting topology wordcount: 2 worker(s)" in err  # named after its file, as sparse names it
    assert "completed after" in err
    assert final_counts(err) == dict.fromkeys(WORDS, 250), err[-3000:]


def test_environment_options_sit_below_the_topology_and_the_command_line(project, squall_cli):
    p = squall_cli(
        "run", "wordcount", "-e", "prod", "-o", "topology.max.spout.pending=5", "-a", "1", "-w", "1", "--no-ui",
        cwd=project,
    )  # fmt: skip
    code, _out, err = p.finish(timeout=90)
    assert code == 0, err[-3000:]
    # pending: -o over the env's 77; timeout: the topology's 20 over the env's 99; greeting: the env's; -a 1
    assert "conf pending=5 timeout=20 ackers=1 greeting=hello" in err, err[-3000:]
    assert final_counts(err) == dict.fromkeys(WORDS, 250)
    # the only environment is used without -e, as sparse does
    code, _out, err = squall_cli("run", "-w", "1", "--no-ui", cwd=project).finish(timeout=90)
    assert code == 0 and "conf pending=77 timeout=20 ackers=None greeting=hello" in err, err[-3000:]


def test_streamparse_flags_and_mistakes(project, squall_cli):
    code, _out, err = squall_cli("run", "wordcount", "-e", "staging", "--no-ui", cwd=project).finish(timeout=60)
    assert code == 2 and "no environment 'staging'" in err and "(its envs: prod)" in err
    code, _out, err = squall_cli("run", "wordcount", "-n", "other", cwd=project).finish(timeout=60)
    assert code == 2 and "two topologies given" in err
    code, _out, err = squall_cli("run", "wordcont", cwd=project).finish(timeout=60)
    assert code == 2 and "has no topology 'wordcont'" in err and "wordcount" in err
    code, _out, err = squall_cli("run", "wordcount", "-d", "1", "-t", "1", cwd=project).finish(timeout=60)
    assert code == 2 and "not both" in err
    code, _out, err = squall_cli("run", cwd=project.parent).finish(timeout=60)
    assert code == 2 and "which topology?" in err
    # -t N as --duration N (here the topology completes first); -d stays --duration
    code, _out, err = squall_cli("run", "-t", "30", "-w", "1", "--no-ui", cwd=project).finish(timeout=90)
    assert code == 0 and "completed after" in err, err[-2000:]
    # --config names the project from elsewhere
    code, _out, err = squall_cli(
        "run", "wordcount", "--config", project / "config.json", "-w", "1", "--no-ui", cwd=project.parent
    ).finish(timeout=90)
    assert code == 0 and final_counts(err) == dict.fromkeys(WORDS, 250), err[-2000:]


def test_describe_and_visualize_take_the_same_names(project, squall_cli):
    for args in (["wordcount"], ["-n", "wordcount"], []):
        code, out, err = squall_cli("describe", *args, cwd=project).finish(timeout=60)
        assert code == 0, err
        info = json.loads(out)
        assert info["name"] == "wordcount"
        assert [c["name"] for c in info["components"]] == ["word_spout", "count_bolt"]
        code, out, err = squall_cli("visualize", *args, "-f", "mermaid", cwd=project).finish(timeout=60)
        assert code == 0, err
        assert "flowchart" in out and "fields(word)" in out


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    """A registry of this test's own (children inherit it), so other runs stay unseen."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


def test_stats_and_kill_take_the_running_topologys_name(tmp_path, runtime_dir, squall_cli):
    root = write_project(tmp_path / "proj", name="endless", forever=True)
    p = squall_cli("run", "-n", "endless", "-w", "2", "--ui-port", "0", cwd=root)
    p.wait_line("UI: http", timeout=60)

    def executed(args):
        code, out, _err = squall("stats", *args, "--json", cwd=root)
        if code != 0:
            return None
        info = json.loads(out)
        assert info["name"] == "endless"
        bolts = {b["boltId"]: b for b in info["bolts"]}
        return bolts["count_bolt"]["executed"] or None

    first = until(lambda: executed(["endless"]), what="count_bolt executing")
    until(lambda: (executed(["-n", "endless"]) or 0) > first, what="counts rising")
    # a project's topology file means its name
    assert until(lambda: executed(["topologies/endless.py"]), what="stats by file")
    code, _out, err = squall("stats", "wordcount", cwd=root)
    assert code == 1 and "no running topology named 'wordcount'" in err
    # no name in the project: its only topology (sparse kill)
    code, out, err = squall("kill", cwd=root)
    assert code == 0, err
    assert "topology endless" in out and "killed" in out
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-2000:]
    assert "stopped after" in err


def test_quickstart_makes_a_project_that_runs_and_tests(tmp_path, squall_cli):
    code, out, err = squall_cli("quickstart", "birds", cwd=tmp_path).finish(timeout=60)
    assert code == 0, err
    root = tmp_path / "birds"
    for rel in (
        "config.json",
        "topologies/birds.py",
        "src/spouts/words.py",
        "src/bolts/wordcount.py",
        "tests/test_birds.py",
        "README.md",
    ):
        assert (root / rel).is_file(), rel
        assert f"birds/{rel}" in out
    assert "from squall import" in (root / "topologies" / "birds.py").read_text()
    # one command runs it: the name, or nothing (the only topology)
    for args in (["birds"], []):
        p = squall_cli("run", *args, "--duration", "3", "--no-ui", "--stats-interval", "1", cwd=root)
        code, _out, err = p.finish(timeout=90)
        assert code == 0, err[-3000:]
        assert "starting topology birds: 2 worker(s)" in err  # config.json's env: topology.workers 2
        m = re.search(
            r"stopped after [\d.]+s: word_spout: emitted ([\d,]+) \| count_bolt: emitted [\d,]+ executed ([\d,]+)", err
        )
        assert m and int(m.group(2).replace(",", "")) > 0, err[-2000:]
    # its generated test passes
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
    # not over an existing project
    code, _out, err = squall_cli("quickstart", "birds", cwd=tmp_path).finish(timeout=60)
    assert code == 2 and "already exists" in err


SEED = Path(__file__).resolve().parents[1] / "streamparse_projects" / "wordcount"


@pytest.fixture
def seed_project(tmp_path):
    """The seed article's project (streamparse imports, config.json with envs and "serializer": "json"),
    copied with the files its deployed folder also had (project.clj, fabfile.py, virtualenvs/)."""
    root = tmp_path / "wordcount"
    shutil.copytree(SEED, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "project.clj").write_text(
        '(defproject wordcount "0.0.1-SNAPSHOT"\n  :resource-paths ["_resources"]\n  :target-path "_build"\n'
        '  :dependencies [[org.apache.storm/storm-core "1.0.2"] [org.apache.storm/flux-core "1.0.2"]])\n'
    )
    (root / "fabfile.py").write_text("def pre_submit(topology_name, env_name, env_config, options):\n    pass\n")
    (root / "virtualenvs").mkdir()
    (root / "virtualenvs" / "wordcount.txt").write_text("streamparse # always required for streamparse projects\n")
    return root


def test_the_seed_articles_project_runs_as_it_is(seed_project, runtime_dir, squall_cli):
    # sparse visualize / describe, by name and alone
    code, out, err = squall("visualize", cwd=seed_project)
    assert code == 0, err
    assert "count_bolt" in out and "fields(word)" in out
    code, out, err = squall("describe", "-n", "wordcount", "-e", "prod", cwd=seed_project)
    assert code == 0, err
    assert {c["name"]: c["par"] for c in json.loads(out)["components"]} == {"word_spout": 1, "count_bolt": 2}
    # the article's deployment: sparse submit -e prod -n wordcount -w 4 (here: 2 workers on this machine)
    p = squall_cli("run", "-e", "prod", "-n", "wordcount", "-w", "2", "--ui-port", "0", cwd=seed_project)
    p.wait_line("topology wordcount is active", timeout=60)
    # each worker sends up to 100 samples per task per stats answer: 250 take both tasks' first answers
    # (60 could all come from the task that "dog" does not hash to)
    code, out, err = squall("sample", "wordcount", "-c", "count_bolt", "--count", "250", "--json", cwd=seed_project)
    assert code == 0, err
    samples = [json.loads(line) for line in out.splitlines()]
    dogs = [s for s in samples if s["values"][0] == "dog"]
    others = [s for s in samples if s["values"][0] != "dog"]
    assert dogs and others, samples
    assert all(s["values"][1] % 10 == 0 for s in dogs), dogs  # +10 for dog
    by_task = {}
    for s in dogs:
        by_task.setdefault(s["task"], []).append(s["values"][1])
    steps = {b - a for counts in by_task.values() for a, b in pairwise(counts)}
    assert 10 in steps, by_task
    # sparse kill: no name in a one-topology project
    code, out, err = squall("kill", cwd=seed_project)
    assert code == 0, err
    assert "topology wordcount" in out
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err[-3000:]
    assert re.search(r"count_bolt:[12] pid=\d+ \| counted \[[\d,]+\] words \[pid=\d+\]", err)  # self.logger
    m = re.search(
        r"stopped after [\d.]+s: word_spout: emitted ([\d,]+) \| count_bolt: emitted [\d,]+ executed ([\d,]+)", err
    )
    assert m and int(m.group(2).replace(",", "")) > 0, err[-2000:]


PER_ENV = """\
from streamparse import Grouping, Topology

from bolts.wordcount import WordCountBolt
from spouts.words import WordSpout


class PerEnv(Topology):
    word_spout = WordSpout.spec()
    count_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par={"prod": 3, "beta": 1})
"""


def test_the_environment_picks_streamparse_par_dicts(seed_project, tmp_path, monkeypatch):
    monkeypatch.delenv("SQUALL_ENV", raising=False)
    (seed_project / "topologies" / "perenv.py").write_text(PER_ENV)
    config = json.loads((seed_project / "config.json").read_text())
    config["envs"]["beta"] = {"options": {}}
    (seed_project / "config.json").write_text(json.dumps(config))

    def par(*args, cwd=seed_project):
        code, out, err = squall("describe", *args, cwd=cwd)
        assert code == 0, err
        return {c["name"]: c["par"] for c in json.loads(out)["components"]}["count_bolt"]

    assert par("perenv", "-e", "prod") == 3
    assert par("-n", "perenv", "-e", "beta") == 1
    # two environments and none named: the par dict cannot be read
    code, _out, err = squall("describe", "perenv", cwd=seed_project)
    assert code == 2 and "SQUALL_ENV" in err, err
    monkeypatch.setenv("SQUALL_ENV", "beta")
    assert par("perenv") == 1
    # a file outside any project: -e only names the environment; an unrelated ./config.json is no project
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.json").write_text("{not json")
    monkeypatch.delenv("SQUALL_ENV")
    assert par(seed_project / "topologies" / "perenv.py", "-e", "prod", cwd=tmp_path / "elsewhere") == 3
    code, _out, err = squall("describe", "perenv", cwd=tmp_path / "elsewhere")
    assert code == 2 and "is not valid JSON" in err
