"""What the packed-layer tests compare, with the engine's own self-check helpers (kernel_probe.py): a layer's output and
input gradient, called twice (the second call runs on the weights packed at the first), and the bf16 tolerance."""

from __future__ import annotations

import torch
from lora_scripts_engine.kernel_probe import BF16_TOLERANCE, output_and_input_gradient  # noqa: F401


def tolerance(dtype: torch.dtype) -> dict:
    return BF16_TOLERANCE if dtype == torch.bfloat16 else dict(rtol=1e-5, atol=1e-5)
