"""How close is a LoRA training step to what this machine can do, and does the batch size change that? Measures the
matmul throughput of the CPU/GPU in fp32 and bf16 (before and after the steps: the machine's speed drifts), counts the
FLOPs of one UNet LoRA training step (forward + backward, torch's FLOP counter) and times that step in fp32 and in bf16
for each batch size, for the demo base model at 64 px and a random-weight SD 1.5-sized UNet at 256 px. Prints JSON.

The UNet is set up as the engine runs it in that precision (bench/train_speed/flops.py's as_the_engine_runs_it: its
CPU bf16 kernels, LoRA weights in fp32, channels-last). Only the UNet step is measured (latents and text embeddings
are inputs): the VAE and text encoder are frozen, so a trainer that caches their outputs pays for them once. The
batch sizes take turns step by step, so a slow minute of the machine falls on all of them.

Usage: ~/.cache/lora-scripts/engine-venv/bin/python bench/step-flops.py [--steps 5] [--models demo,sd15] [--batches 1,2,4]
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
from lora_scripts_engine.speed import make_optimizer  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from train_speed.flops import as_the_engine_runs_it, lora_unet, matmul_throughput, step_inputs, sync, training_step  # noqa: E402

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def unet_for(model: str) -> tuple[torch.nn.Module, int]:
    """(UNet, latent size) of the demo model or a random SD 1.5-shaped UNet."""
    if model == "demo":
        from lora_scripts_engine.models import load_base_model

        return load_base_model(str(REPO / "models" / "demo-sd1.safetensors")).unet, 64 // 4  # the demo VAE is f=4
    from lora_scripts_engine.tiny_models import build_full_size_sd15

    return build_full_size_sd15(seed=0).unet, 256 // 8


def measure(model: str, precision: str, batches: list[int], steps: int, device: str) -> dict:
    dtype = PRECISIONS[precision]
    unet, latent_px = unet_for(model)
    unet = as_the_engine_runs_it(lora_unet(unet), dtype, device)
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = make_optimizer(
        [{"params": params, "lr": 1e-4}], "adamw", weight_decay=1e-2, device=device
    )  # the engine's (fused) AdamW
    inputs, flops, times = {}, {}, {batch: [] for batch in batches}
    for batch in batches:
        inputs[batch] = step_inputs(unet, latent_px, batch, device)
        with FlopCounterMode(display=False) as counter:  # also the warm-up: packed weights are made on the first call
            training_step(unet, optimizer, inputs[batch], dtype, device)
        flops[batch] = counter.get_total_flops()
    for _ in range(steps):
        for batch in batches:
            sync(device)
            start = time.perf_counter()
            training_step(unet, optimizer, inputs[batch], dtype, device)
            sync(device)
            times[batch].append(time.perf_counter() - start)
    medians = {batch: statistics.median(times[batch]) for batch in batches}
    return {
        batch: {
            "step_gflop": round(flops[batch] / 1e9, 2),
            "median_step_s": round(medians[batch], 4),
            "achieved_gflops": round(flops[batch] / medians[batch] / 1e9, 1),
        }
        for batch in batches
    }


def peaks(device: str) -> dict:
    return {name: round(matmul_throughput(dtype, device) / 1e9, 1) for name, dtype in PRECISIONS.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", default="demo,sd15")
    parser.add_argument("--batches", default="1,2,4")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batches = [int(b) for b in args.batches.split(",")]
    report = {
        "machine": {
            "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "matmul_peak_gflops_before": peaks(device),
        "steps": [],
    }
    for model in args.models.split(","):
        for precision in PRECISIONS:
            for batch, result in measure(model, precision, batches, args.steps, device).items():
                result.update(
                    model=model,
                    precision=precision,
                    batch=batch,
                    share_of_matmul_peak=round(
                        result["achieved_gflops"] / report["matmul_peak_gflops_before"][precision], 3
                    ),
                )
                report["steps"].append(result)
                print(
                    f"{model} {precision} batch {batch}: {result['step_gflop']} GFLOP/step, {result['median_step_s']} s, "
                    f"{result['achieved_gflops']} GFLOP/s = {result['share_of_matmul_peak']:.0%} of the {precision} matmul peak",
                    file=sys.stderr,
                )
    report["matmul_peak_gflops_after"] = peaks(device)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
