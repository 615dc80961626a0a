"""What a model runs on, as flags name it: read without torch, so that parsing the flags of a
command does not import it (runtime.precision resolves these names against the hardware)."""
from __future__ import annotations

# Number formats a model may compute in (``--precision``): ``auto`` is fp16 on CUDA, bf16 on CPUs
# with native bf16, fp32 otherwise.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# ``--device``: ``auto`` is the GPU when there is one; otherwise ``cpu`` or ``cuda[:N]``.
DEVICE_HELP = "auto (the GPU when there is one), cpu or cuda[:N]"
