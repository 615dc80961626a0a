"""One run of the pipeline: start the embedded services a local run needs, run the Beam job,
stop them. The command (cli/run.py) parses the flags and prints the summary."""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import Dict, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.kg.embedded import graph_settings
from mmkg.pipeline.options import RunSettings
from mmkg.refiner.gate_store import plan_stage2
from mmkg.refiner.local_server import serving
from mmkg.runners.checks import submits_only
from mmkg.runtime.scratch import scratch_directory
from mmkg.transforms import counters, progress


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports: its counters, and where the graph and the LLM were. ``submitted_only``:
    a Dataflow dry run or template build, which runs nothing."""

    counters: Dict[str, int]
    graph_uri: Optional[str] = None
    llm_endpoint: Optional[str] = None
    submitted_only: bool = False


def run_pipeline(options: PipelineOptions, settings: RunSettings) -> RunResult:
    # Deferred: the stages import torch (through Beam's RunInference), seconds that a run
    # refused while parsing its flags should not wait for.
    from mmkg.pipeline.build import build

    stage2 = plan_stage2(settings.llm, settings.guide.checkpoint)
    os.makedirs(settings.data_dir, exist_ok=True)
    with contextlib.ExitStack() as services:
        # Both embedded services live exactly as long as the run; workers get their addresses.
        # Entered first, left last: what Beam stages for a submission is removed after the run.
        services.enter_context(scratch_directory())
        graph = None
        if settings.write_graph:
            graph = services.enter_context(graph_settings(settings.data_dir, settings.graph))
        llm = services.enter_context(serving(stage2.llm))
        p = beam.Pipeline(options=options)
        build(p, settings, graph=graph, stage2=dataclasses.replace(stage2, llm=llm))
        with progress.showing(settings.progress):
            result = p.run()
            if submits_only(options):
                return RunResult({}, submitted_only=True)
            result.wait_until_finish()
    return RunResult(counters.read(result), graph_uri=graph.uri if graph else None,
                     llm_endpoint=llm.base_url if llm else None)
