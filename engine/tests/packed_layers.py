"""What the packed-layer tests compare, with the engine's own self-check helpers (kernel_probe.py): a layer's output and
input gradient, called twice (the second call runs on the weights packed at the first), and the bf16 tolerance."""

from __future__ import annotations

import pytest
import torch
from lora_scripts_engine.kernel_probe import BF16_TOLERANCE, output_and_input_gradient  # noqa: F401


def tolerance(dtype: torch.dtype) -> dict:
    return BF16_TOLERANCE if dtype == torch.bfloat16 else dict(rtol=1e-5, atol=1e-5)


def why_no_bf16_packing() -> str | None:
    """Why oneDNN cannot pack bf16 weights on this CPU (it needs AVX-512 BW/VL/DQ or AVX-NE-CONVERT; an AVX2-only CPU
    has neither), else None. kernel_probe then keeps the packed families off, and the tests that run them skip."""
    reorder = getattr(torch.ops.mkldnn, "_reorder_linear_weight", None)
    if reorder is None or not torch.backends.mkldnn.is_available():
        return None  # no such op at all: the probe's missing-op path, which its own tests cover
    try:
        reorder(torch.zeros(8, 8, dtype=torch.bfloat16), 7)
    except RuntimeError as error:
        if "bf16 path needs the cpu support" in str(error):
            return str(error).splitlines()[0]
        raise
    return None


NO_BF16_PACKING = why_no_bf16_packing()
# For the tests that run packed bf16 layers: on a CPU without oneDNN's bf16 path they cannot run (the product keeps
# them off there: test_cpu_bf16_kernels.py checks that it says so).
needs_bf16_packing = pytest.mark.skipif(NO_BF16_PACKING is not None, reason=f"this CPU: {NO_BF16_PACKING}")
