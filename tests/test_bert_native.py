"""The transformers-free BERT serving path (runtime.bert_native) computes what transformers does."""
import os
import subprocess
import sys

import pytest
import torch

from mmkg.guide.markers import encode_pair, encode_pairs
from mmkg.ner.checkpoint import build_ner_model, conventions_of, load_trained_tensors
from mmkg.ner.data import read_conll
from mmkg.ner.model import encode_words, subword_lengths
from mmkg.ner.settings import DEFAULT_NER_CHECKPOINT
from mmkg.ner.tagger import NerStudent
from mmkg.runtime import bert_native
from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER, WEIGHTS
from mmkg.runtime.checkpoint_io import resolve_encoder
from mmkg.schemas.mnre_split import read_mnre

from .conftest import SHARED_DATA, mnre_path


def test_same_pair_encodings_and_hidden_states_as_transformers():
    from transformers import AutoModel, AutoTokenizer

    path = resolve_encoder(DEFAULT_ENCODER)
    assert bert_native.supports(path)
    pairs = read_mnre(str(mnre_path("mnre_val.txt")))[:400]
    theirs, ours = AutoTokenizer.from_pretrained(path), bert_native.WordPieceTokenizer(path)
    assert [encode_pair(ours, p, 64) for p in pairs] == [encode_pair(theirs, p, 64) for p in pairs]
    # A long post: the tokenizer file's own truncation (128) must be off, as in transformers.
    long_text = " ".join(["word"] * 300)
    assert ours.encode(long_text, add_special_tokens=False) == theirs.encode(long_text, add_special_tokens=False)

    batch = encode_pairs(ours, pairs[:48], 64)  # padded: lengths differ
    assert not bool(batch.attention_mask.all())
    reference = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()
    model = bert_native.load_bert(path)
    with torch.no_grad():
        want = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        got = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    real = batch.attention_mask.bool()
    assert torch.allclose(got[real], want[real], atol=1e-4)
    assert dict(model.named_parameters()).keys() <= dict(reference.named_parameters()).keys()


def test_an_encoder_it_does_not_compute_goes_through_transformers(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}', encoding="utf-8")
    assert not bert_native.supports(str(tmp_path))
    assert not bert_native.supports(str(tmp_path / "absent"))


def test_serving_the_guide_does_not_import_transformers(tmp_path):
    code = ("import sys; from mmkg.guide.scorer import Guide; g = Guide(None, 'cpu'); "
            "print('transformers' in sys.modules, 'peft' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_the_ner_students_word_tokenisation_and_tags_match_transformers():
    from transformers import AutoTokenizer

    path = SHARED_DATA / "twitter2017" / "valid.txt"
    if not path.exists():
        pytest.skip(f"needs the Twitter-2017 data at {path}")
    words = [s.tokens for s in read_conll(str(path))[:160]]
    enc_path = resolve_encoder(DEFAULT_ENCODER)
    theirs, ours = AutoTokenizer.from_pretrained(enc_path), bert_native.WordPieceTokenizer(enc_path)
    assert subword_lengths(ours, words) == subword_lengths(theirs, words)
    a, b = encode_words(ours, words, 24), encode_words(theirs, words, 24)  # 24: some rows truncate
    for name in ("input_ids", "attention_mask", "subword_shape", "word_index", "word_mask"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name

    served = NerStudent(None, "cpu", "fp32")
    assert type(served.model.encoder).__name__ == "BertEncoder"
    # The same checkpoint on transformers' encoder and tokenizer.
    reference = NerStudent(None, "cpu", "fp32")
    cfg = reference.config
    model = build_ner_model(cfg["encoder"], None, cfg["shape_dim"], cfg["image_dim"], cfg["freeze_word_embeddings"],
                            conventions=len(conventions_of(cfg)))
    load_trained_tensors(model, os.path.join(DEFAULT_NER_CHECKPOINT, WEIGHTS))
    model.crf.enforce()
    reference.model, reference.tokenizer = model.eval(), theirs
    assert type(reference.model.encoder).__name__ == "BertModel"
    assert served.tag(words) == reference.tag(words)
