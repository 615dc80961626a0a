"""``mmkg train``: train the guide on an MNRE split, select on a validation split, save a checkpoint.

Seeded and reproducible on a given machine (same seed, same thread count -> same run); early
stopping on validation micro-F1; the saved directory holds config.json (encoder, labels,
thresholds, version, the exact command) and the trained tensors in half precision.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import shlex
import sys
import time
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

from mmkg.models.checkpoint import (
    DEFAULT_ENCODER,
    WEIGHTS,
    LoraSpec,
    build_model,
    load_tokenizer,
    save_checkpoint,
    trained_state,
)
from mmkg.models.data import read_mnre
from mmkg.models.ftl import FlexibleThresholdLoss, class_priors, decide
from mmkg.models.guide_model import GuideModel, forward_pairs
from mmkg.models.image_features import ImageEncoder
from mmkg.models.metrics import best_global_offset, summary
from mmkg.models.mrda import Augmenter, MrdaConfig, build_inventory
from mmkg.schemas.records import EntityPair
from mmkg.schemas.relations import RELATIONS, label_id


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="mmkg train", description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True, help="MNRE training split (one instance per line)")
    ap.add_argument("--val", required=True, help="MNRE validation split, used for early stopping")
    ap.add_argument("--output", "-o", default="guide-checkpoint", help="checkpoint directory to write")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="Hugging Face encoder name or path")
    ap.add_argument("--image-dir", default=None, help="MNRE image directory (absent: text only)")
    ap.add_argument("--loss", choices=("ftl", "ce"), default="ftl")
    ap.add_argument("--tau", type=float, default=1.0, help="FTL margin strength (0 = plain adaptive threshold)")
    ap.add_argument("--mrda", default="all", help="'all', 'none' or kinds: substitute,swap,noise,image[=p]")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    ap.add_argument("--eval-every", type=int, default=None, help="validate every N steps (default: per epoch)")
    ap.add_argument("--patience", type=int, default=2, help="evaluations without improvement before stopping")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4, help="learning rate of the LoRA adapters")
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06, help="fraction of steps with linear warm-up")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=int, default=32)
    ap.add_argument("--lora-layers", default=None, help="comma-separated encoder layers with adapters (default all)")
    ap.add_argument("--lora-targets", default="all-linear")
    ap.add_argument("--tune-offset", action="store_true", help="pick the global decision offset on --val (and select checkpoints by F1 at that offset)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--init-from", default=None,
                    help="start from this checkpoint's trained tensors (same encoder and LoRA shape)")
    ap.add_argument("--version", default=None, help="version string stored in the checkpoint")
    ap.add_argument("--save-every-best", action="store_true",
                    help="write the checkpoint at every val improvement, not only at the end")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_grouped_batches(pairs: Sequence[EntityPair], batch_size: int, rng: random.Random) -> List[List[int]]:
    """Shuffled batches of similar text length (less padding, a lot faster on CPU)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda j: len(pairs[j].text))
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


class LazyImageEncoder:
    def __init__(self, device):
        self.device, self._enc = device, None

    def __call__(self) -> ImageEncoder:
        if self._enc is None:
            self._enc = ImageEncoder().to(self.device)
        return self._enc


@torch.no_grad()
def predict_logits(model: GuideModel, tokenizer, pairs: Sequence[EntityPair], max_length: int, device,
                   images: LazyImageEncoder, batch_size: int = 64) -> torch.Tensor:
    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].text))
    out = torch.zeros((len(pairs), len(RELATIONS)))
    for k in range(0, len(order), batch_size):
        idx = order[k : k + batch_size]
        logits = forward_pairs(model, tokenizer, [pairs[i] for i in idx], max_length, device, images)
        out[idx] = logits.float().cpu()
    return out


