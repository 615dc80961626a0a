"""Entity resolution against the labelled mention pairs (issue 24), beside today's exact keys.

Resolves every typed mention of MNRE val + Twitter-2015/2017 valid together (bench.resolution_data),
then scores the labelled pairs (bench/annotations/resolution_pairs.jsonl): a pair is predicted
"same" when both mentions land in one entity.

- pairwise precision / recall / F1 of merges over the labelled pairs;
- B-cubed F1 over the labelled mentions, gold entities being the connected components of the
  "same" pairs (a mention's other labelled mentions outside its component count as different);
- cross-type merges: pairs of mentions of different types in one entity (must be 0);
- thresholds by grouped K-fold cross-validation: on the training folds, the configuration with the
  highest recall among those with precision >= --min-precision (ties: the stricter); the held-out
  fold is predicted with it. The reported CV numbers pool the held-out predictions.

    python -m bench.resolution [--folds 5] [--min-precision 0.97]
    python -m bench.resolution --corpus train   # the thresholds chosen on the train files' pairs
    python -m bench.resolution --corpus train --labels bench/annotations/resolution_spelling_train.jsonl \
        --only fuzzy_word_per,fuzzy_word_org,fuzzy_word_loc,fuzzy_word_misc,fuzzy_word_changed,fuzzy_word_number

Each threshold is chosen on one of the two labelled sets (CHOSEN_ON), the others staying at their
defaults; the other set then reads it held out.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from bench.resolution_data import (
    CORPORA,
    LABELS_OF,
    LabelledPair,
    corpus_mentions,
    load_corpus,
    load_labels,
    post_vectors,
)
from mmkg.kg.rows import entity_key
from mmkg.resolve.blocking import candidate_pairs
from mmkg.resolve.cluster import cluster
from mmkg.resolve.nodes import nodes_of_mentions
from mmkg.resolve.normalise import name_form
from mmkg.resolve.records import FUZZY
from mmkg.resolve.scoring import DEFAULT, NEVER, Params, context_score, fuzzy_min, link_kind, score_pair
from mmkg.resolve.text_settings import DEFAULT_TEXT_ENCODER, NONE

GRID = {
    # chosen on the val pairs (bench/annotations/resolution_pairs.jsonl)
    "fuzzy": (88.0, 92.0),
    "ctx_word": (0.0, 1.0, 2.0, 3.0),
    "ctx_surname": (0.0, 1.0, 2.0, 3.0),
    "ctx_short": (1.0, 2.0, 3.0, 4.0),
    "ctx_acronym": (0.0, 1.0, 2.0, 3.0),
    "margin": (1.0, 2.0),
    "text_points": (0.0, 1.0, 2.0),
    "text_similar": (0.5, 0.6, 0.7),
    # chosen on the train pairs (bench/annotations/resolution_pairs_train.jsonl)
    "ctx_multi": (0.0, 1.0, NEVER),
    "ctx_multi_person": (0.0, 1.0, 3.0, NEVER),
    "ctx_designator": (0.0, NEVER),
    "ctx_word_org": (1.0, 3.0, NEVER),
    "ctx_word_org_head": (0.0, 1.0, 2.0, 3.0, NEVER),
    "ctx_word_loc": (1.0, 3.0, NEVER),
    "ctx_word_misc": (1.0, 3.0, NEVER),
    "fuzzy_word_per": (88.0, 92.0, NEVER),
    "fuzzy_word_org": (88.0, 92.0, NEVER),
    "fuzzy_word_loc": (88.0, 92.0, NEVER),
    "fuzzy_word_misc": (88.0, 92.0, NEVER),
    "fuzzy_word_changed": (88.0, 92.0, NEVER),
    "fuzzy_word_number": (88.0, NEVER),
}
SINGLE_WORD_FUZZY = ("fuzzy_word_per", "fuzzy_word_org", "fuzzy_word_loc", "fuzzy_word_misc", "fuzzy_word_changed",
                     "fuzzy_word_number")
# Each threshold is chosen on one labelled set, so the other set reads it held out.
CHOSEN_ON = {"val": ("fuzzy", "ctx_word", "ctx_surname", "ctx_short", "ctx_acronym", "margin", "text_points",
                     "text_similar"),
             "train": ("ctx_multi", "ctx_multi_person", "ctx_designator", "ctx_word_org", "ctx_word_org_head",
                       "ctx_word_loc", "ctx_word_misc")}


def pairwise(pred: Dict[str, str], pairs: Sequence[LabelledPair]) -> Tuple[float, float, float, int, int, int]:
    tp = sum(1 for p in pairs if p.same and pred[p.a] == pred[p.b])
    fp = sum(1 for p in pairs if not p.same and pred[p.a] == pred[p.b])
    fn = sum(1 for p in pairs if p.same and pred[p.a] != pred[p.b])
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1, tp, fp, fn


def bcubed(pred: Dict[str, str], pairs: Sequence[LabelledPair]) -> Tuple[float, float, float]:
    from mmkg.resolve.unionfind import UnionFind

    uf = UnionFind()
    for p in pairs:
        uf.add(p.a)
        uf.add(p.b)
        if p.same:
            uf.union(p.a, p.b)
    mentions = sorted(uf._parent)
    gold: Dict[str, set] = defaultdict(set)
    sys_: Dict[str, set] = defaultdict(set)
    for m in mentions:
        gold[uf.find(m)].add(m)
        sys_[pred[m]].add(m)
    P = R = 0.0
    for m in mentions:
        g, s = gold[uf.find(m)], sys_[pred[m]]
        both = len(g & s)
        P += both / len(s)
        R += both / len(g)
    P, R = P / len(mentions), R / len(mentions)
    return P, R, (2 * P * R / (P + R) if P + R else 0.0)


class Evaluator:
    """Scores the corpus once per fuzzy threshold (the only parameter scoring uses), then clusters
    once per configuration: the grid search costs clusterings, not re-scorings."""

    def __init__(self, mentions):
        self.mentions = mentions
        self.nodes = nodes_of_mentions(mentions)
        self.pairs = candidate_pairs(self.nodes.values())
        self.mention_node = {m.mention_id: m.node() for m in mentions}
        self.mention_type = {m.mention_id: m.type for m in mentions}
        self._links: Dict[float, list] = {}

    def links(self, fuzzy: float):
        # Scored once per fuzzy ratio with the loosest single-word ratios; predict() drops the
        # single-word spelling links a configuration's stricter ratios would not make.
        if fuzzy not in self._links:
            loosest = {k: min(GRID[k]) for k in SINGLE_WORD_FUZZY}
            p = replace(DEFAULT, fuzzy=fuzzy, **loosest)
            out = []
            for a, b in sorted(self.pairs):
                d = score_pair(self.nodes[a], self.nodes[b], 0, p)
                if d is not None:
                    out.append(d)
            self._links[fuzzy] = out
        return self._links[fuzzy]

    def predict(self, params: Params) -> Dict[str, str]:
        # A dependent link's score is its features' under these thresholds (text_points, text_similar).
        links = [d if d.firm or not d.dependent
                 else replace(d, score=context_score(d.features, params, link_kind(d, self.nodes)))
                 for d in self.links(params.fuzzy)
                 if d.rule != FUZZY
                 or dict(d.features)["similarity"] >= fuzzy_min(self.nodes[d.a], self.nodes[d.b], params)]
        uf, _ = cluster(self.nodes, links, params)
        return {mid: uf.label(n) for mid, n in self.mention_node.items()}


def configs(only: Sequence[str] = ()) -> List[Params]:
    """Every combination of the grid's values; ``only``: vary just these, the rest at DEFAULT."""
    keys = [k for k in GRID if not only or k in only]
    out = [replace(DEFAULT, **dict(zip(keys, vals))) for vals in itertools.product(*(GRID[k] for k in keys))]
    # Without text points the cosine they need changes nothing: one such configuration, not one per cosine.
    return [p for p in out if p.text_points or p.text_similar == max(GRID["text_similar"])
            or "text_similar" not in keys]


