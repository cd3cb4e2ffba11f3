"""Configuration (``--conf`` parsing, precedence, type checks) and the physical plan."""

from __future__ import annotations

import os
import re

import pytest

from squall import Bolt, ConfigError, Grouping, Spout, SquallError, Topology
from squall.topology.config import (
    DEFAULTS,
    INT_KEYS,
    NUMBER_KEYS,
    RuntimeSettings,
    check,
    component_conf,
    hosts,
    parse_pairs,
    parse_value,
    runtime_settings,
    topology_conf,
)
from squall.topology.plan import make_plan

# -- parse_pairs ------------------------------------------------------------------------------


def test_parse_pairs_values():
    assert parse_pairs(
        [
            "topology.workers=4",
            "topology.message.timeout.secs=2.5",
            "topology.debug=true",
            "a.false=false",
            "topology.max.spout.pending=null",
            'list=[1, 2, "x"]',
            'obj={"k": 1}',
            "text=hello world",
            "neg=-3",
            "empty=",
            " spaced.key =7",
            "eq=a=b",
        ]
    ) == {
        "topology.workers": 4,
        "topology.message.timeout.secs": 2.5,
        "topology.debug": True,
        "a.false": False,
        "topology.max.spout.pending": None,
        "list": [1, 2, "x"],
        "obj": {"k": 1},
        "text": "hello world",
        "neg": -3,
        "empty": "",
        "spaced.key": 7,
        "eq": "a=b",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("1.0", 1.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("None", None),
        ("nil", None),
        ("yes", True),
        ("ON", True),
        ("no", False),
        ("off", False),
        ('"quoted"', "quoted"),
        ("plain", "plain"),
        ("[]", []),
    ],
)
def test_parse_value(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("pair", ["novalue", "=5", "  =x", ""])
def test_parse_pairs_bad_pair(pair):
    with pytest.raises(ConfigError, match=re.escape(f"--conf {pair!r} is not key=value (e.g. --conf ")):
        parse_pairs([pair])


def test_config_error_is_a_squall_error():
    assert issubclass(ConfigError, SquallError)


# -- precedence and checks --------------------------------------------------------------------


def test_topology_conf_precedence():
    conf = topology_conf(
        {"topology.max.spout.pending": 100, "topology.debug": True, "user.key": "topo"},
        {"topology.max.spout.pending": 5, "user.key": "cli"},
    )
    assert conf["topology.max.spout.pending"] == 5  # override beats topology config
    assert conf["topology.debug"] is True  # topology config beats default
    assert conf["user.key"] == "cli"
    assert conf["topology.message.timeout.secs"] == DEFAULTS["topology.message.timeout.secs"]  # default
    assert conf["topology.transfer.batch.size"] == 1000
    assert set(DEFAULTS) <= set(conf)


def test_topology_conf_defaults_alone():
    conf = topology_conf({})
    assert {k: v for k, v in conf.items() if k != "topology.workers"} == {
        k: v for k, v in DEFAULTS.items() if k != "topology.workers"
    }
    assert conf["topology.workers"] == (os.cpu_count() or 1)
    assert topology_conf(None, None)["topology.workers"] == (os.cpu_count() or 1)


def test_topology_conf_workers():
    assert topology_conf({"topology.workers": 3})["topology.workers"] == 3
    assert topology_conf({"topology.workers": 3}, {"topology.workers": 2})["topology.workers"] == 2
    assert topology_conf({"topology.workers": 3}, {"topology.workers": None})["topology.workers"] == (
        os.cpu_count() or 1
    )


def test_topology_conf_does_not_mutate_inputs():
    topo = {"topology.debug": True}
    over = {"topology.workers": 2}
    topology_conf(topo, over)
    assert topo == {"topology.debug": True} and over == {"topology.workers": 2}
    assert DEFAULTS["topology.workers"] is None


def test_component_conf_overrides_for_that_component_only():
    conf = topology_conf({"topology.tick.tuple.freq.secs": 5})
    merged = component_conf(conf, {"topology.tick.tuple.freq.secs": 1, "mine": 2})
    assert merged["topology.tick.tuple.freq.secs"] == 1 and merged["mine"] == 2
    assert conf["topology.tick.tuple.freq.secs"] == 5 and "mine" not in conf
    assert component_conf(conf, None) == conf


@pytest.mark.parametrize("key", sorted(INT_KEYS))
@pytest.mark.parametrize("bad", ["2", 1.5, -1, True, [1]])
def test_check_rejects_bad_int_values(key, bad):
    with pytest.raises(ConfigError, match=re.escape(f"{key}={bad!r}: expected a non-negative integer (or null)")):
        check({key: bad})


@pytest.mark.parametrize("key", sorted(NUMBER_KEYS))
@pytest.mark.parametrize("bad", ["2", -0.5, False, {}])
def test_check_rejects_bad_number_values(key, bad):
    with pytest.raises(ConfigError, match=re.escape(f"{key}={bad!r}: expected a non-negative number (or null)")):
        check({key: bad})


def test_check_accepts_good_values():
    conf = {k: 0 for k in INT_KEYS if k not in ("topology.workers", "squall.spout.burst")}
    conf.update({k: 0.5 for k in NUMBER_KEYS})
    conf.update({"topology.workers": 1, "unknown.key": object()})
    assert check(conf) is conf
    assert check({k: None for k in INT_KEYS | NUMBER_KEYS})


def test_check_rejects_zero_workers():
    with pytest.raises(ConfigError, match=r"topology\.workers=0: expected at least 1 worker"):
        check({"topology.workers": 0})


def test_check_rejects_a_zero_spout_burst():
    with pytest.raises(ConfigError, match=r"squall\.spout\.burst=0: expected at least 1 next_tuple\(\) call"):
        check({"squall.spout.burst": 0})


# -- runtime settings: read once; None means the default, 0 means 0 ------------------------------


def test_runtime_settings_defaults():
    s = runtime_settings(topology_conf({}))
    assert s == RuntimeSettings(
        batch_size=1000,
        flush_secs=0.001,
        spout_burst=100,
        message_timeout_secs=30.0,
        drain_timeout_secs=10.0,
        shutdown_timeout_secs=10.0,
        stats_interval_secs=5.0,
        stats_round_secs=1.0,
        log_lines=1000,
        transfer_hwm=64,
        batch_bytes=256 * 1024,
        max_message_bytes=64 * 1024 * 1024,
        bind_host="127.0.0.1",
        advertise_host="127.0.0.1",
        worker_restart=True,
        log_collapse_secs=5.0,
        heartbeat_timeout_secs=30.0,
    )
    assert runtime_settings({k: None for k in DEFAULTS}) == s  # None: the default


def test_runtime_settings_zero_means_zero():
    zeros = {
        "topology.transfer.batch.size": 0,
        "topology.batch.flush.interval.millis": 0,
        "squall.drain.timeout.secs": 0,
        "squall.shutdown.timeout.secs": 0,
        "squall.stats.interval.secs": 0,
        "squall.transfer.hwm": 0,
        "squall.transfer.batch.bytes": 0,
        "squall.transfer.max.message.bytes": 0,
        "topology.message.timeout.secs": 0,
        "squall.worker.restart": False,
        "squall.log.collapse.secs": 0,
        "squall.worker.heartbeat.timeout.secs": 0,
    }
    s = runtime_settings(topology_conf({}, zeros))
    assert (s.batch_size, s.flush_secs, s.drain_timeout_secs, s.stats_interval_secs, s.transfer_hwm) == (0, 0, 0, 0, 0)
    assert s.shutdown_timeout_secs == 0
    assert s.heartbeat_timeout_secs is None  # 0: a silent worker is never killed
    assert (s.batch_bytes, s.max_message_bytes) == (0, 0)  # no byte cap, no message limit
    assert s.message_timeout_secs is None  # 0: trees never time out
    assert s.worker_restart is False
    assert s.log_collapse_secs == 0  # every log line written
    assert s.stats_round_secs == 0  # rounds at least as often as the status line: every turn


def test_stats_rounds_are_at_least_as_frequent_as_the_status_line():
    s = runtime_settings(topology_conf({}, {"squall.stats.interval.secs": 0.05}))
    assert (s.stats_interval_secs, s.stats_round_secs) == (0.05, 0.05)
    s = runtime_settings(topology_conf({}, {"squall.stats.round.secs": 0.25, "squall.ui.log.lines": 0}))
    assert (s.stats_interval_secs, s.stats_round_secs, s.log_lines) == (5.0, 0.25, 0)


def test_runtime_settings_reads_values_and_checks_them():
    s = runtime_settings(topology_conf({"topology.batch.flush.interval.millis": 2.5}, {"squall.spout.burst": 7}))
    assert (s.flush_secs, s.spout_burst) == (0.0025, 7)
    with pytest.raises(ConfigError, match=r"squall\.drain\.timeout\.secs='soon'"):
        runtime_settings({"squall.drain.timeout.secs": "soon"})


def test_topology_conf_checks_overrides():
    with pytest.raises(ConfigError, match=r"topology\.max\.spout\.pending='lots'"):
        topology_conf({}, parse_pairs(["topology.max.spout.pending=lots"]))
    with pytest.raises(ConfigError, match=r"topology\.message\.timeout\.secs=-1"):
        topology_conf({"topology.message.timeout.secs": -1})


# -- hosts ------------------------------------------------------------------------------------


def test_hosts_default_to_loopback_and_advertise_the_bind_host():
    assert DEFAULTS["squall.advertise.host"] is None
    assert hosts(topology_conf({})) == ("127.0.0.1", "127.0.0.1")
    assert hosts({"squall.bind.host": "127.0.0.2"}) == ("127.0.0.2", "127.0.0.2")
    assert hosts({"squall.bind.host": None}) == ("127.0.0.1", "127.0.0.1")


def test_hosts_advertise_separately():
    conf = {"squall.bind.host": "0.0.0.0", "squall.advertise.host": "127.0.0.3"}
    assert hosts(conf) == ("0.0.0.0", "127.0.0.3")
    assert hosts({"squall.bind.host": "127.0.0.2", "squall.advertise.host": "127.0.0.4"}) == ("127.0.0.2", "127.0.0.4")


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", "*"])
def test_wildcard_bind_without_advertise_host_is_refused(wildcard):
    with pytest.raises(ConfigError, match=r"squall\.bind\.host=.* set squall\.advertise\.host"):
        check({"squall.bind.host": wildcard})
    with pytest.raises(ConfigError, match=r"squall\.advertise\.host"):
        topology_conf({}, parse_pairs([f"squall.bind.host={wildcard}"]))


@pytest.mark.parametrize("bad", ["0.0.0.0", "::", 7, ["127.0.0.2"]])
def test_advertise_host_must_be_an_address(bad):
    with pytest.raises(ConfigError, match=re.escape(f"squall.advertise.host={bad!r}")):
        check({"squall.bind.host": "127.0.0.2", "squall.advertise.host": bad})


def test_bind_host_must_be_a_string():
    with pytest.raises(ConfigError, match=r"squall\.bind\.host=5"):
        check({"squall.bind.host": 5})


# -- plan -------------------------------------------------------------------------------------


class S(Spout):
    outputs = ["x"]


class B(Bolt):
    outputs = ["x"]


def components(**pars):
    """A topology with one spout 'spout' (par from pars) and bolts named by the other keys."""
    ns = {"spout": S.spec(par=pars.pop("spout", 1))}
    for name, par in pars.items():
        ns[name] = B.spec(inputs=["spout"], par=par)
    return type("T", (Topology,), ns).components


def test_task_ids_start_at_1_in_sorted_component_order():
    comps = components(zeta=2, spout=3, alpha=1, mid=2)
    plan = make_plan(comps, 1)
    assert plan.component_tasks == {"alpha": [1], "mid": [2, 3], "spout": [4, 5, 6], "zeta": [7, 8]}
    assert plan.task_component == {
        1: "alpha",
        2: "mid",
        3: "mid",
        4: "spout",
        5: "spout",
        6: "spout",
        7: "zeta",
        8: "zeta",
    }
    assert list(plan.task_component) == list(range(1, 9))


def test_round_robin_assignment():
    plan = make_plan(components(spout=2, bolt=3), 2)
    # bolt: 1, 2, 3; spout: 4, 5
    assert plan.num_workers == 2
    assert plan.task_worker == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}
    assert plan.worker_tasks(0) == [1, 3, 5]
    assert plan.worker_tasks(1) == [2, 4]
    assert plan.to_dict() == {
        "workers": 2,
        "tasks": {
            "1": {"component": "bolt", "worker": 0},
            "2": {"component": "bolt", "worker": 1},
            "3": {"component": "bolt", "worker": 0},
            "4": {"component": "spout", "worker": 1},
            "5": {"component": "spout", "worker": 0},
        },
    }


