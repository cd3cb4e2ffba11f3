"""Squall on a Ray cluster (``squall submit``): the topology master and worker actors (docs/cluster.md).

``ray`` is an optional dependency (``pip install 'squall[ray]'``), imported lazily, only in this package.
"""
