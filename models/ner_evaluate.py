"""``mmkg evaluate-ner``: entity P/R/F1 of the NER student on a CoNLL split (IMGID lines,
token TAB tag), exact span + type as conlleval counts them, micro and per type.

The words are the file's tokens, tagged as given: this measures the model, not the tokeniser.
(``bench.end_to_end`` measures the whole chain from raw text.)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict, Optional, Sequence

from .ner_data import TYPES, read_conll, span_scores, spans_from_tags
from .ner_model import CONVENTIONS
from .precision import PRECISIONS


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="mmkg evaluate-ner", description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="CoNLL file to score")
    ap.add_argument("--checkpoint", default=None, help="NER checkpoint directory (default: the shipped one)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto: fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16, else fp32")
    ap.add_argument("--convention", choices=CONVENTIONS, default="twitter",
                    help="whose entity boundaries the student draws: CoNLL files (Twitter-2015/2017) follow "
                         "Twitter's; the pipeline uses the checkpoint's serving convention")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object (micro.f1 is the headline)")
    return ap.parse_args(argv)


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .ner_predict import NerStudent

    args = parse_args(argv)
    student = NerStudent(args.checkpoint, args.device, args.precision, args.batch_size, args.convention)
    result = evaluate_split(args.split, student, args.limit)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
