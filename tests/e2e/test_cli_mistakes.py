"""Mistakes a user makes, answered clearly by `squall run` / `squall describe` (real processes)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import squall as _squall

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SHUFFLE = f"{HERE / 'topologies.py'}:ShuffleTopo"

#: Squall installed as `pip install -e .` does it: a finder on sys.meta_path, after the path finder
#: (so a folder named `squall` on sys.path wins over it), and nothing on sys.path.
EDITABLE_FINDER = """\
import importlib.machinery
import sys

ROOT = {root!r}


class SquallFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "squall":
            return importlib.machinery.PathFinder.find_spec(name, [ROOT])
        return None


sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder) + 1, SquallFinder)
"""


def squall(*args, cwd=ROOT, env=None, timeout=120):
    """`squall ARGS` to the end: (exit code, stdout, stderr)."""
    return _squall(*args, cwd=cwd, env=env, timeout=timeout)


@pytest.mark.parametrize("command", ["run", "describe"])
def test_a_syntax_error_in_the_topology_file_shows_file_line_and_message(tmp_path, command):
    topo = tmp_path / "typo_topo.py"
    topo.write_text("from squall import Spout, Topology\n\nclass S(Spout):\n    outputs = ['w'\n")
    code, out, err = squall(command, topo)
    assert code == 2, err
    assert f'File "{topo}", line 4' in err
    assert "SyntaxError: '[' was never closed" in err
    assert "importlib" not in err and "click" not in err and "squall/" not in err
    assert len(err.splitlines()) <= 6, err
    assert out == ""


@pytest.mark.parametrize("command", ["run", "describe"])
def test_an_import_error_shows_the_users_frames_only(tmp_path, command):
    (tmp_path / "helpers_mod.py").write_text("import no_such_lib_xyz\n")
    topo = tmp_path / "imports_topo.py"
    topo.write_text("from squall import Topology\nimport helpers_mod\n")
    code, _out, err = squall(command, topo)
    assert code == 2, err
    assert f'File "{topo}", line 2, in <module>' in err
    assert f'File "{tmp_path / "helpers_mod.py"}", line 1, in <module>' in err
    assert "ModuleNotFoundError: No module named 'no_such_lib_xyz'" in err
    assert "importlib" not in err and "click" not in err and "squall/" not in err
    assert len(err.splitlines()) <= 8, err


def test_a_folder_named_squall_in_the_current_directory_does_not_break_the_workers(tmp_path):
    """Run from a directory holding a `squall/` folder (e.g. the parent of a checkout), with Squall
    installed in editable mode and `squall` started as its console script (sys.path[0] is the
    script's directory): the workers must import the installed package, not the folder."""
    (tmp_path / "squall").mkdir()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(EDITABLE_FINDER.format(root=str(ROOT)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "squall"
    script.write_text("import sys\nfrom squall.cli import main\nsys.exit(main())\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    p = subprocess.run(
        [sys.executable, script, "run", SHUFFLE, "--workers", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "[squall] completed" in p.stderr
    assert "cannot import" not in p.stderr and "No module named" not in p.stderr


def test_a_failing_initialize_is_reported_once_with_component_and_task(squall_cli):
    p = squall_cli("run", f"{HERE / 'topologies.py'}:BrokenInitTopo", "--workers", "2")
    code, _out, err = p.finish(timeout=60)
    assert code == 1
    assert err.count("Traceback") == 1, err
    assert err.count("raise ConnectionError") == 1, err
    assert "worker_process.py" not in err and "squall/runtime" not in err  # the user's frames only
    summary = [line for line in err.splitlines() if line.startswith("[squall]") and not line.startswith("[squall] UI")]
    assert len(summary) == 1
    assert re.match(
        r"\[squall\] error after [\d.]+s: broken \(task \d+, worker \d\) failed in initialize: "
        r"ConnectionError: database is down$",
        summary[0],
    ), summary
    assert "error:" not in err  # no second copy of the message


def test_an_unknown_conf_key_is_warned_with_a_did_you_mean(squall_cli):
    p = squall_cli(
        "run",
        SHUFFLE,
        "--workers",
        "1",
        "--conf",
        "topology.wokers=2",
        "--conf",
        "topology.worker.childopts=-Xmx1g",
        "--conf",
        "topology.kryo.register=[]",
        "--conf",
        "myapp.db.url=sqlite://",
    )
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings  # Storm's keys and the user's own keys pass in silence
    assert "unknown config key 'topology.wokers'" in warnings[0]
    assert "did you mean 'topology.workers'?" in warnings[0]


def test_a_negative_duration_is_refused_like_a_negative_stats_interval(squall_cli):
    for option in ("--duration", "--stats-interval"):
        code, _out, err = squall_cli("run", SHUFFLE, option, "-5").finish(timeout=30)
        assert code == 2, err
        assert err.startswith("error: ") and "-5" in err and "non-negative" in err
        assert "starting topology" not in err


def test_the_serialization_check_on_request_in_any_run(squall_cli):
    p = squall_cli(
        "run",
        f"{HERE / 'topologies.py'}:SetTopo",
        "--workers",
        "1",
        "--conf",
        "topology.testing.always.try.serialize=true",
    )
    code, _out, err = p.finish(timeout=60)
    assert code == 0, err
    assert "component 'sets' (task" in err and "on stream 'sets'" in err and "(set)" in err
    assert re.search(r"\d+ more error\(s\) in the last \d+s were not logged", err)  # none dropped silently
