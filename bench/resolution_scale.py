"""Synthetic scale test of entity resolution: cost per 1k mentions and peak memory, 1k to 100k.

Posts of three mentions drawn from a vocabulary that grows with the data (new surnames keep coming,
as in a real stream): full person names, surnames alone, first names alone, @handles, #hashtags,
acronyms and places, all types mixed. Each post has a text vector, as the pipeline gives it
(``resolve.vectors`` codes of random unit vectors of MiniLM's 384 dimensions, one per post: what
they cost to keep, combine and compare, not what they decide); ``--no-vectors`` leaves them out.
Each size runs in its own process, so the peak resident memory (ru_maxrss) is that size's own.

    python -m bench.resolution_scale [--sizes 1000 5000 10000 25000 50000 100000] [--no-vectors]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from typing import Optional, Sequence

SYL = ["ka", "lo", "mi", "ra", "ten", "vo", "shi", "an", "bel", "dor", "gu", "ne", "pra", "sto", "ul", "wen",
       "xi", "zor", "qua", "fi", "ham", "jo", "kel", "ros"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_posts(n_mentions: int, seed: int = 7):
    rng = random.Random(seed)
    firsts = [word(rng) for _ in range(400)]
    surnames = [word(rng) for _ in range(max(50, n_mentions // 4))]
    places = [word(rng) + rng.choice(["", " City", " Bay"]) for _ in range(max(30, n_mentions // 20))]
    orgs = [f"{word(rng)} {rng.choice(['Museum', 'United', 'Times', 'Institute'])}"
            for _ in range(max(30, n_mentions // 20))]
    out, i = [], 0
    while i < n_mentions:
        names = []
        for _ in range(3):
            r = rng.random()
            # Zipf-like: low indices far more often
            s = surnames[min(len(surnames) - 1, int(rng.paretovariate(1.1)) - 1 + rng.randrange(len(surnames)) // 8)]
            f = firsts[rng.randrange(len(firsts))]
            if r < 0.35:
                names.append((f"{f} {s}", "PER"))
            elif r < 0.45:
                names.append((s, "PER"))
            elif r < 0.5:
                names.append((f, "PER"))
            elif r < 0.55:
                names.append((f"@{f}{s}", "PER"))
            elif r < 0.75:
                o = orgs[rng.randrange(len(orgs))]
                names.append((rng.choice([o, "#" + o.replace(" ", ""), "".join(w[0] for w in o.split())]), "ORG"))
            else:
                names.append((places[rng.randrange(len(places))], "LOC"))
        out.append((f"p{len(out)}", names))
        i += len(names)
    return out


def post_codes(post_ids, seed: int = 7, dims: int = 384):
    import numpy as np

    from mmkg.resolve.vectors import encode

    rng = np.random.default_rng(seed)
    out = {}
    for pid in post_ids:
        v = rng.normal(size=dims)
        out[pid] = encode(v / np.linalg.norm(v))
    return out


def run_one(n: int, vectors: bool = True) -> dict:
    from mmkg.resolve import mentions_of_post, resolve

    posts = synthetic_posts(n)
    codes = post_codes([pid for pid, _ in posts]) if vectors else {}
    mentions = [m for pid, names in posts for m in mentions_of_post(pid, names, vector=codes.get(pid, ""))]
    t0 = time.perf_counter()
    res = resolve(mentions)
    dt = time.perf_counter() - t0
    return {"mentions": len(mentions), "nodes": len(res.node_entity), "entities": len(res.entities),
            "links": len(res.decisions), "seconds": dt,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.resolution_scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 25000, 50000, 100000])
    ap.add_argument("--no-vectors", action="store_true", help="posts without text vectors")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, not args.no_vectors)))
        return 0
    print(f"{'mentions':>9} {'name nodes':>10} {'entities':>9} {'links':>8} {'seconds':>8} "
          f"{'s / 1k':>7} {'peak MiB':>9}")
    for n in args.sizes:
        done = subprocess.run([sys.executable, "-m", "bench.resolution_scale", "--one", str(n)]
                              + (["--no-vectors"] if args.no_vectors else []),
                              capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{r['mentions']:>9} {r['nodes']:>10} {r['entities']:>9} {r['links']:>8} {r['seconds']:>8.2f} "
              f"{1000 * r['seconds'] / r['mentions']:>7.3f} {r['peak_mib']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
