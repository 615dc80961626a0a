"""The corpus and the labelled mention pairs behind bench/resolution.py (issue 24).

Corpus: the typed mentions of MNRE val (types implied by the relation labels; a span that only
ever appears in ``None`` pairs has no type and, as in the graph, is left out) and of the Twitter-2015
and Twitter-2017 valid files (their BIO tags; Twitter-2015's OTHER is MISC). A post is an MNRE
sentence (its first line) or a Twitter post (its ``IMGID`` line).

A mention is referenced, never copied, as ``FILE:LINE:START-END``: the split file under
``../shared/data``, the post's line (1-based) and a token span [START, END).

Labelled pairs (``bench/annotations/resolution_pairs.jsonl``): one JSON object a line,
``{"a": REF, "b": REF, "same": true|false, "case": KIND}``, labelled by reading both posts.

    python -m bench.resolution_data candidates [--limit N]   # pairs to label, hard cases first
    python -m bench.resolution_data show REF [REF ...]       # a mention and its post
    python -m bench.resolution_data check [FILE]             # validate the labels, print counts
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmkg.resolve.normalise import name_form
from mmkg.resolve.records import Mention
from mmkg.resolve.resolver import mentions_of_post
from mmkg.resolve.text_settings import DEFAULT_TEXT_ENCODER
from mmkg.schemas.relations import NO_RELATION, implied_types

DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
FILES = ("mnre/mnre_val.txt", "twitter2015/valid.txt", "twitter2017/valid.txt")
# The train files: no threshold was chosen on them, so pairs labelled there are held out from the
# cross-validation on the val pairs (and the other way round).
TRAIN_FILES = ("mnre/mnre_train.txt", "twitter2015/train.txt", "twitter2017/train.txt")
CORPORA = {"val": FILES, "train": TRAIN_FILES}
LABELS = os.path.join(os.path.dirname(__file__), "annotations", "resolution_pairs.jsonl")
TRAIN_LABELS = os.path.join(os.path.dirname(__file__), "annotations", "resolution_pairs_train.jsonl")
LABELS_OF = {"val": LABELS, "train": TRAIN_LABELS}
_TYPE = {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC", "OTHER": "MISC"}


@dataclass(frozen=True)
class CorpusMention:
    ref: str  # FILE:LINE:START-END
    post_id: str  # FILE:LINE
    name: str
    type: str


@dataclass
class CorpusPost:
    post_id: str
    tokens: List[str]
    mentions: List[CorpusMention]


def _mnre(rel: str, data: str) -> List[CorpusPost]:
    posts: Dict[Tuple[str, str], CorpusPost] = {}
    types: Dict[Tuple[str, int, int], Counter] = defaultdict(Counter)
    with open(os.path.join(data, rel), encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            d = ast.literal_eval(raw)
            key = (d.get("img_id") or "", " ".join(d["token"]))
            post = posts.setdefault(key, CorpusPost(f"{rel}:{n}", d["token"], []))
            ht = implied_types(d["relation"]) if d["relation"] != NO_RELATION else None
            for side, ent in enumerate((d["h"], d["t"])):
                s, e = ent["pos"]
                c = types[(post.post_id, s, e)]
                if ht:
                    c[ht[side]] += 1
                else:
                    c[None] += 0
    for post in posts.values():
        for (pid, s, e), c in sorted(types.items()):
            if pid != post.post_id:
                continue
            known = [(n, t) for t, n in c.items() if t]
            if not known:
                continue
            etype = max(known)[1]
            post.mentions.append(CorpusMention(f"{pid}:{s}-{e}", pid, " ".join(post.tokens[s:e]), etype))
    return list(posts.values())


def _conll(rel: str, data: str) -> List[CorpusPost]:
    posts: List[CorpusPost] = []
    cur: Optional[CorpusPost] = None
    spans: List[Tuple[int, int, str]] = []

    def close():
        if cur is not None:
            for s, e, t in spans:
                cur.mentions.append(CorpusMention(f"{cur.post_id}:{s}-{e}", cur.post_id,
                                                  " ".join(cur.tokens[s:e]), _TYPE[t]))
            posts.append(cur)

    with open(os.path.join(data, rel), encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.rstrip("\n")
            if line.startswith("IMGID:"):
                close()
                cur, spans = CorpusPost(f"{rel}:{n}", [], []), []
                continue
            if not line.strip() or cur is None:
                continue
            tok, tag = line.split("\t")[:2]
            i = len(cur.tokens)
            cur.tokens.append(tok)
            if tag.startswith("B-"):
                spans.append((i, i + 1, tag[2:]))
            elif tag.startswith("I-") and spans and spans[-1][1] == i and spans[-1][2] == tag[2:]:
                spans[-1] = (spans[-1][0], i + 1, spans[-1][2])
    close()
    return posts


def load_corpus(data: str = DATA, files: Sequence[str] = FILES) -> List[CorpusPost]:
    out: List[CorpusPost] = []
    for rel in files:
        out.extend(_mnre(rel, data) if rel.startswith("mnre/") else _conll(rel, data))
    return out


def corpus_mentions(posts: Iterable[CorpusPost], vectors: Optional[Dict[str, str]] = None) -> List[Mention]:
    """The resolver's input: every typed mention with the other names of its post as context, its
    post's text vector code (``vectors``: post id -> code, :func:`post_vectors`) and, for a short form
    of a longer person name of its post, that name (as ``resolver.mentions_of_post``)."""
    out = []
    for p in posts:
        made = mentions_of_post(p.post_id, [(m.name, m.type) for m in p.mentions],
                                vector=(vectors or {}).get(p.post_id, ""))
        out.extend(replace(x, mention_id=m.ref) for x, m in zip(made, p.mentions))
    return out


def post_text(post: CorpusPost) -> str:
    return " ".join(post.tokens)


def post_vectors(posts: Sequence[CorpusPost], encoder: str = DEFAULT_TEXT_ENCODER,
                 cache: Optional[str] = None) -> Dict[str, str]:
    """Post id -> the code of its text's vector, as the pipeline computes it (``TextEncoder``; the
    posts with a typed mention). ``cache``: a JSON file that keeps them between bench runs, keyed by
    the encoder and the texts (the train files take minutes to encode on two cores)."""
    posts = [p for p in posts if p.mentions]
    # The codes' format is part of the key ("tag:" and float64 came in after the first cache files).
    key = [encoder, "codes with an encoder tag, computed in float64"] + [p.post_id + "\t" + post_text(p) for p in posts]
    digest = hashlib.sha1("\n".join(key).encode()).hexdigest()
    if cache and os.path.exists(cache):
        with open(cache, encoding="utf-8") as f:
            kept = json.load(f)
        if kept.get("digest") == digest:
            return kept["vectors"]
    from mmkg.resolve.text_encoder import TextEncoder

    enc = TextEncoder(encoder)
    out = {}
    for p in posts:
        code = enc(post_text(p))
        if code:
            out[p.post_id] = code
    if cache:
        os.makedirs(os.path.dirname(cache) or ".", exist_ok=True)
        with open(cache, "w", encoding="utf-8") as f:
            json.dump({"digest": digest, "vectors": out}, f)
    return out


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    same: bool
    case: str


def load_labels(path: str = LABELS, by_ref: Optional[Dict[str, CorpusMention]] = None) -> List[LabelledPair]:
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for i, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            d = json.loads(raw)
            p = LabelledPair(d["a"], d["b"], bool(d["same"]), str(d.get("case", "")))
            if by_ref is not None:
                for r in (p.a, p.b):
                    if r not in by_ref:
                        raise ValueError(f"{path}:{i}: {r} is not a typed mention of the corpus")
            key = tuple(sorted((p.a, p.b)))
            if key in seen or p.a == p.b:
                raise ValueError(f"{path}:{i}: pair labelled twice or a mention with itself")
            seen.add(key)
            out.append(p)
    return out


# -- candidates for labelling -----------------------------------------------------------------


def _case(a: CorpusMention, b: CorpusMention) -> Optional[str]:
    fa, fb = name_form(a.name, a.type), name_form(b.name, b.type)
    if not fa.tokens or not fb.tokens:
        return None
    if fa.norm == fb.norm:
        return "homonym-type" if a.type != b.type else ("same-name" if a.name == b.name else "variant")
    if a.type != b.type:
        return "homonym-type" if set(fa.tokens) & set(fb.tokens) else None
    if fa.handle != fb.handle and (set(fa.tokens) & set(fb.tokens) or fa.compact in fb.compact
                                   or fb.compact in fa.compact):
        return "handle"
    if (len(fa.tokens) == 1 and fa.compact == fb.acronym) or (len(fb.tokens) == 1 and fb.compact == fa.acronym):
        return "abbreviation"
    sa, sb = set(fa.tokens), set(fb.tokens)
    if sa < sb or sb < sa:
        return "multi-part" if min(len(sa), len(sb)) > 1 else "part-name"
    if sa & sb:
        return "shared-word"
    return None


CASE_ORDER = ("multi-part", "part-name", "handle", "abbreviation", "homonym-type", "shared-word", "variant",
              "same-name")


def candidates(posts: List[CorpusPost], distinct_names: bool = False) -> List[Tuple[str, CorpusMention, CorpusMention]]:
    """Pairs to label, hard kinds first. ``distinct_names``: one pair per pair of name nodes (type
    and normal form), the first mentions of each, so a frequent name does not fill the sample."""
    if distinct_names:
        firsts: Dict[Tuple[str, str], CorpusMention] = {}
        for p in posts:
            for m in p.mentions:
                firsts.setdefault((m.type, name_form(m.name, m.type).norm), m)
        posts = [CorpusPost(m.post_id, [], [m]) for m in firsts.values()]
    by_token: Dict[str, List[CorpusMention]] = defaultdict(list)
    for p in posts:
        for m in p.mentions:
            f = name_form(m.name, m.type)
            for t in set(f.tokens) | ({f.compact} if f.handle else set()) | ({f.acronym} if f.acronym else set()):
                by_token[t].append(m)
    seen, out = set(), []
    for t, ms in by_token.items():
        if len(ms) > 80:
            continue
        for i in range(len(ms)):
            for j in range(i + 1, len(ms)):
                a, b = ms[i], ms[j]
                if a.post_id == b.post_id and a.ref == b.ref:
                    continue
                key = tuple(sorted((a.ref, b.ref)))
                if key in seen:
                    continue
                seen.add(key)
                c = _case(a, b)
                if c:
                    out.append((c, a, b))
    out.sort(key=lambda x: (CASE_ORDER.index(x[0]), x[1].name.lower(), x[2].name.lower(), x[1].ref, x[2].ref))
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.resolution_data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("candidates")
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--case", default="")
    c.add_argument("--distinct-names", action="store_true", help="one pair per pair of name nodes")
    s = sub.add_parser("show")
    s.add_argument("refs", nargs="+")
    k = sub.add_parser("check")
    k.add_argument("file", nargs="?", default=None, help="default: the --corpus's labelled pairs")
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="val",
                    help="val: MNRE val and the Twitter valid files; train: their train files")
    args = ap.parse_args(argv)
    posts = load_corpus(files=CORPORA[args.corpus])
    text = {p.post_id: p.tokens for p in posts}
    by_ref = {m.ref: m for p in posts for m in p.mentions}
    if args.cmd == "candidates":
        cands = [x for x in candidates(posts, args.distinct_names) if not args.case or x[0] == args.case]
        counts = Counter(x[0] for x in cands)
        print(f"# {len(cands)} candidate pairs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for case, a, b in cands[:args.limit or None]:
            ta, tb = " ".join(text[a.post_id])[:150], " ".join(text[b.post_id])[:150]
            print(f"{case}\t{a.ref}\t{b.ref}\t{a.type}:{a.name} | {b.type}:{b.name}\n   A: {ta}\n   B: {tb}")
    elif args.cmd == "show":
        for r in args.refs:
            m = by_ref.get(r)
            pid = r.rsplit(":", 1)[0]
            print(f"{r}: {m.type + ' ' + m.name if m else '(no typed mention)'}\n   {' '.join(text.get(pid, []))}")
    else:
        labels = load_labels(args.file or LABELS_OF[args.corpus], by_ref)
        print(f"{len(labels)} pairs, {sum(p.same for p in labels)} same, "
              f"{sum(not p.same for p in labels)} different; by case: "
              + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.case for p in labels).items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
