"""Attention with kept probabilities computes what PyTorch's attention computes, and steps aside where it should."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lora_scripts_engine import cpu_attention
from lora_scripts_engine.cpu_attention import KeptProbabilitiesAttention, KeptProbabilitiesMode


@pytest.mark.parametrize(
    "queries, keys, width, block_bytes", [(64, 64, 40, 4 * 2**20), (64, 77, 40, 20000), (16, 16, 160, 1)]
)
def test_kept_probabilities_attention_matches_fp32_attention(monkeypatch, queries, keys, width, block_bytes):
    """Output and all three gradients, in diffusers' (batch, heads, tokens, width) view of (batch, tokens, heads·width),
    whole or a few heads at a time (block_bytes)."""
    monkeypatch.setattr(cpu_attention, "SCORES_BLOCK_BYTES", block_bytes)
    torch.manual_seed(0)
    inputs = [torch.randn(2, n, 4, width).transpose(1, 2) for n in (queries, keys, keys)]
    grad = torch.randn(2, 4, queries, width)
    results = {}
    for name, dtype in (("reference", torch.float32), ("kept", torch.bfloat16)):
        leaves = [t.detach().to(dtype).requires_grad_(True) for t in inputs]
        if name == "kept":
            out = KeptProbabilitiesAttention.apply(*leaves, width**-0.5)
        else:
            out = F.scaled_dot_product_attention(*leaves)
        out.backward(grad.to(dtype))
        results[name] = [t.float() for t in (out, *(leaf.grad for leaf in leaves))]
    for kept, reference in zip(results["kept"], results["reference"]):
        assert kept.shape == reference.shape
        torch.testing.assert_close(kept, reference, rtol=0, atol=0.03 * reference.abs().max().item())


def test_the_mode_takes_over_only_bf16_training_attention_without_masks():
    q = torch.randn(1, 2, 8, 16, dtype=torch.bfloat16, requires_grad=True)
    calls = []
    original = KeptProbabilitiesAttention.apply
    KeptProbabilitiesAttention.apply = lambda *args: calls.append(args) or original(*args)
    try:
        with KeptProbabilitiesMode():
            F.scaled_dot_product_attention(q, q, q)  # taken over
            F.scaled_dot_product_attention(q, key=q, value=q, scale=0.5)  # taken over, with its own scale
            F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(8, 8, dtype=torch.bool))
            F.scaled_dot_product_attention(q.float(), q.float(), q.float())
            with torch.no_grad():  # sampling: nothing to keep for
                F.scaled_dot_product_attention(q, q, q)
    finally:
        KeptProbabilitiesAttention.apply = original
    assert [call[3] for call in calls] == [16**-0.5, 0.5]
