"""``mmkg calibrate``: choose the refiner's gate and acceptance thresholds on a validation split
and store them next to the guide checkpoint (gating.json, one entry per LLM model).

    mmkg calibrate --split ../shared/data/mnre/mnre_val.txt                  # embedded SmolLM2
    mmkg calibrate --split VAL --llm-base-url URL --llm-model NAME           # any endpoint

Takes the same LLM, checkpoint and guide flags as ``mmkg run``. LLM answers go through the
persistent cache under --data-dir, so an interrupted or repeated calibration costs no new calls.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import time
from typing import List, Optional

from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.cli.logs import root_handler
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.pipeline.options import MmkgOptions, SettingsError, llm_from_options
from mmkg.refiner.calibration import choose, pairs_to_ask
from mmkg.refiner.evaluation import ask_all, format_llm_report, report_for
from mmkg.refiner.gate_store import save_gating, weights_digest
from mmkg.refiner.local_server import serving


def _parse(argv: List[str]):
    ap = argparse.ArgumentParser(
        prog="mmkg calibrate",
        description="choose the LLM gating thresholds on a split; also accepts mmkg run's "
        "--llm*, --checkpoint, --top-k, --device, --precision, --image-dir and --data-dir flags",
    )
    ap.add_argument("--split", required=True, help="MNRE split file (validation)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pairs (smoke runs)")
    ap.add_argument("--max-share", type=float, default=0.3, help="most pairs a gate may send to the LLM")
    ap.add_argument("--max-llm-pairs", type=int, default=800, help="cap on pairs asked during calibration")
    ap.add_argument("--min-gain", type=float, default=0.0, help="F1 gain needed to open the gate at all")
    ap.add_argument("--no-heldout-check", action="store_true",
                    help="open the gate on the split's best even if its two-fold held-out gain is not positive")
    ap.add_argument("--guide-batch", type=int, default=64)
    ap.add_argument("--dry-run", action="store_true", help="report only, do not write gating.json")
    ap.add_argument("--report-json", default=None, help="also write the full report here")
    args, rest = ap.parse_known_args(argv)
    opts = PipelineOptions(rest).view_as(MmkgOptions)
    return args, opts


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    root_handler()
    args, opts = _parse(argv)

    # Deferred: torch takes seconds to import, which `--help` and a flag error need not wait for.
    from mmkg.guide.scorer import predict_split

    try:
        settings = llm_from_options(opts)
    except SettingsError as e:
        print(f"mmkg calibrate: {e}", file=sys.stderr)
        return 2
    if settings is None:
        print("mmkg calibrate: needs an LLM (--llm is none)", file=sys.stderr)
        return 2
    image_dir = opts.image_dir
    if image_dir is None and os.path.isdir(os.path.join(os.path.dirname(args.split), "images")):
        image_dir = os.path.join(os.path.dirname(args.split), "images")
    t0 = time.monotonic()
    scores = predict_split(args.split, opts.checkpoint, image_dir, args.guide_batch, opts.device, opts.top_k, args.limit,
                           precision=opts.precision)
    print(f"guide scored {len(scores)} pairs in {time.monotonic() - t0:.0f}s", file=sys.stderr)

    with serving(settings) as resolved:
        todo = pairs_to_ask(scores, args.max_share, args.max_llm_pairs)
        print(f"asking {resolved.model} about {len(todo)} pairs (any admissible gate's)", file=sys.stderr)
        t1 = time.monotonic()
        outcomes = dict(zip(todo, ask_all([scores[i] for i in todo], resolved, opts.top_k, progress=True)))
        seconds = time.monotonic() - t1

    gating, info = choose(scores, outcomes, args.max_share, args.min_gain, not args.no_heldout_check)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    what = f"gate closed: {info['why']}" if gating.never else "calibrated"
    gating = dataclasses.replace(
        gating,
        llm_model=resolved.model,
        source=f"{what} on {os.path.basename(args.split)} ({len(scores)} pairs, {stamp})",
    )
    report = report_for(scores, gating, outcomes, seconds)
    report["llm_model"] = resolved.model
    report["guide_version"] = scores[0].model_version if scores else ""
    report["checkpoint"] = opts.checkpoint or DEFAULT_CHECKPOINT
    report["guide_weights_sha256"] = weights_digest(opts.checkpoint)
    report["llm_base_url"] = "embedded" if settings.needs_local_server else resolved.base_url
    report["two_fold"] = info["two_fold"]
    report["search"] = info["search"]
    if "rejected" in info:
        report["rejected_gate"] = info["rejected"]
    asked = list(outcomes.values())
    # Token counts are the requests' (cached answers keep theirs); calls and time are this run's.
    report["calibration_cost"] = {
        "pairs_asked": len(todo),
        "prompt_tokens": sum(o.prompt_tokens for o in asked),
        "completion_tokens": sum(o.completion_tokens for o in asked),
        "faults": sum(1 for o in asked if o.fault),
        "calls_this_run": sum(o.called for o in asked),
        "cache_hits_this_run": sum(o.cache_hit for o in asked),
        "seconds_this_run": seconds,
    }
    print(format_llm_report(report))
    c = report["calibration_cost"]
    print(f"  calibration asked {c['pairs_asked']} pairs: {c['prompt_tokens']} prompt + {c['completion_tokens']} "
          f"completion tokens, {c['faults']} faults; this run {c['calls_this_run']} calls, "
          f"{c['cache_hits_this_run']} cache hits, {c['seconds_this_run']:.0f}s")
    print(f"  best on the split: F1 {info['search']['f1']:.4f} vs guide {info['search']['guide_f1']:.4f} "
          f"sending {info['search']['sent']} pairs; two-fold held-out gain {info['two_fold']['mean_heldout_gain']:+.4f}"
          f" -> {'gate closed' if gating.never else 'gate open'} ({info['why']})")
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    if not args.dry_run:
        keep = {k: report[k] for k in ("pairs", "guide", "guide_llm", "share_sent", "two_fold", "search",
                                       "calibration_cost", "guide_version", "guide_weights_sha256") if k in report}
        if "rejected_gate" in report:
            keep["rejected_gate"] = report["rejected_gate"]
        path = save_gating(opts.checkpoint or DEFAULT_CHECKPOINT, gating, keep)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
