"""A pair's scores and a post's tag scores do not depend on the batch they were computed in
(runtime/padding.py, runtime/bert_native.py). RunInference sizes its batches by timing, so without this two runs of one
input scored some pairs differently and could put a triple on either side of the graph's cut.

Exact, bit for bit, in bf16 and in fp32. In bf16 on a CPU the padded length of attention is what
mattered (logits moved by up to 0.06; measured on AVX512-BF16); in fp32 the guide's logits varied
with the number of rows in a batch (up to 6e-6, enough to change a stored confidence on a rerun;
measured on AVX2), which is why it computes a batch as a multiple of 8 rows. The benchmark guide's
kNN vote (an fp32 product with its memory) is exact with it too. The student's emissions did not
vary with the rows (measured on the same CPU), so it is not padded."""
import random

import pytest
import torch

from mmkg.guide.scorer import Guide
from mmkg.guide.settings import CANDIDATES_CHECKPOINT, DEFAULT_CHECKPOINT
from mmkg.ner.model import encode_words
from mmkg.ner.tagger import NerStudent
from mmkg.ner.tokens import tokenize
from mmkg.runtime.padding import padded_length, padded_rows
from mmkg.runtime.precision import autocast
from mmkg.schemas.mnre_split import read_mnre
from tests.conftest import mnre_path


def _batchings(n: int, sizes=(5, 17, 32)):
    rng = random.Random(7)
    for size in sizes:
        order = list(range(n))
        rng.shuffle(order)
        yield [order[k : k + size] for k in range(0, n, size)]


def test_padded_lengths_and_rows():
    assert [padded_length(n) for n in (0, 1, 15, 16, 17, 64)] == [0, 16, 16, 16, 32, 64]
    assert [padded_rows(n) for n in (0, 1, 7, 8, 9, 64)] == [0, 8, 8, 8, 16, 64]


@pytest.fixture(scope="module")
def pairs():
    return read_mnre(str(mnre_path("mnre_val.txt")), limit=96)


@pytest.mark.parametrize("checkpoint", [CANDIDATES_CHECKPOINT, DEFAULT_CHECKPOINT], ids=["candidates", "benchmark"])
def test_a_pairs_scores_are_the_same_alone_and_in_any_batch(pairs, checkpoint):
    guide = Guide(checkpoint, device="cpu")  # the default precision: bf16 where the CPU has it
    alone = torch.cat([guide.logits([p]) for p in pairs])
    for batches in _batchings(len(pairs)):
        for idx in batches:
            got = guide.logits([pairs[i] for i in idx])
            for row, i in zip(got, idx):
                assert torch.equal(row, alone[i]), (pairs[i].pair_id, (row - alone[i]).abs().max())


def test_a_posts_tag_scores_are_the_same_alone_and_in_any_batch(pairs):
    student = NerStudent(device="cpu")
    words = [[w.text for w in tokenize(t)] for t in sorted({p.text for p in pairs})]

    def emissions(batch):
        enc = encode_words(student.tokenizer, batch, student.max_length)
        conv = torch.full((len(batch),), student.convention_index)
        with torch.no_grad(), autocast(torch.device("cpu"), student.dtype):
            em = student.model.emissions(enc, convention=conv).float()
        return [em[k, : len(w)] for k, w in enumerate(batch)]

    alone = [emissions([w])[0] for w in words]
    for batches in _batchings(len(words), sizes=(7, 32)):
        for idx in batches:
            for e, i in zip(emissions([words[i] for i in idx]), idx):
                assert torch.equal(e, alone[i]), (words[i], (e - alone[i]).abs().max())