def strictness(p: Params) -> Tuple:
    return (p.ctx_short, p.ctx_acronym, p.ctx_word, p.ctx_word_org, p.ctx_word_org_head, p.ctx_word_loc,
            p.ctx_word_misc, p.ctx_surname, p.ctx_multi, p.ctx_multi_person, p.ctx_designator, p.margin,
            p.fuzzy) + tuple(getattr(p, k) for k in SINGLE_WORD_FUZZY) + (-p.text_points, p.text_similar)


def choose(preds: Dict[Params, Dict[str, str]], pairs: Sequence[LabelledPair], min_precision: float,
           decided: Callable[[LabelledPair], bool] = lambda p: True) -> Params:
    """Highest recall among the configurations whose precision on the pairs the thresholds decide
    (``decided``: the two names have different normal forms) reaches ``min_precision``; ties and the
    case where none does go to the strictest."""
    pairs = [p for p in pairs if decided(p)]
    best, best_key = None, None
    for p, pred in preds.items():
        prec, rec, f1, *_ = pairwise(pred, pairs)
        ok = prec >= min_precision
        key = (ok, rec if ok else prec, strictness(p))
        if best_key is None or key > best_key:
            best, best_key = p, key
    return best


def fold_of(p: LabelledPair, mention_name: Dict[str, Tuple[str, str]], k: int) -> int:
    """Pairs are grouped by the first word of the shorter name, so one name family ("David ...")
    never sits on both sides of a split."""
    na, nb = (name_form(*mention_name[r]).norm for r in (p.a, p.b))
    short = min((na, nb), key=lambda s: (len(s), s))
    return zlib.crc32(short.split()[0].encode()) % k if short else 0


