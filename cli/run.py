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

EXIT_STATUS = """
exit status:
  0  the run finished (or its job was built or submitted)
  2  a flag, the input or the runner's setup is wrong (nothing ran)
  3  another run rewrote some of the graph's entities while this one ran; nothing it decided about
     them was written: run it again (re-running is idempotent)
  1  anything else failed (the error above)"""


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        try:
            MmkgOptions(["--help"])
        finally:
            print(EXIT_STATUS)
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
    except Exception as e:
        # Not a crash: another run wrote the same graph meanwhile. Say what to do, without a trace.
        changed = GraphChangedError.message_in(e)
        if changed is None:
            raise
        print(f"mmkg run: {changed}", file=sys.stderr)
        return 3
    if result.submitted_only:
        print("mmkg run: job built, not run (dry run or template)")
        return 0
    print(format_summary(result.counters, settings, graph_uri=result.graph_uri, llm_endpoint=result.llm_endpoint))
    return 0
