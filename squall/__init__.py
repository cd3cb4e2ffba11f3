"""Squall: real-time stream processing in Python, in the Apache Storm model.

Spouts emit tuples, bolts process them, a Topology wires them with stream groupings and
parallelism; ``squall run`` runs it on worker processes on this machine.
"""

from .bolt import BatchingBolt as BatchingBolt
from .bolt import Bolt as Bolt
from .component import Component as Component
from .context import TopologyContext as TopologyContext
from .errors import ConfigError as ConfigError
from .errors import EmitError as EmitError
from .errors import InvalidTopologyError as InvalidTopologyError
from .errors import Problem as Problem
from .errors import SquallError as SquallError
from .errors import TopologyError as TopologyError
from .errors import TopologyLoadError as TopologyLoadError
from .errors import WorkerError as WorkerError
from .grouping import Grouping as Grouping
from .spec import ComponentSpec as ComponentSpec
from .spec import StreamId as StreamId
from .spout import ReliableSpout as ReliableSpout
from .spout import Spout as Spout
from .stream import Stream as Stream
from .topology import Topology as Topology
from .tuple import Tuple as Tuple

__version__ = "0.1.0"

__all__ = [
    "BatchingBolt",
    "Bolt",
    "Component",
    "ComponentSpec",
    "ConfigError",
    "EmitError",
    "Grouping",
    "InvalidTopologyError",
    "Problem",
    "ReliableSpout",
    "Spout",
    "SquallError",
    "Stream",
    "StreamId",
    "Topology",
    "TopologyContext",
    "TopologyError",
    "TopologyLoadError",
    "Tuple",
    "WorkerError",
]
