"""A guide checkpoint holds what loading checks; importing the guide's modules changes nothing."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from mmkg.guide.checkpoint import architecture, read_config
from mmkg.guide.settings import DEFAULT_CHECKPOINT


def copy_with(tmp_path, **changes):
    target = tmp_path / "ckpt"
    shutil.copytree(DEFAULT_CHECKPOINT, target)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(target)


def test_the_shipped_checkpoint_matches_what_this_code_builds():
    config = read_config()
    for key, value in architecture().items():
        got = config[key] if key != "image" else {k: config["image"][k] for k in value}
        assert got == value, key


@pytest.mark.parametrize("changes, error", [
    ({"markers": {"head": ["@", "@"], "tail": ["#", "#"]}}, "entity markers"),
    ({"markers": None}, "entity markers"),
    ({"image": {"backbone": "resnet-50", "feature_dim": 2048}}, "image features"),
    ({"labels": ["None", "/per/per/parent"]}, "label set"),
    ({"format": "mmkg-guide/0"}, "not a guide checkpoint"),
])
def test_a_checkpoint_made_for_other_inputs_fails_loudly(tmp_path, changes, error):
    with pytest.raises(ValueError, match=error):
        read_config(copy_with(tmp_path, **changes))


def test_importing_the_guide_sets_no_environment_variable(tmp_path):
    code = ("import os; before = dict(os.environ); "
            "import mmkg.guide.training.train, mmkg.guide.scorer, mmkg.pipeline.run, mmkg.cli.evaluate, "
            "mmkg.cli.calibrate, mmkg.transforms.guide; "
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TOKENIZERS_", "TRANSFORMERS_"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_merging_without_peft_gives_peft_s_merged_model(tmp_path):
    import torch

    from mmkg.cli import train as train_cli
    from mmkg.guide.checkpoint import build_model, load_checkpoint
    from mmkg.runtime.checkpoint_io import load_trained_state, lora_of

    from .conftest import mnre_path

    # A small LoRA checkpoint (the shipped guide is a full fine-tune): 4 steps move the adapters
    # off their zero start, so merging them changes the encoder's weights.
    ckpt = str(tmp_path / "lora")
    assert train_cli.main(["--train", str(mnre_path("mnre_train.txt")), "--val", str(mnre_path("mnre_val.txt")),
                           "--limit-train", "16", "--limit-val", "8", "--max-steps", "4", "--batch-size", "4",
                           "--mrda", "none", "--warmup", "0", "--lr", "5e-3", "--lora-r", "4", "--seed", "3",
                           "--output", ckpt, "--quiet"]) == 0
    fast, config = load_checkpoint(ckpt)
    via_peft = build_model(config["encoder"], lora_of(config), len(config["labels"]), config["head_hidden"])
    load_trained_state(via_peft, ckpt)
    via_peft.encoder = via_peft.encoder.merge_and_unload()
    a, b = fast.state_dict(), via_peft.state_dict()
    assert set(a) == set(b)
    changed = [k for k in a if not torch.equal(a[k], b[k])]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), changed
    pretrained = build_model(config["encoder"], None).state_dict()
    assert any(not torch.allclose(a[k], pretrained[k]) for k in a if k.startswith("encoder.encoder.layer"))
    assert "peft" not in type(fast.encoder).__module__
