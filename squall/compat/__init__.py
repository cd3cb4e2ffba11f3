"""Compatibility with other Storm front ends: streamparse topologies and pystorm components, in-process.

``loader.load_topology`` finds a Squall or a streamparse ``Topology`` in a file;
``streamparse_topology`` reads a streamparse ``Topology`` class into Squall's model;
``pystorm_components`` runs streamparse/pystorm components inside Squall's workers. The real
``streamparse`` package is used when a user's file imports it (``pip install 'squall[streamparse]'``):
Squall ships no module of that name.
"""
