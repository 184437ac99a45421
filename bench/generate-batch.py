"""What does `generate` give up on the CPU by rendering a batch one image at a time (engine generate.py's
render_batch, which makes a batch image bit-identical to the single image)? Times one UNet step (a CFG pair per
image) and the VAE decode for 4 images, as one batch and one image at a time, for a random-weight SD 1.5-sized
UNet + VAE at 256 px, fp32, on the threads torch uses here. Prints one line per part.

Usage: ~/.cache/lora-scripts/engine-venv/bin/python bench/generate-batch.py [--size 256] [--images 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import diffusers
import torch

CONFIGS = Path(__file__).resolve().parents[1] / "engine" / "lora_scripts_engine" / "model_configs" / "sd15"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args()
    unet = diffusers.UNet2DConditionModel.from_config(
        diffusers.UNet2DConditionModel.load_config(CONFIGS / "unet")
    ).eval()
    vae = diffusers.AutoencoderKL.from_config(diffusers.AutoencoderKL.load_config(CONFIGS / "vae")).eval()
    side = args.size // 8
    text = torch.randn(1, 77, 768)

    def unet_step(images: int) -> None:
        unet(torch.randn(2 * images, 4, side, side), 500, encoder_hidden_states=text.expand(2 * images, 77, 768))

    def vae_decode(images: int) -> None:
        vae.decode(torch.randn(images, 4, side, side))

    with torch.no_grad():
        unet_step(1)  # warm-up: oneDNN builds its kernels on first use
        for name, part in [("UNet step", unet_step), ("VAE decode", vae_decode)]:
            start = time.perf_counter()
            part(args.images)
            batched = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(args.images):
                part(1)
            alone = time.perf_counter() - start
            print(
                f"{name}, {args.images} images at {args.size} px, {torch.get_num_threads()} threads: one batch "
                f"{batched:.2f} s, one image at a time {alone:.2f} s ({alone / batched:.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
