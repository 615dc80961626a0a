"""The guide's nearest-neighbour memory (guide.knn): the vote, the mixture, and a checkpoint
that carries one, scored with the real model."""
import json
import shutil

import pytest
import torch

from mmkg.guide.ftl import decide
from mmkg.guide.knn import KnnMemory, KnnSettings, mix
from mmkg.guide.scorer import Guide
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.relations import RELATIONS, label_id

from .conftest import mnre_path


def test_vote_weights_the_nearest_neighbours_by_similarity():
    keys = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    memory = KnnMemory(keys, torch.tensor([3, 3, 5, 7]), num_labels=8)
    votes = memory.vote(torch.tensor([[1.0, 0.05], [0.1, 1.0]]), k=2, temperature=0.1)
    assert torch.allclose(votes.sum(-1), torch.ones(2))
    assert votes[0, 3] == pytest.approx(1.0)  # both nearest are label 3
    assert votes[1].argmax() == 5 and votes[1, 7] == 0  # the opposite key is never among the top 2
    # Scoring the memory's own keys without themselves: the first key's nearest other is the second.
    own = memory.vote(keys[:1], k=1, temperature=0.1, exclude_self=True)
    assert own[0, 3] == pytest.approx(1.0)


def test_memory_refuses_mismatched_keys_and_labels():
    with pytest.raises(ValueError, match="as many labels as keys"):
        KnnMemory(torch.ones(3, 2), torch.tensor([1, 2]), 4)


def test_mix_at_weight_zero_is_the_classifier_and_at_one_the_vote():
    logits = torch.randn(5, 23, generator=torch.Generator().manual_seed(0))
    votes = torch.zeros(5, 23)
    votes[:, 4] = 1.0
    assert torch.equal(mix(logits, votes, 0.0), logits)
    assert decide(mix(logits, votes, 1.0)).tolist() == [4] * 5
    half = mix(logits, votes, 0.5).exp()
    assert torch.allclose(half.sum(-1), torch.ones(5), atol=1e-5)


def test_a_checkpoint_with_a_memory_mixes_its_vote_into_the_real_guides_scores(tmp_path):
    train = read_mnre(str(mnre_path("mnre_train.txt")), limit=96)
    target = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_CHECKPOINT, target)
    plain = Guide(str(target), "cpu", "fp32", use_knn=False)
    logits, hidden = plain.logits_and_features(train)
    assert hidden.shape == (len(train), plain.model.head[1].out_features)
    # The features are the classifier's own input: its last layer on them gives its logits.
    assert torch.allclose(plain.model.head[-1](hidden), logits, atol=1e-4)
    assert torch.allclose(plain.logits_by_length(train), logits, atol=1e-4)

    gold = torch.tensor([label_id(p.gold) for p in train])
    KnnMemory(hidden, gold, len(RELATIONS)).save(str(target))
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    config["knn"] = KnnSettings(k=1, temperature=0.1, weight=1.0).to_json()
    config["thresholds"] = {"global_offset": 0.0, "per_class": {}}
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")

    voting = Guide(str(target), "cpu", "fp32")
    assert voting.knn is not None
    # Weight 1, k 1, the memory holding these very pairs: each pair's nearest neighbour is itself,
    # so the guide returns the stored labels.
    decisions = [s.decision for s in voting.score(train)]
    assert decisions == [p.gold for p in train]
    assert Guide(str(target), "cpu", "fp32", use_knn=False).knn is None


def test_knn_build_with_candidate_pairs_puts_the_unannotated_candidates_in_the_memory(tmp_path):
    """`knn_build --candidate-pairs`: the memory holds the training split's annotated pairs and,
    as None, the candidate pairs the pipeline enumerates in those posts that no annotation covers
    (the real candidate guide, NER student and a slice of MNRE train)."""
    from mmkg.guide.settings import CANDIDATES_CHECKPOINT
    from mmkg.guide.training.knn_build import build_and_tune

    train, val = tmp_path / "train.txt", tmp_path / "val.txt"
    with open(mnre_path("mnre_train.txt"), encoding="utf-8") as f:
        train.write_text("".join(next(f) for _ in range(60)), encoding="utf-8")
    with open(mnre_path("mnre_val.txt"), encoding="utf-8") as f:
        val.write_text("".join(next(f) for _ in range(20)), encoding="utf-8")
    sizes = {}
    for extra in (False, True):
        cache = tmp_path / f"feats-{extra}.pt"
        build_and_tune(CANDIDATES_CHECKPOINT, str(train), str(val), write=False, threads=2, cache=str(cache),
                       candidate_pairs=extra)
        sizes[extra] = torch.load(cache)[0].shape[0]  # one memory key per training pair
    assert sizes[False] == len(read_mnre(str(train)))
    assert sizes[True] > sizes[False]
