"""Frozen linear layers with their weights packed once for oneDNN (CPU bf16 training only): packed_conv.py's idea for
the attention projections and feed-forward layers.

A plain bf16 linear layer hands oneDNN a PyTorch-layout weight that is reordered at every call, and its input gradient
multiplies by the transposed weight, reordered again. Packing both once (the weight for the forward pass, its
transpose for the input gradient, each in oneDNN's blocked layout for the first call's row count) skips that.
Measured alone on 2 cores in bf16 (forward + input gradient, GFLOP/s): 64 × 1280 → 1280 from 313 to 425, 16 × 1280 →
10240 from 176 to 339, 1024 × 320 → 320 from 379 to 399: the fewer the rows, the more the reorder weighed.

The plain weight is released once packed (training reads only the LoRA weights), so the two packed copies cost one
extra copy of the linear weights.
"""

from __future__ import annotations

import torch

from .packed_conv import PACKABLE_DTYPES, switch_frozen_layers

mkldnn = torch.ops.mkldnn


class PackedWeights:
    def __init__(self, linear: torch.nn.Linear, rows: int):
        weight = linear.weight.detach()
        self.forward = mkldnn._reorder_linear_weight(weight.contiguous(), rows)
        self.backward = mkldnn._reorder_linear_weight(weight.t().contiguous(), rows)  # grad_input = grad @ weight
        linear.weight.data = torch.empty(0, dtype=weight.dtype)  # released: see the module docstring


class PackedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, bias, linear):
        ctx.linear = linear
        return mkldnn._linear_pointwise(x, linear._packed_weights.forward, bias, "none", [], "")

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        grad_input = mkldnn._linear_pointwise(
            grad.contiguous(), ctx.linear._packed_weights.backward, None, "none", [], ""
        )
        return grad_input, None, None


def packed_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    # Under autocast a plain linear layer runs in the autocast dtype, which the frozen weights are stored in.
    x = x.to(self._packed_dtype).contiguous()
    if not hasattr(self, "_packed_weights"):
        self._packed_weights = PackedWeights(
            self, x.numel() // x.shape[-1]
        )  # on the first call: the layout depends on the row count
    bias = None if self.bias is None else self.bias.detach()
    return PackedLinear.apply(x, bias, self)


def is_packable(linear: torch.nn.Module) -> bool:
    return (
        type(linear) is torch.nn.Linear
        and linear.weight.dtype in PACKABLE_DTYPES
        and linear.weight.device.type == "cpu"
        and not linear.weight.requires_grad
        and (linear.bias is None or not linear.bias.requires_grad)
    )


def pack_frozen_linears(module: torch.nn.Module) -> int:
    """Switches every frozen linear layer under `module` to weights packed on its first call; returns how many."""
    return switch_frozen_layers(module, is_packable, packed_forward)
