"""Every counter of a run, named once: the stages count through :func:`counter` with these
names and the run's summary reads them back with :func:`read`, so a rename changes both ends."""
from __future__ import annotations

from typing import Dict

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

NAMESPACE = "mmkg"

# Reading. Every record (a line of JSONL or MNRE, a row of Parquet) ends either in a post or as
# a dead letter; a post of MNRE is one sentence, so it may hold several lines.
RECORDS_READ = "records_read"
POSTS_READ = "posts_read"  # after duplicates are dropped
DEAD_LETTERS = "dead_letters"  # of every stage
DEAD_LETTER_KIND = "dead_letter:"  # + "STAGE:KIND"

# Entities and pairs.
POSTS_WITH_GIVEN_ENTITIES = "posts_with_given_entities"
ENTITIES_DETECTED = "entities_detected"
HANDLES_TYPED = "handles_typed"  # candidate @handles typed by the name of their post they spell (ner.handles)
ENTITIES_DROPPED = "entities_dropped:"  # + why a detected span is not an entity (ner.mentions.REASONS)
PAIRS = "pairs"
POSTS_WITHOUT_PAIRS = "posts_without_pairs"
PAIRS_BEYOND_BOUND = "pairs_beyond_bound"  # not scored: the post had more than --max-pairs-per-post
POSTS_AT_PAIR_BOUND = "posts_at_pair_bound"

# Stage 1 (the guide); RunInference adds its own counters under the same namespace.
PAIRS_SCORED = "pairs_scored"

# Stage 2 (the refiner).
PAIRS_TO_LLM = "pairs_to_llm"
LLM_CALLS = "llm_calls"
LLM_CACHE_HITS = "llm_cache_hits"
LLM_PROMPT_TOKENS = "llm_prompt_tokens"
LLM_COMPLETION_TOKENS = "llm_completion_tokens"
LLM_FAULT = "llm_fault:"  # + the fault's kind
DECIDED_BY = "decided_by:"  # + guide, llm or guide-fallback (a pair's decision in stage 2)
TRIPLES = "triples"
PLACES_CONFIRMED = "places_confirmed"  # contain triples the gazetteer confirmed (transforms.places)
PLACES_OVERRULED = "places_overruled"  # ... and overruled (confidence 0, kept in Parquet)
TRIPLES_DUPLICATE = "triples_duplicate"  # a fact a post already states (transforms.facts): merged
TRIPLES_BELOW_MIN_CONFIDENCE = "triples_below_min_confidence"  # in Parquet, not in the graph

# Entity resolution (transforms.resolve).
RESOLVE_MENTIONS = "resolve_mentions"
RESOLVE_NAME_NODES = "resolve_name_nodes"  # distinct (type, normal form) names
RESOLVE_ENTITIES = "resolve_entities"
RESOLVE_MERGES = "resolve_merges"  # name nodes - entities: names that joined another name's entity
RESOLVE_PAIRS_SCORED = "resolve_pairs_scored"
RESOLVE_TEXT_VECTORS = "resolve_text_vectors"  # posts whose text vector resolution reads

# The graph.
GRAPH_TRIPLES_REJECTED = "graph_triples_rejected"
GRAPH_ROWS_WRITTEN = "graph_rows_written"
GRAPH_POSTS_WRITTEN = "graph_posts_written"
GRAPH_TRIPLES_WRITTEN = "graph_triples_written"
GRAPH_BATCHES = "graph_batches"


def counter(name: str):
    return Metrics.counter(NAMESPACE, name)


def read(result) -> Dict[str, int]:
    """A finished run's counters by name: committed values, attempted ones where a runner has
    no committed ones."""
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    out: Dict[str, int] = {}
    for c in counters:
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(value or 0)
    return out
