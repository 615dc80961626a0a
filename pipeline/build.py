"""Builds the mmkg Beam graph from options. Nothing here starts servers or reads files: the
caller (pipeline.run) has already resolved the graph store and the LLM endpoint."""
from __future__ import annotations

from typing import Dict, Optional

import apache_beam as beam
from apache_beam.pvalue import PCollection

from mmkg.pipeline.options import MmkgOptions, output_prefix
from mmkg.schemas.arrow import PAIR_SCHEMA, pair_to_row
from mmkg.transforms.dead_letters import WriteDeadLetters
from mmkg.transforms.ner import DetectEntities
from mmkg.transforms.pairs import EnumeratePairs
from mmkg.transforms.readers import DEAD, POSTS, ReadPosts, read_config_from_options
from mmkg.transforms.triple_sink import WriteTriplesParquet


def build(
    p: beam.Pipeline,
    opts: MmkgOptions,
    graph=None,
    llm=None,
    llm_off_reason: str = "llm off",
) -> Dict[str, PCollection]:
    """Adds the whole job to ``p``; returns the main PCollections (for tests and callers).

    ``graph`` (kg.settings.GraphSettings) None writes no graph; ``llm`` (llm.settings.LlmSettings)
    None lets the guide decide every pair.
    """
    # Late imports: the stages pull in torch and the LLM client, which `build` callers that only
    # read posts (benchmarks, tests of the readers) should not pay for.
    from mmkg.transforms.graph_writer import WriteGraph
    from mmkg.transforms.guide import ScorePairs
    from mmkg.transforms.refine import Decide

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
    scores = pairs | "Guide" >> ScorePairs(
        checkpoint=opts.checkpoint,
        device=opts.device,
        max_batch_size=opts.guide_batch_size,
        top_k=opts.top_k,
    )
    triples = scores | "Decide" >> Decide(
        llm, checkpoint=opts.checkpoint, top_k=opts.top_k, off_reason=llm_off_reason
    )
    _ = triples | "WriteTriples" >> WriteTriplesParquet(prefix)
    if graph is not None:
        written = {"posts": posts, "triples": triples} | "WriteGraph" >> WriteGraph(
            graph, batch_size=opts.graph_batch_size
        )
        dead_letters.append(written["dead_letters"])

    all_dead = dead_letters | "AllDeadLetters" >> beam.Flatten()
    _ = all_dead | "WriteDeadLetters" >> WriteDeadLetters(prefix)
    return {"posts": posts, "pairs": pairs, "scores": scores, "triples": triples, "dead_letters": all_dead}
