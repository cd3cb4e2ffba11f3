"""``python -m squall`` is the ``squall`` command."""

from .cli import main

main()
