"""Typed entity markers: mentions typed by the shipped NER student, the type word after the opening
marker, and a guide trained with them that types untyped pairs itself at inference."""
import json
import shutil

import pytest

from mmkg.cli import train as train_cli
from mmkg.guide.checkpoint import read_config
from mmkg.guide.markers import HEAD_MARKERS, TAIL_MARKERS, TYPE_WORDS, encode_pair
from mmkg.guide.ner_types import best_type, type_pairs
from mmkg.guide.scorer import Guide
from mmkg.ner.tagger import NerStudent
from mmkg.runtime.checkpoint_io import load_tokenizer
from mmkg.schemas.records import EntityMention, EntityPair
from tests.conftest import MNRE_DIR, mnre_path

TRAIN = str(MNRE_DIR / "mnre_train.txt")
VAL = str(MNRE_DIR / "mnre_val.txt")


def pair(text, head, tail, head_type=None, tail_type=None):
    def mention(name, kind):
        start = text.index(name)
        return EntityMention(name, start, start + len(name), kind)
    return EntityPair("p", text, mention(head, head_type), mention(tail, tail_type))


def test_a_mention_takes_the_type_of_the_span_covering_most_of_it():
    m = EntityMention("New York Knicks", 10, 25)
    assert best_type(m, [(0, 5, "PER"), (10, 18, "LOC"), (19, 25, "ORG")]) == "LOC"
    assert best_type(m, [(0, 10, "PER"), (25, 30, "ORG")]) is None  # touching is not overlapping
    assert best_type(m, []) is None


def test_the_student_types_untyped_mentions_and_keeps_given_types():
    student = NerStudent(None, "cpu", "fp32")
    text = "Barack Obama met Angela Merkel in Berlin on Monday ."
    pairs = [pair(text, "Barack Obama", "Berlin"), pair(text, "Angela Merkel", "Monday", tail_type="MISC")]
    typed = type_pairs(student, pairs)
    assert (typed[0].head.type, typed[0].tail.type) == ("PER", "LOC")
    assert typed[1].head.type == "PER"
    assert typed[1].tail.type == "MISC"  # given by the input: kept, although no span covers "Monday"
    assert [(p.text, p.head.start, p.tail.end) for p in typed] == [(p.text, p.head.start, p.tail.end) for p in pairs]


def test_typed_markers_put_the_type_word_after_each_opening_marker():
    tok = load_tokenizer("sentence-transformers/all-MiniLM-L6-v2", native=True)
    p = pair("Obama visited Paris", "Obama", "Paris", "PER", None)
    plain, h0, t0 = encode_pair(tok, p, 64)
    ids, h, t = encode_pair(tok, p, 64, typed=True)
    head_word = tok.encode(f"{TYPE_WORDS['PER']} :", add_special_tokens=False)
    tail_word = tok.encode(f"{TYPE_WORDS[None]} :", add_special_tokens=False)
    assert ids[h] == tok.convert_tokens_to_ids(HEAD_MARKERS[0])
    assert ids[h + 1 : h + 1 + len(head_word)] == head_word
    assert ids[t] == tok.convert_tokens_to_ids(TAIL_MARKERS[0])
    assert ids[t + 1 : t + 1 + len(tail_word)] == tail_word
    assert len(ids) == len(plain) + len(head_word) + len(tail_word)
    assert (h0, t0) == (1, plain.index(tok.convert_tokens_to_ids(TAIL_MARKERS[0])))


def test_a_guide_trained_with_typed_markers_types_untyped_pairs_itself(tmp_path):
    mnre_path("mnre_train.txt"), mnre_path("mnre_val.txt")
    out = tmp_path / "typed"
    argv = ["--train", TRAIN, "--val", VAL, "--limit-train", "16", "--limit-val", "8", "--max-steps", "2",
            "--eval-every", "2", "--batch-size", "8", "--mrda", "none", "--seed", "7", "--output", str(out),
            "--quiet", "--lora-r", "4", "--typed-markers", "--version", "tiny-typed"]
    assert train_cli.main(argv) == 0
    config = read_config(str(out))
    student = NerStudent(None, "cpu")
    assert config["typed_markers"] == {"ner": student.version, "convention": "mnre"}

    text = "Barack Obama met Angela Merkel in Berlin ."
    untyped = [pair(text, "Barack Obama", "Berlin"), pair(text, "Angela Merkel", "Berlin")]
    guide = Guide(str(out), "cpu", "fp32")
    assert [(p.head.type, p.tail.type) for p in guide.typed(untyped)] == [("PER", "LOC"), ("PER", "LOC")]
    # Scoring untyped pairs is scoring them with the student's types; other types score otherwise.
    scored = guide.logits_by_length(untyped)
    assert scored.allclose(guide.logits_by_length(guide.typed(untyped)))
    retyped = [pair(text, "Barack Obama", "Berlin", "ORG", "PER"), pair(text, "Angela Merkel", "Berlin", "ORG", "PER")]
    assert not scored.allclose(guide.logits_by_length(retyped))
    # The same through the path that tokenises inside the forward pass (one padded batch).
    batch = guide.logits(untyped)
    assert batch.allclose(scored, atol=1e-4) and not batch.allclose(guide.logits(retyped), atol=1e-4)
    assert guide.score(untyped)[0].pair is untyped[0]  # what comes back is the input pair

    # Types from another student than the one it was trained with are refused, with both names.
    other = tmp_path / "other"
    shutil.copytree(out, other)
    (other / "config.json").write_text(json.dumps(dict(config, typed_markers={"ner": "some-other-ner", "convention": "mnre"})))
    with pytest.raises(ValueError, match="some-other-ner"):
        Guide(str(other), "cpu", "fp32").logits_by_length(untyped)
