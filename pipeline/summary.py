"""The end-of-run summary: Beam's counters in the mmkg namespace, printed for a person."""
from __future__ import annotations

from typing import Dict

from apache_beam.metrics.metric import MetricsFilter

from pipeline.options import output_prefix
from transforms.dead_letters import COUNTER_PREFIX

NAMESPACE = "mmkg"


def metrics_summary(result) -> Dict[str, int]:
    """Committed counter values by name (attempted where a runner has no committed ones)."""
    counters = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]
    out: Dict[str, int] = {}
    for c in counters:
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(value or 0)
    return out


def format_summary(counters: Dict[str, int], opts) -> str:
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
    ]
    if "pairs_scored" in counters:
        lines.append(f"  pairs scored        {get('pairs_scored')}")
    if "llm_calls" in counters or "llm_requests" in counters:
        lines.append(f"  sent to the LLM     {get('pairs_to_llm')}  (calls {get('llm_calls')}, cache hits {get('llm_cache_hits')})")
    if "triples" in counters:
        lines.append(f"  triples             {get('triples')}")
    lines.append(f"  outputs             {output_prefix(opts)}")
    return "\n".join(lines)
