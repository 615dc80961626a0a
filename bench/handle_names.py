"""Which @handles does ``ner/handles.py`` read as accounts of a name of their post, and is each right?

Runs the NER student (as ``mmkg run`` reads raw posts: spans, untagged @mentions as candidates,
``ner.mentions``' filter) over MNRE and Twitter-2015/2017 posts, and lists every handle that
``type_handles`` types, with the name it spells. With the judgments file it prints precision:
a judgment says whether the handle and the name refer to one thing (``same``) and whether the
type the handle takes is right for it (``type_ok``). Posts are referenced by file and line.

    python -m bench.handle_names [--files F ...] [--list] [--judgments FILE]
"""
from __future__ import annotations

import argparse
import json
import os
from typing import List, Optional, Sequence, Tuple

from bench.resolution_data import DATA, load_corpus

FILES = ("mnre/mnre_train.txt", "twitter2015/train.txt", "twitter2017/train.txt",
         "mnre/mnre_val.txt", "twitter2015/valid.txt", "twitter2017/valid.txt")
JUDGMENTS = os.path.join(os.path.dirname(__file__), "annotations", "handle_names.jsonl")


def typed_handles(files: Sequence[str] = FILES, data: str = DATA) -> List[Tuple[str, str, str, str, str]]:
    """(post FILE:LINE, handle, name, type, text) for every handle typed by its post's name."""
    from mmkg.ner.handles import name_of_handle, type_handles
    from mmkg.ner.mentions import clean_mentions, mentions_from_spans
    from mmkg.ner.settings import NerSettings
    from mmkg.ner.tagger import NerStudent

    posts = load_corpus(data, files)
    texts = [" ".join(p.tokens) for p in posts]
    settings = NerSettings()
    student = NerStudent(settings.checkpoint)
    out = []
    for post, text, tagged in zip(posts, texts, student.detect(texts, settings.recall_penalty)):
        found = mentions_from_spans(text, tagged.spans, tagged.candidates, settings.mentions)
        kept = clean_mentions(text, found)[0]
        typed, n = type_handles(kept)
        if not n:
            continue
        for before, after in zip(kept, typed):
            if before is not after:
                name = name_of_handle(before, kept)
                out.append((post.post_id, after.text, name.text, after.type, text))
    return out


def load_judgments(path: str = JUDGMENTS) -> dict:
    out = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    out[(d["post"], d["handle"])] = d
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", default=list(FILES))
    ap.add_argument("--list", action="store_true", help="print every typed handle with its post")
    ap.add_argument("--judgments", default=JUDGMENTS)
    args = ap.parse_args(argv)
    rows = typed_handles(args.files)
    judged = load_judgments(args.judgments)
    n_posts = len(load_corpus(DATA, args.files))
    same = type_ok = seen = 0
    missing = []
    for post, handle, name, etype, text in rows:
        j = judged.get((post, handle))
        if args.list:
            mark = "?" if j is None else ("same" if j["same"] else "DIFFERENT") + ("" if j.get("type_ok", True) else ", wrong type")
            print(f"{post}\t{handle}\t{name}\t{etype}\t{mark}\t{text[:120]}")
        if j is None:
            missing.append((post, handle))
            continue
        seen += 1
        same += bool(j["same"])
        type_ok += bool(j["same"]) and bool(j.get("type_ok", True))
    print(f"{n_posts} posts; {len(rows)} handles typed by a name of their post; {seen} judged")
    if seen:
        print(f"| | judged | same thing | same thing, right type |\n|---|---|---|---|\n"
              f"| handles typed | {seen} | {same} ({100 * same / seen:.0f} %) | {type_ok} ({100 * type_ok / seen:.0f} %) |")
    if missing:
        print(f"{len(missing)} not judged: " + ", ".join(f"{p} {h}" for p, h in missing[:20]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
