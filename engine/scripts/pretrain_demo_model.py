"""Pretrains the demo base model: a tiny Stable Diffusion 1.x (CLIP text encoder with the real tokenizer, UNet, VAE)
on the sample scenes, then exports it as one single-file checkpoint in the SD 1.x layout.

Phases, each resumable (state in --state, saved every few minutes; rerun the same command to continue):
  vae   the image codec, trained on every style (the target style included: a VAE that never saw a palette
        decodes it wrongly, and no UNet LoRA could then show it)
  unet  UNet + text encoder on cached latents of every style except the target one
  export  single-file .safetensors (fp16), loadable by engine/lora_scripts_engine/models.py like any SD 1.5 file

Usage (data from `lora-scripts demo-data --style all`):
  python engine/scripts/pretrain_demo_model.py --data DIR --state STATE_DIR --phase vae --minutes 20
  python engine/scripts/pretrain_demo_model.py --data DIR --state STATE_DIR --phase unet --minutes 60
  python engine/scripts/pretrain_demo_model.py --data DIR --state STATE_DIR --phase export --out models/demo-sd1.safetensors
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel  # noqa: E402
from lora_scripts_engine.models import MODEL_CONFIGS_DIR, BaseModel, sampling_scheduler_from_folder, shipped_tokenizers  # noqa: E402
from lora_scripts_engine.single_file import save_single_file  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

TARGET_STYLE = "jiangnan"
# 64 px images, VAE downsampling 4 → 16×16×4 latents: sharper than SD's f=8 at this size, still cheap for the UNet.
VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    layers_per_block=1,
    norm_num_groups=16,
    sample_size=64,
    block_out_channels=[32, 64, 64],
    down_block_types=["DownEncoderBlock2D"] * 3,
    up_block_types=["UpDecoderBlock2D"] * 3,
)
UNET_CONFIG = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    layers_per_block=1,
    block_out_channels=[64, 128, 128],
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    cross_attention_dim=128,
    attention_head_dim=4,
    norm_num_groups=32,
)
TEXT_CONFIG = dict(
    vocab_size=49408,
    max_position_embeddings=77,
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=3,
    num_attention_heads=4,
    hidden_act="quick_gelu",
    projection_dim=128,
    bos_token_id=0,
    eos_token_id=2,
    pad_token_id=1,
)
# A GPU turns the hour of CPU pretraining into minutes; bf16 autocast is a win on both (2.3x for the VAE on CPU).
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def read_dataset(folder: Path) -> tuple[torch.Tensor, list[str], list[bool]]:
    """All images of `folder` (and its sub-folders' metadata.csv files) as uint8 [N,3,64,64], captions, is-target flags."""
    images, captions, is_target = [], [], []
    for metadata in sorted(folder.rglob("metadata.csv")):
        with open(metadata, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                with Image.open(metadata.parent / row["file_name"]) as image:
                    images.append(np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)))
                captions.append(row["caption"])
                is_target.append(TARGET_STYLE in row["caption"].lower() or row["file_name"].startswith(TARGET_STYLE))
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    log(f"read {len(captions)} images ({sum(is_target)} of the target style) from {folder}")
    return pixels, captions, is_target


def to_unit(pixels_u8: torch.Tensor) -> torch.Tensor:
    return pixels_u8.float() / 127.5 - 1.0


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


class Checkpointer:
    """Saves and restores a phase's modules, optimizer, step and RNG in --state, so a killed run loses minutes at most."""

    EVERY_SECONDS = 300

    def __init__(self, state_dir: Path, phase: str):
        self.path = state_dir / f"{phase}.pt"
        self.last_save = time.time()
        state_dir.mkdir(parents=True, exist_ok=True)

    def save_if_due(self, state) -> None:
        """`state` is a function: the state dict is only built when a save is due."""
        if time.time() - self.last_save > self.EVERY_SECONDS:
            self.save(state())

    def load(self) -> dict | None:
        return torch.load(self.path, weights_only=False, map_location=DEVICE) if self.path.exists() else None

    def save(self, state: dict) -> None:
        temp = self.path.with_suffix(".tmp")
        torch.save(state, temp)
        os.replace(temp, self.path)
        self.last_save = time.time()


