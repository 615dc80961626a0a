"""Two runs over two halves of a post set against one run over all of it (issue 24): do the
mentions land in the same entities?

Draws posts at random from MNRE val and the Twitter-2015/2017 valid files (raw text: the NER
student finds the entities, as for a user's posts), runs the default ``mmkg run --llm none`` once
over all of them into one data dir, and over the first half then the second into another (the
second run resolves against the entities the first left in the graph). A mention is a (post,
name, type) of an entity's aliases; it *differs* when the set of mentions sharing its entity is
not the same in the two graphs. Each difference is printed with the two entities and the
decisions that touch them, so it can be explained.

    python -m bench.resolution_halves [--posts 1000] [--seed 24] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import defaultdict
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from bench.resolution_data import DATA, load_corpus

MentionId = Tuple[str, str, str]  # post id, name as written, type


def write_posts(posts, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for p in posts:
            f.write(json.dumps({"id": p.post_id, "text": " ".join(p.tokens)}, ensure_ascii=False) + "\n")


def run(input_path: str, data_dir: str) -> float:
    from mmkg.cli.run import main as run_main

    start = time.perf_counter()
    if run_main(["--input", input_path, "--data-dir", data_dir, "--llm", "none"]) != 0:
        raise SystemExit(f"mmkg run failed on {input_path}")
    return time.perf_counter() - start


def entities(data_dir: str) -> List[dict]:
    from mmkg.kg import queries
    from mmkg.kg.embedded import graph_settings

    with graph_settings(data_dir, None) as settings:
        driver = settings.driver()
        try:
            found, _ = queries.entity_states(driver, settings.database)
        finally:
            driver.close()
    return found


def membership(found: List[dict]) -> Dict[MentionId, str]:
    """Each mention (post, alias, type) -> the key of the entity it belongs to."""
    out: Dict[MentionId, str] = {}
    for e in found:
        record = json.loads(e["resolution"]) if e.get("resolution") else None
        if record is None:
            for post in e.get("posts") or ():
                out[(post, e["name"], e["type"])] = e["key"]
            continue
        for alias in record["aliases"]:
            for post in alias["posts"]:
                out[(post, alias["name"], e["type"])] = e["key"]
    return out


def clusters(member: Dict[MentionId, str]) -> Dict[MentionId, FrozenSet[MentionId]]:
    by_key: Dict[str, set] = defaultdict(set)
    for m, k in member.items():
        by_key[k].add(m)
    return {m: frozenset(by_key[k]) for m, k in member.items()}


def compare(whole: Dict[MentionId, str], halves: Dict[MentionId, str]) -> dict:
    cw, ch = clusters(whole), clusters(halves)
    only_whole = sorted(set(cw) - set(ch))
    only_halves = sorted(set(ch) - set(cw))
    differ = sorted(m for m in set(cw) & set(ch) if cw[m] != ch[m])
    return {"mentions": len(set(cw) | set(ch)), "only_whole": only_whole, "only_halves": only_halves,
            "differ": differ, "whole": cw, "halves": ch}


def _names(cluster: FrozenSet[MentionId]) -> str:
    return ", ".join(sorted({n for _, n, _ in cluster}))


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=24)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--work", default=None, help="folder for the inputs and both data dirs (default: a temp dir)")
    args = ap.parse_args(argv)

    corpus = load_corpus(args.data)
    posts = random.Random(args.seed).sample(corpus, min(args.posts, len(corpus)))
    work = args.work or tempfile.mkdtemp(prefix="mmkg-halves-")
    os.makedirs(work, exist_ok=True)
    half = len(posts) // 2
    paths = {name: os.path.join(work, f"{name}.jsonl") for name in ("all", "first", "second")}
    write_posts(posts, paths["all"])
    write_posts(posts[:half], paths["first"])
    write_posts(posts[half:], paths["second"])

    t_whole = run(paths["all"], os.path.join(work, "whole"))
    t_first = run(paths["first"], os.path.join(work, "halves"))
    t_second = run(paths["second"], os.path.join(work, "halves"))
    whole = membership(entities(os.path.join(work, "whole")))
    halves = membership(entities(os.path.join(work, "halves")))
    res = compare(whole, halves)

    n = res["mentions"]
    print(f"{len(posts)} posts (seed {args.seed}) from {args.data}; work dir {work}")
    print(f"runs: whole {t_whole:.0f} s; halves {t_first:.0f} s + {t_second:.0f} s")
    print(f"entities: whole {len(set(whole.values()))}, halves {len(set(halves.values()))}")
    print(f"mentions {n}: in one graph only {len(res['only_whole'])} (whole) / {len(res['only_halves'])} "
          f"(halves); in another entity {len(res['differ'])} ({100 * len(res['differ']) / max(n, 1):.2f} %)")
    for m in res["differ"]:
        print(f"  {m[1]!r} ({m[2]}) in {m[0]}: whole [{_names(res['whole'][m])}] | "
              f"halves [{_names(res['halves'][m])}]")
    for m in res["only_whole"] + res["only_halves"]:
        print(f"  only in {'whole' if m in res['whole'] else 'halves'}: {m}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
