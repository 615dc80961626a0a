"""``python -m mmkg.pipeline ARGS`` is ``mmkg run ARGS``."""
import sys

from mmkg.pipeline.cli import main

sys.exit(main(["run", *sys.argv[1:]]))
