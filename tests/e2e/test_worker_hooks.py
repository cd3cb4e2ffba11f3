"""Hooks travel to worker processes as an importable reference plus plain data, never pickled."""

from __future__ import annotations

import io
import json

import topologies as T

from squall.local.coordinator import Coordinator
from squall.local.launcher import SubprocessLauncher
from squall.testing import complete_topology, read_tuples


class RecordingLauncher(SubprocessLauncher):
    def __init__(self) -> None:
        self.specs: list[dict] = []

    def start(self, index, spec):
        self.specs.append(spec)
        return super().start(index, spec)


def test_worker_processes_build_hooks_from_a_reference_and_report_back():
    launcher = RecordingLauncher()
    data = {"mocked_sources": {"words": [["a"], ["b"], ["a"]]}, "capture": True}
    coord = Coordinator(
        T.FieldsTopo,
        {"topology.workers": 2},
        launcher=launcher,
        hooks="squall.testing:worker_hooks",
        hooks_data=data,
        status_out=io.StringIO(),
        handle_signals=False,
    )
    result = coord.run()
    assert result.reason == "completed", result.message
    for spec in launcher.specs:
        assert spec["hooks"] == {"factory": "squall.testing:worker_hooks", "data": data}
        assert json.loads(json.dumps(spec)) == spec  # plain data all the way
        assert not [k for k in spec["conf"] if "capture" in k or "mocked" in k]
    assert len(result.hook_reports) == 2
    tags = [vals for report in result.hook_reports for c, s, vals in report if (c, s) == ("tag", "default")]
    assert sorted(v[0] for vals in tags for v in vals) == ["a", "a", "b"]


def test_a_bad_hooks_reference_fails_the_run_naming_it():
    for ref, expected in (
        ("no_such_module_xyz:f", "No module named 'no_such_module_xyz'"),
        ("nocolon", "module:function"),
    ):
        coord = Coordinator(
            T.ShuffleTopo, {"topology.workers": 2}, hooks=ref, status_out=io.StringIO(), handle_signals=False
        )
        result = coord.run()
        assert result.reason == "error"
        assert "loading the hooks" in result.message and expected in result.message


def test_capture_that_cannot_be_sent_back_is_reported(workers):
    # With the emit-time check off (squall.testing turns it on), the captured sets reach the hooks' report.
    res = complete_topology(T.SetTopo, workers=workers, conf={"topology.testing.always.try.serialize": False})
    if workers == 1:  # in one process nothing is encoded
        assert sorted(next(iter(s)) for (s,) in read_tuples(res, "sets", "sets")) == list(range(T.N))
    else:
        assert read_tuples(res, "sets", "sets") == []
        errors = [e for e in res.errors if e["where"] == "hooks"]
        assert errors and all("cannot be sent back" in e["error"] for e in errors)
    assert res.component_totals()["sets"]["executed"] == T.N  # the run itself went on
