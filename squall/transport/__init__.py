"""Moving batches between workers: the ``Transport`` protocol, its ZeroMQ implementation, the wire format."""
