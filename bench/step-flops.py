"""How close is a LoRA training step to what this machine can do? Measures the matmul throughput of the CPU/GPU in
fp32 and bf16, counts the FLOPs of one UNet LoRA training step (forward + backward, torch's FLOP counter) and times
that step, for the demo base model at 64 px and a random-weight SD 1.5-sized UNet at 256 px. Prints JSON.

Only the UNet step is measured (latents and text embeddings are inputs): the VAE and text encoder are frozen, so a
trainer that caches their outputs pays for them once, not per step.

Usage: ~/.cache/lora-scripts/engine-venv/bin/python bench/step-flops.py [--steps 5] [--models demo,sd15]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "engine"))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from peft import LoraConfig  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from train_speed.flops import matmul_throughput, sync  # noqa: E402  (importing it registers the CPU attention FLOP formulas)


def unet_for(model: str):
    """(UNet, latent size, batch, text width) of the demo model or a random SD 1.5-shaped UNet."""
    if model == "demo":
        from lora_scripts_engine.models import load_base_model

        base = load_base_model(str(REPO / "models" / "demo-sd1.safetensors"))
        return base.unet, 64 // 4, 8, base.unet.config.cross_attention_dim  # the demo VAE is f=4
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from lora_scripts_engine.tiny_models import MODEL_CONFIGS_DIR, materialize, read_config

    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(read_config(MODEL_CONFIGS_DIR / "sd15" / "unet"))
    return materialize(unet), 256 // 8, 1, 768


def measure_step(model: str, steps: int, device: str) -> dict:
    unet, latent_px, batch, width = unet_for(model)
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=16, lora_alpha=16, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    unet.to(device).train()
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    latents = torch.randn(batch, 4, latent_px, latent_px, device=device)
    hidden = torch.randn(batch, 77, width, device=device)
    timesteps = torch.randint(0, 1000, (batch,), device=device)

    def step(dtype: torch.dtype) -> None:
        with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
            prediction = unet(latents, timesteps, hidden).sample
        loss = torch.nn.functional.mse_loss(prediction.float(), latents)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        step(torch.float32)
    flops = counter.get_total_flops()
    result = {"model": model, "latent_px": latent_px, "batch": batch, "lora_rank": 16, "trainable_params": sum(p.numel() for p in params), "step_gflop": round(flops / 1e9, 2)}
    for name, dtype in (("fp32", torch.float32), ("bf16_autocast", torch.bfloat16)):
        step(dtype)  # warm-up
        times = []
        for _ in range(steps):
            sync(device)
            start = time.perf_counter()
            step(dtype)
            sync(device)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        result[name] = {"median_step_s": round(median, 4), "achieved_gflops": round(flops / median / 1e9, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", default="demo,sd15")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    peak = {"fp32": matmul_throughput(torch.float32, device), "bf16_autocast": matmul_throughput(torch.bfloat16, device)}
    report = {
        "machine": {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "matmul_peak_gflops": {k: round(v / 1e9, 1) for k, v in peak.items()},
        "steps": [],
    }
    for model in args.models.split(","):
        result = measure_step(model, args.steps, device)
        for precision in ("fp32", "bf16_autocast"):
            result[precision]["share_of_matmul_peak"] = round(result[precision]["achieved_gflops"] * 1e9 / peak[precision], 3)
        report["steps"].append(result)
        print(f"{model}: {result['step_gflop']} GFLOP/step; fp32 {result['fp32']['median_step_s']} s ({result['fp32']['share_of_matmul_peak']:.0%} of matmul peak), "
              f"bf16 {result['bf16_autocast']['median_step_s']} s ({result['bf16_autocast']['share_of_matmul_peak']:.0%})", file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