def init_from(model: GuideModel, directory: str) -> None:
    """Continue training a saved checkpoint: load its trained tensors into a fresh, unmerged model."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(os.path.join(directory, WEIGHTS)).items()}
    missing = set(trained_state(model)) - set(state)
    if missing:
        raise ValueError(f"{directory} does not match this model (lacks {sorted(missing)[:3]})")
    model.load_state_dict(state, strict=False)


def evaluate_logits(logits: torch.Tensor, gold_ids: Sequence[int], offsets: Optional[torch.Tensor] = None) -> Dict:
    pred = [RELATIONS[i] for i in decide(logits, offsets).tolist()]
    return summary([RELATIONS[i] for i in gold_ids], pred)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    args.version = args.version or f"guide-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    device = pick_device(args.device)
    started = time.time()

    train = read_mnre(args.train, args.image_dir, args.limit_train)
    val = read_mnre(args.val, args.image_dir, args.limit_val)
    train_y = [label_id(p.gold) for p in train]
    val_y = [label_id(p.gold) for p in val]
    print(f"train {len(train)} pairs, val {len(val)} pairs, device {device}, threads {torch.get_num_threads()}",
          file=sys.stderr)

    mrda = MrdaConfig.parse(args.mrda)
    augment = Augmenter(mrda, build_inventory(train), seed=args.seed)
    layers = tuple(int(x) for x in args.lora_layers.split(",")) if args.lora_layers else None
    lora = LoraSpec(args.lora_r, args.lora_alpha, 0.1, args.lora_targets, layers)
    tokenizer = load_tokenizer(args.encoder)
    model = build_model(args.encoder, lora, len(RELATIONS))
    if args.init_from:
        init_from(model, args.init_from)
    model = model.to(device)
    images = LazyImageEncoder(device)

    priors = class_priors(train_y, len(RELATIONS))
    if args.loss == "ftl":
        criterion = FlexibleThresholdLoss(priors, args.tau).to(device)
    else:
        criterion = torch.nn.CrossEntropyLoss()

    head_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    enc_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    optimizer = torch.optim.AdamW(
        [{"params": enc_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
        weight_decay=args.weight_decay,
    )
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total = steps_per_epoch * args.epochs if args.max_steps is None else min(args.max_steps, steps_per_epoch * args.epochs)
    warm = max(1, int(total * args.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)) if s >= warm else (s + 1) / warm
    )
    eval_every = args.eval_every or steps_per_epoch

    from tqdm import tqdm

    batch_rng = random.Random(args.seed)
    best = {"f1": -1.0, "step": 0, "state": None, "metrics": None}
    history = []
    step, bad_evals, stop = 0, 0, False
    bar = tqdm(total=total, desc="train", unit="step", disable=args.quiet, dynamic_ncols=True, mininterval=2.0)
    running = None
    epoch = 0
    while not stop and step < total:
        epoch += 1
        for batch_idx in length_grouped_batches(train, args.batch_size, batch_rng):
            model.train()
            batch = [augment(train[i]) for i in batch_idx]
            labels = torch.tensor([train_y[i] for i in batch_idx], device=device)
            logits = forward_pairs(model, tokenizer, batch, args.max_length, device, images,
                                   image_transform=augment.image_transform())
            loss = criterion(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(enc_params + head_params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{running:.4f}", best_f1=f"{100 * max(best['f1'], 0):.2f}")
            if step % eval_every == 0 or step == total:
                val_logits = predict_logits(model, tokenizer, val, args.max_length, device, images, args.eval_batch_size)
                m = evaluate_logits(val_logits, val_y)
                if args.tune_offset:
                    # Select on what will be shipped: F1 at the decision offset tuned for these logits.
                    m["offset"], m["f1_at_offset"] = best_global_offset(val_logits, val_y)
                history.append({"step": step, "epoch": epoch, "loss": running, "val": m})
                msg = (f"epoch {epoch} step {step}/{total}: loss {running:.4f}  val micro-F1 {100 * m['f1']:.2f} "
                       f"(P {100 * m['precision']:.2f} R {100 * m['recall']:.2f} acc {100 * m['accuracy']:.2f})")
                if "offset" in m:
                    msg += f"; at tuned offset {m['offset']:+.1f}: {100 * m['f1_at_offset']:.2f}"
                bar.write(msg) if not args.quiet else print(msg, file=sys.stderr)
                score = m.get("f1_at_offset", m["f1"])
                if score > best["f1"]:
                    best = {"f1": score, "step": step, "metrics": m, "logits": val_logits,
                            "state": {k: v.detach().clone() for k, v in trained_state(model).items()}}
                    bad_evals = 0
                    if args.save_every_best:
                        write_checkpoint(model, args, argv, best, val_y, lora, mrda, len(train), len(val), step,
                                         epoch, history, started)
                else:
                    bad_evals += 1
                    if bad_evals >= args.patience:
                        bar.write(f"early stop: no val improvement in {bad_evals} evaluations")
                        stop = True
            if stop or step >= total:
                break
    bar.close()

    model.load_state_dict(best["state"], strict=False)
    final = write_checkpoint(model, args, argv, best, val_y, lora, mrda, len(train), len(val), step, epoch, history, started)
    print(f"saved {args.output} (version {final['version']}); val micro-F1 {100 * final['f1']:.2f} "
          f"P {100 * final['precision']:.2f} R {100 * final['recall']:.2f} acc {100 * final['accuracy']:.2f}")
    return 0


def write_checkpoint(model, args, argv, best, val_y, lora, mrda, n_train, n_val, step, epoch, history, started) -> Dict:
    """Save the model as it is now (the best so far) with thresholds tuned on its val logits."""
    thresholds = {"global_offset": 0.0, "per_class": {}}
    if args.tune_offset:
        off, _ = best_global_offset(best["logits"], val_y)
        thresholds["global_offset"] = off
    offsets = torch.zeros(len(RELATIONS))
    offsets[1:] = thresholds["global_offset"]
    final = evaluate_logits(best["logits"], val_y, offsets)
    version = args.version
    config = {
        "version": version,
        "encoder": args.encoder,
        "labels": list(RELATIONS),
        "max_length": args.max_length,
        "markers": {"head": ["«", "»"], "tail": ["{", "}"]},
        "lora": lora.to_json(),
        "head_hidden": 384,
        "image": {"backbone": "efficientnet-lite0", "feature_dim": 1280, "trained_with_images": bool(args.image_dir)},
        "thresholds": thresholds,
        "loss": {"name": args.loss, "tau": args.tau if args.loss == "ftl" else None},
        "mrda": mrda.describe(),
        "training": {
            "command": "mmkg train " + shlex.join(argv),
            "seed": args.seed,
            "train_pairs": n_train,
            "val_pairs": n_val,
            "steps": step,
            "best_step": best["step"],
            "epochs_started": epoch,
            "wall_seconds": round(time.time() - started),
            "val_at_best": best["metrics"],
            "val_final": final,
            "history": history,
        },
    }
    save_checkpoint(model, args.output, config)
    return dict(final, version=version)


if __name__ == "__main__":
    sys.exit(main())
