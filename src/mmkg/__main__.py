"""``python -m mmkg ARGS`` is the ``mmkg`` command."""
import sys

from mmkg.pipeline.cli import main

sys.exit(main())
