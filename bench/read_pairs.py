"""Readers + pair stage over the whole MNRE train split on the DirectRunner.

Target (issue 2): under 30 s on the 2-core reference machine.

    python -m bench.read_pairs [--split ../shared/data/mnre/mnre_train.txt] [Beam flags]
"""
from __future__ import annotations

import argparse
import resource
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from mmkg.transforms import counters
from mmkg.transforms.pairs import EnumeratePairs
from mmkg.transforms.readers import DEAD, POSTS, ReadPosts

DEFAULT_SPLIT = "../shared/data/mnre/mnre_train.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default=DEFAULT_SPLIT)
    args, beam_args = parser.parse_known_args()
    with open(args.split, "rb") as f:
        lines = sum(1 for line in f if line.strip())
    start = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
        read = p | ReadPosts(args.split, "mnre")
        _ = read[POSTS] | beam.ParDo(EnumeratePairs())
        _ = read[DEAD] | "CountDead" >> beam.combiners.Count.Globally()
    seconds = time.perf_counter() - start
    m = counters.read(p.result)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("input lines", f"{lines}"),
        ("posts (sentences)", f"{m.get('posts_read', 0)}"),
        ("pairs", f"{m.get('pairs', 0)}"),
        ("dead letters", f"{m.get('dead_letters', 0)}"),
        ("wall time (s)", f"{seconds:.1f}"),
        ("lines / s", f"{lines / seconds:.0f}"),
        ("peak RSS of launcher (MB)", f"{peak_mb:.0f}"),
        ("target", "< 30 s: " + ("met" if seconds < 30 else "MISSED")),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nreaders + pairs over {args.split}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
