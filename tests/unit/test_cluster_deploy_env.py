"""`squall submit -e ENV`'s pure parts: the env's nimbus as the Ray address, the master's placement options."""

from __future__ import annotations

import pytest

from squall.cluster.client import master_options, nimbus_address
from squall.cluster.master import Submission
from squall.errors import ConfigError


@pytest.mark.parametrize(
    ("nimbus", "address"),
    [
        ("ray-head:6379", "ray-head:6379"),
        ("ray-head", "ray-head:6379"),  # Ray's default port (Storm's 6627 is Nimbus's Thrift, not Ray)
        ("10.0.0.5:7000", "10.0.0.5:7000"),
        ("[::1]", "[::1]:6379"),
        ("[::1]:7000", "[::1]:7000"),
        ("", None),  # sparse quickstart's empty nimbus names no cluster
        (None, None),
    ],
)
def test_the_envs_nimbus_is_the_ray_address(nimbus, address):
    settings = {} if nimbus is None else {"nimbus": nimbus}
    assert nimbus_address("prod", settings, "config.json") == address


@pytest.mark.parametrize("nimbus", [6379, ["a"], "   "])
def test_a_nimbus_that_is_no_address_is_refused_naming_the_key(nimbus):
    with pytest.raises(ConfigError, match=r"config.json: envs.prod.nimbus must be the Ray head's"):
        nimbus_address("prod", {"nimbus": nimbus}, "config.json")


def test_the_master_is_asked_for_on_the_drivers_node_softly():
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    sub = Submission(ref="t.py", name="wc", topology_id="wc-1", overrides={}, keys={}, token="t")
    options = master_options(sub, {"head": 0.01}, "ab" * 28)
    strategy = options["scheduling_strategy"]
    assert isinstance(strategy, NodeAffinitySchedulingStrategy)
    assert strategy.node_id == "ab" * 28 and strategy.soft is True
    assert options["resources"] == {"head": 0.01} and options["num_cpus"] == 0 and options["lifetime"] == "detached"
    assert options["memory"] == 1  # a request of some resource: Ray ignores soft affinity for an empty one
    assert "scheduling_strategy" not in master_options(sub, None, None)  # no node known: where Ray puts it
