"""What the packed-layer tests compare: a layer's output and input gradient, called twice (the second call runs on
the weights packed at the first)."""
from __future__ import annotations

import torch


def output_and_input_gradient(layer: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    for _ in range(2):
        leaf = x.clone().requires_grad_(True)
        out = layer(leaf)
        (out.float() * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
    return out.detach().float(), leaf.grad.float()


def tolerance(dtype: torch.dtype) -> dict:
    return dict(rtol=2e-2, atol=2e-2) if dtype == torch.bfloat16 else dict(rtol=1e-5, atol=1e-5)
