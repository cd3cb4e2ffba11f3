"""Connectors: spouts and sinks for message brokers, files and HTTP (see docs/connectors.md).

Each connector is a Spout or Bolt subclass configured with Storm-style keys in its component
config (``KafkaSpout.spec(config={"kafka.topic": "words", ...})``, or ``config = {...}`` in a
subclass). Its client library is an optional extra (``squall[kafka]``...): a topology that uses a
connector whose library is missing is refused when it is loaded, with the ``pip install`` line.

Undecodable messages go to the ``ERROR_STREAM`` of the spout (fields ``ERROR_FIELDS``) and are
acknowledged at the broker: they never stop the topology.
"""

from squall.connectors.base import ERROR_FIELDS as ERROR_FIELDS
from squall.connectors.base import ERROR_STREAM as ERROR_STREAM
