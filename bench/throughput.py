"""Throughput on this machine, side by side in one run: the guide in fp32, bf16 and the pipeline's
default path; the NER student in fp32 and bf16; the whole pipeline on MNRE val net of start-up;
start-up by phase.

    .venv/bin/python -m bench.throughput [--pairs 1024] [--ner-posts 400] [--repeats 2] [--runs 2]
    .venv/bin/python -m bench.throughput --sweep [--windows 32,64,128,256] [--subs 8,16,32,64]

- guide: the first ``--pairs`` pairs of MNRE val scored through GuideModelHandler.run_inference in
  batches of the handler's size (what RunInference hands it), model loaded by the handler's
  load_model (threads included); ``fp32 unsorted`` is the path before length-sorted sub-batches
  (fp32, the batch as one forward pass). Each configuration is timed ``--repeats`` times,
  interleaved with the others, after one warm-up batch; the best rate is shown (the machine is
  shared: the slow runs are the noisy ones). "unchanged" is the share of decisions equal to fp32's.
- NER: the NerStudent on the first ``--ner-posts`` sentences of Twitter-2017 valid (tokens joined
  by spaces, as raw posts), ``detect``; "unchanged" is the share of tokens with fp32's tag.
- pipeline: ``mmkg run --input mnre_val.txt --format mnre --llm none --no-graph`` and the same on
  a 1-line file, each in a fresh process, ``--runs`` times; pairs/s net = (pairs - 1) / (full - one).
- start-up phases: a fresh process doing what ``mmkg run`` does, timed step by step.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("MMKG_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
MNRE_VAL = os.path.join(SHARED, "mnre", "mnre_val.txt")
TWITTER17_VALID = os.path.join(SHARED, "twitter2017", "valid.txt")
MMKG = [sys.executable, "-m", "mmkg"]


def chunks(items, n):
    return [items[k : k + n] for k in range(0, len(items), n)]


def guide_table(n_pairs: int, repeats: int) -> list:
    from mmkg.guide.settings import GuideSettings
    from mmkg.schemas.mnre_split import read_mnre
    from mmkg.transforms.guide import GuideModelHandler

    pairs = read_mnre(MNRE_VAL, limit=n_pairs)
    default = GuideSettings(device="cpu")
    configs = {
        "fp32 unsorted (before)": (GuideSettings(device="cpu", precision="fp32"), "unsorted"),
        "fp32": (GuideSettings(device="cpu", precision="fp32"), "handler"),
        "bf16": (GuideSettings(device="cpu", precision="bf16"), "handler"),
        f"default ({default.precision}, batch {default.batch_size}/{default.sub_batch_size})": (default, "handler"),
    }
    loaded = {}
    for name, (settings, how) in configs.items():
        handler = GuideModelHandler(settings)
        loaded[name] = (handler, handler.load_model(), settings, how)

    def score(name):
        handler, model, settings, how = loaded[name]
        out = []
        for batch in chunks(pairs, settings.batch_size):
            if how == "unsorted":
                out += model.scores_from_logits(batch, model.logits(batch), settings.top_k)
            else:
                out += handler.run_inference(batch, model)
        return out

    rates = {name: [] for name in configs}
    decisions = {}
    for name in configs:
        loaded[name][1].score(pairs[:16])  # a warm-up: first calls allocate
    for _ in range(repeats):
        for name in configs:
            t0 = time.perf_counter()
            got = score(name)
            rates[name].append(len(pairs) / (time.perf_counter() - t0))
            decisions[name] = [s.decision for s in got]
    ref = decisions["fp32"]
    base = max(rates["fp32"])
    return [(name, loaded[name][1].compute_dtype, max(r), max(r) / base,
             sum(a == b for a, b in zip(decisions[name], ref)) / len(ref), r) for name, r in rates.items()]


def batch_sweep(n_pairs: int, repeats: int, windows, subs) -> dict:
    """pairs/s of the default precision for each (RunInference batch, sub-batch) size."""

    from mmkg.guide.settings import GuideSettings
    from mmkg.schemas.mnre_split import read_mnre
    from mmkg.transforms.guide import GuideModelHandler

    pairs = read_mnre(MNRE_VAL, limit=n_pairs)
    handler = GuideModelHandler(GuideSettings(device="cpu"))
    guide = handler.load_model()
    guide.score(pairs[:16])
    rates = {}
    for _ in range(repeats):
        for w in windows:
            for sub in subs:
                if sub > w:
                    continue
                guide.sub_batch_size = sub
                t0 = time.perf_counter()
                for batch in chunks(pairs, w):
                    handler.run_inference(batch, guide)
                rates.setdefault((w, sub), []).append(len(pairs) / (time.perf_counter() - t0))
    return rates


def ner_table(n_posts: int, repeats: int) -> list:
    from mmkg.ner.data import read_conll
    from mmkg.ner.tagger import NerStudent

    sentences = read_conll(TWITTER17_VALID)[:n_posts]
    texts = [" ".join(s.tokens) for s in sentences]
    students = {p: NerStudent(device="cpu", precision=p) for p in ("fp32", "bf16")}
    rates = {p: [] for p in students}
    tags = {}
    for p, student in students.items():
        student.detect(texts[:8])
    for _ in range(repeats):
        for p, student in students.items():
            t0 = time.perf_counter()
            student.detect(texts)
            rates[p].append(len(texts) / (time.perf_counter() - t0))
    for p, student in students.items():
        tags[p] = student.tag([list(s.tokens) for s in sentences])[0]
    tokens = sum(len(s.tokens) for s in sentences)
    same = sum(x == y for a, b in zip(tags["fp32"], tags["bf16"]) for x, y in zip(a, b)) / tokens
    return [(p, max(r), max(r) / max(rates["fp32"]), 1.0 if p == "fp32" else same, r) for p, r in rates.items()]


def timed_run(args) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(MMKG + ["run", *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"mmkg run {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def pipeline_table(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        one = os.path.join(tmp, "one.txt")
        with open(MNRE_VAL, encoding="utf-8") as f, open(one, "w", encoding="utf-8") as g:
            g.write(f.readline())
        with open(MNRE_VAL, encoding="utf-8") as f:
            pairs = sum(1 for line in f if line.strip())
        flags = ["--format", "mnre", "--llm", "none", "--no-graph", "--data-dir", os.path.join(tmp, "d")]
        full_s, one_s = [], []
        for _ in range(runs):
            one_s.append(timed_run(["--input", one, *flags]))
            full_s.append(timed_run(["--input", MNRE_VAL, *flags]))
    nets = [(pairs - 1) / (f - o) for f, o in zip(full_s, one_s)]
    return {"pairs": pairs, "full_s": full_s, "one_s": one_s, "net": nets}


PHASES = r"""
import json, os, sys, tempfile, time
t = time.perf_counter(); out = {}
def lap(name):
    global t
    now = time.perf_counter(); out[name] = now - t; t = now
