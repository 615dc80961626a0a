"""Refiner throughput against the embedded llama.cpp server: pairs/s with requests in flight
concurrently vs one at a time, and tokens per pair.

Real MNRE val pairs; candidates come from the guide checkpoint when one is given, else from the
gold label and two others (the prompt has the same shape either way). The answer cache is off
and every mode gets different pairs, so each request really reaches the server.

    python -m bench.refiner_throughput [--pairs 24] [--concurrency 1,4,8] [--checkpoint DIR]
    python -m bench.refiner_throughput --llm-base-url URL --llm-model NAME   # another endpoint
"""
from __future__ import annotations

import argparse
import random
import time
from typing import List

DEFAULT_SPLIT = "../shared/data/mnre/mnre_val.txt"


def synthetic_scores(pairs, seed: int = 0):
    from mmkg.schemas.records import RelationScores
    from mmkg.schemas.relations import RELATIONS

    rng = random.Random(seed)
    out = []
    for pair in pairs:
        others = rng.sample([r for r in RELATIONS if r != pair.gold], 2)
        cands = ((others[0], 0.45), (pair.gold, 0.35), (others[1], 0.1))
        rest = 0.1 / (len(RELATIONS) - 3)
        probs = tuple(dict(cands).get(lbl, rest) for lbl in RELATIONS)
        out.append(RelationScores(pair, RELATIONS, probs, cands, others[0], 0.45, "bench"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default=DEFAULT_SPLIT)
    ap.add_argument("--pairs", type=int, default=24, help="pairs per mode")
    ap.add_argument("--concurrency", default="1,4", help="comma-separated; 1 is the baseline")
    ap.add_argument("--checkpoint", default=None, help="guide checkpoint for real candidates")
    ap.add_argument("--llm-base-url", default=None)
    ap.add_argument("--llm-model", default=None)
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads of the embedded server")
    args = ap.parse_args()

    from mmkg.refiner.client import Refiner
    from mmkg.refiner.local_server import local_llm_server
    from mmkg.refiner.settings import LlmSettings
    from mmkg.schemas.mnre_split import read_mnre

    levels = [int(c) for c in args.concurrency.split(",")]
    pairs = read_mnre(args.split, limit=args.pairs * (len(levels) + 1))
    if args.checkpoint:
        from mmkg.guide.scorer import predict_split

        scores = predict_split(args.split, args.checkpoint, limit=len(pairs))
    else:
        scores = synthetic_scores(pairs)
    warm, rest = scores[: args.pairs], scores[args.pairs :]

    def run(base_url: str, model: str) -> List[tuple]:
        rows = []
        with Refiner(LlmSettings(base_url=base_url, model=model, concurrency=max(levels), cache_path=None)) as r:
            r.ask_many(warm[: max(levels)])  # every slot has the system prompt cached
        for n, conc in enumerate(levels):
            batch = rest[n * args.pairs : (n + 1) * args.pairs]
            settings = LlmSettings(base_url=base_url, model=model, concurrency=conc, cache_path=None)
            with Refiner(settings) as r:
                start = time.perf_counter()
                outs = r.ask_many(batch)
                secs = time.perf_counter() - start
            ok = sum(1 for o in outs if o.fault is None)
            rows.append((conc, len(batch), secs, len(batch) / secs,
                         sum(o.prompt_tokens for o in outs) / len(outs),
                         sum(o.completion_tokens for o in outs) / len(outs), ok))
        return rows

    if args.llm_base_url:
        where = args.llm_base_url
        rows = run(args.llm_base_url, args.llm_model or "")
    else:
        with local_llm_server(parallel=max(levels), threads=args.threads) as srv:
            where = f"embedded {srv.model}"
            rows = run(srv.base_url, srv.model)
    base = rows[0][3]
    print(f"\nrefiner throughput, {where}, {args.pairs} MNRE val pairs per row, cache off")
    print(f"  {'in flight':>9} {'pairs':>6} {'seconds':>8} {'pairs/s':>8} {'ratio':>6} {'prompt tok':>10} "
          f"{'compl tok':>9} {'answered':>8}")
    for conc, n, secs, rate, ptok, ctok, ok in rows:
        print(f"  {conc:>9} {n:>6} {secs:>8.1f} {rate:>8.2f} {rate / base:>6.2f} {ptok:>10.0f} {ctok:>9.1f} {ok:>8}")


if __name__ == "__main__":
    main()
