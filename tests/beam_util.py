"""Run a small Beam pipeline on the real DirectRunner and bring its outputs back as lists."""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import uuid
from typing import Callable, Dict, List, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions


def _dump(items, path):
    with open(path, "wb") as f:
        pickle.dump(list(items), f)


def run_and_collect(
    build: Callable[[beam.Pipeline], Dict[str, beam.PCollection]],
    argv: Sequence[str] = (),
) -> Dict[str, List]:
    """``build(p)`` returns named PCollections; their full contents come back as lists."""
    out_dir = tempfile.mkdtemp(prefix="mmkg-collect-")
    try:
        paths = {}
        with beam.Pipeline(options=PipelineOptions(list(argv))) as p:
            outputs = build(p)
            for name, pcoll in outputs.items():
                path = os.path.join(out_dir, f"{name}-{uuid.uuid4().hex}.pkl")
                paths[name] = path
                _ = pcoll | f"ToList_{name}" >> beam.combiners.ToList() | f"Dump_{name}" >> beam.Map(_dump, path)
        result = {}
        for name, path in paths.items():
            with open(path, "rb") as f:
                result[name] = pickle.load(f)
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