from mmkg.cli import logs
logs.stay_offline(); logs.quiet_model_libraries()
import apache_beam as beam
from mmkg.cli import run
lap("imports: Beam and mmkg run")
from mmkg.pipeline.build import build
lap("imports: the stages (torch, via RunInference)")
from apache_beam.options.pipeline_options import PipelineOptions
from mmkg.pipeline.options import MmkgOptions, settings_from_options
opts = PipelineOptions(["--input", sys.argv[1], "--format", "mnre", "--llm", "none", "--no-graph"])
settings = settings_from_options(opts.view_as(MmkgOptions))
p = beam.Pipeline(options=opts)
build(p, settings)
lap("Beam pipeline construction")
from mmkg.transforms.guide import GuideModelHandler
GuideModelHandler(settings.guide).load_model()
lap("guide load (weights, tokenizer, kNN memory; no transformers import for BERT encoders)")
from mmkg.ner.tagger import NerStudent
NerStudent(settings.ner.checkpoint, "cpu", settings.ner.precision)
lap("NER student load (transformers import, weights; only when posts lack entities)")
from mmkg.kg.embedded import graph_settings
with tempfile.TemporaryDirectory() as d:
    with graph_settings(d, None):
        lap("embedded graph store start (JVM; only with the graph)")
print(json.dumps(out))
"""


def phases() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        one = os.path.join(tmp, "one.txt")
        with open(MNRE_VAL, encoding="utf-8") as f, open(one, "w", encoding="utf-8") as g:
            g.write(f.readline())
        proc = subprocess.run([sys.executable, "-c", PHASES, one], capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1024)
    ap.add_argument("--ner-posts", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=2, help="timings per guide/NER configuration")
    ap.add_argument("--runs", type=int, default=2, help="pipeline runs (full and 1-line each)")
    ap.add_argument("--sweep", action="store_true", help="only the guide's batch sizes: pairs/s for each "
                    "RunInference batch (--windows) and sub-batch (--subs) size")
    ap.add_argument("--windows", default="32,64,128,256")
    ap.add_argument("--subs", default="8,16,32,64")
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out: guide,ner,pipeline,phases")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmkg.cli.logs import quiet_model_libraries

    quiet_model_libraries()
    import torch

    from mmkg.runtime.precision import cpu_has_native_bf16
    from mmkg.runtime.threads import available_cores

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"bench.throughput: {available_cores()} cores, native bf16 {cpu_has_native_bf16()}, GPU {gpu}, "
          f"load avg {os.getloadavg()[0]:.1f} at start")
    if args.sweep:
        windows, subs = [int(x) for x in args.windows.split(",")], [int(x) for x in args.subs.split(",")]
        rates = batch_sweep(args.pairs, args.repeats, windows, subs)
        print(f"\nguide batch sizes, default precision, {args.pairs} MNRE val pairs: pairs/s, best of {args.repeats}")
        print("| RunInference batch | " + " | ".join(f"sub-batch {s}" for s in subs) + " |")
        print("|---|" + "---|" * len(subs))
        for w in windows:
            cells = [f"{max(rates[(w, s)]):.0f}" if (w, s) in rates else "" for s in subs]
            print(f"| {w} | " + " | ".join(cells) + " |")
        return 0
    if "guide" not in skip:
        rows = guide_table(args.pairs, args.repeats)
        print(f"\nguide, {args.pairs} MNRE val pairs, through GuideModelHandler (threads {torch.get_num_threads()})")
        print(f"| path | computes in | pairs/s (best of {args.repeats}) | vs fp32 | decisions unchanged vs fp32 | all runs |")
        print("|---|---|---|---|---|---|")
        for name, dtype, rate, ratio, same, runs in rows:
            print(f"| {name} | {str(dtype).replace('torch.', '')} | {rate:.1f} | {ratio:.2f}x | {100 * same:.2f} % | "
                  f"{', '.join(f'{r:.0f}' for r in runs)} |")
    if "ner" not in skip:
        rows = ner_table(args.ner_posts, args.repeats)
        print(f"\nNER student, {args.ner_posts} Twitter-2017 valid posts, detect()")
        print(f"| precision | posts/s (best of {args.repeats}) | vs fp32 | tags unchanged vs fp32 | all runs |")
        print("|---|---|---|---|---|")
        for p, rate, ratio, same, runs in rows:
            print(f"| {p} | {rate:.1f} | {ratio:.2f}x | {100 * same:.2f} % | {', '.join(f'{r:.0f}' for r in runs)} |")
    if "pipeline" not in skip:
        r = pipeline_table(args.runs)
        print(f"\nwhole pipeline, mmkg run --format mnre --llm none --no-graph, MNRE val ({r['pairs']} pairs)")
        print("| run | full s | 1-line s (start-up) | pairs/s net of start-up |")
        print("|---|---|---|---|")
        for n, (f, o, net) in enumerate(zip(r["full_s"], r["one_s"], r["net"]), 1):
            print(f"| {n} | {f:.1f} | {o:.1f} | {net:.0f} |")
        print(f"| median | {statistics.median(r['full_s']):.1f} | {statistics.median(r['one_s']):.1f} | "
              f"{statistics.median(r['net']):.0f} |")
    if "phases" not in skip:
        ph = phases()
        print("\nstart-up by phase (a fresh process doing what mmkg run does, in order)")
        print("| phase | s |")
        print("|---|---|")
        for name, s in ph.items():
            print(f"| {name} | {s:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
