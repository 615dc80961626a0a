"""The end-of-run summary: Beam's counters in the mmkg namespace, printed for a person."""
from __future__ import annotations

from typing import Dict

from apache_beam.metrics.metric import MetricsFilter

from mmkg.pipeline.options import RunSettings
from mmkg.transforms.dead_letters import COUNTER_PREFIX

NAMESPACE = "mmkg"


def metrics_summary(result) -> Dict[str, int]:
    """Committed counter values by name (attempted where a runner has no committed ones)."""
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    out: Dict[str, int] = {}
    for c in counters:
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(value or 0)
    return out


def format_summary(counters: Dict[str, int], settings: RunSettings, graph_uri=None, llm_endpoint=None) -> str:
    get = lambda k: counters.get(k, 0)  # noqa: E731
    lines = [
        "",
        "mmkg run finished",
        f"  records read        {get('records_read')}",
        f"  posts read          {get('posts_read')}",
        f"  dead letters        {get('dead_letters')}",
    ]
    for name in sorted(k for k in counters if k.startswith(COUNTER_PREFIX)):
        lines.append(f"    {name[len(COUNTER_PREFIX):]:<40} {counters[name]}")
    lines += [
        f"  entities detected   {get('entities_detected')}",
        f"  pairs               {get('pairs')}",
        f"  pairs scored        {get('pairs_scored')}  (stage 1, the guide)",
        f"  sent to the LLM     {get('pairs_to_llm')}  (stage 2; calls {get('llm_calls')}, "
        f"cache hits {get('llm_cache_hits')})",
    ]
    for name in sorted(k for k in counters if k.startswith("llm_fault:")):
        lines.append(f"    {name:<40} {counters[name]}")
    decided = ", ".join(
        f"{k.split(':', 1)[1]} {v}" for k, v in sorted(counters.items()) if k.startswith("decided_by:")
    )
    lines.append(f"  triples             {get('triples')}" + (f"  (decided by: {decided})" if decided else ""))
    if "graph_rows_written" in counters:
        lines.append(
            f"  graph rows written  {get('graph_rows_written')}  in {get('graph_batches')} transactions"
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
