"""``python -m pipeline ARGS`` is ``mmkg run ARGS``."""
import sys

from pipeline.run import main

sys.exit(main())
