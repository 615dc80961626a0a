"""Builds the mmkg Beam graph from options. Nothing here starts servers or reads files: the
caller (pipeline.run) has already resolved endpoints into the options."""
from __future__ import annotations

from typing import Dict

import apache_beam as beam
from apache_beam.pvalue import PCollection

from pipeline.options import MmkgOptions, output_prefix
from schemas.arrow import PAIR_SCHEMA, pair_to_row
from transforms.dead_letters import WriteDeadLetters
from transforms.ner import DetectEntities
from transforms.pairs import EnumeratePairs
from transforms.readers import DEAD, POSTS, ReadPosts, read_config_from_options


def build(p: beam.Pipeline, opts: MmkgOptions) -> Dict[str, PCollection]:
    """Adds the whole job to ``p``; returns the main PCollections (for tests and callers)."""
    if not opts.input:
        raise ValueError("--input is required")
    prefix = output_prefix(opts)
    read = p | "ReadPosts" >> ReadPosts(opts.input, opts.input_format, read_config_from_options(opts))
    posts = read[POSTS] | "DetectEntities" >> beam.ParDo(DetectEntities(opts.ner_model))
    pairs = posts | "EnumeratePairs" >> beam.ParDo(EnumeratePairs())
    dead_letters = [read[DEAD]]

    _ = (
        pairs
        | "PairRows" >> beam.Map(pair_to_row)
        | "WritePairs" >> beam.io.WriteToParquet(prefix + "pairs", PAIR_SCHEMA, file_name_suffix=".parquet")
    )

    all_dead = dead_letters | "AllDeadLetters" >> beam.Flatten()
    _ = all_dead | "WriteDeadLetters" >> WriteDeadLetters(prefix)
    return {"posts": posts, "pairs": pairs, "dead_letters": all_dead}
