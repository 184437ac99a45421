"""Memory of a LoRA training step by resolution, batch size, precision and gradient checkpointing, measured.

Runs each setting in its own process (peak RSS only grows), on a random-weight SD 1.5-sized UNet with a rank-16 LoRA
on to_q/k/v/out (what `train` does with cached latents and text embeddings: the VAE and text encoder are not in the
step), and prints the peak RSS, the weights' share and the rest (activations + optimizer + workspace) as a Markdown
table. On a GPU the same tensors live in GPU memory, so the "step" column is the estimate of what a batch costs there
(plus ~0.5 GiB for the CUDA context and kernels); `README.md` (Speed and memory) quotes it.

Usage: ~/.cache/lora-scripts/engine-venv/bin/python bench/train-memory.py [--settings 256x1,256x2,256x4,512x1,512x1c]
       (a trailing `c`: gradient checkpointing; `--dtype bf16|fp32`)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_setting(resolution: int, batch: int, checkpointing: bool, dtype_name: str) -> dict:
    sys.path.insert(0, str(REPO / "engine"))
    import torch
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from lora_scripts_engine.tiny_models import MODEL_CONFIGS_DIR, materialize, read_config
    from peft import LoraConfig

    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(read_config(MODEL_CONFIGS_DIR / "sd15" / "unet"))
    unet = materialize(unet).to(dtype)
    with torch.no_grad():
        for p in unet.parameters():
            p.normal_(0, 0.02)  # touch every page: RSS must hold the weights before we measure the step
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=16, lora_alpha=16, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    for p in unet.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    if checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    weights_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    latent = resolution // 8
    latents = torch.randn(batch, 4, latent, latent)
    hidden = torch.randn(batch, 77, 768, dtype=dtype)
    for _ in range(2):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            prediction = unet(latents, torch.randint(0, 1000, (batch,)), hidden).sample
        torch.nn.functional.mse_loss(prediction.float(), latents).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "resolution": resolution,
        "batch": batch,
        "gradient_checkpointing": checkpointing,
        "dtype": dtype_name,
        "peak_gib": round(peak_mib / 1024, 2),
        "weights_gib": round(weights_mib / 1024, 2),
        "step_gib": round((peak_mib - weights_mib) / 1024, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", default="256x1,256x2,256x4,512x1,512x1c,512x2c")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        resolution, rest = args.one.split("x")
        print(json.dumps(one_setting(int(resolution), int(rest.rstrip("c")), rest.endswith("c"), args.dtype)))
        return
    rows = []
    for setting in args.settings.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", setting, "--dtype", args.dtype],
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        if out.returncode != 0:
            sys.exit(f"{setting} failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(
        f"| resolution | batch | gradient checkpointing | peak RSS | weights ({args.dtype} UNet + LoRA) | step (activations, optimizer) |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['resolution']} px | {r['batch']} | {'yes' if r['gradient_checkpointing'] else 'no'} | {r['peak_gib']} GiB | {r['weights_gib']} GiB | {r['step_gib']} GiB |"
        )


if __name__ == "__main__":
    main()
