"""Training batches of similar length: shuffled, then sorted by length inside windows of 50
batches, so each batch pads little (a lot faster on CPU) while the order stays random."""
from __future__ import annotations

import random
from typing import List, Sequence


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> List[List[int]]:
    """Indices into the training set, cut into batches; ``lengths[i]`` is item i's length."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda j: lengths[j])
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches
