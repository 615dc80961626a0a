"""Which number format a model computes in, chosen by the hardware: ``--precision auto`` is fp16
on CUDA, bf16 on CPUs with native bf16 matrix units (AMX-BF16 or AVX512-BF16), fp32 otherwise.

bf16 on a CPU without those units is emulated and slower than fp32, which is why ``auto`` asks
the hardware instead of always taking bf16. Models keep fp32 weights and run under autocast, so
the few numerically sensitive ops (softmax, layer norm, the CRF) stay in fp32.
"""
from __future__ import annotations

import contextlib
import functools

import torch

from mmkg.runtime.settings import PRECISIONS

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    try:
        # oneDNN's own check: AVX512-BF16 or AMX present (what its bf16 kernels need).
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                flags = f.read()
        except OSError:
            return False
        return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype for ``name`` (one of PRECISIONS) on ``device``."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else torch.float32
    if name == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is for CUDA; on a CPU use bf16 (or auto)")
    return _DTYPES[name]


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision for ``dtype`` on ``device``; a no-op for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` (or nothing): the GPU when there is one, else the CPU; anything else as named."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
