"""Corpus posts as a user's raw posts: text only, no entities, each id the post's FILE:LINE.

    python -m bench.raw_posts OUT.jsonl [--files twitter2015/valid.txt ...] [--n N --seed S] [--shuffled]
        [--not-in EARLIER.jsonl ...]

The 3,000-post graph of docs/resolution.md (and bench/annotations/resolution_attachments_train.jsonl):
``python -m bench.raw_posts posts.jsonl --files mnre/mnre_train.txt --n 3000 --seed 7 --shuffled``.

Then ``mmkg run --input OUT.jsonl`` reads them as it reads anyone's posts, and ``mmkg audit``
sheets and judgment files can name each post by where it is in the data.
"""
from __future__ import annotations

import argparse
import json
import random
from typing import Optional, Sequence

from bench.resolution_data import DATA, load_corpus
from bench.resolution_halves import write_posts


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--files", nargs="*", default=["twitter2015/valid.txt", "twitter2017/valid.txt"])
    ap.add_argument("--n", type=int, default=0, help="a random sample of this many (0: all, in file order)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shuffled", action="store_true",
                    help="the first N after shuffling with the seed, instead of a sample (another draw)")
    ap.add_argument("--not-in", nargs="*", default=[], metavar="EARLIER",
                    help="leave out the posts of these earlier outputs (a fresh sample for a fresh read)")
    args = ap.parse_args(argv)
    posts = load_corpus(DATA, args.files)
    earlier = set()
    for path in args.not_in:
        with open(path, encoding="utf-8") as f:
            earlier.update(json.loads(line)["id"] for line in f if line.strip())
    posts = [p for p in posts if p.post_id not in earlier]
    if args.n and args.shuffled:
        random.Random(args.seed).shuffle(posts)
        posts = posts[:args.n]
    elif args.n:
        posts = random.Random(args.seed).sample(posts, min(args.n, len(posts)))
    write_posts(posts, args.out)
    print(f"{len(posts)} posts written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
