"""Blocking: which name nodes are compared, as ``key -> nodes`` (a Beam GroupByKey), never all pairs.

Every key starts with the entity type, so a PER and a LOC never meet. A node emits each key with a
*role*: ``exact`` (the key is this name) or ``part`` (the key is a part of this name). A block
compares its exact members with every member; part members are not compared with each other. So a
block of the token ``john`` costs (names that are just "John") x (names with "John"), not
(names with "John")^2. Kinds of key:

- ``s:`` sorted token set: exact for a name of at most ``MAX_SHORT_TOKENS`` tokens, part for every
  smaller subset of a longer name's tokens ("Trump" / "Donald Trump", "Kim Jong" / "Kim Jong Un",
  "Louvre" / "@LouvreMuseum" once segmented);
- ``c:`` the letters without spaces: exact for every name; part for a handle's prefixes and
  suffixes (``@chelseafc`` / "Chelsea" when the handle did not segment);
- ``a:`` acronyms: exact for a short single word, part for the initials of a longer name ("US" /
  "United States");
- ``k:`` a place's known code: exact for the code ("NJ"), part for the name it stands for ("New
  Jersey"), from ``abbreviations``;
- ``m:`` MinHash/LSH on character 3-grams (bands of rows, a fixed seed, crc32, no process-salted
  hash): exact for every name of five letters or more; spelling variants ("Zuckerburg").

Whether two nodes are a candidate pair depends only on the two names, not on what else is in the
data (except for the cap on LSH buckets, ``MAX_LSH_BUCKET``): that keeps resolution order-free.
"""
from __future__ import annotations

import itertools
import random
import zlib
from typing import Dict, Iterable, List, Sequence, Set, Tuple

import numpy as np

from mmkg.resolve.abbreviations import FULL_NAMES, PLACE, expansions
from mmkg.resolve.nodes import NameNode

EXACT, PART = True, False
MAX_SHORT_TOKENS = 3  # a name this long or shorter can be the short side of a subset link
MAX_SUBSET_SOURCE = 8  # distinct tokens a longer name may have for its subsets to be keyed
MIN_AFFIX = 4
LSH_BANDS, LSH_ROWS = 8, 5  # candidates from a 3-gram Jaccard of about 0.65 up
MIN_LSH_CHARS = 5
MAX_LSH_BUCKET = 200  # an LSH bucket this full says nothing; skipped (noted in docs/resolution.md)
_P = np.uint64(4294967311)  # the least prime above 2^32
_rng = random.Random(20240524)
_A = np.array([_rng.randrange(1, 1 << 31) for _ in range(LSH_BANDS * LSH_ROWS)], dtype=np.uint64)
_B = np.array([_rng.randrange(0, 1 << 31) for _ in range(LSH_BANDS * LSH_ROWS)], dtype=np.uint64)


def minhash(text: str) -> np.ndarray:
    """MinHash signature of the padded character 3-grams of ``text`` (LSH_BANDS * LSH_ROWS values)."""
    padded = f"^{text}$"
    grams = {padded[i:i + 3] for i in range(len(padded) - 2)}
    x = np.array([zlib.crc32(g.encode("utf-8")) for g in sorted(grams)], dtype=np.uint64)
    # (a * x + b) mod p, p a prime above 2^32: a < 2^31 and x < 2^32, so nothing wraps in 64 bits.
    h = (_A[:, None] * x[None, :] + _B[:, None]) % _P
    return h.min(axis=1)


def block_keys(node: NameNode) -> List[Tuple[str, bool]]:
    """The blocking keys of a node with their roles (EXACT or PART), deduplicated."""
    f = node.form
    t = node.type
    keys: Dict[str, bool] = {}

    def put(k: str, role: bool) -> None:
        keys[k] = keys.get(k, False) or role

    distinct = sorted(set(f.tokens))
    if len(distinct) <= MAX_SHORT_TOKENS:
        put(f"{t}|s:{' '.join(distinct)}", EXACT)
    if 1 < len(distinct) <= MAX_SUBSET_SOURCE:
        for size in range(1, min(MAX_SHORT_TOKENS, len(distinct) - 1) + 1):
            for sub in itertools.combinations(distinct, size):
                put(f"{t}|s:{' '.join(sub)}", PART)
    put(f"{t}|c:{f.compact}", EXACT)
    if f.handle and len(f.tokens) == 1:
        c = f.compact
        for n in range(MIN_AFFIX, len(c)):
            put(f"{t}|c:{c[:n]}", PART)
            put(f"{t}|c:{c[-n:]}", PART)
    if len(f.tokens) == 1 and 2 <= len(f.compact) <= 6:
        put(f"{t}|a:{f.compact}", EXACT)
    if f.acronym:
        put(f"{t}|a:{f.acronym}", PART)
    if t == PLACE:
        # A place's code meets the names it stands for ("TX" / "Texas": no shared letters to block on).
        if len(f.tokens) == 1:
            for full in expansions(f.compact):
                put(f"{t}|k:{full}", EXACT)
        if node.norm in FULL_NAMES:
            put(f"{t}|k:{node.norm}", PART)
    if len(f.compact) >= MIN_LSH_CHARS:
        sig = minhash(f.compact)
        for b in range(LSH_BANDS):
            band = sig[b * LSH_ROWS:(b + 1) * LSH_ROWS]
            put(f"{t}|m:{b}:{'.'.join(str(int(v)) for v in band)}", EXACT)
    return sorted(keys.items())


def block_pairs(members: Sequence[Tuple[str, bool]], key: str = "") -> Set[Tuple[str, str]]:
    """The candidate pairs of one block: (exact member, any member), each pair sorted, no self pairs.

    An LSH block (``|m:``) larger than MAX_LSH_BUCKET yields nothing."""
    if "|m:" in key and len(members) > MAX_LSH_BUCKET:
        return set()
    exact = sorted({k for k, role in members if role})
    everyone = sorted({k for k, _ in members})
    out = set()
    for a in exact:
        for b in everyone:
            if a != b:
                out.add((a, b) if a < b else (b, a))
    return out


def candidate_pairs(nodes: Iterable[NameNode], only: Set[str] = None) -> Set[Tuple[str, str]]:
    """Every candidate pair of a set of nodes (the in-memory form of emit keys -> GroupByKey ->
    ``block_pairs``). With ``only``, just the pairs that involve one of those node keys."""
    blocks: Dict[str, List[Tuple[str, bool]]] = {}
    for n in nodes:
        for k, role in block_keys(n):
            blocks.setdefault(k, []).append((n.key, role))
    out: Set[Tuple[str, str]] = set()
    for k, members in blocks.items():
        if len(members) < 2:
            continue
        if only is not None and not any(m in only for m, _ in members):
            continue
        for pair in block_pairs(members, k):
            if only is None or pair[0] in only or pair[1] in only:
                out.add(pair)
    return out
