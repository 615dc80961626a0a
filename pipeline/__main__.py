"""``python -m mmkg.pipeline ARGS`` is ``mmkg run ARGS``."""
import sys

from mmkg.pipeline.cli import entry

entry(["run", *sys.argv[1:]])
