"""``mmkg run``: resolve settings, start the embedded services a local run needs, run the
pipeline, print a summary."""
from __future__ import annotations

import logging
import os
import sys
from typing import Dict, List, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.build import build
from pipeline.options import MmkgOptions, output_prefix
from pipeline.summary import format_summary, metrics_summary

_LOG = logging.getLogger("mmkg")


# Our own loggers talk at INFO; Beam's and the servers' only when something is wrong.
OWN_LOGGERS = ("mmkg", "pipeline", "transforms", "models", "llm", "kg", "runners")


def configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        MmkgOptions(["--help"])
    configure_logging()
    options = PipelineOptions(argv)
    opts = options.view_as(MmkgOptions)
    if not opts.input:
        print("mmkg run: --input is required (a file or glob of posts)", file=sys.stderr)
        return 2
    os.makedirs(opts.data_dir, exist_ok=True)
    with beam.Pipeline(options=options) as p:
        build(p, opts)
    result = p.result
    counters = metrics_summary(result)
    print(format_summary(counters, opts))
    return 0
