"""``from squall import ...`` is the public surface: pinned, and shown under its public name."""

from __future__ import annotations

import squall

PUBLIC = [
    "BatchingBolt",
    "Bolt",
    "Component",
    "ComponentSpec",
    "ConfigError",
    "Count",
    "EmitError",
    "Grouping",
    "InvalidTopologyError",
    "Problem",
    "ReliableSpout",
    "ShellBolt",
    "ShellSpout",
    "Sliding",
    "Spout",
    "SquallError",
    "StatefulBolt",
    "Stream",
    "StreamId",
    "Topology",
    "TopologyContext",
    "TopologyError",
    "TopologyLoadError",
    "Tumbling",
    "Tuple",
    "Window",
    "WindowedBolt",
    "WorkerError",
]


def test_all_is_pinned() -> None:
    assert squall.__all__ == PUBLIC == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(squall, name).__name__ == name


def test_classes_show_their_public_module() -> None:
    for name in PUBLIC:
        obj = getattr(squall, name)
        if isinstance(obj, type):
            assert obj.__module__ == "squall", name
    assert repr(squall.Bolt) == "<class 'squall.Bolt'>"


def test_version_in_one_place() -> None:
    from importlib.metadata import version

    assert squall.__version__ == version("squall")
