"""What a user declares: components, streams, groupings, the Topology DSL, config and the plan.

Pure data and pure functions: building a Topology starts nothing, and this layer imports
nothing from the runtime, the transport, the local runtime or the front ends.
"""

from squall.topology.bolt import BatchingBolt, Bolt
from squall.topology.component import Component
from squall.topology.dsl import Topology
from squall.topology.grouping import Grouping
from squall.topology.spout import ReliableSpout, Spout
from squall.topology.stream import Stream
from squall.topology.tuple import Tuple

__all__ = ["BatchingBolt", "Bolt", "Component", "Grouping", "ReliableSpout", "Spout", "Stream", "Topology", "Tuple"]
