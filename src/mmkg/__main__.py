"""``python -m mmkg ARGS`` is the ``mmkg`` command."""
from mmkg.pipeline.cli import entry

entry()
