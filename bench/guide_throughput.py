"""Guide inference throughput through Beam RunInference on this machine: pairs/s with batching
(BatchElements through the handler's batch sizes) vs one pair at a time, and peak memory.

    .venv/bin/python bench/guide_throughput.py [--pairs 256] [--batch-sizes 1,8,32] [--checkpoint DIR]

Each configuration runs in its own subprocess (a fresh DirectRunner, in-process), so the peak RSS
reported is that run's own. ``end-to-end`` includes pipeline start and model load; ``steady`` is
pairs / (end of the last batch - start of the first batch), timed inside the handler, i.e. the
rate once the model is loaded (Beam's own per-batch overhead included).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def one_run(n_pairs: int, batch: int, checkpoint, threads: int, images: bool) -> dict:
    import apache_beam as beam
    import torch

    torch.set_num_threads(threads)
    from apache_beam.options.pipeline_options import PipelineOptions

    from mmkg.guide.settings import GuideSettings
    from mmkg.schemas.mnre_split import read_mnre
    from mmkg.schemas.records import ImageRef
    from mmkg.transforms.guide import GuideModelHandler, ScorePairs

    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"guide-bench-{os.getpid()}.log")

    class TimedHandler(GuideModelHandler):
        def run_inference(self, batch, model, inference_args=None):
            t0 = time.time()
            out = super().run_inference(batch, model, inference_args)
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{t0} {time.time()} {len(batch)}\n")
            return out

    mnre = os.path.join(REPO, "..", "shared", "data", "mnre")
    pairs = read_mnre(os.path.join(mnre, "mnre_val.txt"), limit=n_pairs)
    if images:
        files = sorted(f for f in os.listdir(os.path.join(mnre, "images")) if f.endswith(".jpg"))
        pairs = [p.__class__(**{**p.__dict__, "image": ImageRef(image_id=files[i % len(files)],
                 path=os.path.join(mnre, "images", files[i % len(files)]))}) for i, p in enumerate(pairs)]
    # One forward pass per batch, in the threads asked for: the batch-size comparison this bench makes.
    settings = GuideSettings(checkpoint, "cpu", batch_size=batch, sub_batch_size=batch, torch_threads=threads)
    start = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
        _ = (p | beam.Create(pairs, reshuffle=False)
             | ScorePairs.with_handler(TimedHandler(settings, min_batch_size=batch))
             | beam.Map(lambda s: None))
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(log, encoding="utf-8") as f:
        rows = [tuple(float(x) for x in line.split()) for line in f if line.strip()]
    os.unlink(log)
    span = max(r[1] for r in rows) - min(r[0] for r in rows)
    return {"pairs": len(pairs), "batch": batch, "seconds": seconds, "steady_seconds": span,
            "batches": len(rows), "peak_rss_mb": peak_kb / 1024}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--batch-sizes", default="1,8,32")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", action="store_true", help="give every pair one of the 34 MNRE images")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, b = (int(x) for x in args.child.split(","))
        print(json.dumps(one_run(n, b, args.checkpoint, args.threads, args.images)))
        return 0

    def child(n, b):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{n},{b}", "--threads", str(args.threads)]
        cmd += ["--checkpoint", args.checkpoint] if args.checkpoint else []
        cmd += ["--images"] if args.images else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        return json.loads(out.stdout.strip().splitlines()[-1])

    print(f"guide throughput through RunInference (DirectRunner, CPU, {args.threads} torch threads, "
          f"{'with' if args.images else 'without'} images, load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'batch':>6} {'pairs':>6} {'batches':>8} {'total s':>8} {'end-to-end pairs/s':>19} "
          f"{'steady pairs/s':>15} {'peak RSS MB':>12}")
    for b in (int(x) for x in args.batch_sizes.split(",")):
        r = child(args.pairs, b)
        print(f"{b:>6} {r['pairs']:>6} {r['batches']:>8} {r['seconds']:>8.1f} {r['pairs'] / r['seconds']:>19.1f} "
              f"{r['pairs'] / max(1e-9, r['steady_seconds']):>15.1f} {r['peak_rss_mb']:>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
