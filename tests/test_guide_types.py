"""The guide never decides, nor offers the refiner, a label whose entity types contradict the
pair's known types (the shipped candidate guide, on a post where it did: "Obama CONTAIN Turkana")."""
from __future__ import annotations

import pytest

from mmkg.guide.scorer import Guide
from mmkg.schemas.records import EntityMention, EntityPair
from mmkg.schemas.relations import implied_types

TEXT = "RT @RoyEkamais : #ShowObamaKenya welcome to Turkana , suguta valley , Obama ."
CANDIDATES = "guide/checkpoints/guide-candidates"


def pair(head_type, tail_type):
    h, t = TEXT.rindex("Obama"), TEXT.index("Turkana")
    return EntityPair("p", TEXT, EntityMention("Obama", h, h + 5, head_type, "ner"),
                      EntityMention("Turkana", t, t + 7, tail_type, "ner"))


@pytest.fixture(scope="module")
def guide():
    return Guide(CANDIDATES, device="cpu")


def test_a_label_the_types_contradict_is_neither_decided_nor_offered(guide):
    untyped, typed = guide.score([pair(None, None), pair("PER", "LOC")], top_k=5)
    # Untyped, the guide reads the pair as two places; typed, the same probabilities stand but
    # the decision and the candidates keep to labels a person and a place can have.
    assert untyped.decision == "/loc/loc/contain"
    assert typed.probs == untyped.probs
    assert typed.decision == "None" or implied_types(typed.decision) == ("PER", "LOC")
    # top 5 of the labels allowed: None and the two a person and a place can have
    assert {label for label, _ in typed.candidates} == {"None", "/per/loc/place_of_residence", "/per/loc/place_of_birth"}
    probs = dict(zip(typed.labels, typed.probs))
    assert all(p == probs[label] for label, p in typed.candidates)


def test_a_pair_of_unknown_types_keeps_every_label(guide):
    (s,) = guide.score([pair(None, None)], top_k=5)
    assert len(s.candidates) == 5
