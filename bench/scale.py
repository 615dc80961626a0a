"""Scale check: the whole `mmkg run` (read -> pairs -> guide -> refiner -> Parquet + embedded graph)
over synthetic posts built from MNRE train sentences, at growing sizes.

    .venv/bin/python -m bench.scale [--sizes 1000,2000,5000,10000] [--llm-sizes 1000]
                                    [--json results.json] [--keep DIR]
    .venv/bin/python -m bench.scale --report a.json,b.json   # one table from saved runs

Each post is one MNRE train sentence (cycled, with a fresh id) with its two entities and the
pair to score, and one of the 34 real MNRE images; so a run of N posts scores N pairs. Every run is
a fresh `python -m mmkg run` process on the DirectRunner with its own data dir (a new graph store).
``--llm-sizes`` adds runs with the gated LLM (`--llm local`: the embedded llama.cpp server with
SmolLM2-135M); the guide-only runs use `--llm none`. The shipped calibration closes the gate for
SmolLM2 (it did not beat the guide on MNRE val), which would make those runs guide-only runs, so
by default (``--gate default``) they use a copy of the checkpoint whose gate for SmolLM2 is the
built-in uncalibrated one (ask when the guide's top-1 < 0.5 or its margin < 0.1);
``--gate shipped`` keeps the checkpoint's own.

Reported per run: wall time, posts/s, peak memory (the run's process tree, RSS summed, sampled
every 0.25 s; the llama.cpp server is in it), what came out (pairs scored, sent to the LLM,
triples, dead letters) and the Post nodes found in the graph afterwards, so that "records lost"
is measured, not assumed. Growth is shown as the marginal cost between consecutive sizes: time per
1,000 more posts (constant if time grows linearly) and memory per 1,000 more posts (about zero if
memory stays flat).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNRE = os.path.join(REPO, "..", "shared", "data", "mnre")


def synthetic_posts(n: int, path: str) -> None:
    """``n`` JSONL posts from MNRE train sentences (cycled), each with its entity pair and an image."""
    with open(os.path.join(MNRE, "mnre_train.txt"), encoding="utf-8") as f:
        lines = [ast.literal_eval(line) for line in f if line.strip()]
    images = sorted(os.path.abspath(os.path.join(MNRE, "images", x))
                    for x in os.listdir(os.path.join(MNRE, "images")) if x.endswith(".jpg"))
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            d = lines[i % len(lines)]
            tokens = d["token"]
            text, starts = "", []
            for tok in tokens:
                if text:
                    text += " "
                starts.append(len(text))
                text += tok
            ends = [s + len(t) for s, t in zip(starts, tokens)]
            ents = []
            for side in ("h", "t"):
                a, b = d[side]["pos"]
                ents.append({"text": text[starts[a]:ends[b - 1]], "start": starts[a], "end": ends[b - 1]})
            out.write(json.dumps({"id": f"syn-{i:06d}", "text": text, "image": images[i % len(images)],
                                  "entities": ents, "pairs": [{"head": 0, "tail": 1}]}) + "\n")


def _tree(pid: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _counter(out: str, label: str) -> int:
    m = re.search(rf"^\s*{re.escape(label)}\s+(\d+)", out, re.MULTILINE)
    return int(m.group(1)) if m else -1


def graph_posts(data_dir: str) -> int:
    """Post nodes in the run's embedded graph store."""
    sys.path.insert(0, REPO)
    from mmkg.kg.embedded import EmbeddedGraphStore

    with EmbeddedGraphStore(data_dir) as store:
        driver = store.settings.driver()
        try:
            rec = driver.execute_query("MATCH (p:Post) RETURN count(p) AS n", database_=store.settings.database)
            return int(rec.records[0]["n"])
        finally:
            driver.close()


def open_gate_checkpoint(work: str) -> str:
    """A copy (by links) of the shipped guide checkpoint whose gating.json gives the local model
    the built-in, uncalibrated gate."""
    sys.path.insert(0, REPO)
    from mmkg.guide.settings import DEFAULT_CHECKPOINT
    from mmkg.refiner.gate import Gating
    from mmkg.refiner.gate_store import GATING_FILE
    from mmkg.refiner.settings import LOCAL_MODEL_NAME

    out = os.path.join(work, "checkpoint-default-gate")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(DEFAULT_CHECKPOINT):
        if name != GATING_FILE and not os.path.exists(os.path.join(out, name)):
            os.symlink(os.path.join(DEFAULT_CHECKPOINT, name), os.path.join(out, name))
    gate = Gating(llm_model=LOCAL_MODEL_NAME, source="bench: built-in default gate")
    with open(os.path.join(out, GATING_FILE), "w") as f:
        json.dump({"models": {LOCAL_MODEL_NAME: gate.to_dict()}}, f)
    return out


