"""``mmkg evaluate``: score the guide on an MNRE split (one instance per line, exactly the
benchmark's pairs) — micro P/R/F1 over non-None labels and accuracy, a per-relation table and a
confusion summary. ``--json`` prints one JSON object. ``--llm`` other than ``none`` also runs the
refiner (``llm.evaluation.evaluate_with_llm``) on the guide's predictions; every other ``--llm-*``
flag of ``mmkg run`` is accepted and passed on.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from mmkg.schemas.records import RelationScores


def parse_args(argv: Optional[Sequence[str]]):
    ap = argparse.ArgumentParser(prog="mmkg evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="MNRE split file (e.g. mnre_val.txt)")
    ap.add_argument("--checkpoint", default=None, help="guide checkpoint directory (default: the shipped one)")
    ap.add_argument("--llm", default="none", help="none (guide only), auto, local or remote: also run the refiner")
    ap.add_argument("--image-dir", default=None, help="MNRE image directory (absent: text only)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    ap.add_argument("--confusions", type=int, default=10, help="how many (gold, pred) confusions to list")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return ap.parse_known_args(argv)


def guide_report(scores: Sequence[RelationScores], confusions: int = 10) -> Dict[str, Any]:
    from mmkg.models.metrics import confusion_summary, per_relation, summary

    gold = [s.pair.gold or "None" for s in scores]
    pred = [s.decision for s in scores]
    return {
        "micro": summary(gold, pred),
        "per_relation": per_relation(gold, pred),
        "confusion": confusion_summary(gold, pred, confusions),
    }


def format_report(report: Dict[str, Any]) -> str:
    from mmkg.models.metrics import format_table

    m, c = report["micro"], report["confusion"]
    lines = [
        f"guide {report['model_version']} on {report['split']} ({m['n']} pairs, {report['seconds']:.1f}s)",
        f"micro (non-None): P {100 * m['precision']:.2f}  R {100 * m['recall']:.2f}  F1 {100 * m['f1']:.2f}   "
        f"accuracy {100 * m['accuracy']:.2f}",
        "",
        format_table([r for r in report["per_relation"] if r["support"] or r["predicted"]]),
        "",
        f"errors {c['errors']}: missed relation {c['missed']}, spurious relation {c['spurious']}, "
        f"wrong relation {c['wrong_relation']}",
    ]
    lines += [f"  {t['count']:>4}  gold {t['gold']:<28} pred {t['pred']}" for t in c["top"]]
    return "\n".join(lines)


def llm_options(args: argparse.Namespace, rest: List[str]):
    """The LLM settings as MmkgOptions, so evaluate accepts exactly the flags ``mmkg run`` does."""
    from mmkg.pipeline.options import MmkgOptions

    flags = ["--llm", args.llm, "--top-k", str(args.top_k)] + rest
    if args.checkpoint:
        flags += ["--checkpoint", args.checkpoint]
    return MmkgOptions(flags).view_as(MmkgOptions)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, rest = parse_args(list(sys.argv[1:] if argv is None else argv))
    if rest and args.llm == "none":
        print(f"mmkg evaluate: unrecognised arguments: {' '.join(rest)}", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from mmkg.models.predict import Guide, predict_split

    start = time.time()
    guide = Guide(args.checkpoint, args.device)
    scores = predict_split(args.split, image_dir=args.image_dir, batch_size=args.batch_size, top_k=args.top_k,
                           limit=args.limit, guide=guide)
    report = guide_report(scores, args.confusions)
    report.update(split=args.split, checkpoint=guide.checkpoint, model_version=guide.version,
                  seconds=time.time() - start)
    if args.llm != "none":
        try:
            from mmkg.llm.evaluation import evaluate_with_llm
        except ImportError as e:
            print(f"mmkg evaluate: --llm {args.llm} needs the refiner (llm.evaluation): {e}", file=sys.stderr)
            return 2
        report["llm"] = evaluate_with_llm(scores, llm_options(args, rest), progress=not args.json)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_report(report))
        if "llm" in report:
            try:
                from mmkg.llm.evaluation import format_llm_report

                print()
                print(format_llm_report(report["llm"]))
            except ImportError:
                print(json.dumps(report["llm"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
