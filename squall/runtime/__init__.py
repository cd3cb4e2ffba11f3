"""What runs inside a worker: the loop, the executors, routing, acking, building tuples.

The runtime knows the topology layer and the ``Transport`` protocol, never who started it
(the local runtime's processes, the in-process test runner, a Ray actor).
"""
