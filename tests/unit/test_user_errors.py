"""Mistakes a user makes, answered clearly: load errors, config keys, topology.debug, the context,
throttled errors, a BatchingBolt without ticks."""

from __future__ import annotations

import logging
import os
import re

import pytest

from squall import BatchingBolt, Bolt, Grouping, Spout, Stream, Topology
from squall.errors import InvalidTopologyError, SquallError, TopologyLoadError, UnknownComponentError
from squall.local.inprocess import run_in_process
from squall.runtime import error_log
from squall.runtime.error_log import LOG_ERRORS_PER_TASK, ErrorLog
from squall.runtime.router import DEBUG_LINES_PER_SEC
from squall.runtime.worker import Worker
from squall.topology.config import DEFAULTS, STORM_KEYS, topology_conf, unknown_key_warnings
from squall.topology.context import TopologyContext
from squall.topology.loader import load_topology
from squall.topology.plan import make_plan

# -- loading the topology file ---------------------------------------------------------------------


def test_a_syntax_error_becomes_a_load_error_with_file_line_and_message(tmp_path):
    p = tmp_path / "syntax_err_topo.py"
    p.write_text("from squall import Topology\n\nx = (1,\n")
    with pytest.raises(TopologyLoadError) as info:
        load_topology(str(p))
    text = str(info.value)
    assert f'File "{p}", line 3' in text and "SyntaxError: '(' was never closed" in text
    assert "importlib" not in text and "squall/" not in text


def test_an_error_at_module_level_keeps_only_the_users_frames(tmp_path):
    (tmp_path / "helper_raises.py").write_text("def f():\n    return {}['missing']\n")
    p = tmp_path / "raising_topo.py"
    p.write_text("import helper_raises\nhelper_raises.f()\n")
    with pytest.raises(TopologyLoadError) as info:
        load_topology(str(p))
    frames = re.findall(r'File "([^"]+)", line (\d+)', str(info.value))
    assert frames == [(str(p), "2"), (str(tmp_path / "helper_raises.py"), "2")]
    assert str(info.value).rstrip().endswith("KeyError: 'missing'")


def test_an_invalid_topology_error_is_not_wrapped(tmp_path):
    p = tmp_path / "invalid_topo.py"
    p.write_text("from squall import Topology\nclass T(Topology):\n    pass\n")
    with pytest.raises(InvalidTopologyError):
        load_topology(str(p))


def test_a_module_reference_tells_a_missing_module_from_an_error_inside_it(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mod_with_bad_import.py").write_text("import not_there_xyz\n")
    with pytest.raises(TopologyLoadError, match="cannot import module 'no_such_topo_module'"):
        load_topology("no_such_topo_module:T")
    with pytest.raises(TopologyLoadError) as info:
        load_topology("mod_with_bad_import:T")
    assert "No module named 'not_there_xyz'" in str(info.value)
    assert f'File "{tmp_path / "mod_with_bad_import.py"}", line 1' in str(info.value)


# -- config keys -----------------------------------------------------------------------------------


def test_unknown_topology_and_squall_keys_get_a_did_you_mean():
    warnings = unknown_key_warnings(
        {
            "topology.wokers": 2,
            "squall.stats.intervall.secs": 1,
            "topology.max.spout.pendng": 5,
            "topology.zzz": 1,
        },
        "--conf",
    )
    assert warnings[0] == "unknown config key 'topology.wokers' in --conf is ignored: did you mean 'topology.workers'?"
    assert "did you mean 'squall.stats.interval.secs'?" in warnings[1]
    assert "did you mean 'topology.max.spout.pending'?" in warnings[2]
    assert "topology.zzz" in warnings[3] and "squall.topology.config.DEFAULTS" in warnings[3]


def test_storm_keys_squall_ignores_and_user_keys_pass_in_silence():
    conf = {
        "topology.worker.childopts": "-Xmx2g",
        "topology.kryo.register": ["com.example.Foo"],
        "topology.kryo.factory": "x",
        "topology.metrics.consumer.register": [],
        "topology.eventlogger.executors": 0,
        "myapp.db.url": "postgres://",
        "redis_host": "localhost",
        **DEFAULTS,
    }
    assert unknown_key_warnings(conf, "--conf") == []
    assert "topology.worker.childopts" in STORM_KEYS and "topology.testing.always.try.serialize" in DEFAULTS


def test_the_topology_config_and_component_configs_are_checked_too(caplog):
    class S(Spout):
        outputs = ["n"]

    class T(Topology):
        config = {"topology.mesage.timeout.secs": 5}
        s = S.spec(config={"topology.max.spout.pendin": 10})

    with caplog.at_level(logging.WARNING, logger="squall.config"):
        topology_conf(T.config, {"squall.drain.timout.secs": 1}, T.components.values())
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "unknown config key 'topology.mesage.timeout.secs' in the topology's config is ignored: "
        "did you mean 'topology.message.timeout.secs'?",
        "unknown config key 'squall.drain.timout.secs' in the overrides (--conf) is ignored: "
        "did you mean 'squall.drain.timeout.secs'?",
        "unknown config key 'topology.max.spout.pendin' in the config of component 's' is ignored: "
        "did you mean 'topology.max.spout.pending'?",
    ]


