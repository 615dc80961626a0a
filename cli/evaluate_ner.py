"""``mmkg evaluate-ner``: entity P/R/F1 of the NER student on a CoNLL split."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from mmkg.ner.settings import NER_CONVENTIONS
from mmkg.runtime import flags


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="mmkg evaluate-ner",
                                 description="entity P/R/F1 of the NER student on a CoNLL split (exact span + type)")
    ap.add_argument("--split", required=True, help="CoNLL file to score")
    ap.add_argument("--checkpoint", default=None, help="NER checkpoint directory (default: the shipped one)")
    ap.add_argument("--batch-size", type=int, default=64)
    flags.add_device(ap)
    flags.add_precision(ap)
    ap.add_argument("--convention", choices=NER_CONVENTIONS, default="twitter",
                    help="whose entity boundaries the student draws: CoNLL files (Twitter-2015/2017) follow "
                         "Twitter's; the pipeline uses the checkpoint's serving convention")
    ap.add_argument("--limit", type=int, default=None)
    flags.add_json(ap, "print one JSON object (micro.f1 is the headline)")
    return ap.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    # Deferred: torch loads only once the flags are known to be good.
    from mmkg.ner.evaluate import evaluate_split, table
    from mmkg.ner.tagger import NerStudent

    student = NerStudent(args.checkpoint, args.device, args.precision, args.batch_size, args.convention)
    result = evaluate_split(args.split, student, args.limit)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
