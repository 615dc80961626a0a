"""MNRE split files -> EntityPairs with gold labels: the training and evaluation examples.

One benchmark line is one example, in file order, so that evaluation scores exactly the
benchmark's pairs. Lines that do not parse are reported, not silently dropped.
"""
from __future__ import annotations

import os
import sys
from typing import Iterator, List, Optional

from mmkg.schemas.mnre import MnreInstance, mnre_from_line
from mmkg.schemas.records import DeadLetter, EntityPair, ImageRef
from mmkg.schemas.validation import ReadConfig


def iter_mnre(path: str) -> Iterator[MnreInstance]:
    """The parsed lines of an MNRE split, in file order; a line that does not parse is reported on
    stderr (with its place and reason) and skipped, and the count of such lines is given at the end."""
    cfg = ReadConfig(image_dir=None, missing_image_is_error=False, check_images=False)
    bad = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            inst = mnre_from_line(line, f"{path}:{n}", cfg)
            if isinstance(inst, DeadLetter):
                bad += 1
                print(f"skipping {inst.source}: {inst.reason}", file=sys.stderr)
                continue
            yield inst
    if bad:
        print(f"{path}: {bad} line(s) could not be parsed", file=sys.stderr)


def read_mnre(path: str, image_dir: Optional[str] = None, limit: Optional[int] = None) -> List[EntityPair]:
    """Read an MNRE split. With ``image_dir``, lines whose image file exists there get it."""
    out: List[EntityPair] = []
    for inst in iter_mnre(path):
        image = None
        if image_dir and inst.img_id:
            full = os.path.join(image_dir, inst.img_id)
            if os.path.exists(full):
                image = ImageRef(image_id=inst.img_id, path=full)
        out.append(
            EntityPair(
                post_id=inst.post_key,
                text=inst.text,
                head=inst.head,
                tail=inst.tail,
                image=image,
                gold=inst.relation or "None",
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out