def report(name: str, pred: Dict[str, str], pairs: Sequence[LabelledPair], types: Dict[str, str]) -> None:
    if not pairs:
        print(f"{name:<34} (no pairs)")
        return
    prec, rec, f1, tp, fp, fn = pairwise(pred, pairs)
    bp, br, bf = bcubed(pred, pairs)
    cross = sum(1 for p in pairs if types[p.a] != types[p.b] and pred[p.a] == pred[p.b])
    print(f"{name:<34} P {prec:6.1%}  R {rec:6.1%}  F1 {f1:6.1%}  (tp {tp}, fp {fp}, fn {fn})   "
          f"B3 P {bp:6.1%} R {br:6.1%} F1 {bf:6.1%}   cross-type merges {cross}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.resolution", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", default=None, help="default: the --corpus's labelled pairs")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--min-precision", type=float, default=0.97,
                    help="on the training folds' pairs with different normal forms")
    ap.add_argument("--by-case", action="store_true", help="also print each kind of pair")
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="val",
                    help="the files the labelled mentions come from (val: MNRE val and the Twitter valid files)")
    ap.add_argument("--only", default="", help="comma-separated Params fields to search, the others at "
                    "DEFAULT (default: those chosen on the --corpus's labelled set, CHOSEN_ON)")
    ap.add_argument("--encoder", default=DEFAULT_TEXT_ENCODER,
                    help="the posts' text vectors, as mmkg run --resolve-encoder ('none': without)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "mmkg-bench"),
                    help="where the posts' text vectors are kept between runs ('' : nowhere)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    posts = load_corpus(files=CORPORA[args.corpus])
    vectors = {} if args.encoder == NONE else post_vectors(
        posts, args.encoder, os.path.join(args.cache, f"text-vectors-{args.corpus}.json") if args.cache else None)
    mentions = corpus_mentions(posts, vectors)
    by_ref = {m.ref: m for p in posts for m in p.mentions}
    pairs = load_labels(args.labels or LABELS_OF[args.corpus], by_ref)
    ev = Evaluator(mentions)
    types = ev.mention_type
    print(f"corpus: {len(posts)} posts, {len(mentions)} typed mentions, {len(ev.nodes)} name nodes, "
          f"{len(ev.pairs)} candidate pairs; labelled: {len(pairs)} pairs "
          f"({sum(p.same for p in pairs)} same)")

    exact = {m.mention_id: entity_key(m.name, m.type) for m in mentions}
    grid = configs(tuple(k for k in args.only.split(",") if k) or CHOSEN_ON[args.corpus])
    t1 = time.perf_counter()
    preds = {p: ev.predict(p) for p in grid}
    t2 = time.perf_counter()
    print(f"grid: {len(grid)} configurations, {t2 - t1:.1f} s (scoring and clustering {t1 - t0:.1f} s before)")

    mention_name = {r: (m.name, m.type) for r, m in by_ref.items()}
    node_of = ev.mention_node

    def decided(p: LabelledPair) -> bool:  # the thresholds decide it: not one name node
        return node_of[p.a] != node_of[p.b]

    folds = defaultdict(list)
    for p in pairs:
        folds[fold_of(p, mention_name, args.folds)].append(p)
    held: Dict[str, str] = {}
    held_pairs: List[LabelledPair] = []
    print(f"\n{args.folds}-fold CV (grouped by the short name's first word), rule: highest recall with "
          f"train precision >= {args.min_precision:.0%}")
    for k in sorted(folds):
        train = [p for j in folds if j != k for p in folds[j]]
        chosen = choose(preds, train, args.min_precision, decided)
        test = folds[k]
        prec, rec, *_ = pairwise(preds[chosen], test)
        print(f"  fold {k}: {len(test):3d} pairs  chosen {fmt(chosen)}  held-out P {prec:6.1%} R {rec:6.1%}")
        # Held-out predictions, renamed per fold so pairs of different folds never share a label.
        for p in test:
            held_pairs.append(LabelledPair(f"{k}|{p.a}", f"{k}|{p.b}", p.same, p.case))
            for r in (p.a, p.b):
                held[f"{k}|{r}"] = f"{k}|{preds[chosen][r]}"
    held_types = {f"{k}|{r}": types[r] for k in folds for p in folds[k] for r in (p.a, p.b)}
    final = choose(preds, pairs, args.min_precision, decided)
    print()
    report("exact keys (today: type + name)", exact, pairs, types)
    report("resolve, held-out (CV)", held, held_pairs, held_types)
    report("resolve, DEFAULT params", preds.get(DEFAULT) or ev.predict(DEFAULT), pairs, types)
    report("resolve, chosen on all (in-sample)", preds[final], pairs, types)
    dec = [p for p in pairs if decided(p)]
    held_dec = [p for p in held_pairs if node_of[p.a.split("|", 1)[1]] != node_of[p.b.split("|", 1)[1]]]
    same_node = [p for p in pairs if not decided(p)]
    print(f"\nonly the {len(dec)} pairs whose names differ after normalisation (what thresholds decide):")
    report("exact keys", exact, dec, types)
    report("resolve, held-out (CV)", held, held_dec, held_types)
    print(f"the {len(same_node)} pairs of one normal form (one name node: merged by every run; "
          f"{sum(not p.same for p in same_node)} are homonyms of one type):")
    report("exact keys", exact, same_node, types)
    report("resolve", preds[final], same_node, types)
    print(f"\nDEFAULT: {fmt(DEFAULT)}\nchosen on all labelled pairs: {fmt(final)}")
    if args.by_case:
        print("\nby case (DEFAULT params | exact keys):")
        dp = preds.get(DEFAULT) or ev.predict(DEFAULT)
        for case in sorted({p.case for p in pairs}):
            sub = [p for p in pairs if p.case == case]
            a, b = pairwise(dp, sub), pairwise(exact, sub)
            print(f"  {case:<13} {len(sub):3d} pairs ({sum(p.same for p in sub):2d} same)  "
                  f"P {a[0]:6.1%} R {a[1]:6.1%}  |  P {b[0]:6.1%} R {b[1]:6.1%}")
    return 0


def fmt(p: Params) -> str:
    single = "" if all(getattr(p, k) == getattr(DEFAULT, k) for k in SINGLE_WORD_FUZZY) else (
        " " + " ".join(f"{k}={getattr(p, k):g}" for k in SINGLE_WORD_FUZZY))
    return (f"fuzzy={p.fuzzy:g}{single} multi={p.ctx_multi:g} multi_person={p.ctx_multi_person:g} "
            f"designator={p.ctx_designator:g} word={p.ctx_word:g} word_org={p.ctx_word_org:g} "
            f"word_org_head={p.ctx_word_org_head:g} "
            f"word_loc={p.ctx_word_loc:g} word_misc={p.ctx_word_misc:g} surname={p.ctx_surname:g} "
            f"short={p.ctx_short:g} acronym={p.ctx_acronym:g} margin={p.margin:g} "
            f"text={p.text_points:g}@{p.text_similar:g}")


if __name__ == "__main__":
    sys.exit(main())
