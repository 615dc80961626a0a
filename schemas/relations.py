"""The closed relation set (MNRE's 23 labels) and the entity types each label implies.

MNRE encodes the types in the label string: ``/per/org/member_of`` has a person head and an
organisation tail. Everything downstream that needs a relation name — the guide's classes, the
LLM's allowed answers, the graph's relationship types — is derived from this one table, never from
input text.
"""
from __future__ import annotations

import json
import os
from typing import Dict, FrozenSet, List, Optional, Tuple

NO_RELATION = "None"

# Order is MNRE's rel2id.json: the id of a label is its index.
RELATIONS: Tuple[str, ...] = (
    "None",
    "/per/per/parent",
    "/per/per/siblings",
    "/per/per/couple",
    "/per/per/neighbor",
    "/per/per/peer",
    "/per/per/charges",
    "/per/per/alumi",
    "/per/per/alternate_names",
    "/per/org/member_of",
    "/per/loc/place_of_residence",
    "/per/loc/place_of_birth",
    "/org/org/alternate_names",
    "/org/org/subsidiary",
    "/org/loc/locate_at",
    "/loc/loc/contain",
    "/per/misc/present_in",
    "/per/misc/awarded",
    "/per/misc/race",
    "/per/misc/religion",
    "/per/misc/nationality",
    "/misc/misc/part_of",
    "/misc/loc/held_on",
)

ENTITY_TYPES: Tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")

# Relations whose meaning does not change when head and tail are swapped; MRDA's head/tail swap
# is label-preserving only for these.
SYMMETRIC_RELATIONS: FrozenSet[str] = frozenset(
    {
        "/per/per/siblings",
        "/per/per/couple",
        "/per/per/neighbor",
        "/per/per/peer",
        "/per/per/alternate_names",
        "/per/per/alumi",
        "/org/org/alternate_names",
    }
)

# One-line definitions given to the LLM so it can tell near-synonymous labels apart.
DEFINITIONS: Dict[str, str] = {
    "None": "no relation from the set holds between head and tail in this post",
    "/per/per/parent": "head is a parent (or child) of tail",
    "/per/per/siblings": "head and tail are siblings",
    "/per/per/couple": "head and tail are married or a romantic couple",
    "/per/per/neighbor": "head and tail are neighbours",
    "/per/per/peer": "head and tail are peers: colleagues, teammates, co-stars, rivals",
    "/per/per/charges": "head is charged by, accused by, or in legal conflict with tail",
    "/per/per/alumi": "head and tail attended the same school",
    "/per/per/alternate_names": "head and tail are names of the same person",
    "/per/org/member_of": "head (a person) belongs to, plays for, or works for tail (an organisation)",
    "/per/loc/place_of_residence": "head (a person) lives in or is based in tail (a place)",
    "/per/loc/place_of_birth": "head (a person) was born in tail (a place)",
    "/org/org/alternate_names": "head and tail are names of the same organisation",
    "/org/org/subsidiary": "head (an organisation) is part of or owned by tail (an organisation)",
    "/org/loc/locate_at": "head (an organisation) is located in tail (a place)",
    "/loc/loc/contain": "head (a place) contains or is contained in tail (a place)",
    "/per/misc/present_in": "head (a person) is present at or appears in tail (an event or work)",
    "/per/misc/awarded": "head (a person) received tail (an award or prize)",
    "/per/misc/race": "tail is the race or ethnicity of head (a person)",
    "/per/misc/religion": "tail is the religion of head (a person)",
    "/per/misc/nationality": "tail is the nationality of head (a person)",
    "/misc/misc/part_of": "head (a thing, event or work) is part of tail",
    "/misc/loc/held_on": "head (an event) takes place in tail (a place)",
}


def label_id(label: str) -> int:
    return _LABEL_TO_ID[label]


def implied_types(label: str) -> Optional[Tuple[str, str]]:
    """The (head, tail) entity types a label implies; None for the no-relation label."""
    if label == NO_RELATION:
        return None
    parts = label.strip("/").split("/")
    return parts[0].upper(), parts[1].upper()


def relation_type_name(label: str) -> str:
    """The graph relationship type of a label: ``/per/org/member_of`` -> ``MEMBER_OF``.

    Two labels share a suffix (``alternate_names``), so the type pair is kept in front when the
    suffix alone would be ambiguous.
    """
    return _GRAPH_TYPES[label]


def labels_for_types(head_type: Optional[str], tail_type: Optional[str]) -> List[str]:
    """Labels compatible with the entity types (None = unknown, compatible with any)."""
    out = [NO_RELATION]
    for label in RELATIONS[1:]:
        h, t = implied_types(label)  # type: ignore[misc]
        if head_type not in (None, h) or tail_type not in (None, t):
            continue
        out.append(label)
    return out


def allowed_type_pairs() -> FrozenSet[Tuple[str, str]]:
    """(head type, tail type) pairs for which at least one label exists."""
    return frozenset(implied_types(lbl) for lbl in RELATIONS[1:])  # type: ignore[misc]


def label_allows(label: str, head_type: Optional[str], tail_type: Optional[str]) -> bool:
    """Whether ``label`` may join a head and a tail of these types (a type not known allows any;
    the no-relation label allows all)."""
    types = implied_types(label)
    if types is None:
        return True
    return head_type in (None, types[0]) and tail_type in (None, types[1])


def check_rel2id(path: str) -> None:
    """Fail loudly if a rel2id.json disagrees with the built-in label order."""
    with open(path, encoding="utf-8") as f:
        rel2id = json.load(f)
    expected = {label: i for i, label in enumerate(RELATIONS)}
    if rel2id != expected:
        raise ValueError(f"{os.path.basename(path)} does not match the built-in MNRE label set")


_LABEL_TO_ID = {label: i for i, label in enumerate(RELATIONS)}


def _build_graph_types() -> Dict[str, str]:
    suffix_count: Dict[str, int] = {}
    for label in RELATIONS[1:]:
        suffix = label.rsplit("/", 1)[1]
        suffix_count[suffix] = suffix_count.get(suffix, 0) + 1
    out = {}
    for label in RELATIONS[1:]:
        h, t, suffix = label.strip("/").split("/")
        name = suffix if suffix_count[suffix] == 1 else f"{h}_{suffix}"
        out[label] = name.upper()
    return out


_GRAPH_TYPES = _build_graph_types()


def stored_ends(relation: str, head, tail):
    """(head, tail) as a fact is kept: a symmetric relation has no direction, so its ends are
    ordered (smaller first); others as given."""
    return (tail, head) if relation in SYMMETRIC_RELATIONS and tail < head else (head, tail)