def train_vae(pixels: torch.Tensor, state_dir: Path, minutes: float, batch_size: int = 32, lr: float = 6e-4) -> None:
    vae = AutoencoderKL(**VAE_CONFIG).to(DEVICE)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    checkpoint = Checkpointer(state_dir, "vae")
    step, generator = 0, torch.Generator().manual_seed(0)
    if saved := checkpoint.load():
        vae.load_state_dict(saved["model"]), optimizer.load_state_dict(saved["optimizer"])
        step = saved["step"]
        generator.set_state(saved["rng"].cpu())
        log(f"vae: resumed at step {step}")
    log(f"vae: {sum(p.numel() for p in vae.parameters()) / 1e6:.2f} M parameters")
    deadline, smoothed = time.time() + minutes * 60, None

    def state() -> dict:
        return {
            "model": vae.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": generator.get_state(),
        }

    while time.time() < deadline:
        index = torch.randint(0, len(pixels), (batch_size,), generator=generator)
        x = to_unit(pixels[index]).to(DEVICE)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            posterior = vae.encode(x).latent_dist
            recon = vae.decode(posterior.sample(generator=None)).sample
        recon = recon.float()
        # L1 keeps colours exact; the gradient term keeps edges (walls, roofs, bridges) from melting into blobs.
        l1 = (recon - x).abs().mean()
        edges = sum((a - b).abs().mean() for a, b in zip(image_gradients(recon), image_gradients(x)))
        kl = posterior.kl().mean()
        loss = l1 + 0.5 * edges + 1e-6 * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        step += 1
        smoothed = float(l1) if smoothed is None else 0.98 * smoothed + 0.02 * float(l1)
        if step % 50 == 0:
            log(f"vae step {step}: L1 {smoothed:.4f}")
        checkpoint.save_if_due(state)
    checkpoint.save(state())
    log(f"vae: saved at step {step}")


def load_vae(state_dir: Path) -> AutoencoderKL:
    vae = AutoencoderKL(**VAE_CONFIG)
    vae.load_state_dict({k: v.cpu() for k, v in Checkpointer(state_dir, "vae").load()["model"].items()})
    return vae.eval().requires_grad_(False)


