"""The guide's training CLI, checkpoints, evaluation CLI and image path, on tiny subsets."""
import json
import os

import pytest
import torch

from mmkg.cli import train as train_cli
from mmkg.guide.checkpoint import build_model, load_checkpoint, read_config, save_checkpoint
from mmkg.guide.ftl import FlexibleThresholdLoss
from mmkg.guide.model import forward_pairs
from mmkg.guide.scorer import Guide
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.runtime.checkpoint_files import CONFIG
from mmkg.runtime.checkpoint_io import LoraSpec
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import ImageRef
from mmkg.schemas.relations import RELATIONS, label_id
from tests.conftest import MNRE_DIR, mnre_path

TRAIN = str(MNRE_DIR / "mnre_train.txt")
VAL = str(MNRE_DIR / "mnre_val.txt")
ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    mnre_path("mnre_train.txt"), mnre_path("mnre_val.txt")
    out = tmp_path_factory.mktemp("guide") / "ckpt"
    argv = ["--train", TRAIN, "--val", VAL, "--limit-train", "24", "--limit-val", "16", "--max-steps", "6",
            "--eval-every", "3", "--batch-size", "8", "--mrda", "none", "--warmup", "0", "--lr", "2e-3",
            "--head-lr", "5e-3", "--patience", "5", "--seed", "7", "--output", str(out), "--quiet",
            "--lora-r", "4", "--version", "tiny-test"]
    assert train_cli.main(argv) == 0
    return out


def _loss(model, pairs):
    from mmkg.runtime.checkpoint_io import load_tokenizer

    model.eval()
    with torch.no_grad():
        logits = forward_pairs(model, load_tokenizer(ENCODER), pairs, 64, "cpu", lambda: None)
    labels = torch.tensor([label_id(p.gold) for p in pairs])
    return FlexibleThresholdLoss(torch.ones(len(RELATIONS)), tau=0.0)(logits, labels).item()


def test_tiny_training_run_lowers_the_loss(tiny_run):
    pairs = read_mnre(TRAIN, limit=24)
    torch.manual_seed(7)
    fresh = build_model(ENCODER, LoraSpec(r=4))
    trained, config = load_checkpoint(str(tiny_run))
    assert _loss(trained, pairs) < _loss(fresh, pairs) - 0.5
    history = config["training"]["history"]
    assert [h["step"] for h in history] == [3, 6]


def test_checkpoint_config_and_size(tiny_run):
    config = read_config(str(tiny_run))
    assert config["version"] == "tiny-test" and config["labels"] == list(RELATIONS)
    assert config["encoder"] == ENCODER and "global_offset" in config["thresholds"]
    assert config["training"]["command"].startswith("mmkg train --train")
    assert os.path.getsize(tiny_run / "weights.safetensors") < 8_000_000


def test_checkpoint_round_trip_gives_same_logits(tmp_path):
    mnre_path("mnre_val.txt")
    torch.manual_seed(0)
    model = build_model(ENCODER, LoraSpec(r=4))
    with torch.no_grad():  # LoRA's B starts at zero: make the adapters matter
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    save_checkpoint(model, str(tmp_path), {"version": "rt", "encoder": ENCODER, "max_length": 64,
                                           "lora": LoraSpec(r=4).to_json(), "thresholds": {"global_offset": 0.0}})
    (tmp_path / "gating.json").write_text('{"gate_top1": 0.5}')  # extra files are tolerated
    pairs = read_mnre(VAL, limit=8)
    loaded, config = load_checkpoint(str(tmp_path))
    with torch.no_grad():
        for p in model.parameters():  # the trained tensors are saved in half precision
            if p.requires_grad:
                p.copy_(p.half().float())
    assert config["version"] == "rt"
    from mmkg.runtime.checkpoint_io import load_tokenizer

    tok = load_tokenizer(ENCODER)
    model.eval()
    with torch.no_grad():
        a = forward_pairs(model, tok, pairs, 64, "cpu", lambda: None)
        b = forward_pairs(loaded, tok, pairs, 64, "cpu", lambda: None)
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()


def test_image_path_changes_scores_only_when_trained_on_images(tmp_path, tiny_run):
    images = sorted(mnre_path("images").glob("*.jpg"))[:3]
    pairs = read_mnre(VAL, limit=3)
    with_images = [p.__class__(**{**p.__dict__, "image": ImageRef(image_id=i.name, path=str(i))})
                   for p, i in zip(pairs, images)]
    guide = Guide(str(tiny_run), "cpu")
    # Trained without images: the zero-initialised projection leaves the scores unchanged.
    plain, imaged = guide.score(pairs), guide.score(with_images)
    assert guide._image_encoder is not None
    assert all(abs(x - y) < 1e-5 for a, b in zip(plain, imaged) for x, y in zip(a.probs, b.probs))
    # A projection with weights (as after training on images) makes the image count.
    with torch.no_grad():
        guide.model.image_proj.weight.normal_(0, 0.1)
    changed = guide.score(with_images)
    assert any(abs(x - y) > 1e-4 for a, b in zip(plain, changed) for x, y in zip(a.probs, b.probs))
    broken = [with_images[0].__class__(**{**with_images[0].__dict__, "image": ImageRef(image_id="x", data=b"not an image")})]
    assert guide.score(broken)[0].probs == plain[0].probs or len(guide.score(broken)) == 1


def test_evaluate_cli_prints_one_json_object(tiny_run, capsys):
    from mmkg.cli import evaluate

    assert evaluate.main(["--split", VAL, "--checkpoint", str(tiny_run), "--limit", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    m = report["micro"]
    assert m["n"] == 20 and 0.0 <= m["f1"] <= 1.0 and 0.0 <= m["accuracy"] <= 1.0
    assert {r["label"] for r in report["per_relation"]} == set(RELATIONS)
    assert report["model_version"] == "tiny-test"
    gold_pos = sum(1 for line in open(VAL, encoding="utf-8").readlines()[:20] if "'relation': 'None'" not in line)
    assert m["gold"] == gold_pos


def test_shipped_checkpoint_is_the_default():
    config = read_config()
    assert os.path.samefile(os.path.dirname(os.path.join(DEFAULT_CHECKPOINT, CONFIG)), DEFAULT_CHECKPOINT)
    assert config["labels"] == list(RELATIONS) and config["training"]["command"].startswith("mmkg train")
    total = sum(os.path.getsize(os.path.join(DEFAULT_CHECKPOINT, f)) for f in os.listdir(DEFAULT_CHECKPOINT))
    # docs/guide.md states 33.3 MB: a full fine-tune without its word embeddings (23.9 MB fp16)
    # and the kNN memory of MNRE train's 12,247 pairs (9.4 MB).
    assert total < 35_000_000
    if config.get("knn"):
        assert os.path.exists(os.path.join(DEFAULT_CHECKPOINT, config["knn"]["memory"]))
