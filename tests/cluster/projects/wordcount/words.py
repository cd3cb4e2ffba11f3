"""A module of the project folder: the topology imports it, so every node needs the folder (runtime_env)."""

WORDS = ("dog", "cat", "zebra", "elephant", "squall", "storm")
