"""``python -m pipeline ARGS`` is ``mmkg run ARGS``."""
import sys

from pipeline.cli import main

sys.exit(main(["run", *sys.argv[1:]]))
