"""``mmkg evaluate``: score the guide on an MNRE split (one instance per line, exactly the
benchmark's pairs) — micro P/R/F1 over non-None labels and accuracy, a per-relation table and a
confusion summary. ``--json`` prints one JSON object. ``--llm`` other than ``none`` also runs the
refiner (``refiner.evaluation.evaluate_with_llm``) on the guide's predictions; the guide's and
the LLM's flags are those of ``mmkg run``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, Optional, Sequence

from mmkg.guide.metrics import confusion_summary, format_table, per_relation, summary
from mmkg.pipeline.options import SettingsError, add_data_dir_flag, add_model_flags, llm_from_options
from mmkg.refiner.evaluation import evaluate_with_llm, format_llm_report
from mmkg.schemas.records import RelationScores


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="mmkg evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--split", required=True, help="MNRE split file (e.g. mnre_val.txt)")
    add_model_flags(ap)
    add_data_dir_flag(ap)
    # Unlike `mmkg run`, the guide alone unless an LLM is asked for: evaluating one costs calls.
    ap.set_defaults(llm="none")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", dest="torch_threads", type=int, help="the same as --torch-threads")
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    ap.add_argument("--confusions", type=int, default=10, help="how many (gold, pred) confusions to list")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return ap.parse_args(argv)


def guide_report(scores: Sequence[RelationScores], confusions: int = 10) -> Dict[str, Any]:
    gold = [s.pair.gold or "None" for s in scores]
    pred = [s.decision for s in scores]
    return {
        "micro": summary(gold, pred),
        "per_relation": per_relation(gold, pred),
        "confusion": confusion_summary(gold, pred, confusions),
    }


def format_report(report: Dict[str, Any]) -> str:
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.llm == "none" and (args.llm_base_url or args.llm_model):
        print("mmkg evaluate: --llm-base-url/--llm-model need --llm auto, local or remote (the default "
              "here is none: the guide alone)", file=sys.stderr)
        return 2
    try:
        llm = llm_from_options(args)
    except SettingsError as e:
        print(f"mmkg evaluate: {e}", file=sys.stderr)
        return 2
    # Deferred: torch takes seconds to import, which `--help` and a flag error need not wait for.
    from mmkg.guide.scorer import Guide, predict_split
    from mmkg.runtime.threads import threads_per_worker, use_threads

    use_threads(threads_per_worker(args.torch_threads))
    start = time.time()
    guide = Guide(args.checkpoint, args.device, args.precision)
    scores = predict_split(args.split, image_dir=args.image_dir, batch_size=args.batch_size, top_k=args.top_k,
                           limit=args.limit, guide=guide)
    report = guide_report(scores, args.confusions)
    report.update(split=args.split, checkpoint=guide.checkpoint, model_version=guide.version,
                  seconds=time.time() - start)
    if llm is not None:
        report["llm"] = evaluate_with_llm(scores, llm, args.checkpoint, args.top_k, progress=not args.json)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_report(report))
        if "llm" in report:
            print()
            print(format_llm_report(report["llm"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
