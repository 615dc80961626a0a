"""The project's own exhaustively annotated evaluation set (precision of the graph, issue 23).

Posts are MNRE val sentences, referenced by split file and the line of their first MNRE instance;
mentions are character spans into the text as mmkg's MNRE reader builds it (tokens joined by one
space). The annotation files hold no corpus text: every span is checked against the data on load.

    python -m bench.eval_set sample                 # the 300 sampled posts' lines, in three parts
    python -m bench.eval_set show LINE [LINE ...]   # a post: text, token offsets, MNRE gold pairs
    python -m bench.eval_set span LINE "Kim Jong Un" [--nth K]   # start/end of a substring
    python -m bench.eval_set check FILE [FILE ...]  # validate annotation files, print counts
    python -m bench.eval_set posts OUT.jsonl         # the annotated posts as raw posts (no entities)
    mmkg run --input OUT.jsonl --data-dir D --no-graph [flags]
    python -m bench.eval_set score --data-dir D [--min-confidence P ...]   # precision, recall, F1

Scoring: a triple is correct when its head and its tail each match an annotated mention of the
post (same text after case-folding and dropping #/@, or one containing the other with the shorter
at least 60 % of the longer) and the annotated fact with that label joins them (either direction
for the symmetric labels and for contain and parent, whose definitions name both directions). A triple whose head or tail matches no mention has a junk entity.
"""
from __future__ import annotations

import argparse
import ast
import glob
import json
import os
import random
import sys
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmkg.schemas.relations import ENTITY_TYPES, NO_RELATION, RELATIONS, SYMMETRIC_RELATIONS, implied_types

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
VAL = "mnre/mnre_val.txt"
SAMPLE_SEED = 23
SAMPLE_SIZE = 300
ANNOTATIONS = os.path.join(os.path.dirname(__file__), "annotations")
# Labels a triple may state in either direction: the symmetric ones, and two whose definitions
# (schemas.relations.DEFINITIONS) name both directions: "contains or is contained in", "a parent
# (or child) of".
DIRECTION_FREE = SYMMETRIC_RELATIONS | {"/loc/loc/contain", "/per/per/parent"}


@dataclass
class EvalPost:
    """One MNRE sentence (several MNRE lines share it): text and the gold pairs MNRE annotates."""

    file: str
    line: int  # 1-based line of its first MNRE instance
    text: str
    token_starts: List[int]
    tokens: List[str]
    gold: List[Tuple[Tuple[int, int], str, Tuple[int, int]]] = field(default_factory=list)


def data_path(rel: str, data_dir: Optional[str] = None) -> str:
    return os.path.normpath(os.path.join(data_dir or DATA, rel))