def one_run(n: int, llm: str, work: str, extra: List[str]) -> Dict:
    posts = os.path.join(work, f"posts-{n}.jsonl")
    if not os.path.exists(posts):
        synthetic_posts(n, posts)
    data = os.path.join(work, f"data-{llm}-{n}")
    shutil.rmtree(data, ignore_errors=True)
    cmd = [sys.executable, "-m", "mmkg", "run", "--input", posts, "--data-dir", data, "--llm", llm, *extra]
    env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, peak_main = 0.0, 0.0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        peak = max(peak, sum(_rss_mb(p) for p in pids))
        peak_main = max(peak_main, _rss_mb(proc.pid))
        time.sleep(0.25)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"run of {n} posts ({llm}) failed:\n{err[-3000:]}")
    row = {
        "posts": n, "llm": llm, "seconds": seconds, "posts_per_s": n / seconds,
        "peak_rss_mb": peak, "peak_main_rss_mb": peak_main,
        "posts_read": _counter(out, "posts read"), "dead_letters": _counter(out, "dead letters"),
        "pairs_scored": _counter(out, "pairs scored"), "to_llm": _counter(out, "sent to the LLM"),
        "triples": _counter(out, "triples"),
    }
    row["graph_posts"] = graph_posts(data)
    row["lost"] = n - row["graph_posts"] + (n - row["pairs_scored"])
    return row


def table(rows: List[Dict]) -> str:
    head = ("llm", "posts", "seconds", "posts/s", "peak MB", "main MB", "scored", "to LLM", "triples",
            "dead", "in graph", "lost", "+s/1k", "+MB/1k")
    out = [head]
    prev: Dict[str, Dict] = {}
    for r in rows:
        p = prev.get(r["llm"])
        ds = dm = ""
        if p is not None and r["posts"] > p["posts"]:
            k = (r["posts"] - p["posts"]) / 1000
            ds = f"{(r['seconds'] - p['seconds']) / k:.1f}"
            dm = f"{(r['peak_rss_mb'] - p['peak_rss_mb']) / k:+.0f}"
        prev[r["llm"]] = r
        out.append((r["llm"], str(r["posts"]), f"{r['seconds']:.0f}", f"{r['posts_per_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}", f"{r['peak_main_rss_mb']:.0f}", str(r["pairs_scored"]),
                    str(r["to_llm"]), str(r["triples"]), str(r["dead_letters"]), str(r["graph_posts"]),
                    str(r["lost"]), ds, dm))
    widths = [max(len(row[i]) for row in out) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in out]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000,5000,10000", help="guide-only run sizes (posts)")
    ap.add_argument("--llm-sizes", default="1000", help="sizes of the runs with the gated LLM ('' for none)")
    ap.add_argument("--gate", choices=("default", "shipped"), default="default",
                    help="gate of the LLM runs: the built-in one, or the shipped checkpoint's calibration")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--keep", default=None, help="work directory to keep (default: a temporary one, removed)")
    ap.add_argument("--report", default=None, help="only print the table of rows saved by earlier --json runs "
                    "(comma-separated files)")
    args, extra = ap.parse_known_args(argv)
    if args.report:
        rows = [r for path in args.report.split(",") for r in json.load(open(path))]
        rows.sort(key=lambda r: (r["llm"], r["posts"]))
        print(table(rows))
        return 0
    work = args.keep or tempfile.mkdtemp(prefix="mmkg-scale-")
    os.makedirs(work, exist_ok=True)
    plan = [("none", int(s)) for s in args.sizes.split(",") if s]
    plan += [("local", int(s)) for s in args.llm_sizes.split(",") if s]
    llm_extra = list(extra)
    if args.gate == "default" and "--checkpoint" not in extra:
        llm_extra += ["--checkpoint", open_gate_checkpoint(work)]
    rows = []
    try:
        for llm, n in plan:
            rows.append(one_run(n, llm, work, llm_extra if llm != "none" else extra))
            print(f"done: {n} posts, llm {llm}: {rows[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nmmkg run at scale on this machine ({os.cpu_count()} cores), DirectRunner\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
