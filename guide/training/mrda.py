"""MRDA, multimodal relation data augmentation: label-preserving rewrites of training pairs.

Each kind can be switched on or off (``MrdaConfig``) and each keeps the label and returns exact
character spans for head and tail in the new text:

- ``substitute``: replace the head or the tail by another mention of the same entity type from the
  training inventory. MNRE gives no entity types, so the types come from the labels
  (``/per/org/member_of`` -> PER head, ORG tail); ``None`` pairs are left alone.
- ``swap``: exchange head and tail, only for symmetric relations (``SYMMETRIC_RELATIONS``).
- ``noise``: social-media noise — ``@mentions``, ``#hashtags`` and ``t.co`` URLs inserted between
  words outside the entities, or an ``RT @user :`` prefix.
- ``image``: random resized crop, horizontal flip and brightness/contrast jitter of the image, when
  the pair has one (applied when the image is encoded, see ``image_transform``).
"""
from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from mmkg.schemas.records import EntityMention, EntityPair
from mmkg.schemas.relations import NO_RELATION, SYMMETRIC_RELATIONS, implied_types

KINDS = ("substitute", "swap", "noise", "image")


@dataclass(frozen=True)
class MrdaConfig:
    substitute: float = 0.3  # probability per example; 0 switches the kind off
    swap: float = 0.5
    noise: float = 0.3
    image: float = 0.5
    # Augment only pairs whose label has fewer than this many training pairs (0: every pair): the
    # long tail gets new surface forms, the frequent labels and None are left as annotated.
    rare_below: int = 0

    @classmethod
    def off(cls) -> "MrdaConfig":
        return cls(0.0, 0.0, 0.0, 0.0)

    @classmethod
    def parse(cls, spec: str) -> "MrdaConfig":
        """``"all"``, ``"none"`` or a comma list like ``"substitute,noise"`` or ``"swap=1.0,noise=0.2"``;
        ``rare=N`` limits the kinds to pairs whose label has fewer than N training pairs."""
        spec = spec.strip().lower()
        if spec in ("all", ""):
            return cls()
        if spec == "none":
            return cls.off()
        default = cls()
        values: Dict[str, float] = dict.fromkeys(KINDS, 0.0)
        rare = 0
        for item in spec.split(","):
            name, _, p = item.partition("=")
            name = name.strip()
            if name == "rare":
                if not p.strip().isdigit() or int(p) < 1:
                    raise ValueError(f"MRDA 'rare' takes a positive count of training pairs, not {p!r}")
                rare = int(p)
                continue
            if name not in KINDS:
                raise ValueError(f"unknown MRDA kind {name!r} (kinds: {', '.join(KINDS)})")
            values[name] = float(p) if p else getattr(default, name)
        return cls(**values, rare_below=rare)

    def describe(self) -> str:
        on = [f"{k}={getattr(self, k)}" for k in KINDS if getattr(self, k) > 0]
        if on and self.rare_below:
            on.append(f"rare={self.rare_below}")
        return ",".join(on) or "none"


Inventory = Dict[str, List[str]]


def build_inventory(pairs: Sequence[EntityPair]) -> Inventory:
    """Entity surface forms by type, from the training pairs whose label implies the types."""
    seen: Dict[str, Dict[str, None]] = {}
    for p in pairs:
        types = implied_types(p.gold) if p.gold and p.gold != NO_RELATION else None
        if not types:
            continue
        for mention, t in ((p.head, types[0]), (p.tail, types[1])):
            seen.setdefault(t, {})[mention.text] = None
    return {t: sorted(names) for t, names in seen.items()}


def _overlap(a: EntityMention, b: EntityMention) -> bool:
    return a.start < b.end and b.start < a.end


def replace_span(pair: EntityPair, role: str, new_text: str) -> EntityPair:
    """Put ``new_text`` where the head (or tail) was; shifts the other span when it comes after."""
    target: EntityMention = getattr(pair, role)
    other_role = "tail" if role == "head" else "head"
    other: EntityMention = getattr(pair, other_role)
    text = pair.text[: target.start] + new_text + pair.text[target.end :]
    delta = len(new_text) - (target.end - target.start)
    new_target = dataclasses.replace(target, text=new_text, end=target.start + len(new_text))
    if other.start >= target.end:
        other = dataclasses.replace(other, start=other.start + delta, end=other.end + delta)
    return dataclasses.replace(pair, text=text, **{role: new_target, other_role: other})