# -- topology.debug --------------------------------------------------------------------------------


class Count(Spout):
    outputs = [Stream(["n"]), Stream(["n"], name="odd")]

    def initialize(self, conf, context):
        self.n = 0

    def next_tuple(self):
        self.n += 1
        if self.n > 300:
            raise StopIteration
        self.emit([self.n], stream="odd" if self.n % 2 else None)


class Double(Bolt):
    outputs = ["m"]

    def process(self, tup):
        self.emit([tup.values.n * 2])


class DebugAll(Topology):
    config = {"topology.debug": True}
    count = Count.spec()
    double = Double.spec(inputs=[count, count["odd"]])


class DebugOne(Topology):
    count = Count.spec()
    double = Double.spec(inputs=[count, count["odd"]], config={"topology.debug": True})


def emit_lines(caplog, logger):
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_topology_debug_logs_emits_with_component_task_stream_and_values_at_a_bounded_rate(caplog):
    with caplog.at_level(logging.INFO):
        result = run_in_process(DebugAll)
    assert result.reason == "completed"
    spout_task = result.statistics.components["count"].tasks[0]
    bolt_task = result.statistics.components["double"].tasks[0]
    spout = emit_lines(caplog, f"count:{spout_task}")
    bolt = emit_lines(caplog, f"double:{bolt_task}")
    # 300 emits in well under a second: the first DEBUG_LINES_PER_SEC logged, the rest counted.
    assert spout[:3] == ["emit [odd] [1]", "emit [default] [2]", "emit [odd] [3]"]
    assert len(spout) == DEBUG_LINES_PER_SEC + 1
    assert spout[-1] == f"{300 - DEBUG_LINES_PER_SEC} more emits not logged (topology.debug logs 10 a second)"
    assert len(bolt) == DEBUG_LINES_PER_SEC + 1 and bolt[0].startswith("emit [default] [")


def test_topology_debug_for_one_component_and_off_by_default(caplog):
    with caplog.at_level(logging.INFO):
        run_in_process(DebugOne)
    assert not [r for r in caplog.records if r.name.startswith("count:")]
    assert [r for r in caplog.records if r.name.startswith("double:") and "emit [default]" in r.getMessage()]
    w = Worker(DebugOne, topology_conf(DebugOne.config, {"topology.workers": 1}), 0)
    w.setup()
    routers = {ex.component: ex.routers for ex in w.executors.values() if hasattr(ex, "routers")}
    assert routers["count"]["default"].observe is None  # off: the fast paths, untouched
    assert routers["count"]["default"].send != routers["count"]["default"].send_general
    assert routers["double"]["default"].observe is not None


# -- the context -----------------------------------------------------------------------------------


class Src(Spout):
    outputs = [Stream(["a"]), Stream(["x", "y"], name="pairs")]


class Sink(Bolt):
    outputs = ["z"]


class TwoStreams(Topology):
    src = Src.spec()
    sink = Sink.spec(inputs={src: Grouping.SHUFFLE, src["pairs"]: Grouping.fields("x")})


def context_of(component):
    plan = make_plan(TwoStreams.components, 1, 0)
    task = plan.component_tasks[component][0]
    return TopologyContext("TwoStreams", task, TwoStreams.components, plan, 0)


def test_context_keeps_every_stream_of_a_source():
    ctx = context_of("sink")
    assert ctx["source->stream->fields"] == {"src": {"default": ["a"], "pairs": ["x", "y"]}}
    groupings = ctx["source->stream->grouping"]["src"]
    assert groupings["default"]["type"] == "shuffle"
    assert groupings["pairs"] == {"type": "fields", "fields": ["x"]}


def test_component_tasks_of_an_unknown_component_names_the_known_ones():
    ctx = context_of("src")
    with pytest.raises(UnknownComponentError) as info:
        ctx.component_tasks("snik")
    assert isinstance(info.value, SquallError) and isinstance(info.value, KeyError)
    assert (
        str(info.value)
        == "topology 'TwoStreams' has no component 'snik': did you mean 'sink'? (its components: sink, src)"
    )


