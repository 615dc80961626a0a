"""Entity P/R/F1 (``mmkg evaluate-ner``, cli/evaluate_ner.py) of the NER student on a CoNLL split (IMGID lines,
token TAB tag), exact span + type as conlleval counts them, micro and per type.

The words are the file's tokens, tagged as given: this measures the model, not the tokeniser.
(``bench.end_to_end`` measures the whole chain from raw text.)
"""
from __future__ import annotations

import time
from typing import Dict, Optional

from mmkg.ner.data import TYPES, read_conll, span_scores, spans_from_tags


def evaluate_split(path: str, student, limit: Optional[int] = None) -> Dict:
    sents = read_conll(path)[:limit]
    started = time.perf_counter()
    [pred] = student.tag([s.tokens for s in sents])
    seconds = time.perf_counter() - started
    result = span_scores([spans_from_tags(p) for p in pred], [spans_from_tags(s.tags) for s in sents])
    result.update(split=path, checkpoint_version=student.version, precision=str(student.dtype).split(".")[-1],
                  convention=student.convention,
                  seconds=round(seconds, 2),
                  posts_per_second=round(len(sents) / seconds, 1) if seconds else None)
    return result


def table(result: Dict) -> str:
    rows = [("micro", result["micro"])] + [(t, result["per_type"][t]) for t in TYPES]
    lines = [f"{result['split']}  ({result['sentences']} posts, model {result['checkpoint_version']}, "
             f"{result['precision']}, {result['posts_per_second']} posts/s)", f"{'':8} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6} {'pred':>6}"]
    for name, m in rows:
        lines.append(f"{name:8} {100 * m['precision']:7.2f} {100 * m['recall']:7.2f} {100 * m['f1']:7.2f} "
                     f"{m['gold']:6d} {m['predicted']:6d}")
    return "\n".join(lines)