def substitute(pair: EntityPair, inventory: Inventory, rng: random.Random) -> Optional[EntityPair]:
    types = implied_types(pair.gold) if pair.gold and pair.gold != NO_RELATION else None
    if not types or _overlap(pair.head, pair.tail):
        return None
    role = rng.choice(("head", "tail"))
    etype = types[0] if role == "head" else types[1]
    other = pair.tail if role == "head" else pair.head
    choices = [n for n in inventory.get(etype, ()) if n != getattr(pair, role).text and n != other.text]
    if not choices:
        return None
    return replace_span(pair, role, rng.choice(choices))


def swap(pair: EntityPair) -> Optional[EntityPair]:
    if pair.gold not in SYMMETRIC_RELATIONS:
        return None
    return dataclasses.replace(pair, head=pair.tail, tail=pair.head)


_WORDS = ("news", "love", "music", "NBA", "tbt", "breaking", "travel", "live", "photo", "win")


def _noise_token(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return "@" + rng.choice(("user", "fan", "the", "real")) + rng.choice(_WORDS).lower() + str(rng.randrange(100))
    if kind == 1:
        return "#" + rng.choice(_WORDS)
    return "https://t.co/" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))


def insert_at(pair: EntityPair, offset: int, piece: str) -> EntityPair:
    """Insert ``piece`` at a character offset that is not inside either entity."""
    def shift(m: EntityMention) -> EntityMention:
        return m if m.start < offset else dataclasses.replace(m, start=m.start + len(piece), end=m.end + len(piece))

    return dataclasses.replace(pair, text=pair.text[:offset] + piece + pair.text[offset:], head=shift(pair.head), tail=shift(pair.tail))


def noise(pair: EntityPair, rng: random.Random) -> EntityPair:
    if rng.random() < 0.25 and not pair.text.startswith("RT "):
        return insert_at(pair, 0, f"RT @{rng.choice(_WORDS).lower()}fan : ")
    # Word boundaries (offsets of spaces, plus the end) outside both entities. Inserting at the
    # larger offset first keeps the smaller ones valid.
    boundaries = [i for i, c in enumerate(pair.text) if c == " "] + [len(pair.text)]
    ok = [b for b in boundaries if not (pair.head.start < b < pair.head.end) and not (pair.tail.start < b < pair.tail.end)]
    chosen = sorted({rng.choice(ok) for _ in range(rng.randint(1, 2))}, reverse=True)
    for b in chosen:
        pair = insert_at(pair, b, " " + _noise_token(rng))
    return pair


def image_transform(image, rng: random.Random):
    """Random resized crop (80-100% of each side), horizontal flip, brightness/contrast jitter."""
    from PIL import ImageEnhance, ImageOps

    w, h = image.size
    fw, fh = rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0)
    cw, ch = max(1, int(w * fw)), max(1, int(h * fh))
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    image = image.crop((left, top, left + cw, top + ch)).resize((w, h))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))
    return ImageEnhance.Contrast(image).enhance(rng.uniform(0.8, 1.2))


class Augmenter:
    """Applies the switched-on kinds to a training pair, each with its probability."""

    def __init__(self, config: MrdaConfig, inventory: Inventory, seed: int = 0,
                 label_counts: Optional[Mapping[str, int]] = None):
        """``label_counts``: training pairs per label, which ``config.rare_below`` is measured on."""
        if config.rare_below and label_counts is None:
            raise ValueError("MRDA 'rare' needs the training split's label counts")
        self.config = config
        self.inventory = inventory
        self.label_counts = label_counts or {}
        self.rng = random.Random(seed)

    def __call__(self, pair: EntityPair) -> EntityPair:
        c, rng = self.config, self.rng
        if c.rare_below and self.label_counts.get(pair.gold or NO_RELATION, 0) >= c.rare_below:
            return pair
        if c.substitute > 0 and rng.random() < c.substitute:
            pair = substitute(pair, self.inventory, rng) or pair
        if c.swap > 0 and rng.random() < c.swap:
            pair = swap(pair) or pair
        if c.noise > 0 and rng.random() < c.noise:
            pair = noise(pair, rng)
        return pair

    def image_transform(self):
        """The image augmentation as a callable for ``forward_pairs``, or None when switched off."""
        if self.config.image <= 0:
            return None
        rng = self.rng

        def transform(image):
            return image_transform(image, rng) if rng.random() < self.config.image else image

        return transform
