"""A post's text as a vector, kept small and combined like the rest of a name node's evidence.

A name node's *text vector* is the mean of the unit vectors of (a sample of) the posts that write it:
two names whose posts read alike are more likely one entity ("Clinton" in posts about an election
and "Hillary Clinton"), which the co-occurring names alone often miss in short posts.

How a vector is kept, and why:

- **int8 codes**: a unit vector as 8-bit integers scaled by its largest component, in base64 (``encode``,
  ``decode``): about 520 characters for MiniLM's 384 dimensions, with a cosine error near 0.001, so
  an entity's record in the graph can hold it;
- **one code per post, a bottom-k sample per node** (``sample``): the ``SAMPLE`` posts whose ids hash
  lowest. The sample of a union is the sample of the union of samples, so combining nodes stays
  commutative, associative and idempotent (two runs over two halves keep what one run over all
  keeps), and a name written in 10,000 posts costs what one in ``SAMPLE`` posts costs;
- where one post has two codes (two runs that computed its vector apart), the smaller string wins:
  a function of the two, whichever came first. The encoder computes each post alone, so the same
  text on the same machine gives the same code (``resolve.text_encoder``);
- **a code names its encoder** (``tag:base64``, the tag a hash of the encoder's name): a graph whose
  runs used two encoders holds vectors of two spaces, which are never averaged or compared with each
  other. A node's vector is that of its sample's most common tag (``node_vector``).
"""
from __future__ import annotations

import base64
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np

SAMPLE = 8  # posts per node whose vectors are kept


def encoder_tag(encoder: str) -> str:
    """The tag of an encoder's codes: 8 hex digits of its name's crc32."""
    return f"{zlib.crc32(encoder.encode('utf-8')):08x}"


def encode(vector: Sequence[float], tag: str = "") -> str:
    """A vector as its int8 code (scale first, as a float32), after ``tag:`` (``encoder_tag``)."""
    v = np.asarray(vector, dtype=np.float32)
    scale = float(np.abs(v).max()) if v.size else 0.0
    q = np.zeros(v.shape, dtype=np.int8) if scale == 0.0 else np.round(v / scale * 127.0).astype(np.int8)
    return f"{tag}:" + base64.b64encode(np.float32(scale).tobytes() + q.tobytes()).decode("ascii")


def tag_of(code: str) -> str:
    return code.partition(":")[0]


def decode(code: str) -> np.ndarray:
    raw = base64.b64decode(code.partition(":")[2].encode("ascii"), validate=True)
    if len(raw) < 5:
        raise ValueError(f"not a text vector code: {code[:20]!r}")
    scale = np.frombuffer(raw[:4], dtype=np.float32)[0]
    return np.frombuffer(raw[4:], dtype=np.int8).astype(np.float32) * (scale / 127.0)


def _rank(post_id: str) -> Tuple[int, str]:
    return zlib.crc32(post_id.encode("utf-8")), post_id


def sample(pairs: Iterable[Tuple[str, str]], k: int = SAMPLE) -> Tuple[Tuple[str, str], ...]:
    """The bottom-``k`` sample of (post id, code) pairs by the post id's hash, one code per post (the
    smaller one); sorted by post id."""
    best = {}
    for post, code in pairs:
        if post not in best or code < best[post]:
            best[post] = code
    kept = sorted(best, key=_rank)[:k]
    return tuple((p, best[p]) for p in sorted(kept))


@dataclass(frozen=True, eq=False)
class TextVector:
    tag: str  # the encoder's (``encoder_tag``)
    unit: np.ndarray


def mean_vector(codes: Iterable[str]) -> Optional[TextVector]:
    """The unit-length mean of the decoded vectors of the most common tag among ``codes`` (ties: the
    smallest tag), or None without any."""
    codes = list(codes)
    if not codes:
        return None
    counts = Counter(tag_of(c) for c in codes)
    tag = min(counts, key=lambda t: (-counts[t], t))
    m = np.mean([decode(c) for c in codes if tag_of(c) == tag], axis=0)
    n = float(np.linalg.norm(m))
    return TextVector(tag, m / n) if n > 0 else None


def cosine(a: Optional[TextVector], b: Optional[TextVector]) -> Optional[float]:
    """Their cosine, or None where either is missing or they come from two encoders."""
    if a is None or b is None or a.tag != b.tag or a.unit.shape != b.unit.shape:
        return None
    return float(a.unit @ b.unit)