# -- errors after the first few ----------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


def raise_and_report(log, n, component="b", task=3):
    for i in range(n):
        try:
            raise ValueError(f"bad {i}")
        except ValueError as exc:
            log.report(component, task, "process", exc)


def test_errors_beyond_the_throttle_are_counted_and_their_number_logged(caplog, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(error_log, "time", clock)
    log = ErrorLog()
    with caplog.at_level(logging.ERROR):
        raise_and_report(log, 12)
        logged = [r.getMessage() for r in caplog.records if r.name == "b:3"]
        assert len(logged) == LOG_ERRORS_PER_TASK
        assert "the next ones of this task in the following 10s are counted, not logged" in logged[-1]
        clock.now += 11  # the next interval: its first error says how many of the last were not logged
        raise_and_report(log, 1)
        logged = [r.getMessage() for r in caplog.records if r.name == "b:3"]
        assert logged[LOG_ERRORS_PER_TASK] == "7 more error(s) in the last 11s were not logged (throttled)"
        assert "ValueError: bad 0" in logged[-1]
        raise_and_report(log, 9)
        caplog.clear()
        log.close()  # the worker stops: the count so far is not lost
    assert [r.getMessage() for r in caplog.records] == ["5 more error(s) in the last 0s were not logged (throttled)"]
    assert log.count == 22 and len(log.take_new()) == 22  # every error is still reported


class Kaput(Bolt):
    def process(self, tup):
        raise RuntimeError("kaput")


class KaputTopo(Topology):
    numbers = Count.spec()
    kaput = Kaput.spec(inputs=[numbers])


def test_a_traceback_of_user_code_shows_the_users_frames_only():
    """Raised inside a running topology: the worker's and executors' frames are left out."""
    result = run_in_process(KaputTopo)
    tb = result.statistics.errors[0].traceback
    package = os.path.dirname(error_log.__file__).rsplit(os.sep, 1)[0] + os.sep  # .../squall/ (the package)
    assert tb.startswith("Traceback") and 'raise RuntimeError("kaput")' in tb and package not in tb


# -- a BatchingBolt needs ticks ----------------------------------------------------------------------


class Batcher(BatchingBolt):
    outputs = ["n"]


class N(Spout):
    outputs = ["n"]


def test_a_batching_bolt_without_ticks_is_refused_with_the_fix():
    with pytest.raises(InvalidTopologyError) as info:

        class NoTicks(Topology):
            n = N.spec()
            batch = Batcher.spec(inputs=[n])

    (problem,) = info.value.problems
    assert problem.component == "batch"
    assert "topology.tick.tuple.freq.secs is not set" in problem.message and "never processed" in problem.message
    assert "Batcher.spec(..., config={'topology.tick.tuple.freq.secs': 1})" in problem.fix


def test_a_batching_bolt_with_ticks_from_its_spec_its_class_or_the_topology_is_fine():
    class InSpec(Topology):
        n = N.spec()
        batch = Batcher.spec(inputs=[n], config={"topology.tick.tuple.freq.secs": 1})

    class InTopology(Topology):
        config = {"topology.tick.tuple.freq.secs": 0.5}
        n = N.spec()
        batch = Batcher.spec(inputs=[n])

    class TickedBatcher(Batcher):
        config = {"topology.tick.tuple.freq.secs": 2}

    class InClass(Topology):
        n = N.spec()
        batch = TickedBatcher.spec(inputs=[n])

    assert {InSpec.__name__, InTopology.__name__, InClass.__name__}
    with pytest.raises(InvalidTopologyError, match="is not set for it"):

        class OffInSpec(Topology):  # 0 means no ticks
            config = {"topology.tick.tuple.freq.secs": 1}
            n = N.spec()
            batch = Batcher.spec(inputs=[n], config={"topology.tick.tuple.freq.secs": 0})


def test_user_traceback_of_squalls_own_errors():
    from squall.errors import ConfigError, user_traceback
    from squall.topology.config import check

    with pytest.raises(ConfigError) as info:
        check({"topology.workers": "two"})
    text = user_traceback(info.value)  # a SquallError: its message (the test's frame is the only user frame)
    assert text.endswith("ConfigError: topology.workers='two': expected a non-negative integer (or null)")
    assert "config.py" not in text
    with pytest.raises(AttributeError) as info:
        make_plan({"c": None}, 1, 0)  # fails inside Squall: like a bug in Squall
    exc = info.value
    exc.__traceback__ = exc.__traceback__.tb_next  # drop this test's frame: Squall's frames only
    text = user_traceback(exc)
    assert "squall/topology/plan.py" in text and text.startswith("Traceback")  # kept whole, to find the bug
