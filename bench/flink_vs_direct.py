"""`mmkg run` on MNRE val: DirectRunner, then a running Flink cluster, in one invocation.

    python bench/flink_vs_direct.py --flink_master=localhost:8081 --flink_version=1.19 \
        --flink_job_server_jar=JAR [--input ../shared/data/mnre/mnre_val.txt]

Both runs: ``--format mnre --llm none --no-graph``; Flink with ``--environment_type=LOOPBACK``
(workers in this process) and parallelism 1. Prints wall time, pairs, pairs/s of each run and the
overhead of Flink (its wall time minus DirectRunner's), and checks both wrote the same pairs.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq


def run(flags, data_dir):
    cmd = [sys.executable, "-m", "mmkg", "run", "--data-dir", data_dir] + flags
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rows = []
    for path in glob.glob(os.path.join(data_dir, "out", "pairs-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    pairs = sorted((r["post_id"], r["head"], r["tail"]) for r in rows)
    return wall, pairs


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default="../shared/data/mnre/mnre_val.txt")
    ap.add_argument("--flink_master", required=True)
    ap.add_argument("--flink_version", required=True)
    ap.add_argument("--flink_job_server_jar", required=True)
    args = ap.parse_args(argv)
    common = ["--input", args.input, "--format", "mnre", "--llm", "none", "--no-graph"]
    flink = ["--runner=FlinkRunner", f"--flink_master={args.flink_master}", "--environment_type=LOOPBACK",
             f"--flink_version={args.flink_version}", f"--flink_job_server_jar={args.flink_job_server_jar}",
             "--parallelism=1"]
    with tempfile.TemporaryDirectory() as tmp:
        d_wall, d_pairs = run(common, os.path.join(tmp, "direct"))
        f_wall, f_pairs = run(common + flink, os.path.join(tmp, "flink"))
    n = len(d_pairs)
    print(f"input {args.input}: {n} pairs")
    print(f"DirectRunner  {d_wall:7.1f} s  {n / d_wall:7.1f} pairs/s")
    print(f"FlinkRunner   {f_wall:7.1f} s  {len(f_pairs) / f_wall:7.1f} pairs/s  (Flink {args.flink_version}, "
          f"LOOPBACK, parallelism 1)")
    print(f"overhead      {f_wall - d_wall:+7.1f} s  ({f_wall / d_wall:.2f}x)")
    print(f"same pairs    {d_pairs == f_pairs}")
    return 0 if d_pairs == f_pairs else 1


if __name__ == "__main__":
    sys.exit(main())