def load_posts(rel: str = VAL, data_dir: Optional[str] = None) -> Dict[int, EvalPost]:
    """Posts of an MNRE split keyed by first line; lines of one (image, sentence) are one post,
    as mmkg's reader groups them."""
    by_key: Dict[Tuple[str, str], EvalPost] = {}
    with open(data_path(rel, data_dir), encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            d = ast.literal_eval(raw)
            tokens = d["token"]
            text = " ".join(tokens)
            starts, pos = [], 0
            for tok in tokens:
                starts.append(pos)
                pos += len(tok) + 1
            key = (d.get("img_id") or "", text)
            post = by_key.setdefault(key, EvalPost(rel, n, text, starts, tokens))

            def span(ent: dict) -> Tuple[int, int]:
                s, e = ent["pos"]
                return starts[s], starts[e - 1] + len(tokens[e - 1])

            post.gold.append((span(d["h"]), d["relation"], span(d["t"])))
    return {p.line: p for p in by_key.values()}


def sample_lines(posts: Dict[int, EvalPost], n: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> List[int]:
    """A fixed random sample of posts (by first line), in file order."""
    return sorted(random.Random(seed).sample(sorted(posts), n))


@dataclass(frozen=True)
class Mention:
    id: str
    start: int
    end: int
    type: str


@dataclass(frozen=True)
class Fact:
    head: str
    relation: str
    tail: str


@dataclass
class Annotation:
    file: str
    line: int
    mentions: List[Mention]
    facts: List[Fact]
    note: str = ""


def parse_annotation(d: dict, posts: Dict[int, EvalPost]) -> Annotation:
    """One JSONL record, checked against the data: spans inside the text on token boundaries,
    known types and labels, label types matching the mentions' types."""
    line = int(d["line"])
    if d.get("file", VAL) != VAL or line not in posts:
        raise ValueError(f"line {line}: not the first line of a post in {VAL}")
    post = posts[line]
    mentions = []
    ids = set()
    for m in d.get("mentions", []):
        mention = Mention(str(m["id"]), int(m["start"]), int(m["end"]), str(m["type"]))
        if mention.id in ids:
            raise ValueError(f"line {line}: mention id {mention.id} twice")
        ids.add(mention.id)
        if not 0 <= mention.start < mention.end <= len(post.text):
            raise ValueError(f"line {line}: span {mention.start}-{mention.end} outside the text")
        if post.text[mention.start:mention.end] != post.text[mention.start:mention.end].strip():
            raise ValueError(f"line {line}: span {mention.start}-{mention.end} starts or ends with a space")
        if mention.type not in ENTITY_TYPES:
            raise ValueError(f"line {line}: unknown type {mention.type}")
        mentions.append(mention)
    by_id = {m.id: m for m in mentions}
    facts = []
    for f in d.get("facts", []):
        fact = Fact(str(f["head"]), str(f["relation"]), str(f["tail"]))
        if fact.relation not in RELATIONS or fact.relation == NO_RELATION:
            raise ValueError(f"line {line}: unknown relation {fact.relation}")
        if fact.head not in by_id or fact.tail not in by_id:
            raise ValueError(f"line {line}: fact names an unknown mention: {fact}")
        types = implied_types(fact.relation)
        if (by_id[fact.head].type, by_id[fact.tail].type) != types:
            raise ValueError(f"line {line}: {fact.relation} needs {types}, mentions are "
                             f"{by_id[fact.head].type}/{by_id[fact.tail].type}")
        facts.append(fact)
    return Annotation(VAL, line, mentions, facts, str(d.get("note", "")))


def load_annotations(paths: Iterable[str], posts: Optional[Dict[int, EvalPost]] = None) -> List[Annotation]:
    posts = posts if posts is not None else load_posts()
    out: Dict[int, Annotation] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for i, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    a = parse_annotation(json.loads(raw), posts)
                except (ValueError, KeyError, json.JSONDecodeError) as e:
                    raise ValueError(f"{path}:{i}: {e}") from None
                if a.line in out:
                    raise ValueError(f"{path}:{i}: line {a.line} annotated twice")
                out[a.line] = a
    return [out[k] for k in sorted(out)]


def default_annotation_files() -> List[str]:
    if not os.path.isdir(ANNOTATIONS):
        return []
    # Only this set's parts: bench/annotations also holds other labelled sets (resolution pairs).
    return sorted(os.path.join(ANNOTATIONS, f) for f in os.listdir(ANNOTATIONS)
                  if f.startswith("mnre_val.") and f.endswith(".jsonl"))


def _norm(name: str) -> str:
    return " ".join(name.casefold().replace("#", " ").replace("@", " ").split())


def _matches(predicted: str, annotated: str) -> bool:
    a, b = _norm(predicted), _norm(annotated)
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return short in long_ and len(short) >= 0.6 * len(long_)


def post_id_of(line: int) -> str:
    return f"eval-{line}"


def write_posts(annotations: Sequence[Annotation], posts: Dict[int, EvalPost], out: str) -> int:
    """The annotated posts as mmkg input without entities: what a user's raw posts look like."""
    with open(out, "w", encoding="utf-8") as f:
        for a in annotations:
            f.write(json.dumps({"id": post_id_of(a.line), "text": posts[a.line].text}) + "\n")
    return len(annotations)


def judge(annotations: Sequence[Annotation], posts: Dict[int, EvalPost], triples: Sequence[dict]):
    """(triple, correct, junk entity, the fact it hits or None) for each triple of an annotated post."""
    by_post = {post_id_of(a.line): a for a in annotations}
    out = []
    for t in triples:
        a = by_post.get(t["post_id"])
        if a is None:
            continue
        text = posts[a.line].text
        names = {m.id: text[m.start:m.end] for m in a.mentions}
        heads = {i for i, n in names.items() if _matches(t["head"], n)}
        tails = {i for i, n in names.items() if _matches(t["tail"], n)}
        hit = next((f for f in a.facts if f.relation == t["relation"] and (
            (f.head in heads and f.tail in tails)
            or (f.relation in DIRECTION_FREE and f.head in tails and f.tail in heads))), None)
        out.append((t, hit is not None, not heads or not tails, (a.line, hit) if hit else None))
    return out


def score(annotations: Sequence[Annotation], posts: Dict[int, EvalPost], triples: Sequence[dict],
          min_confidence: float = 0.0) -> dict:
    """End-to-end precision, recall and F1 of facts, MNRE gold facts recovered, precision on the
    pairs MNRE annotates, triples per post and the share with a junk entity."""
    judged = [j for j in judge(annotations, posts, triples) if j[0]["confidence"] >= min_confidence]
    kept = [j[0] for j in judged]
    correct = sum(j[1] for j in judged)
    junk = sum(j[2] for j in judged)
    found = {j[3] for j in judged if j[3]}
    on_mnre_pairs = [0, 0]
    lines = {post_id_of(a.line): a.line for a in annotations}
    for t, ok, _, _ in judged:
        text = posts[lines[t["post_id"]]].text
        spans = {(text[hs:he], text[ts:te]) for (hs, he), _, (ts, te) in posts[lines[t["post_id"]]].gold}
        if any(_matches(t["head"], h) and _matches(t["tail"], tl) for h, tl in spans):
            on_mnre_pairs[0] += 1
            on_mnre_pairs[1] += ok
    facts = sum(len(a.facts) for a in annotations)
    gold = [(a.line, (h, rel, tl)) for a in annotations for h, rel, tl in posts[a.line].gold if rel != NO_RELATION]
    recovered = 0
    for line, ((hs, he), rel, (ts, te)) in gold:
        text = posts[line].text
        if any(t["post_id"] == post_id_of(line) and t["relation"] == rel and _matches(t["head"], text[hs:he])
               and _matches(t["tail"], text[ts:te]) for t in kept):
            recovered += 1
    precision = correct / len(kept) if kept else 0.0
    recall = len(found) / facts if facts else 0.0
    return {
        "min_confidence": min_confidence, "posts": len(annotations), "facts": facts, "triples": len(kept),
        "correct": correct, "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "mnre_gold_facts": len(gold), "mnre_gold_recovered": recovered / len(gold) if gold else 0.0,
        "precision_on_mnre_pairs": on_mnre_pairs[1] / on_mnre_pairs[0] if on_mnre_pairs[0] else 0.0,
        "triples_per_post": len(kept) / len(annotations) if annotations else 0.0,
        "junk_entity_share": junk / len(kept) if kept else 0.0,
    }


def read_triples(data_dir: str) -> List[dict]:
    import pyarrow.parquet as pq

    files = glob.glob(os.path.join(data_dir, "out", "triples-*.parquet"))
    if not files:
        raise SystemExit(f"no triples Parquet under {data_dir}/out: run mmkg run --data-dir {data_dir} first")
    return pq.read_table(files).to_pylist()


def _restrict(annotations: List[Annotation], posts_file: Optional[str]) -> List[Annotation]:
    if not posts_file:
        return annotations
    with open(posts_file, encoding="utf-8") as f:
        ids = {json.loads(line)["id"] for line in f if line.strip()}
    return [a for a in annotations if post_id_of(a.line) in ids]


def paired_bootstrap(annotations, posts, runs, min_confidence=0.0, samples: int = 2000, seed: int = 0):
    """B - A for precision, recall and F1 over posts resampled with replacement (the same resample
    for both runs): mean and 95 % interval of each difference. ``min_confidence`` is one cut for
    both runs or one per run (two models compared each at its own operating point)."""
    per_post = []
    cuts = list(min_confidence) if isinstance(min_confidence, (list, tuple)) else [min_confidence] * len(runs)
    if len(cuts) != len(runs):
        raise ValueError(f"{len(cuts)} cuts for {len(runs)} runs")
    judged = [judge(annotations, posts, [t for t in run if t["confidence"] >= cut]) for run, cut in zip(runs, cuts)]
    for a in annotations:
        pid = post_id_of(a.line)
        row = [len(a.facts)]
        for j in judged:
            mine = [x for x in j if x[0]["post_id"] == pid]
            row += [len(mine), sum(x[1] for x in mine), len({x[3] for x in mine if x[3]})]
        per_post.append(row)
    rng = random.Random(seed)

    def metrics(rows, k):
        facts = sum(r[0] for r in rows)
        n, ok, found = (sum(r[1 + 3 * k + i] for r in rows) for i in range(3))
        p, rec = (ok / n if n else 0.0), (found / facts if facts else 0.0)
        return p, rec, (2 * p * rec / (p + rec) if p + rec else 0.0)

    diffs = []
    for _ in range(samples):
        rows = [per_post[rng.randrange(len(per_post))] for _ in per_post]
        a, b = metrics(rows, 0), metrics(rows, 1)
        diffs.append([b[i] - a[i] for i in range(3)])
    out = {}
    for i, name in enumerate(("precision", "recall", "f1")):
        d = sorted(x[i] for x in diffs)
        out[name] = {"a": metrics(per_post, 0)[i], "b": metrics(per_post, 1)[i],
                     "diff": metrics(per_post, 1)[i] - metrics(per_post, 0)[i],
                     "low": d[int(0.025 * samples)], "high": d[int(0.975 * samples) - 1]}
    return out


def _compare(args, posts) -> int:
    if len(args.data_dir) != 2:
        raise SystemExit("compare takes two --data-dir")
    anns = _restrict(load_annotations(default_annotation_files(), posts), args.posts)
    cuts = args.min_confidence or [0.0]
    if len(cuts) not in (1, 2):
        raise SystemExit("compare takes one --min-confidence (both runs) or two (A's, then B's)")
    runs = [read_triples(d) for d in args.data_dir]
    res = paired_bootstrap(anns, posts, runs, cuts if len(cuts) == 2 else cuts[0], args.samples)
    print(f"A = {args.data_dir[0]}, B = {args.data_dir[1]}; {len(anns)} posts resampled {args.samples} times; "
          f"cut {' / '.join(str(c) for c in cuts)}")
    print("| metric | A | B | B - A | 95 % interval |\n|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {100 * r['a']:.1f} | {100 * r['b']:.1f} | {100 * r['diff']:+.1f} | "
              f"[{100 * r['low']:+.1f}, {100 * r['high']:+.1f}] |")
    return 0


def _calibrate(args, posts: Dict[int, EvalPost]) -> int:
    """Platt scaling of the guide's confidence on the judged triples of a run: the reliability
    table and ECE before, after (two-fold by post: fitted on one half, read on the other), and the
    map fitted on all, composed with the checkpoint's current map (the run's confidences went
    through it)."""
    from mmkg.guide.confidence import (
        ConfidenceMap,
        expected_calibration_error,
        fit_platt,
        load_map,
        reliability,
        save_map,
        weights_sha256,
    )

    anns = _restrict(load_annotations(default_annotation_files(), posts), args.posts)
    judged = [(j[0]["confidence"], j[1], j[0]["post_id"]) for j in judge(anns, posts, read_triples(args.data_dir))
              if j[0].get("decided_by", "guide") == "guide"]
    probs, ok = [p for p, _, _ in judged], [c for _, c, _ in judged]
    held_out = [0.0] * len(judged)
    for fold in (0, 1):
        train = [i for i, (_, _, pid) in enumerate(judged) if int(pid.split("-")[1]) % 2 != fold]
        test = [i for i, (_, _, pid) in enumerate(judged) if int(pid.split("-")[1]) % 2 == fold]
        fold_map = ConfidenceMap(*fit_platt([probs[i] for i in train], [ok[i] for i in train]))
        for i in test:
            held_out[i] = fold_map(probs[i])
    for name, ps in (("as the run stated it", probs), ("Platt, two-fold held out", held_out)):
        print(f"\nconfidence {name}: ECE {expected_calibration_error(ps, ok):.3f} over {len(ps)} triples")
        print("| confidence | triples | mean confidence | correct |\n|---|---|---|---|")
        for r in reliability(ps, ok):
            print(f"| {r['from']:.1f}-{r['to']:.1f} | {r['n']} | {r['confidence']:.2f} | {r['correct']:.2f} |")
    a, b = fit_platt(probs, ok)
    current = load_map(args.checkpoint)
    cmap = current.then(a, b)
    import dataclasses as _dc

    cmap = _dc.replace(cmap, fitted_on=f"{len(anns)} posts of {VAL} (bench/annotations)", triples=len(judged),
                       guide_weights_sha256=weights_sha256(args.checkpoint))
    print(f"\nmap: sigmoid({cmap.a:.3f} * logit(p) + {cmap.b:.3f})")
    if args.write:
        report = {"ece_before": expected_calibration_error(probs, ok),
                  "ece_two_fold": expected_calibration_error(held_out, ok),
                  "command": "python -m bench.eval_set calibrate " + " ".join(sys.argv[2:])}
        print("written", save_map(args.checkpoint, cmap, report))
    return 0


def entity_scores(annotations: Sequence[Annotation], posts: Dict[int, EvalPost],
                  detected: Dict[int, Sequence]) -> dict:
    """Detected spans (``EntityMention``s by line) against the annotated mentions: precision,
    precision with the right type, recall (a span is right when it matches a mention, as
    :func:`judge` matches triple ends)."""
    n = right = typed = found = total = 0
    for a in annotations:
        text = posts[a.line].text
        spans = detected.get(a.line, ())
        names = [(text[m.start:m.end], m.type) for m in a.mentions]
        for d in spans:
            n += 1
            hits = [t for name, t in names if _matches(d.text, name)]
            right += bool(hits)
            typed += d.type in hits
        total += len(names)
        found += sum(any(_matches(d.text, name) for d in spans) for name, _ in names)
    return {"detected": n, "precision": right / n if n else 0.0, "typed_precision": typed / n if n else 0.0,
            "recall": found / total if total else 0.0}


def _entities(args, posts: Dict[int, EvalPost]) -> int:
    """The NER student as `mmkg run` reads raw posts (its spans and untagged @mentions as
    candidates), before and after ``ner.mentions``' filter, on the annotated posts."""
    from mmkg.ner.mentions import clean_mentions, mentions_from_spans
    from mmkg.ner.settings import NerSettings
    from mmkg.ner.tagger import NerStudent

    anns = load_annotations(default_annotation_files(), posts)
    settings = NerSettings()
    student = NerStudent(args.checkpoint or settings.checkpoint)
    texts = [posts[a.line].text for a in anns]
    raw = {a.line: mentions_from_spans(t, tp.spans, tp.candidates, settings.mentions)
           for a, t, tp in zip(anns, texts, student.detect(texts, settings.recall_penalty))}
    kept = {line: clean_mentions(posts[line].text, ms)[0] for line, ms in raw.items()}
    print(f"{len(anns)} annotated posts, {sum(len(a.mentions) for a in anns)} mentions")
    print("| | detected | precision | precision with the right type | recall |\n|---|---|---|---|---|")
    for name, det in (("the student alone", raw), ("+ ner/mentions.py", kept)):
        r = entity_scores(anns, posts, det)
        print(f"| {name} | {r['detected']} | {100 * r['precision']:.1f} | {100 * r['typed_precision']:.1f} | "
              f"{100 * r['recall']:.1f} |")
    return 0


def _show(posts: Dict[int, EvalPost], line: int) -> None:
    p = posts[line]
    print(f"== line {line}  ({p.file})")
    print(p.text)
    print("tokens: " + " ".join(f"{s}:{t}" for s, t in zip(p.token_starts, p.tokens)))
    for (hs, he), rel, (ts, te) in p.gold:
        print(f"  MNRE gold: [{hs},{he}) {p.text[hs:he]!r} {rel} [{ts},{te}) {p.text[ts:te]!r}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.eval_set", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("sample")
    sh = sub.add_parser("show")
    sh.add_argument("lines", nargs="+", type=int)
    sp = sub.add_parser("span")
    sp.add_argument("line", type=int)
    sp.add_argument("text")
    sp.add_argument("--nth", type=int, default=1)
    ck = sub.add_parser("check")
    ck.add_argument("files", nargs="*")
    ps = sub.add_parser("posts")
    ps.add_argument("out")
    sc = sub.add_parser("score")
    sc.add_argument("--data-dir", required=True)
    sc.add_argument("--min-confidence", type=float, nargs="*", default=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9])
    sc.add_argument("--json", action="store_true")
    sc.add_argument("--posts", default=None, help="only the posts of this input file (the run's)")
    cp = sub.add_parser("compare")
    cp.add_argument("--data-dir", action="append", required=True, help="two runs over the same posts (A then B)")
    cp.add_argument("--posts", default=None)
    cp.add_argument("--min-confidence", type=float, action="append", default=None,
                    help="the cut of both runs, or given twice: A's cut, then B's (each at its own operating point)")
    cp.add_argument("--samples", type=int, default=2000)
    en = sub.add_parser("entities", help="the NER student's entities on the annotated posts, before and after the filter")
    en.add_argument("--checkpoint", default=None, help="an NER checkpoint (default: the shipped student)")
    cb = sub.add_parser("calibrate")
    cb.add_argument("--data-dir", required=True, help="a run over `posts`, with the checkpoint to calibrate")
    cb.add_argument("--checkpoint", default=None, help="the run's guide checkpoint (default: the shipped one)")
    cb.add_argument("--posts", default=None)
    cb.add_argument("--write", action="store_true", help="write confidence.json beside the checkpoint")
    args = ap.parse_args(argv)
    posts = load_posts()
    if args.cmd == "sample":
        lines = sample_lines(posts)
        third = len(lines) // 3
        for k, part in enumerate((lines[:third], lines[third:2 * third], lines[2 * third:]), start=1):
            print(f"part{k}: " + " ".join(map(str, part)))
    elif args.cmd == "show":
        for line in args.lines:
            _show(posts, line)
    elif args.cmd == "span":
        text, start = posts[args.line].text, -1
        for _ in range(args.nth):
            start = text.find(args.text, start + 1)
            if start < 0:
                print(f"{args.text!r} not found (occurrence {args.nth})", file=sys.stderr)
                return 1
        print(json.dumps({"start": start, "end": start + len(args.text)}))
    elif args.cmd == "posts":
        n = write_posts(load_annotations(default_annotation_files(), posts), posts, args.out)
        print(f"{n} posts written to {args.out}")
    elif args.cmd == "calibrate":
        return _calibrate(args, posts)
    elif args.cmd == "entities":
        return _entities(args, posts)
    elif args.cmd == "compare":
        return _compare(args, posts)
    elif args.cmd == "score":
        anns = _restrict(load_annotations(default_annotation_files(), posts), args.posts)
        triples = read_triples(args.data_dir)
        rows = [score(anns, posts, triples, p) for p in args.min_confidence]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(f"{len(anns)} annotated posts, {rows[0]['facts']} facts, {rows[0]['mnre_gold_facts']} MNRE gold facts")
            print("| min conf | triples | /post | precision | recall | F1 | MNRE gold recovered | P on MNRE pairs | junk entity |")
            print("|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                print(f"| {r['min_confidence']:.2f} | {r['triples']} | {r['triples_per_post']:.2f} | "
                      f"{100 * r['precision']:.1f} | {100 * r['recall']:.1f} | {100 * r['f1']:.1f} | "
                      f"{100 * r['mnre_gold_recovered']:.1f} | {100 * r['precision_on_mnre_pairs']:.1f} | "
                      f"{100 * r['junk_entity_share']:.1f} |")
    else:
        anns = load_annotations(args.files or default_annotation_files(), posts)
        n_m = sum(len(a.mentions) for a in anns)
        n_f = sum(len(a.facts) for a in anns)
        print(f"{len(anns)} posts, {n_m} mentions, {n_f} facts, "
              f"{sum(1 for a in anns if not a.facts)} posts without a fact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
