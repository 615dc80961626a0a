"""The evaluation set's loader refuses spans that do not fit the data, and its scorer counts a
triple correct only on an annotated fact between matching mentions."""
from __future__ import annotations

import json

import pytest

from bench import eval_set as E

# MNRE val line 15: "RT @CoachGlas05 : Thanks to coach Boyd from LNE for talking ball ..."
RECORD = {"file": E.VAL, "line": 15, "mentions": [{"id": "m1", "start": 34, "end": 38, "type": "PER"},
                                                  {"id": "m2", "start": 44, "end": 47, "type": "ORG"}],
          "facts": [{"head": "m1", "relation": "/per/org/member_of", "tail": "m2"}]}


@pytest.fixture(scope="module")
def posts():
    return E.load_posts()


def write(tmp_path, records):
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_bad_spans_types_and_labels_are_refused(tmp_path, posts):
    for change in ({"mentions": [{"id": "m1", "start": 33, "end": 38, "type": "PER"}]},  # leading space
                   {"facts": [{"head": "m2", "relation": "/per/org/member_of", "tail": "m1"}]},  # types swapped
                   {"line": 16}):  # not the first line of a post
        with pytest.raises(ValueError):
            E.load_annotations([write(tmp_path, [dict(RECORD, **change)])], posts)


def test_the_scorer_counts_facts_junk_and_direction(tmp_path, posts):
    anns = E.load_annotations([write(tmp_path, [RECORD])], posts)
    pid = E.post_id_of(15)
    triples = [
        {"post_id": pid, "head": "Boyd", "relation": "/per/org/member_of", "tail": "LNE", "confidence": 0.9},
        {"post_id": pid, "head": "LNE", "relation": "/per/org/member_of", "tail": "Boyd", "confidence": 0.9},
        {"post_id": pid, "head": "ball", "relation": "/per/org/member_of", "tail": "LNE", "confidence": 0.4},
    ]
    r = E.score(anns, posts, triples)
    assert (r["triples"], r["correct"], r["recall"], r["mnre_gold_recovered"]) == (3, 1, 1.0, 1.0)
    assert r["junk_entity_share"] == pytest.approx(1 / 3)
    cut = E.score(anns, posts, triples, min_confidence=0.5)
    assert cut["precision"] == pytest.approx(0.5) and cut["junk_entity_share"] == 0.0


def test_the_paired_bootstrap_cuts_each_run_at_its_own_operating_point(tmp_path, posts):
    anns = E.load_annotations([write(tmp_path, [RECORD])], posts)
    pid = E.post_id_of(15)
    right = {"post_id": pid, "head": "Boyd", "relation": "/per/org/member_of", "tail": "LNE"}
    wrong = {"post_id": pid, "head": "ball", "relation": "/per/org/member_of", "tail": "LNE"}
    a = [dict(right, confidence=0.6), dict(wrong, confidence=0.4)]
    b = [dict(right, confidence=0.9), dict(wrong, confidence=0.8)]
    # One cut for both: A keeps its right triple only, B both.
    same = E.paired_bootstrap(anns, posts, [a, b], 0.5, samples=20)
    assert (same["precision"]["a"], same["precision"]["b"]) == (1.0, 0.5)
    # B at its own cut 0.85 keeps only its right triple too: no difference left.
    own = E.paired_bootstrap(anns, posts, [a, b], [0.5, 0.85], samples=20)
    assert own["precision"]["diff"] == 0.0 and own["recall"]["b"] == 1.0
    with pytest.raises(ValueError):
        E.paired_bootstrap(anns, posts, [a, b], [0.5], samples=20)
