"""``python -m mmkg ARGS`` is the ``mmkg`` command."""
from mmkg.cli.main import entry

entry()
