"""The embedded runtime on one machine: the coordinator, worker processes, launching, reporting."""
