"""Flags that several commands and tools share, declared once: where a model runs (torch-free,
so that parsing them does not import torch) and how a result prints."""
from __future__ import annotations

import argparse
from typing import Optional

from mmkg.runtime.settings import DEVICE_HELP, PRECISIONS


def add_device(ap: argparse.ArgumentParser, default: str = "auto", dest: str = "device", what: str = "") -> None:
    ap.add_argument("--device", dest=dest, default=default, help=DEVICE_HELP + (f" for {what}" if what else ""))


def add_precision(ap: argparse.ArgumentParser, default: str = "auto", dest: str = "precision") -> None:
    ap.add_argument("--precision", dest=dest, default=default, choices=PRECISIONS, type=str.lower,
                    help="number format: auto (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), "
                         "fp32, bf16 or fp16")


def add_threads(ap: argparse.ArgumentParser, default: Optional[int] = None, dest: str = "threads") -> None:
    ap.add_argument("--threads", dest=dest, type=int, default=default,
                    help="torch CPU threads (default: torch's choice)")


def add_json(ap: argparse.ArgumentParser, what: str = "print one JSON object instead of tables") -> None:
    ap.add_argument("--json", action="store_true", help=what)
