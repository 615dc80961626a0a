"""Partial annotations for the NER student (MNRE's heads and tails): the reader, the allowed-tag
masks, the marginal CRF likelihood, and a tiny training run that learns a boundary only MNRE
lines teach."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmkg.ner.data import TAG_ID, TAGS
from mmkg.ner.model import ConstrainedCRF
from mmkg.ner.partial import allowed_from_tags, allowed_tags, is_mnre_file, merge_spans, read_mnre_partial, span_recall


def _mnre_line(tokens, h, t, relation, img="a.jpg"):
    return repr({"token": tokens, "h": {"name": " ".join(tokens[h[0]:h[1]]), "pos": list(h)},
                 "t": {"name": " ".join(tokens[t[0]:t[1]]), "pos": list(t)}, "img_id": img,
                 "relation": relation}) + "\n"


def test_reader_merges_a_sentences_pairs_and_types_them_by_label(tmp_path):
    toks = ["RT", "@x", ":", "Late", "Shri", "RK", "Dhawan", "joins", "#", "Congress", "today"]
    p = tmp_path / "m.txt"
    p.write_text(_mnre_line(toks, (3, 7), (8, 10), "/per/org/member_of")
                 + _mnre_line(toks, (8, 10), (3, 7), "None")
                 + "not a dict\n"
                 + _mnre_line(["Paris", "is", "nice"], (0, 1), (2, 3), "None", img="b.jpg"), encoding="utf-8")
    assert is_mnre_file(str(p))
    first, second = read_mnre_partial(str(p))
    assert first.tokens == tuple(toks)
    # the hashtag sign is left outside the span, as the tokeniser and Twitter-2017 have it
    assert first.spans == ((3, 7, "PER"), (9, 10, "ORG"))
    assert second.spans == ((0, 1, None), (2, 3, None))


def test_overlapping_spans_constrain_nothing_and_conflicting_types_keep_boundaries():
    assert merge_spans([(0, 2, "PER"), (1, 3, "ORG"), (4, 5, None)]) == ((4, 5, None),)
    assert merge_spans([(0, 2, "PER"), (0, 2, "ORG"), (0, 2, None)]) == ((0, 2, None),)
    assert merge_spans([(0, 2, None), (0, 2, "LOC")]) == ((0, 2, "LOC"),)


def test_allowed_masks():
    a = allowed_tags(5, [(1, 3, "PER"), (4, 5, None)])
    ok = lambda i: {TAGS[j] for j in np.flatnonzero(a[i])}
    assert ok(0) == set(TAGS)  # not annotated: open
    assert ok(1) == {"B-PER"} and ok(2) == {"I-PER"}
    assert ok(3) == {t for t in TAGS if not t.startswith("I-")}  # the span ends here
    assert ok(4) == {t for t in TAGS if t.startswith("B-")}
    full = allowed_from_tags(["B-LOC", "O"])
    assert full.sum() == 2 and full[0, TAG_ID["B-LOC"]] and full[1, TAG_ID["O"]]


def _loss(crf, em, allowed, mask):
    from mmkg.ner.model import NerModel

    return NerModel.partial_loss(type("M", (), {"crf": crf})(), em, allowed, mask)


def test_partial_loss_is_the_crf_loss_when_fully_tagged_and_marginal_otherwise():
    torch.manual_seed(0)
    crf = ConstrainedCRF()
    em = torch.randn(2, 4, len(TAGS))
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    tags = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O", "O"]]
    ids = torch.tensor([[TAG_ID[t] for t in row] for row in tags])
    allowed = torch.from_numpy(np.stack([allowed_from_tags(row) for row in tags]))
    assert _loss(crf, em, allowed, mask).item() == pytest.approx(-crf(em, ids, mask=mask, reduction="mean").item(),
                                                                  rel=1e-5)
    # Nothing known: every sequence allowed, the likelihood is 1.
    assert _loss(crf, em, torch.ones_like(allowed), mask).item() == pytest.approx(0.0, abs=1e-4)
    # Knowing less can only make the data more likely.
    some = torch.from_numpy(np.stack([allowed_tags(4, [(0, 2, "PER")]), allowed_tags(4, [(1, 2, None)])]))
    assert 0 < _loss(crf, em, some, mask).item() < _loss(crf, em, allowed, mask).item()


def test_span_recall():
    from mmkg.ner.partial import PartialSentence

    sents = [PartialSentence(None, ("a", "b", "c"), ((0, 2, "PER"), (2, 3, None)))]
    m = span_recall([[(0, 2, "ORG"), (2, 3, "LOC")]], sents)
    assert m["boundary_recall"] == 1.0 and m["recall"] == 0.5 and m["spans"] == 2


def test_training_on_partial_lines_learns_their_boundaries(tmp_path):
    """CoNLL lines teach `Obama` PER; MNRE-style lines alone teach that `Late Shri X` is one span.
    Continuing the trained student from its checkpoint (--init) keeps what it learnt."""
    from mmkg.cli.train_ner import main
    from mmkg.ner.checkpoint import CONFIG
    from mmkg.ner.tagger import NerStudent

    conll = tmp_path / "tiny.txt"
    conll.write_text("\n".join(f"IMGID:{i}\n{n}\tB-PER\nvisits\tO\n{c}\tB-LOC\n" for i, (n, c) in
                               enumerate([("Obama", "Paris"), ("Messi", "Boston"), ("Merkel", "Tokyo")] * 6)),
                     encoding="utf-8")
    mnre = tmp_path / "mnre.txt"
    names = ["Dhawan", "Gupta", "Singh", "Rao", "Das", "Roy"]
    mnre.write_text("".join(_mnre_line(["Late", "Shri", n, "visits", c], (0, 3), (4, 5), "/per/loc/place_of_residence",
                                       img=f"{i}.jpg")
                            for i, (n, c) in enumerate(zip(names * 3, ["Delhi", "Pune", "Goa"] * 6))),
                    encoding="utf-8")
    first = tmp_path / "first"
    args = ["--val", str(mnre), "--eval-every", "10", "--batch-size", "8", "--threads", "1", "--quiet", "--seed", "1"]
    assert main(["--train", str(conll), str(mnre), "--output", str(first), "--max-steps", "40"] + args) == 0
    config = json.loads((first / CONFIG).read_text())
    assert config["training"]["val_at_best"]["files"][str(mnre)]["spans"] == 36
    assert config["training"]["val_at_best"]["score"] > 0.8
    assert config["conventions"] == ["twitter", "mnre"] and config["serving_convention"] == "mnre"
    served = NerStudent(str(first), "cpu")
    assert served.convention == "mnre"
    [post] = served.detect(["Late Shri Kumar visits Delhi"])
    assert (0, 15, "PER") in post.spans
    assert NerStudent(str(first), "cpu", convention="twitter").convention_index == 0
    # The convention is an input: the same words score differently under each.
    from mmkg.ner.model import encode_words

    enc = encode_words(served.tokenizer, [["Late", "Shri", "Kumar", "visits", "Delhi"]], 32)
    with torch.no_grad():
        as_twitter, as_mnre = (served.model.emissions(enc, convention=torch.tensor([c])) for c in (0, 1))
    assert not torch.allclose(as_twitter, as_mnre)
    second = tmp_path / "second"
    assert main(["--train", str(mnre), "--init", str(first), "--output", str(second), "--max-steps", "5"] + args) == 0
    config = json.loads((second / CONFIG).read_text())
    assert config["training"]["history"][0]["val"]["score"] > 0.8  # started where the first run ended
    assert config["training"]["initialised_from"] == json.loads((first / CONFIG).read_text())["version"]
    assert config["conventions"] == ["twitter", "mnre"]  # kept from the checkpoint it continues
    # One convention (--one-convention, or any checkpoint from before conventions): asking the
    # student for MNRE's fails by name instead of silently drawing Twitter's boundaries.
    single = tmp_path / "single"
    assert main(["--train", str(conll), str(mnre), "--one-convention", "--output", str(single), "--max-steps", "2"]
                + args) == 0
    assert "convention.weight" not in load_file(str(single / "weights.safetensors"))
    with pytest.raises(ValueError, match="conventions"):
        NerStudent(str(single), "cpu", convention="mnre")
