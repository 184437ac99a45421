"""Picks the device and compute dtype, each with the reason that is printed at start (nanochat's habit)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Compute:
    device: str
    dtype: torch.dtype
    reason: str

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def pick_compute(mixed_precision: str = "auto") -> Compute:
    if torch.cuda.is_available():
        if mixed_precision == "no":
            return Compute("cuda", torch.float32, "mixed_precision: no")
        if mixed_precision == "fp16":
            return Compute("cuda", torch.float16, "mixed_precision: fp16")
        if mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
            return Compute("cuda", torch.bfloat16, "mixed_precision: bf16" if mixed_precision == "bf16" else "CUDA device supports bf16")
        return Compute("cuda", torch.float16, "CUDA device without bf16 support")
    if torch.backends.mps.is_available():
        return Compute("mps", torch.float32, "Apple GPU (MPS): fp32 is the reliable choice there")
    if mixed_precision in ("fp16", "bf16"):
        return Compute("cpu", torch.float32, f"no GPU: {mixed_precision} is slower than fp32 on a CPU, so fp32 is used")
    return Compute("cpu", torch.float32, "no CUDA or MPS device: fp32 on the CPU")
