"""Training the guide on an MNRE split, selecting on a validation split, saving a checkpoint
(``mmkg train``, cli/train.py, parses its flags into a :class:`TrainSettings`).

Seeded and reproducible on a given machine (same seed, same thread count -> same run); early
stopping on validation micro-F1; the saved directory holds config.json (encoder, labels,
thresholds, version, the exact command) and the trained tensors in half precision.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from mmkg.guide.checkpoint import build_model, save_checkpoint
from mmkg.guide.ftl import FlexibleThresholdLoss, class_priors, decide
from mmkg.guide.metrics import best_global_offset, summary
from mmkg.guide.model import forward_pairs
from mmkg.guide.ner_types import type_pairs
from mmkg.guide.scorer import logits_in_order
from mmkg.guide.training.candidates import sample_share, student_detector, unannotated_candidates
from mmkg.guide.training.mrda import Augmenter, MrdaConfig, build_inventory
from mmkg.guide.training.settings import TrainSettings
from mmkg.guide.training.teacher import load as load_teacher
from mmkg.ner.tagger import NerStudent
from mmkg.runtime.batching import length_grouped_batches
from mmkg.runtime.checkpoint_io import LoraSpec, load_tokenizer, load_trained_state, trained_state
from mmkg.runtime.image_features import ImageEncoder
from mmkg.runtime.precision import resolve_device
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import EntityPair
from mmkg.schemas.relations import RELATIONS, label_id


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class LazyImageEncoder:
    def __init__(self, device):
        self.device, self._enc = device, None

    def __call__(self) -> ImageEncoder:
        if self._enc is None:
            self._enc = ImageEncoder().to(self.device)
        return self._enc


def distillation_loss(logits: torch.Tensor, teacher_log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at ``temperature``, scaled by T^2 so that its gradients keep their
    size as T changes (Hinton et al.)."""
    t = temperature
    target = torch.log_softmax(teacher_log_probs / t, dim=-1)
    return torch.nn.functional.kl_div(torch.log_softmax(logits / t, dim=-1), target, log_target=True,
                                      reduction="batchmean") * t * t


def evaluate_logits(logits: torch.Tensor, gold_ids: Sequence[int], offsets: Optional[torch.Tensor] = None) -> Dict:
    pred = [RELATIONS[i] for i in decide(logits, offsets).tolist()]
    return summary([RELATIONS[i] for i in gold_ids], pred)


@dataclass
class Best:
    """The best validation result so far, with what it takes to save it."""

    f1: float = -1.0
    step: int = 0
    metrics: Optional[Dict[str, Any]] = None
    logits: Optional[torch.Tensor] = None
    state: Optional[Dict[str, torch.Tensor]] = None


@dataclass
class Progress:
    step: int = 0
    epoch: int = 0
    loss: Optional[float] = None  # running mean
    history: List[Dict[str, Any]] = field(default_factory=list)