def test_par_greater_than_workers():
    plan = make_plan(components(spout=1, bolt=7), 3)
    assert plan.num_workers == 3
    assert plan.component_tasks["bolt"] == list(range(1, 8))
    per_worker = {w: plan.worker_tasks(w) for w in range(3)}
    assert per_worker == {0: [1, 4, 7], 1: [2, 5, 8], 2: [3, 6]}
    assert sorted(t for ts in per_worker.values() for t in ts) == list(range(1, 9))
    # Each worker runs some of the bolt's tasks.
    assert all(any(plan.task_component[t] == "bolt" for t in ts) for ts in per_worker.values())


@pytest.mark.parametrize(("requested", "expected"), [(10, 3), (3, 3), (2, 2), (1, 1), (0, 1)])
def test_workers_capped_to_number_of_tasks(requested, expected):
    plan = make_plan(components(spout=1, bolt=2), requested)
    assert plan.num_workers == expected
    assert set(plan.task_worker.values()) == set(range(expected))
    assert all(plan.worker_tasks(w) for w in range(expected))


def test_plan_is_deterministic_and_ignores_definition_order():
    class A(Topology):
        spout = S.spec(par=2)
        b1 = B.spec(inputs={"spout": Grouping.SHUFFLE}, par=3)
        b2 = B.spec(inputs=["b1"], par=2)

    class Z(Topology):
        b2 = B.spec(inputs=["b1"], par=2)
        b1 = B.spec(inputs={"spout": Grouping.SHUFFLE}, par=3)
        spout = S.spec(par=2)

    assert make_plan(A.components, 4) == make_plan(Z.components, 4) == make_plan(A.components, 4)


class OneSpout(Topology):
    spout = S.spec()


def test_coordinator_reads_zero_drain_timeout_and_stats_interval():
    from squall.local.coordinator import Coordinator

    c = Coordinator(OneSpout, {"squall.drain.timeout.secs": 0, "squall.stats.interval.secs": 0}, handle_signals=False)
    assert (c.settings.drain_timeout_secs, c.settings.stats_interval_secs) == (0.0, 0.0)
