"""A small run against a large graph: what does entity resolution cost when the graph already
holds many entities? (Every run reads the graph's entities back and resolves against them.)

Builds a graph of synthetic entities (``bench.resolution_scale.synthetic_posts``, resolved by the
library, written as entity rows into the embedded store), then runs ``mmkg run --llm none`` on
the README's example posts against a copy of it and, alternately, against an empty graph, and
prints the wall times side by side with the entities resolved.

    python -m bench.resolution_incremental [--mentions 60000] [--repeat 2] [--work DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Optional, Sequence

from bench.resolution_scale import synthetic_posts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_graph(data_dir: str, n_mentions: int) -> int:
    from mmkg.kg.embedded import graph_settings
    from mmkg.kg.schema import ensure_schema
    from mmkg.kg.writer import write_rows
    from mmkg.resolve import mentions_of_post, resolve
    from mmkg.transforms.resolve import entity_rows

    posts = synthetic_posts(n_mentions)
    res = resolve([m for pid, names in posts for m in mentions_of_post(pid, names)])
    rows = list(entity_rows(res, [], {}))
    with graph_settings(data_dir, None) as settings:
        driver = settings.driver()
        try:
            ensure_schema(driver, settings.database)
            for i in range(0, len(rows), 2000):
                write_rows(driver, rows[i:i + 2000], settings.database)
        finally:
            driver.close()
    return len(rows)


def run(data_dir: str) -> float:
    from mmkg.cli.run import main as run_main

    t = time.perf_counter()
    if run_main(["--input", os.path.join(REPO, "examples", "posts.jsonl"), "--data-dir", data_dir,
                 "--llm", "none"]) != 0:
        raise SystemExit("mmkg run failed")
    return time.perf_counter() - t


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mentions", type=int, default=60000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", default=None)
    args = ap.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="mmkg-incremental-")
    base = os.path.join(work, "base")
    shutil.rmtree(base, ignore_errors=True)
    t = time.perf_counter()
    n = build_graph(base, args.mentions)
    built = time.perf_counter() - t
    rows = []
    for i in range(args.repeat):
        for name in ("empty", "large"):
            d = os.path.join(work, f"{name}-{i}")
            shutil.rmtree(d, ignore_errors=True)
            if name == "large":
                shutil.copytree(base, d)
            rows.append((name, run(d)))
    print(f"\ngraph: {n} entities from {args.mentions} synthetic mentions (written in {built:.0f} s); "
          f"the run: examples/posts.jsonl (12 posts)\n")
    print("| graph before the run | wall s |\n|---|---|")
    for name, secs in rows:
        print(f"| {'empty' if name == 'empty' else f'{n:,} entities'} | {secs:.1f} |")
    print(f"\nwork dir {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
