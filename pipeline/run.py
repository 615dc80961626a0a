"""``mmkg run``: resolve settings, start the embedded services a local run needs, run the
pipeline, print a summary."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import List, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.pipeline.build import build
from mmkg.pipeline.cli import quiet_model_libraries
from mmkg.pipeline.options import MmkgOptions, resolved_llm_base_url, resolved_neo4j_uri
from mmkg.pipeline.summary import format_summary, metrics_summary
from mmkg.runners.checks import RunnerConfigError, prepare_runner_options, submits_only

_LOG = logging.getLogger("mmkg")



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
    uses_embedded_graph = not opts.no_graph and not resolved_neo4j_uri(opts)
    uses_embedded_llm = opts.llm.lower() != "none" and not resolved_llm_base_url(opts)
    try:
        # Before any embedded server starts: a distributed runner's workers could not reach it.
        prepare_runner_options(options, uses_embedded_graph, uses_embedded_llm)
    except RunnerConfigError as e:
        print(f"mmkg run: {e}", file=sys.stderr)
        return 2
    from mmkg.kg.embedded import graph_settings
    from mmkg.kg.settings import settings_from_options
    from mmkg.llm.gating import load_gating
    from mmkg.llm.local_server import serving
    from mmkg.llm.settings import llm_settings_from_options

    try:
        llm_wanted = llm_settings_from_options(opts)
    except ValueError as e:
        print(f"mmkg run: {e}", file=sys.stderr)
        return 2
    llm_off_reason = "llm off"
    if llm_wanted is not None and llm_wanted.needs_local_server:
        gating = load_gating(opts.checkpoint, llm_wanted.expected_model)
        if gating.never:
            # Calibration found the embedded model no help for this guide: starting it would
            # only cost time. A stronger endpoint has its own calibration entry.
            _LOG.info("the calibrated gate for %s is closed; the local LLM server is not started",
                      llm_wanted.expected_model)
            llm_wanted = None
            llm_off_reason = f"llm gate closed for {gating.llm_model or 'the embedded model'}"
    os.makedirs(opts.data_dir, exist_ok=True)
    with contextlib.ExitStack() as services:
        # Both embedded services live exactly as long as the run; workers get their addresses.
        graph = None
        if not opts.no_graph:
            graph = services.enter_context(graph_settings(opts.data_dir, settings_from_options(opts)))
        llm = services.enter_context(serving(llm_wanted))
        p = beam.Pipeline(options=options)
        build(p, opts, graph=graph, llm=llm, llm_off_reason=llm_off_reason)
        result = p.run()
        if submits_only(options):
            # A Dataflow dry run or template build: nothing runs, so there is nothing to wait for.
            print("mmkg run: job built, not run (dry run or template)")
            return 0
        result.wait_until_finish()
    print(format_summary(metrics_summary(result), opts, graph_uri=graph.uri if graph else None,
                         llm_endpoint=llm.base_url if llm else None))
    return 0
