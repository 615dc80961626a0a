"""The end-of-run summary: the run's counters (named in transforms.counters), printed for a person."""
from __future__ import annotations

from typing import Dict

from mmkg.pipeline.options import RunSettings
from mmkg.resolve.scoring import DEFAULT as DEFAULT_RESOLVE
from mmkg.resolve.scoring import rules_of
from mmkg.transforms import counters as C


def format_summary(counters: Dict[str, int], settings: RunSettings, graph_uri=None, llm_endpoint=None) -> str:
    """``counters`` as :func:`transforms.counters.read` returns them."""
    get = lambda k: counters.get(k, 0)  # noqa: E731
    lines = [
        "",
        "mmkg run finished",
        f"  records read        {get(C.RECORDS_READ)}",
        f"  posts read          {get(C.POSTS_READ)}",
        f"  dead letters        {get(C.DEAD_LETTERS)}",
    ]
    for name in sorted(k for k in counters if k.startswith(C.DEAD_LETTER_KIND)):
        lines.append(f"    {name[len(C.DEAD_LETTER_KIND):]:<40} {counters[name]}")
    handles = get(C.HANDLES_TYPED)
    typed = ("" if not handles else "  (1 @handle typed by the name it spells)" if handles == 1
             else f"  ({handles} @handles typed by the name they spell)")
    lines += [
        f"  entities detected   {get(C.ENTITIES_DETECTED)}{typed}",
    ]
    dropped = {k[len(C.ENTITIES_DROPPED):]: v for k, v in counters.items() if k.startswith(C.ENTITIES_DROPPED) and v}
    if dropped:
        lines.append(f"    not entities      {sum(dropped.values())}  ("
                     + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) + ")")
    lines += [
        f"  pairs               {get(C.PAIRS)}"
        + (f"  ({get(C.PAIRS_BEYOND_BOUND)} more in {get(C.POSTS_AT_PAIR_BOUND)} posts beyond "
           f"--max-pairs-per-post {settings.max_pairs_per_post}, not scored)" if get(C.PAIRS_BEYOND_BOUND) else ""),
        f"  pairs scored        {get(C.PAIRS_SCORED)}  (stage 1, the guide)",
        f"  sent to the LLM     {get(C.PAIRS_TO_LLM)}  (stage 2; calls {get(C.LLM_CALLS)}, "
        f"cache hits {get(C.LLM_CACHE_HITS)})",
    ]
    for name in sorted(k for k in counters if k.startswith(C.LLM_FAULT)):
        lines.append(f"    {name:<40} {counters[name]}")
    decided = ", ".join(
        f"{k[len(C.DECIDED_BY):]} {v}" for k, v in sorted(counters.items()) if k.startswith(C.DECIDED_BY)
    )
    triples = get(C.TRIPLES) - get(C.TRIPLES_DUPLICATE)
    notes = [f"decided by: {decided}"] if decided else []
    if get(C.TRIPLES_DUPLICATE):
        notes.append(f"{get(C.TRIPLES_DUPLICATE)} restating a fact of the same post merged")
    lines.append(f"  triples             {triples}" + (f"  ({'; '.join(notes)})" if notes else ""))
    if settings.check_places:
        lines.append(f"    places checked    {get(C.PLACES_CONFIRMED) + get(C.PLACES_OVERRULED)}  (contain triples "
                     f"GeoNames settles: {get(C.PLACES_CONFIRMED)} confirmed, {get(C.PLACES_OVERRULED)} overruled)")
    if settings.write_graph:
        lines.append(f"    in the graph      {triples - get(C.TRIPLES_BELOW_MIN_CONFIDENCE)}  (confidence >= "
                     f"{settings.min_confidence:g}; all {triples} in Parquet)")
    if C.RESOLVE_NAME_NODES in counters:
        lines.append(f"  entities resolved   {get(C.RESOLVE_NAME_NODES)} names -> {get(C.RESOLVE_ENTITIES)} entities  "
                     f"({get(C.RESOLVE_MERGES)} merged; why: mmkg query entity NAME)")
        if settings.resolve_params != DEFAULT_RESOLVE:
            lines.append(f"    thresholds        {rules_of(settings.resolve_params).partition(';')[2]}  "
                         f"(--resolve-param; the others at their defaults)")
    if C.GRAPH_ROWS_WRITTEN in counters:
        lines.append(
            f"  graph rows written  {get(C.GRAPH_ROWS_WRITTEN)}  in {get(C.GRAPH_BATCHES)} transactions"
        )
    lines.append(f"  outputs             {settings.output_prefix}  (pairs, triples: Parquet; dead letters: JSONL)")
    if llm_endpoint:
        lines.append(f"  LLM endpoint        {llm_endpoint}")
    if graph_uri:
        embedded = settings.uses_embedded_graph
        where = f"embedded store in {settings.data_dir}" if embedded else graph_uri
        lines.append(f"  graph               {where}")
        data_flag = f" --data-dir {settings.data_dir}" if embedded else ""
        lines.append(f"  query it            mmkg query stats{data_flag}")
        lines.append(f"                      mmkg query entity NAME{data_flag}")
        lines.append(f"                      mmkg query show NAME --html graph.html{data_flag}")
    return "\n".join(lines)
