"""``mmkg run``: resolve settings, start the embedded services a local run needs, run the
pipeline, print a summary."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from typing import List, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.kg.embedded import graph_settings
from mmkg.llm.gating import plan_stage2
from mmkg.llm.local_server import serving
from mmkg.pipeline.cli import quiet_model_libraries
from mmkg.pipeline.options import MmkgOptions, SettingsError, settings_from_options
from mmkg.pipeline.summary import format_summary
from mmkg.transforms import counters, progress
from mmkg.runners.checks import RunnerConfigError, prepare_runner_options, submits_only


def configure_logging() -> None:
    quiet_model_libraries()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Our own loggers (all named under "mmkg.") talk at INFO; Beam's and the servers' only when
    # something is wrong.
    logging.getLogger("mmkg").setLevel(logging.INFO)


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
    try:
        settings = settings_from_options(opts, terminal=sys.stderr.isatty())
        # Before any embedded server starts: a distributed runner's workers could not reach it.
        prepare_runner_options(options, settings.services)
    except (SettingsError, RunnerConfigError) as e:
        print(f"mmkg run: {e}", file=sys.stderr)
        return 2
    # Deferred: the stages import torch (through Beam's RunInference), seconds that a run
    # refused above should not wait for.
    from mmkg.pipeline.build import build

    stage2 = plan_stage2(settings.llm, settings.guide.checkpoint)
    os.makedirs(settings.data_dir, exist_ok=True)
    with contextlib.ExitStack() as services:
        # Both embedded services live exactly as long as the run; workers get their addresses.
        graph = None
        if settings.write_graph:
            graph = services.enter_context(graph_settings(settings.data_dir, settings.graph))
        llm = services.enter_context(serving(stage2.llm))
        p = beam.Pipeline(options=options)
        build(p, settings, graph=graph, stage2=dataclasses.replace(stage2, llm=llm))
        with progress.showing(settings.progress):
            result = p.run()
            if submits_only(options):
                # A Dataflow dry run or template build: nothing runs, so there is nothing to wait for.
                print("mmkg run: job built, not run (dry run or template)")
                return 0
            result.wait_until_finish()
    print(format_summary(counters.read(result), settings, graph_uri=graph.uri if graph else None,
                         llm_endpoint=llm.base_url if llm else None))
    return 0
