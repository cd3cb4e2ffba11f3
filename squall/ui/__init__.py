"""The web UI, REST API and Prometheus metrics of a running topology, and the registry the CLI finds it by.

Above ``squall.local``: it reads a run's ``TopologyStatistics`` snapshots and calls its thread-safe
controls; nothing below imports it.
"""