class Trainer:
    """One training run of the guide: :meth:`train_step`, :meth:`evaluate`, :meth:`save`, and
    :meth:`run` looping over them with early stopping on validation micro-F1."""

    def __init__(self, settings: TrainSettings, train: List[EntityPair], val: List[EntityPair],
                 typed_by: Optional[Dict[str, str]] = None, candidates: Optional[Dict[str, Any]] = None):
        """``typed_by``: the NER student that typed ``train`` and ``val`` (typed markers), or None."""
        self.settings, self.train, self.val = settings, train, val
        self.candidates = candidates  # how unannotated candidate pairs were added (None: not)
        args = settings
        self.typed_by = typed_by
        self.typed_markers = typed_by is not None
        self.train_y = [label_id(p.gold) for p in train]
        self.val_y = [label_id(p.gold) for p in val]
        self.device = resolve_device(args.device)
        self.started = time.time()
        self.mrda = MrdaConfig.parse(args.mrda)
        self.augment = Augmenter(self.mrda, build_inventory(train), seed=args.seed,
                                 label_counts=Counter(p.gold for p in train))
        layers = tuple(int(x) for x in args.lora_layers.split(",")) if args.lora_layers else None
        self.lora = LoraSpec(args.lora_r, args.lora_alpha, 0.1, args.lora_targets, layers) if args.adapt == "lora" else None
        self.tokenizer = load_tokenizer(args.encoder)
        self.freeze_word_embeddings = args.adapt == "full" and args.freeze_word_embeddings
        model = build_model(args.encoder, self.lora, len(RELATIONS), freeze_word_embeddings=self.freeze_word_embeddings)
        if args.init_from:
            load_trained_state(model, args.init_from)
        self.model = model.to(self.device)
        self.images = LazyImageEncoder(self.device)
        if args.loss == "ftl":
            self.criterion = FlexibleThresholdLoss(class_priors(self.train_y, len(RELATIONS)), args.tau).to(self.device)
        else:
            self.criterion = torch.nn.CrossEntropyLoss()
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        enc = [p for n, p in named if n.startswith("encoder.")]
        head = [p for n, p in named if not n.startswith("encoder.")]
        self.params = enc + head
        self.optimizer = torch.optim.AdamW(
            [{"params": enc, "lr": args.lr}, {"params": head, "lr": args.head_lr}], weight_decay=args.weight_decay
        )
        self.steps_per_epoch = math.ceil(len(train) / args.batch_size)
        self.total = self.steps_per_epoch * args.epochs
        if args.max_steps is not None:
            self.total = min(args.max_steps, self.total)
        # Imported here: transformers.optimization imports torch._inductor, which sets
        # TORCHINDUCTOR_CACHE_DIR in the environment, and importing a module must set none.
        from transformers import get_linear_schedule_with_warmup

        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(self.total * args.warmup), self.total
        )
        self.teacher = None
        if args.teacher:
            self.teacher = load_teacher(args.teacher, train).to(self.device)
        self.best = Best()
        self.progress = Progress()

    def train_step(self, batch_idx: Sequence[int]) -> float:
        self.model.train()
        batch = [self.augment(self.train[i]) for i in batch_idx]
        labels = torch.tensor([self.train_y[i] for i in batch_idx], device=self.device)
        logits = forward_pairs(self.model, self.tokenizer, batch, self.settings.max_length, self.device, self.images,
                               image_transform=self.augment.image_transform(), typed=self.typed_markers)
        loss = self.criterion(logits.float(), labels)
        if self.teacher is not None:
            loss = (1 - self.settings.distill_weight) * loss + self.settings.distill_weight * distillation_loss(
                logits.float(), self.teacher[list(batch_idx)], self.settings.distill_temperature)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()

    def evaluate(self) -> Dict[str, Any]:
        """Validation metrics now; a new best keeps its logits and weights. ``improved`` says so."""
        self.model.eval()
        args = self.settings
        logits = logits_in_order(
            lambda batch: forward_pairs(self.model, self.tokenizer, batch, args.max_length, self.device, self.images,
                                        typed=self.typed_markers),
            self.val, args.eval_batch_size,
        )
        m = evaluate_logits(logits, self.val_y)
        if args.tune_offset:
            # Select on what will be shipped: F1 at the decision offset tuned for these logits.
            m["offset"], m["f1_at_offset"] = best_global_offset(logits, self.val_y)
        p = self.progress
        p.history.append({"step": p.step, "epoch": p.epoch, "loss": p.loss, "val": m})
        score = m.get("f1_at_offset", m["f1"])
        m["improved"] = score > self.best.f1
        if args.snapshots:
            self.snapshot(os.path.join(args.snapshots, f"step-{p.step}"), m)
        if m["improved"]:
            state = {k: v.detach().clone() for k, v in trained_state(self.model).items()}
            self.best = Best(score, p.step, {k: v for k, v in m.items() if k != "improved"}, logits, state)
        return m

    def snapshot(self, directory: str, metrics: Dict[str, Any]) -> None:
        """The model as it is now, with this evaluation's metrics and no tuned thresholds."""
        config = dict(self._model_config(f"{self.settings.version}-step{self.progress.step}"),
                      thresholds={"global_offset": 0.0, "per_class": {}},
                      training={"command": self.settings.command, "step": self.progress.step,
                                "val": {k: v for k, v in metrics.items() if k != "improved"}})
        save_checkpoint(self.model, directory, config)

    def _model_config(self, version: Optional[str]) -> Dict[str, Any]:
        """What loading needs to rebuild this model (every checkpoint this run writes holds it)."""
        args = self.settings
        return {"version": version, "encoder": args.encoder, "max_length": args.max_length,
                "lora": self.lora.to_json() if self.lora else None, "adapt": args.adapt,
                "freeze_word_embeddings": self.freeze_word_embeddings,
                "image": {"trained_with_images": bool(args.image_dir)},
                "typed_markers": self.typed_by}

    def save(self) -> Dict[str, Any]:
        """Writes the model as it is now (the best so far) with thresholds tuned on its val logits."""
        args, best, p = self.settings, self.best, self.progress
        thresholds = {"global_offset": 0.0, "per_class": {}}
        if args.tune_offset:
            thresholds["global_offset"] = best_global_offset(best.logits, self.val_y)[0]
        offsets = torch.zeros(len(RELATIONS))
        offsets[1:] = thresholds["global_offset"]
        final = evaluate_logits(best.logits, self.val_y, offsets)
        config = {
            **self._model_config(args.version),
            "thresholds": thresholds,
            "loss": {"name": args.loss, "tau": args.tau if args.loss == "ftl" else None},
            "mrda": self.mrda.describe(),
            "candidate_negatives": self.candidates,
            "distillation": ({"teacher": args.teacher, "weight": args.distill_weight,
                              "temperature": args.distill_temperature} if args.teacher else None),
            "training": {
                "command": self.settings.command,
                "seed": args.seed,
                "train_pairs": len(self.train),
                "val_pairs": len(self.val),
                "steps": p.step,
                "best_step": best.step,
                "epochs_started": p.epoch,
                "wall_seconds": round(time.time() - self.started),
                "val_at_best": best.metrics,
                "val_final": final,
                "history": p.history,
            },
        }
        save_checkpoint(self.model, args.output, config)
        return dict(final, version=args.version)

    def run(self) -> Dict[str, Any]:
        args, p = self.settings, self.progress
        eval_every = args.eval_every or self.steps_per_epoch
        batch_rng = random.Random(args.seed)
        bar = tqdm(total=self.total, desc="train", unit="step", disable=args.quiet, dynamic_ncols=True, mininterval=2.0)
        say = bar.write if not args.quiet else (lambda msg: print(msg, file=sys.stderr))
        bad_evals = 0
        while p.step < self.total and bad_evals < args.patience:
            p.epoch += 1
            for batch_idx in length_grouped_batches([len(p.text) for p in self.train], args.batch_size, batch_rng):
                loss = self.train_step(batch_idx)
                p.step += 1
                p.loss = loss if p.loss is None else 0.95 * p.loss + 0.05 * loss
                bar.update(1)
                bar.set_postfix(epoch=p.epoch, loss=f"{p.loss:.4f}", best_f1=f"{100 * max(self.best.f1, 0):.2f}")
                if p.step % eval_every == 0 or p.step == self.total:
                    m = self.evaluate()
                    say(_eval_message(p, self.total, m))
                    bad_evals = 0 if m["improved"] else bad_evals + 1
                    if m["improved"] and args.save_every_best:
                        self.save()
                    if bad_evals >= args.patience:
                        say(f"early stop: no val improvement in {bad_evals} evaluations")
                        break
                if p.step >= self.total:
                    break
        bar.close()
        self.model.load_state_dict(self.best.state, strict=False)
        return self.save()


