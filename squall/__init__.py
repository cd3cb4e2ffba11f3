"""Squall: real-time stream processing in Python, in the Apache Storm model.

Spouts emit tuples, bolts process them, a Topology wires them with stream groupings and
parallelism; ``squall run`` runs it on worker processes on this machine.
"""

from squall.errors import ConfigError as ConfigError
from squall.errors import EmitError as EmitError
from squall.errors import InvalidTopologyError as InvalidTopologyError
from squall.errors import Problem as Problem
from squall.errors import SquallError as SquallError
from squall.errors import TopologyError as TopologyError
from squall.errors import TopologyLoadError as TopologyLoadError
from squall.errors import WorkerError as WorkerError
from squall.topology.bolt import BatchingBolt as BatchingBolt
from squall.topology.bolt import Bolt as Bolt
from squall.topology.component import Component as Component
from squall.topology.context import TopologyContext as TopologyContext
from squall.topology.dsl import Topology as Topology
from squall.topology.grouping import Grouping as Grouping
from squall.topology.shell import ShellBolt as ShellBolt
from squall.topology.shell import ShellSpout as ShellSpout
from squall.topology.spec import ComponentSpec as ComponentSpec
from squall.topology.spec import StreamId as StreamId
from squall.topology.spout import ReliableSpout as ReliableSpout
from squall.topology.spout import Spout as Spout
from squall.topology.stateful_bolt import StatefulBolt as StatefulBolt
from squall.topology.stream import Stream as Stream
from squall.topology.tuple import Tuple as Tuple
from squall.topology.windowed_bolt import WindowedBolt as WindowedBolt
from squall.topology.windows import Count as Count
from squall.topology.windows import Sliding as Sliding
from squall.topology.windows import Tumbling as Tumbling
from squall.topology.windows import Window as Window

__version__ = "0.1.0"

__all__ = [
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

# Tracebacks, reprs and help() show the public name (squall.Bolt), not the module it lives in.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "squall"
del _name, _obj
