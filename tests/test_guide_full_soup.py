"""Full fine-tuning of the guide (--adapt full), its checkpoint, and weight soups of such runs."""
import json

import pytest
import torch
from safetensors.torch import load_file

from mmkg.cli import train as train_cli
from mmkg.guide.checkpoint import load_checkpoint
from mmkg.guide.scorer import Guide
from mmkg.guide.training import soup
from mmkg.runtime.checkpoint_files import WEIGHTS
from mmkg.schemas.mnre_split import read_mnre
from tests.conftest import MNRE_DIR, mnre_path

TRAIN = str(MNRE_DIR / "mnre_train.txt")
VAL = str(MNRE_DIR / "mnre_val.txt")


def _run(out, seed, snapshots=None):
    argv = ["--train", TRAIN, "--val", VAL, "--limit-train", "24", "--limit-val", "16", "--max-steps", "4",
            "--eval-every", "2", "--batch-size", "8", "--mrda", "none", "--warmup", "0", "--lr", "1e-4",
            "--head-lr", "1e-3", "--seed", str(seed), "--output", str(out), "--quiet", "--adapt", "full",
            "--freeze-word-embeddings", "--version", f"full-{seed}"]
    if snapshots:
        argv += ["--snapshots", str(snapshots)]
    assert train_cli.main(argv) == 0
    return str(out)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    mnre_path("mnre_train.txt"), mnre_path("mnre_val.txt")
    root = tmp_path_factory.mktemp("full")
    return _run(root / "a", 1, root / "snaps"), _run(root / "b", 2), root


def test_full_fine_tune_saves_the_encoder_but_its_word_embeddings(two_runs):
    a, _, root = two_runs
    config = json.loads((root / "a" / "config.json").read_text(encoding="utf-8"))
    assert config["adapt"] == "full" and config["lora"] is None and config["freeze_word_embeddings"]
    keys = set(load_file(str(root / "a" / WEIGHTS)))
    assert "encoder.encoder.layer.5.output.dense.weight" in keys
    assert "encoder.embeddings.word_embeddings.weight" not in keys
    # A snapshot per evaluation, each a loadable checkpoint.
    assert sorted(p.name for p in (root / "snaps").iterdir()) == ["step-2", "step-4"]
    model, _ = load_checkpoint(str(root / "snaps" / "step-4"))
    assert type(model.encoder).__name__ == "BertEncoder"  # served without transformers


def test_soup_is_the_mean_of_its_members_weights(two_runs, tmp_path):
    a, b, _ = two_runs
    out = soup.write_soup([a, b], str(tmp_path / "soup"))
    wa, wb, ws = (load_file(f"{d}/{WEIGHTS}") for d in (a, b, out))
    assert set(ws) == set(wa)
    for k in ("encoder.encoder.layer.0.attention.self.query.weight", "head.4.weight"):
        assert torch.allclose(ws[k].float(), (wa[k].float() + wb[k].float()) / 2, atol=2e-3)
    pairs = read_mnre(VAL, limit=8)
    assert Guide(out, "cpu", "fp32").logits_by_length(pairs).shape == (8, 23)


def test_soup_refuses_lora_checkpoints(two_runs, tmp_path):
    import shutil

    lora = tmp_path / "lora"
    shutil.copytree(two_runs[1], lora)
    config = json.loads((lora / "config.json").read_text(encoding="utf-8"))
    config["lora"] = {"r": 16, "alpha": 32}
    (lora / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="LoRA"):
        soup.average([two_runs[0], str(lora)])
