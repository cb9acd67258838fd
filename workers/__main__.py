"""``python -m workers`` is the ``workers`` command."""

from workers.cli import main

main()
