"""Training the NER student (``mmkg train-ner``, cli/train_ner.py) on CoNLL files (Twitter-2015/2017), select on valid.

MNRE split files may be given too (detected by their dict-literal lines): their heads and tails
are partial annotations (``ner_partial``), which teach the student MNRE's entity boundaries; as
``--val`` files they score the recall of the annotated spans. Each corpus keeps its own annotation
convention (ner_model.CONVENTIONS: CoNLL files are Twitter's, MNRE files MNRE's), and the model
is told which one a sentence follows; ``--serving-convention`` is the one the pipeline gets.

Seeded (same seed and thread count -> same run); validation entity F1 at every evaluation,
early stopping on it, and the best model saved with the exact command and the val history in its
config. With several ``--val`` files the selection score is the mean of their scores (micro-F1 for
CoNLL, span recall for MNRE), so one corpus cannot hide a regression on the other.
"""
from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from mmkg.ner.checkpoint import (
    build_ner_model,
    conventions_of,
    load_trained_tensors,
    read_ner_config,
    save_ner_checkpoint,
)
from mmkg.ner.data import TAGS, TaggedSentence, read_conll, repair, span_scores, spans_from_tags
from mmkg.ner.model import CONVENTIONS, encode_words
from mmkg.ner.partial import PartialSentence, is_mnre_file, read_mnre_partial, span_recall, training_mask
from mmkg.ner.settings import NerTrainSettings
from mmkg.ner.tagger import predict_tags
from mmkg.runtime.batching import length_grouped_batches
from mmkg.runtime.checkpoint_files import WEIGHTS
from mmkg.runtime.checkpoint_io import LoraSpec, load_tokenizer, trained_state
from mmkg.runtime.precision import resolve_device


