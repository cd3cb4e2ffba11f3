"""Fixtures more than one test folder uses: a real Redis (``redis_server.py``), for the Redis
Streams connector (tests/connectors) and the Redis state backend (tests/state). This folder is on
``sys.path`` (pytest puts a conftest's folder there), so tests import ``redis_server`` as a module."""

from redis_server import redis_server  # noqa: F401  (the session fixture, one server for every folder)
