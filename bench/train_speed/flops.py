"""The physical limit: FLOPs of one UNet LoRA training step (torch's FLOP counter) and the machine's dense matmul
throughput per precision. Shared with bench/step-flops.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig
from torch.utils.flop_counter import FlopCounterMode

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
# The engine's speed module teaches torch's counter the CPU attention ops (one formula for the product and the bench).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine"))
from lora_scripts_engine import speed  # noqa: E402,F401


def matmul_throughput(dtype: torch.dtype, device: str = "cpu", size: int = 2048, repeats: int = 10) -> float:
    """Best-of-3 dense square matmul throughput in FLOP/s (2·n³ per product)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up: thread pool, kernels
    best = float("inf")
    for _ in range(3):
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * repeats / best


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def lora_unet(unet: torch.nn.Module, rank: int = 16) -> torch.nn.Module:
    """The UNet frozen, with a trainable rank-`rank` LoRA on the attention projections (what every trainer here trains)."""
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS))
    return unet.train()


def step_inputs(
    unet, latent_px: int, batch: int, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    latents = torch.randn(batch, unet.config.in_channels, latent_px, latent_px, device=device)
    hidden = torch.randn(batch, 77, unet.config.cross_attention_dim, device=device)
    timesteps = torch.randint(0, 1000, (batch,), device=device)
    return latents, hidden, timesteps


def training_step(unet, optimizer, inputs, dtype: torch.dtype, device: str = "cpu") -> None:
    """One UNet LoRA step: latents and text embeddings are inputs (frozen VAE/text encoder outputs, cached)."""
    latents, hidden, timesteps = inputs
    with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
        prediction = unet(latents, timesteps, hidden).sample
    loss = torch.nn.functional.mse_loss(prediction.float(), latents)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def as_the_engine_runs_it(unet: torch.nn.Module, dtype: torch.dtype, device: str = "cpu") -> torch.nn.Module:
    """A LoRA UNet set up as lora_scripts_engine sets it up for `dtype`: frozen weights stored in it, LoRA weights in
    fp32, channels-last, the engine's CPU bf16 kernels where it uses them (models.load_base_model, train.py's
    cast_training_params, speed.apply_fast_paths)."""
    from lora_scripts_engine.speed import kernels_off_message, use_training_kernels

    for parameter in unet.parameters():
        parameter.data = parameter.data.to(torch.float32 if parameter.requires_grad else dtype)
    unet.to(device, memory_format=torch.channels_last)
    kernels = use_training_kernels(unet, device, dtype, compiled=False)
    if kernels.off:  # the figures are then those of PyTorch's kernels, as the engine would run here
        print(kernels_off_message(kernels.off), file=sys.stderr)
    return unet


def count_step_flops(unet, latent_px: int, batch: int, dtype: torch.dtype, rank: int = 16) -> dict:
    """FLOPs of one training step, and whether the CPU attention ops were among what was counted."""
    unet = lora_unet(unet, rank)
    optimizer = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    with FlopCounterMode(display=False) as counter:
        training_step(unet, optimizer, step_inputs(unet, latent_px, batch), dtype)
    ops = {str(op) for op in counter.get_flop_counts()["Global"]}
    return {
        "flops": counter.get_total_flops(),
        "cpu_sdpa_counted": any("flash_attention_for_cpu" in op for op in ops),
    }
