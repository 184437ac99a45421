"""Attention for bf16 training on a CPU: softmax(q·kᵀ)·v as plain matrix products, a few heads at a time.

PyTorch 2.13's CPU flash-attention kernel is built for long sequences that don't fit in memory; with SD 1.5's 40- to
160-wide heads at training resolutions it reaches 40–95 GFLOP/s (forward + backward) where the same products as plain
bf16 matrix products reach 100–170. When the attention probabilities are small enough to keep, computing them with
matrix products and keeping them for the backward pass is faster, and doing it a few heads at a time keeps each
block of scores in the CPU's cache between the product, the softmax and the next product. Measured on 2 cores
(forward + backward, ms): 1024 × 1024 tokens, 40-wide heads 43 → 23–35; 1024 × 77 (cross-attention) 7.6 → 4.2;
256 × 256, 80-wide 7.8 → 4.2; 64 × 64, 160-wide 2.0 → 1.1. In fp32 the flash kernel is faster and is kept.

The probabilities are kept in bf16 for the backward pass, as PyTorch's own math attention does under autocast; what
it costs in memory is bounded by `MAX_KEPT_BYTES` per call, beyond which the flash kernel runs as before.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch.overrides import TorchFunctionMode

MAX_KEPT_BYTES = 64 * 2**20  # per attention call; SD 1.5 at 256 px keeps 16 MiB per self-attention at batch 1
SCORES_BLOCK_BYTES = 4 * 2**20  # scores of this many bytes per block stay in cache (best of 2, 3, 4, 8 MiB measured)


class KeptProbabilitiesAttention(torch.autograd.Function):
    """softmax(q·kᵀ·scale)·v for (batch, heads, tokens, width) tensors, with the probabilities kept for the backward."""

    @staticmethod
    def forward(ctx, query, key, value, scale):
        batch, heads = query.shape[:2]
        query = (query * scale).reshape(batch * heads, *query.shape[2:])  # scaled once here, not the scores
        key, value = (t.reshape(batch * heads, *t.shape[2:]) for t in (key, value))
        output = query.new_empty(batch * heads, query.shape[1], value.shape[2])
        probabilities = query.new_empty(batch * heads, query.shape[1], key.shape[1])
        for block in head_blocks(probabilities):
            probabilities[block] = torch.softmax(torch.bmm(query[block], key[block].transpose(1, 2)), dim=-1)
            torch.bmm(probabilities[block], value[block], out=output[block])
        ctx.save_for_backward(query, key, value, probabilities)
        ctx.scale, ctx.batch_heads = scale, (batch, heads)
        return output.view(batch, heads, *output.shape[1:])

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, probabilities = ctx.saved_tensors
        grad_output = grad_output.reshape(query.shape[0], query.shape[1], value.shape[2])
        grad_query, grad_key, grad_value = torch.empty_like(query), torch.empty_like(key), torch.empty_like(value)
        for block in head_blocks(probabilities):
            kept = probabilities[block]
            torch.bmm(kept.transpose(1, 2), grad_output[block], out=grad_value[block])
            grad_scores = torch._softmax_backward_data(
                torch.bmm(grad_output[block], value[block].transpose(1, 2)), kept, -1, kept.dtype
            )
            torch.bmm(grad_scores, key[block], out=grad_query[block])
            torch.bmm(grad_scores.transpose(1, 2), query[block], out=grad_key[block])
        grad_query.mul_(ctx.scale)  # the query was scaled before the product
        return (*(t.view(*ctx.batch_heads, *t.shape[1:]) for t in (grad_query, grad_key, grad_value)), None)


def head_blocks(probabilities: torch.Tensor):
    """Slices of (batch·heads) whose scores take about SCORES_BLOCK_BYTES."""
    per_head = probabilities[0].numel() * probabilities.element_size()
    step = max(1, SCORES_BLOCK_BYTES // per_head)
    return (slice(start, start + step) for start in range(0, probabilities.shape[0], step))


def kept_attention_call(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """(query, key, value, scale) where KeptProbabilitiesAttention takes the call over, else None: only the plain case
    diffusers' UNet training calls, in bf16 on a CPU, with probabilities small enough to keep (F.sdpa's signature)."""
    plain = attn_mask is None and dropout_p == 0.0 and not is_causal and not enable_gqa
    if not (
        plain
        and torch.is_grad_enabled()
        and query.dim() == key.dim() == value.dim() == 4
        and query.device.type == "cpu"
        and query.dtype == key.dtype == value.dtype == torch.bfloat16
    ):
        return None
    kept_bytes = query.shape[0] * query.shape[1] * query.shape[2] * key.shape[2] * query.element_size()
    if kept_bytes > MAX_KEPT_BYTES:
        return None
    return query, key, value, query.shape[-1] ** -0.5 if scale is None else scale


class KeptProbabilitiesMode(TorchFunctionMode):
    """Routes F.scaled_dot_product_attention to KeptProbabilitiesAttention where `kept_attention_call` says so."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            call = kept_attention_call(*args, **kwargs)
            if call is not None:
                return KeptProbabilitiesAttention.apply(*call)
        return func(*args, **kwargs)


class KeptProbabilitiesProcessor(AttnProcessor2_0):
    """diffusers' SDPA processor, unchanged but for the attention product itself (the mode is active only here, so
    nothing outside attention pays for it)."""

    def __call__(self, *args, **kwargs):
        with KeptProbabilitiesMode():
            return super().__call__(*args, **kwargs)


def use_kept_probabilities_attention(unet: torch.nn.Module) -> int:
    """Switches every attention layer that runs diffusers' SDPA processor; returns how many."""
    layers = [m for m in unet.modules() if isinstance(m, Attention) and type(m.processor) is AttnProcessor2_0]
    for layer in layers:
        layer.set_processor(KeptProbabilitiesProcessor())
    return len(layers)
