"""``mmkg run``: the flags to settings, the run, the summary."""
from __future__ import annotations

import sys
from typing import List, Optional

from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli.logs import configure_logging
from mmkg.kg.writer import GraphChangedError
from mmkg.pipeline.options import MmkgOptions, SettingsError, settings_from_options
from mmkg.pipeline.run import run_pipeline
from mmkg.pipeline.summary import format_summary
from mmkg.runners.checks import RunnerConfigError, prepare_runner_options


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
    try:
        result = run_pipeline(options, settings)
    except GraphChangedError as e:
        # Not a crash: another run wrote the same graph meanwhile. Say what to do, without a trace.
        print(f"mmkg run: {e}", file=sys.stderr)
        return 3
    if result.submitted_only:
        print("mmkg run: job built, not run (dry run or template)")
        return 0
    print(format_summary(result.counters, settings, graph_uri=result.graph_uri, llm_endpoint=result.llm_endpoint))
    return 0