class NerTrainer:
    def __init__(self, args: NerTrainSettings, device: torch.device, init: Optional[Dict] = None,
                 conventions: int = 1):
        """``init``: the config of the checkpoint ``args.init`` continues; its architecture wins.
        ``conventions``: how many annotation conventions the model learns (CONVENTIONS' first n)."""
        self.args, self.device, self.conventions = args, device, conventions
        if init:
            self.lora = LoraSpec.from_json(init["lora"]) if init.get("lora") else None
            dims = {"shape_dim": init["shape_dim"], "image_dim": init["image_dim"]}
        else:
            self.lora = LoraSpec(args.lora_r, args.lora_alpha, 0.1, "all-linear") if args.adapt == "lora" else None
            dims = {}
        self.tokenizer = load_tokenizer(args.encoder)
        self.model = build_ner_model(args.encoder, self.lora, freeze_word_embeddings=args.freeze_word_embeddings,
                                     conventions=conventions, **dims)
        self.init_version = init.get("version") if init else None
        if init:
            if len(conventions_of(init)) not in (1, conventions):
                raise SystemExit(f"--init {args.init}: trained on conventions {list(conventions_of(init))}, "
                                 f"this run uses {list(CONVENTIONS[:conventions])}")
            load_trained_tensors(self.model, os.path.join(args.init, WEIGHTS), new=("convention.weight",))
            self.model.crf.enforce()
        self.model.to(device)
        enc_lr = args.lr or (1e-3 if self.lora else 1e-4)
        groups: Dict[str, List[torch.nn.Parameter]] = {"encoder": [], "head": [], "crf": []}
        for n, p in self.model.named_parameters():
            if p.requires_grad:
                groups["encoder" if n.startswith("encoder.") else "crf" if n.startswith("crf.") else "head"].append(p)
        # No weight decay on the CRF: it would pull the pinned -1e4 transitions towards 0.
        self.optimizer = torch.optim.AdamW([
            {"params": groups["encoder"], "lr": enc_lr, "weight_decay": args.weight_decay},
            {"params": groups["head"], "lr": args.head_lr, "weight_decay": args.weight_decay},
            {"params": groups["crf"], "lr": args.crf_lr, "weight_decay": 0.0},
        ])
        self.params = [p for g in groups.values() for p in g]
        self.encoder_lr = enc_lr

    def schedule(self, total: int):
        from transformers import get_linear_schedule_with_warmup

        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, max(1, int(total * self.args.warmup)), total)

    def train_step(self, batch: Sequence[Union[TaggedSentence, PartialSentence]]) -> float:
        self.model.train()
        enc = encode_words(self.tokenizer, [s.tokens for s in batch], self.args.max_length).to(self.device)
        allowed = np.ones((len(batch), enc.word_mask.shape[1], len(TAGS)), dtype=bool)
        for b, s in enumerate(batch):
            allowed[b, : len(s.tokens)] = training_mask(s)
        convention = torch.tensor([self.convention_of(s) for s in batch], device=self.device)
        loss = self.model.partial_loss(self.model.emissions(enc, convention=convention),
                                       torch.from_numpy(allowed).to(self.device), enc.word_mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.model.crf.enforce()
        return loss.item()

    def convention_of(self, sentence) -> int:
        """CoNLL sentences follow Twitter's convention, partial (MNRE) ones MNRE's."""
        return int(self.conventions > 1 and isinstance(sentence, PartialSentence))

    def evaluate(self, val_sets: Dict[str, List]) -> Dict:
        files = {}
        for name, sents in val_sets.items():
            convention = self.convention_of(sents[0]) if sents else 0
            [pred] = predict_tags(self.model, self.tokenizer, [s.tokens for s in sents], self.args.max_length,
                                  self.device, convention=convention)
            spans = [spans_from_tags(p) for p in pred]
            if sents and isinstance(sents[0], PartialSentence):
                files[name] = span_recall(spans, sents)
            else:
                files[name] = span_scores(spans, [spans_from_tags(s.tags) for s in sents])["micro"]
        score = sum(file_score(m) for m in files.values()) / len(files)
        return {"score": score, "files": files}

    def snapshot(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in trained_state(self.model).items()}


def train_ner(settings: NerTrainSettings) -> Dict:
    """One training run; returns the best validation result (``score``, ``step``) with the version."""
    from tqdm import tqdm

    args = settings
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    version = args.version or f"ner-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    device = resolve_device(args.device)
    started = time.time()

    init = read_ner_config(args.init) if args.init else None
    if init:
        args = dataclasses.replace(args, encoder=init["encoder"],
                                   adapt=init.get("adapt") or ("lora" if init.get("lora") else "full"),
                                   freeze_word_embeddings=bool(init.get("freeze_word_embeddings", False)))
    train = [s for f in args.train for s in read_ner_file(f)]
    if args.limit_train:
        train = train[: args.limit_train]
    val = {f: read_ner_file(f)[: args.limit_val] for f in args.val}
    partial = sum(isinstance(s, PartialSentence) for s in train)
    print(f"train {len(train)} sentences ({partial} partially annotated) from {len(args.train)} files, "
          f"val {sum(map(len, val.values()))}, "
          f"device {device}, threads {torch.get_num_threads()}", file=sys.stderr)

    mixed = any(isinstance(s, PartialSentence) for s in train) and any(isinstance(s, TaggedSentence) for s in train)
    conventions = 1 if args.one_convention else max(2 if mixed else 1, len(conventions_of(init)) if init else 1)
    trainer = NerTrainer(args, device, init, conventions)
    steps_per_epoch = -(-len(train) // args.batch_size)
    total = steps_per_epoch * args.epochs if args.max_steps is None else min(args.max_steps, steps_per_epoch * args.epochs)
    trainer.schedule(total)
    eval_every = args.eval_every or steps_per_epoch
    rng = random.Random(args.seed)
    lengths = [len(s.tokens) for s in train]

    best: Dict = {"score": -1.0, "step": 0, "state": None, "val": None}
    history, step, epoch, bad, running, stop = [], 0, 0, 0, None, False
    bar = tqdm(total=total, desc="train-ner", unit="step", disable=args.quiet, dynamic_ncols=True, mininterval=2.0)
    say = bar.write if not args.quiet else (lambda m: print(m, file=sys.stderr))
    while not stop and step < total:
        epoch += 1
        for idx in length_grouped_batches(lengths, args.batch_size, rng):
            loss = trainer.train_step([train[i] for i in idx])
            step += 1
            running = loss if running is None else 0.95 * running + 0.05 * loss
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{running:.3f}", best=f"{100 * max(best['score'], 0):.2f}")
            if step % eval_every == 0 or step == total:
                m = trainer.evaluate(val)
                history.append({"step": step, "epoch": epoch, "loss": running, "val": m,
                                "seconds": round(time.time() - started)})
                say(f"epoch {epoch} step {step}/{total}: loss {running:.3f}  val mean F1 {100 * m['score']:.2f}  "
                    + "  ".join(f"{k.split('/')[-2] if '/' in k else k}: {100 * file_score(v):.2f}" for k, v in m["files"].items()))
                if m["score"] > best["score"]:
                    best = {"score": m["score"], "step": step, "state": trainer.snapshot(), "val": m}
                    bad = 0
                    write(trainer, args, version, best, history, step, started)
                else:
                    bad += 1
                    if bad >= args.patience:
                        say(f"early stop: no val improvement in {bad} evaluations")
                        stop = True
            if stop or step >= total:
                break
    bar.close()
    trainer.model.load_state_dict(best["state"], strict=False)
    write(trainer, args, version, best, history, step, started)
    return dict(best, version=version, output=args.output)


def read_ner_file(path: str) -> List[Union[TaggedSentence, PartialSentence]]:
    if is_mnre_file(path):
        return read_mnre_partial(path)
    return [TaggedSentence(s.image_id, s.tokens, repair(s.tags)) for s in read_conll(path)]


def file_score(metrics: Dict) -> float:
    """A val file's part of the selection score: micro-F1, or span recall for a partial file."""
    return metrics["f1"] if "f1" in metrics else metrics["recall"]


def write(trainer: NerTrainer, args: NerTrainSettings, version: str, best: Dict, history: List, step: int, started: float) -> None:
    """The best model so far, saved with everything that reproduces and judges it."""
    current = trainer.snapshot()
    trainer.model.load_state_dict(best["state"], strict=False)
    config = {
        "version": version,
        "encoder": args.encoder,
        "max_length": args.max_length,
        "lora": trainer.lora.to_json() if trainer.lora else None,
        "adapt": args.adapt,
        "freeze_word_embeddings": args.freeze_word_embeddings,
        "shape_dim": trainer.model.shape_output.embedding_dim,
        "conventions": list(CONVENTIONS[: trainer.conventions]),
        "serving_convention": args.serving_convention if trainer.conventions > 1 else CONVENTIONS[0],
        "image_dim": trainer.model.no_image.numel(),
        "image": {"backbone": "efficientnet-lite0", "feature_dim": 1280, "trained_with_images": False},
        "training": {
            "command": args.command,
            "initialised_from": trainer.init_version,
            "seed": args.seed,
            "encoder_lr": trainer.encoder_lr,
            "steps": step,
            "best_step": best["step"],
            "wall_seconds": round(time.time() - started),
            "val_at_best": best["val"],
            "history": history,
        },
    }
    save_ner_checkpoint(trainer.model, args.output, config)
    trainer.model.load_state_dict(current, strict=False)