def cache_latents(
    vae: AutoencoderKL, pixels: torch.Tensor, state_dir: Path
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Posterior mean and std of every image, computed once; plus the scaling factor that gives latents unit variance."""
    path = state_dir / "latents.pt"
    if path.exists():
        cached = torch.load(path, map_location="cpu")
        if cached["count"] == len(pixels):
            return cached["mean"], cached["std"], cached["scaling_factor"]
    means, stds = [], []
    with torch.no_grad():
        for start in range(0, len(pixels), 256):
            dist = vae.encode(to_unit(pixels[start : start + 256])).latent_dist
            means.append(dist.mean), stds.append(dist.std)
    mean, std = torch.cat(means), torch.cat(stds)
    scaling_factor = float(1.0 / mean.std())
    torch.save({"count": len(pixels), "mean": mean, "std": std, "scaling_factor": scaling_factor}, path)
    log(f"cached {len(mean)} latents, scaling factor {scaling_factor:.4f}")
    return mean, std, scaling_factor


def build_unet_and_text_encoder() -> tuple[UNet2DConditionModel, CLIPTextModel]:
    torch.manual_seed(0)
    return UNet2DConditionModel(**UNET_CONFIG), CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))


def train_unet(
    pixels: torch.Tensor,
    captions: list[str],
    is_target: list[bool],
    state_dir: Path,
    minutes: float,
    batch_size: int = 32,
) -> None:
    vae = load_vae(state_dir)
    mean, std, scaling_factor = cache_latents(vae, pixels, state_dir)
    mean, std = mean.to(DEVICE), std.to(DEVICE)
    keep = torch.tensor([not t for t in is_target])
    mean, std = mean[keep], std[keep]
    kept_captions = [c for c, t in zip(captions, is_target) if not t]
    tokenizer = shipped_tokenizers("sd1", MODEL_CONFIGS_DIR)[0]
    token_ids = tokenizer(
        kept_captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids.to(DEVICE)
    empty_ids = tokenizer([""], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(DEVICE)
    unet, text_encoder = build_unet_and_text_encoder()
    unet, text_encoder = unet.to(DEVICE), text_encoder.to(DEVICE)
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    # The text encoder learns from scratch and gates every prompt effect: it gets a higher learning rate.
    learning_rates = (8e-4, 2e-3)  # UNet, text encoder
    optimizer = torch.optim.AdamW(
        [
            {"params": unet.parameters(), "lr": learning_rates[0]},
            {"params": text_encoder.parameters(), "lr": learning_rates[1]},
        ],
        weight_decay=0.01,
    )
    checkpoint = Checkpointer(state_dir, "unet")
    step, generator = 0, torch.Generator().manual_seed(1)
    if saved := checkpoint.load():
        unet.load_state_dict(saved["unet"]), text_encoder.load_state_dict(saved["text_encoder"])
        optimizer.load_state_dict(saved["optimizer"])
        step, generator = saved["step"], torch.Generator().manual_seed(1)
        generator.set_state(saved["rng"].cpu())
        log(f"unet: resumed at step {step}")
    log(
        f"unet: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M, text encoder {sum(p.numel() for p in text_encoder.parameters()) / 1e6:.2f} M parameters; {len(mean)} images"
    )
    unet.train(), text_encoder.train()
    deadline, smoothed = time.time() + minutes * 60, None

    def state() -> dict:
        return {
            "unet": unet.state_dict(),
            "text_encoder": text_encoder.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": generator.get_state(),
            "scaling_factor": scaling_factor,
        }

    while time.time() < deadline:
        # Random draws come from one CPU generator (saved with the state), then move to the device.
        index = torch.randint(0, len(mean), (batch_size,), generator=generator).to(DEVICE)
        latents = (
            mean[index] + std[index] * torch.randn(mean[index].shape, generator=generator).to(DEVICE)
        ) * scaling_factor
        ids = token_ids[index].clone()
        dropped = (torch.rand(batch_size, generator=generator) < 0.1).to(
            DEVICE
        )  # caption dropout: the unconditional branch for CFG
        ids[dropped] = empty_ids
        noise = torch.randn(latents.shape, generator=generator).to(DEVICE)
        timesteps = torch.randint(0, 1000, (batch_size,), generator=generator).to(DEVICE)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            hidden = text_encoder(ids)[0]
            prediction = unet(noisy, timesteps, hidden).sample
        loss = F.mse_loss(prediction.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(unet.parameters()) + list(text_encoder.parameters()), 1.0)
        warmup = min(1.0, (step + 1) / 200)
        for group, base_lr in zip(optimizer.param_groups, learning_rates):
            group["lr"] = base_lr * warmup
        optimizer.step()
        step += 1
        smoothed = float(loss) if smoothed is None else 0.99 * smoothed + 0.01 * float(loss)
        if step % 50 == 0:
            log(f"unet step {step}: loss {smoothed:.4f}")
        checkpoint.save_if_due(state)
    checkpoint.save(state())
    log(f"unet: saved at step {step}")


def assemble(state_dir: Path) -> BaseModel:
    vae = load_vae(state_dir)
    saved = Checkpointer(state_dir, "unet").load()
    vae.register_to_config(scaling_factor=saved["scaling_factor"])
    unet, text_encoder = build_unet_and_text_encoder()
    unet.load_state_dict({k: v.cpu() for k, v in saved["unet"].items()})
    text_encoder.load_state_dict({k: v.cpu() for k, v in saved["text_encoder"].items()})
    sampling = sampling_scheduler_from_folder(MODEL_CONFIGS_DIR / "sd15", "epsilon", "demo model")
    return BaseModel(
        family="sd1",
        prediction_type="epsilon",
        unet=unet.eval(),
        vae=vae,
        text_encoders=[text_encoder.eval()],
        tokenizers=shipped_tokenizers("sd1", MODEL_CONFIGS_DIR),
        sampling_scheduler=sampling,
        source="random",
    )


def export(state_dir: Path, out: Path) -> None:
    model = assemble(state_dir)
    steps = Checkpointer(state_dir, "unet").load()["step"]
    vae_steps = Checkpointer(state_dir, "vae").load()["step"]
    recipe = {"vae_steps": vae_steps, "unet_steps": steps, "script": "engine/scripts/pretrain_demo_model.py"}
    save_single_file(model, out, dtype=torch.float16, extra_metadata={"lora_scripts.demo_model": json.dumps(recipe)})
    log(f"exported {out} ({out.stat().st_size / 2**20:.1f} MiB)")


def sample_grid(state_dir: Path, prompts: list[str], out: Path, steps: int = 25, guidance: float = 5.0) -> None:
    pipe = assemble(state_dir).pipeline()
    pipe.set_progress_bar_config(disable=True)
    rows = []
    for prompt in prompts:
        images = pipe(
            [prompt] * 4,
            height=64,
            width=64,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(0),
            output_type="np",
        ).images
        rows.append(np.concatenate(list(images), axis=1))
    Image.fromarray((np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)).save(out)
    log(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--phase", choices=["vae", "unet", "export", "sample"], required=True)
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--prompts", nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.phase == "export":
        return export(args.state, args.out)
    if args.phase == "sample":
        return sample_grid(args.state, args.prompts, args.out)
    pixels, captions, is_target = read_dataset(args.data)
    if args.phase == "vae":
        train_vae(pixels, args.state, args.minutes)
    else:
        train_unet(pixels, captions, is_target, args.state, args.minutes)


if __name__ == "__main__":
    main()
