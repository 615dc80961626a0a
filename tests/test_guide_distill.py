"""Distilling guides (and their kNN votes) into one guide: the teacher's targets, their alignment
with the training split, the loss, and a tiny training run that follows a teacher."""
import json
import shutil

import pytest
import torch

from mmkg.cli import train as train_cli
from mmkg.guide.checkpoint import read_config
from mmkg.guide.knn import KnnMemory, KnnSettings
from mmkg.guide.scorer import Guide
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.guide.training import teacher as teacher_mod
from mmkg.guide.training.train import distillation_loss
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.relations import RELATIONS, label_id
from tests.conftest import MNRE_DIR, mnre_path

TRAIN = str(MNRE_DIR / "mnre_train.txt")
VAL = str(MNRE_DIR / "mnre_val.txt")


def test_distillation_loss_is_zero_at_the_teacher_and_grows_away_from_it():
    teacher = torch.log_softmax(torch.randn(4, len(RELATIONS), generator=torch.Generator().manual_seed(1)), -1)
    for t in (1.0, 2.0):
        # Logits equal to the teacher's log-probs up to a per-row constant give the same distribution.
        assert distillation_loss(teacher + 3.0, teacher, t).item() == pytest.approx(0.0, abs=1e-5)
        assert distillation_loss(torch.zeros_like(teacher), teacher, t).item() > 0.01


def test_teacher_targets_leave_each_pairs_own_memory_entry_out(tmp_path):
    mnre_path("mnre_train.txt")
    train = read_mnre(TRAIN, limit=48)
    ckpt = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_CHECKPOINT, ckpt)
    plain = Guide(str(ckpt), "cpu", "fp32", use_knn=False)
    logits, hidden = plain.logits_and_features(train)
    gold = torch.tensor([label_id(p.gold) for p in train])
    KnnMemory(hidden, gold, len(RELATIONS)).save(str(ckpt))
    config = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    config["knn"] = KnnSettings(k=1, temperature=0.1, weight=1.0).to_json()
    (ckpt / "config.json").write_text(json.dumps(config), encoding="utf-8")

    targets = teacher_mod.build([str(ckpt)], train, "fp32")
    # With the vote alone and k=1, a pair's target is the label of its nearest *other* pair: were
    # the pair itself in the vote, every target would be its own gold label.
    nearest_other = (torch.nn.functional.normalize(hidden, dim=-1) @ torch.nn.functional.normalize(hidden, dim=-1).T)
    nearest_other.fill_diagonal_(-2.0)
    expected = gold[nearest_other.argmax(-1)]
    assert torch.equal(targets.argmax(-1), expected)
    assert not torch.equal(expected, gold)  # the check above could tell the two apart


def test_teacher_file_is_checked_against_the_training_rows(tmp_path):
    mnre_path("mnre_train.txt")
    train = read_mnre(TRAIN, limit=12)
    path = str(tmp_path / "t.safetensors")
    log_probs = torch.log_softmax(torch.randn(len(train), len(RELATIONS)), -1)
    teacher_mod.save(path, log_probs, train, {"members": "[]"})
    assert torch.equal(teacher_mod.load(path, train[:5]), log_probs[:5])  # --limit-train: a prefix
    other = read_mnre(VAL, limit=12)
    with pytest.raises(ValueError, match="other training data: row 1"):
        teacher_mod.load(path, other)
    with pytest.raises(ValueError, match="targets for 12 training pairs"):
        teacher_mod.load(path, read_mnre(TRAIN, limit=13))


def test_a_student_trained_only_on_the_teacher_follows_the_teacher(tmp_path):
    mnre_path("mnre_train.txt"), mnre_path("mnre_val.txt")
    train = read_mnre(TRAIN, limit=24)
    # A teacher that says one label for every pair, whatever the gold label is.
    target = label_id("/per/loc/place_of_residence")
    log_probs = torch.full((len(train), len(RELATIONS)), -20.0)
    log_probs[:, target] = 0.0
    path = str(tmp_path / "teacher.safetensors")
    teacher_mod.save(path, log_probs, train, {"members": "[]"})
    out = tmp_path / "student"
    argv = ["--train", TRAIN, "--val", VAL, "--limit-train", "24", "--limit-val", "8", "--max-steps", "6",
            "--eval-every", "6", "--batch-size", "8", "--mrda", "none", "--warmup", "0", "--lr", "2e-3",
            "--head-lr", "5e-3", "--seed", "7", "--output", str(out), "--quiet", "--lora-r", "4",
            "--teacher", path, "--distill-weight", "1.0", "--version", "tiny-distilled"]
    assert train_cli.main(argv) == 0
    config = read_config(str(out))
    assert config["distillation"] == {"teacher": path, "weight": 1.0, "temperature": 1.0}
    logits = Guide(str(out), "cpu", "fp32").logits_by_length(train)
    assert (logits.argmax(-1) == target).float().mean() > 0.9
    assert sum(p.gold == "/per/loc/place_of_residence" for p in train) < len(train) / 2