def _eval_message(p: Progress, total: int, m: Dict[str, Any]) -> str:
    msg = (f"epoch {p.epoch} step {p.step}/{total}: loss {p.loss:.4f}  val micro-F1 {100 * m['f1']:.2f} "
           f"(P {100 * m['precision']:.2f} R {100 * m['recall']:.2f} acc {100 * m['accuracy']:.2f})")
    if "offset" in m:
        msg += f"; at tuned offset {m['offset']:+.1f}: {100 * m['f1_at_offset']:.2f}"
    return msg


def train_guide(settings: TrainSettings) -> Dict[str, Any]:
    """One training run from ``settings``: reads the splits, types the pairs when asked, trains,
    saves the checkpoint; returns the final validation metrics with the version."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    seed_everything(settings.seed)
    if not settings.version:
        settings = dataclasses.replace(settings, version=f"guide-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
    train = read_mnre(settings.train, settings.image_dir, settings.limit_train)
    val = read_mnre(settings.val, settings.image_dir, settings.limit_val)
    typed_by = None
    if settings.typed_markers:
        student = NerStudent(settings.ner_checkpoint, settings.device)
        train, val = type_pairs(student, train), type_pairs(student, val)
        typed_by = {"ner": student.version, "convention": student.convention}
        untyped = sum(p.head.type is None or p.tail.type is None for p in train)
        print(f"typed by {student.version} ({student.convention}): {untyped} of {len(train)} train pairs have an untyped side",
              file=sys.stderr)
    candidates = None
    if settings.candidate_negatives > 0:
        student = NerStudent(settings.ner_checkpoint, settings.device)
        every = unannotated_candidates(train, student_detector(student))
        extra = sample_share(every, settings.candidate_negatives, settings.seed)
        candidates = {"share": settings.candidate_negatives, "unannotated": len(every), "added": len(extra),
                      "ner": student.version, "convention": student.convention}
        print(f"candidate negatives: {len(extra)} of {len(every)} unannotated candidate pairs of "
              f"{len({p.post_id for p in train})} training posts (NER {student.version})", file=sys.stderr)
        train = train + extra
    trainer = Trainer(settings, train, val, typed_by, candidates)
    print(f"train {len(train)} pairs, val {len(val)} pairs, device {trainer.device}, threads {torch.get_num_threads()}",
          file=sys.stderr)
    return trainer.run()
