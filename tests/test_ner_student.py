"""The NER student's parts: raw-text words with exact offsets, conlleval span scoring, the CRF's
BIO constraint, training that learns, and checkpoints that refuse to load into the wrong model."""
from __future__ import annotations

import json

import pytest

from mmkg.ner.data import TAGS, read_conll, repair, span_scores, spans_from_tags
from mmkg.ner.model import SHAPE_ID, allowed_transitions, word_shape
from mmkg.ner.tagger import chunk_words
from mmkg.ner.tokens import tokenize, words_from_tokens

RAW = [
    "RT @Ramina1690: DRose's back with the #Knicks https://t.co/AbC123 🔥🔥",
    "Obama visits Harvard.U.S. troops leave",
    "zero\u200bwidth \u202eright-to-left\u202c مرحبا بالعالم 東京タワー",
    "   ",
    "\x00\x01control\x7f chars",
]


@pytest.mark.parametrize("text", RAW)
def test_every_word_is_an_exact_slice_of_the_text(text):
    for w in tokenize(text):
        assert text[w.start : w.end] == w.text
        assert w.text.strip()


def test_tweet_conventions():
    words = [w.text for w in tokenize(RAW[0])]
    assert words == ["RT", "@Ramina1690", ":", "DRose", "'s", "back", "with", "the", "#", "Knicks",
                     "https://t.co/AbC123", "🔥🔥"]


def test_pretokenised_text_keeps_its_tokens():
    tokens = ["RT", "@AFP", ":", "#", "BREAKING", "UN", "says", "Libya", "'s", "Tripoli"]
    text, words = words_from_tokens(tokens)
    assert [w.text for w in tokenize(text)] == tokens
    assert [(w.start, w.end) for w in tokenize(text)] == [(w.start, w.end) for w in words]


def test_conlleval_spans():
    # An I- that does not continue its type starts a span, as conlleval reads it.
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-ORG", "I-PER"]
    assert spans_from_tags(tags) == [(0, 2, "PER"), (3, 5, "LOC"), (5, 6, "ORG"), (6, 7, "PER")]
    assert spans_from_tags(repair(tags)) == spans_from_tags(tags)
    assert repair(tags)[3] == "B-LOC"


def test_span_scores_by_hand():
    gold = [[(0, 2, "PER"), (3, 4, "LOC")]]
    pred = [[(0, 2, "PER"), (3, 4, "ORG"), (5, 6, "MISC")]]
    m = span_scores(pred, gold)
    assert m["micro"]["tp"] == 1 and m["micro"]["predicted"] == 3 and m["micro"]["gold"] == 2
    assert m["micro"]["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert m["per_type"]["PER"]["f1"] == 1.0 and m["per_type"]["LOC"]["recall"] == 0.0


def test_other_is_read_as_misc(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("IMGID:1\nApple\tB-OTHER\nPay\tI-OTHER\nrocks\tO\n\nIMGID:2\nParis\tB-LOC\n", encoding="utf-8")
    sents = read_conll(str(p))
    assert [s.image_id for s in sents] == ["1", "2"]
    assert sents[0].tags == ("B-MISC", "I-MISC", "O")
    p.write_text("IMGID:1\nApple\tB-FOOD\n", encoding="utf-8")
    with pytest.raises(ValueError, match="x.txt:2"):
        read_conll(str(p))


def test_shapes_give_casing_back():
    assert word_shape("Apple") == SHAPE_ID["title"] != word_shape("apple") == SHAPE_ID["lower"]
    assert word_shape("NASA") == SHAPE_ID["upper"]
    assert word_shape("iPhone") == SHAPE_ID["mixed"]
    assert word_shape("@user") == SHAPE_ID["mention"]
    assert word_shape("#") == SHAPE_ID["hashtag"]


def test_crf_only_allows_valid_bio():
    start, trans = allowed_transitions(TAGS)
    t = {tag: i for i, tag in enumerate(TAGS)}
    assert not start[t["I-PER"]] and start[t["B-PER"]]
    assert not trans[t["O"], t["I-LOC"]] and not trans[t["B-PER"], t["I-ORG"]]
    assert trans[t["B-PER"], t["I-PER"]] and trans[t["I-PER"], t["I-PER"]] and trans[t["I-PER"], t["B-ORG"]]


def test_chunks_cover_every_word_within_budget():
    lengths = [3, 1, 5, 2, 9, 1, 1]
    chunks = chunk_words(lengths, 6)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all(sum(lengths[s:e]) <= 6 or e - s == 1 for s, e in chunks)


def _tiny_conll(path, n=24):
    rows = []
    for i in range(n):
        name = ["Obama", "Messi", "Merkel"][i % 3]
        place = ["Paris", "Boston", "Tokyo"][i % 3]
        rows.append(f"IMGID:{i}\n{name}\tB-PER\nvisits\tO\n{place}\tB-LOC\ntoday\tO\n")
    path.write_text("\n".join(rows), encoding="utf-8")


def test_tiny_training_learns_and_checkpoint_round_trips(tmp_path):
    from mmkg.cli.train_ner import main
    from mmkg.ner.checkpoint import CONFIG, load_ner_checkpoint
    from mmkg.ner.tagger import NerStudent

    data = tmp_path / "tiny.txt"
    _tiny_conll(data)
    out = tmp_path / "ckpt"
    rc = main(["--train", str(data), "--val", str(data), "--output", str(out), "--max-steps", "30",
               "--eval-every", "10", "--batch-size", "8", "--threads", "1", "--quiet", "--seed", "1"])
    assert rc == 0
    config = json.loads((out / CONFIG).read_text())
    history = config["training"]["history"]
    assert config["training"]["command"].startswith("mmkg train-ner --train")
    assert history[-1]["loss"] < history[0]["loss"]
    assert config["training"]["val_at_best"]["score"] > 0.5
    student = NerStudent(str(out), "cpu")
    [post] = student.detect(["Obama visits Paris today"])
    assert ((0, 5, "PER") in post.spans) or ((13, 18, "LOC") in post.spans)
    # A checkpoint made for another tag inventory fails loudly.
    config["tags"] = ["O", "B-X", "I-X"]
    (out / CONFIG).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="tag set"):
        load_ner_checkpoint(str(out))
