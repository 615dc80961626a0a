"""Builds the mmkg Beam graph from a run's settings. Nothing here starts servers or reads files:
the caller (pipeline.run) has already resolved the graph store and the LLM endpoint."""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import apache_beam as beam
from apache_beam.pvalue import PCollection

from mmkg.guide.confidence import confidence_maps
from mmkg.kg.settings import GraphSettings
from mmkg.pipeline.options import RunSettings
from mmkg.refiner.gate_store import Stage2
from mmkg.schemas.arrow import PAIR_SCHEMA, pair_to_row
from mmkg.transforms import progress
from mmkg.transforms.dead_letters import WriteDeadLetters
from mmkg.transforms.facts import OneTriplePerFact
from mmkg.transforms.graph_writer import WriteGraph
from mmkg.transforms.guide import ScorePairs
from mmkg.transforms.ner import DetectEntities
from mmkg.transforms.pairs import EnumeratePairs
from mmkg.transforms.places import CheckPlaces
from mmkg.transforms.readers import DEAD, POSTS, ReadPosts
from mmkg.transforms.refine import Decide
from mmkg.transforms.resolve import EntityRows, ReadKnownEntities, ResolveEntities
from mmkg.transforms.triple_sink import CalibrateConfidence, KeepConfident, WriteTriplesParquet


def _pair_origin(post, _n: int) -> int:
    return 0 if post.pairs is not None else 1


def build(
    p: beam.Pipeline,
    settings: RunSettings,
    graph: Optional[GraphSettings] = None,
    stage2: Stage2 = Stage2(),
) -> Dict[str, PCollection]:
    """Adds the whole job to ``p``; returns the main PCollections (for tests and callers).

    ``graph`` None writes no graph; ``stage2`` (its LLM resolved to a reachable endpoint) says
    which pairs the LLM decides; by default the guide decides every pair. Unless
    ``settings.resolve`` is off, the job reads the entities the graph already holds when it runs
    and resolves this run's names against them.
    """
    if not settings.input:
        raise ValueError("--input is required")
    prefix = settings.output_prefix
    read = p | "ReadPosts" >> ReadPosts(settings.input, settings.input_format, settings.read)
    posts = read[POSTS] | "DetectEntities" >> DetectEntities(settings.ner)
    # Pairs an input annotates (MNRE's) and pairs enumerated from detected entities are scored by
    # the guide trained for each: the benchmark's pairs and raw posts' candidates differ.
    given_posts, raw_posts = posts | "ByPairOrigin" >> beam.Partition(_pair_origin, 2)
    given = given_posts | "GivenPairs" >> beam.ParDo(EnumeratePairs(settings.max_pairs_per_post))
    candidates = raw_posts | "EnumeratePairs" >> beam.ParDo(EnumeratePairs(settings.max_pairs_per_post))
    pairs = (given, candidates) | "AllPairs" >> beam.Flatten()
    dead_letters = [read[DEAD]]

    _ = (
        pairs
        | "PairRows" >> beam.Map(pair_to_row)
        | "WritePairs" >> beam.io.WriteToParquet(prefix + "pairs", PAIR_SCHEMA, file_name_suffix=".parquet")
    )
    guide = settings.guide
    scores = (
        given | "Guide" >> ScorePairs(dataclasses.replace(guide, checkpoint=guide.for_given_pairs)),
        candidates | "GuideCandidates" >> ScorePairs(dataclasses.replace(guide, checkpoint=guide.for_candidate_pairs)),
    ) | "AllScores" >> beam.Flatten()
    if settings.progress:
        _ = read[POSTS] | "ProgressPosts" >> beam.ParDo(progress.Tick(progress.POSTS))
        _ = scores | "ProgressPairs" >> beam.ParDo(progress.Tick(progress.PAIRS))
    triples = scores | "Decide" >> Decide(
        stage2.llm, gating=stage2.gating, top_k=settings.guide.top_k, off_reason=stage2.off_reason
    )
    maps = confidence_maps({guide.for_given_pairs, guide.for_candidate_pairs})
    if maps:
        triples = triples | "CalibrateConfidence" >> beam.ParDo(CalibrateConfidence(maps))
    if settings.check_places:
        triples = triples | "CheckPlaces" >> beam.ParDo(CheckPlaces())
    triples = triples | "OneTriplePerFact" >> OneTriplePerFact()
    _ = triples | "WriteTriples" >> WriteTriplesParquet(prefix)
    outputs = {}
    if graph is not None:
        confident = triples | "KeepConfident" >> beam.ParDo(KeepConfident(settings.min_confidence))
        to_write = {"posts": posts, "triples": confident}
        if settings.resolve:
            known = p | "ReadKnownEntities" >> ReadKnownEntities(graph)
            resolution = dict(to_write, known=known) | "ResolveEntities" >> ResolveEntities(
                settings.resolve_params, settings.resolve_text)
            to_write["resolution"] = resolution
            to_write["entities"] = {"resolution": resolution, "triples": confident,
                                    "known": known} | "EntityRows" >> EntityRows()
            outputs["resolution"] = resolution
        written = to_write | "WriteGraph" >> WriteGraph(graph, batch_size=settings.graph_batch_size)
        dead_letters.append(written["dead_letters"])

    all_dead = dead_letters | "AllDeadLetters" >> beam.Flatten()
    _ = all_dead | "WriteDeadLetters" >> WriteDeadLetters(prefix)
    return {"posts": posts, "pairs": pairs, "scores": scores, "triples": triples, "dead_letters": all_dead,
            **outputs}
