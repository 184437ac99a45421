"""The frozen VAE's work done once: each image variant's latent distribution (mean and std), in memory and on disk.

Training draws `mean + std * randn_like(mean)` for a batch, the same numbers `latent_dist.sample()` draws, so a
cached run trains exactly like an uncached one. Encoding draws no random numbers. Files are keyed by everything the
latents depend on (image bytes, target size, crop, mirror, VAE, format), so a stale file is never read: a change
gives a new key and the old file is simply not looked up again.
"""

from __future__ import annotations

import hashlib
import json
import os
import random

import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from .data import Example, load_placed, open_rgb, place, render, target_size
from .file_modes import as_ordinary_file
from .protocol import emit

FORMAT_VERSION = 1
SAMPLED_VALUES = 1024  # per tensor end, for the VAE fingerprint
PROGRESS_EVERY = 8  # pictures between "caching latents" lines, however many go into one VAE call


def images_per_vae_call(device: str) -> int:
    """A GPU encodes a batch faster per image (8 also bounds memory at large resolutions); a CPU does not: measured on
    2 cores, SD's VAE at 256 px in bf16 takes 0.69 s per image one at a time (91 % of the matmul peak) and 0.83 s in
    batches of 8, whose activations no longer fit the caches."""
    return 8 if device == "cuda" else 1


def vae_fingerprint(vae) -> str:
    """sha256 of the VAE config and, per tensor, its name, shape, dtype and first and last 1024 values.

    Enough because VAEs that differ at all (another checkpoint, a fine-tune, another dtype) differ in nearly every
    tensor, so the sampled ends of each tensor already tell them apart; hashing every value would cost seconds per
    run on an SDXL VAE for no extra safety in practice.
    """
    digest = hashlib.sha256(json.dumps(dict(vae.config), sort_keys=True, default=str).encode())
    for name, tensor in vae.state_dict().items():
        flat = tensor.detach().flatten()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        ends = torch.cat([flat[:SAMPLED_VALUES], flat[-SAMPLED_VALUES:]]).float().cpu()
        digest.update(ends.numpy().tobytes())
    return digest.hexdigest()


def is_fixed(example: Example, original: tuple[int, int], config, resolution: int) -> bool:
    """True when every epoch renders the same pixels for this image (up to the mirror, which is cached too)."""
    if config.color_jitter > 0:
        return False
    if config.crop != "random":
        return True
    # A random crop has no freedom when the resized image already equals the target.
    size = target_size(example, resolution)
    placement = place(original, size, random_crop=False, flip=False, rng=random.Random(0), crop_scale=config.crop_scale)
    return placement.resized == size


def original_size(path: str) -> tuple[int, int]:
    """(w, h) after EXIF rotation, from the header only."""
    with Image.open(path) as image:
        rotated = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        return (image.height, image.width) if rotated else image.size


class LatentCache:
    """`variants[(image, size, flipped)]` = (mean, std, original (h, w)); built once before the loop."""

    def __init__(self, vae, compute, folder: str | None):
        self.vae, self.compute, self.folder = vae, compute, folder
        # SDXL's VAE overflows to NaN in fp16 (its config says `force_upcast`): encode in fp32, as diffusers' SDXL
        # training script keeps that VAE. Its pipelines then also decode samples in fp32 (they upcast only fp16 VAEs).
        self.upcast = compute.dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))
        if self.upcast:
            vae.to(torch.float32)
        self.variants: dict[tuple, tuple[torch.Tensor, torch.Tensor, tuple[int, int]]] = {}
        self.fingerprint = vae_fingerprint(vae)
        self.uncached: set[str] = set()

    def build(self, examples: list[Example], config, resolution: int) -> None:
        todo, flips = [], (False, True) if config.random_flip else (False,)
        for example in {e.image: e for e in examples}.values():
            original = original_size(example.image)
            if not is_fixed(example, original, config, resolution):
                self.uncached.add(example.image)
                continue
            size = target_size(example, resolution)
            with open(example.image, "rb") as f:
                image_hash = hashlib.sha256(f.read()).hexdigest()
            todo += [(example, size, flipped, image_hash) for flipped in flips]
        per_call = images_per_vae_call(self.compute.device)
        for start in range(0, len(todo), per_call):
            if start % PROGRESS_EVERY == 0:
                emit("stage", name="cache_latents", message=f"caching latents {start}/{len(todo)}")
            self._fill(todo[start : start + per_call], config)
        if todo:
            emit("stage", name="cache_latents", message=f"caching latents {len(todo)}/{len(todo)}")
        if self.uncached:
            setting = "color_jitter" if config.color_jitter > 0 else "crop: random"
            emit(
                "warning",
                code="latent_cache_partial",
                message=f"{len(self.uncached)} of {len(self.uncached) + len({k[0] for k in self.variants})} pictures change every epoch with `{setting}`: they are encoded at each step, not cached",
                hint="for the fastest training turn that augmentation off",
            )

    def _fill(self, chunk: list, config) -> None:
        """Load the chunk's files that exist; encode the rest in one VAE call and write them."""
        missing = []
        for example, size, flipped, image_hash in chunk:
            key = self._key(image_hash, size, config, flipped)
            path = os.path.join(self.folder, f"{key}.safetensors") if self.folder else None
            if path and os.path.exists(path):
                stored = load_file(path)
                self.variants[(example.image, size, flipped)] = (
                    stored["mean"],
                    stored["std"],
                    tuple(stored["original"].tolist()),
                )
            else:
                missing.append((example, size, flipped, path))
        if not missing:
            return
        sized: dict[tuple[int, int], list] = {}
        for item in missing:
            sized.setdefault(item[1], []).append(item)  # one VAE call per size: a batch must share its shape
        for size, items in sized.items():
            loaded = []
            for example, _, flipped, _ in items:
                image = open_rgb(example.image)
                placement = place(
                    image.size, size, random_crop=False, flip=False, rng=random.Random(0), crop_scale=config.crop_scale
                )
                placement.flipped = flipped
                loaded.append((render(image, size, placement, rng=random.Random(0)), (image.height, image.width)))
            means, stds = self.encode(torch.stack([p for p, _ in loaded]))
            for (example, _, flipped, path), mean, std, (_, original) in zip(items, means, stds, loaded):
                self.variants[(example.image, size, flipped)] = (mean, std, original)
                if path:
                    write_atomic(
                        path, {"mean": mean.contiguous(), "std": std.contiguous(), "original": torch.tensor(original)}
                    )

    def encode(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent distribution of a batch of pixels; no random numbers are drawn."""
        dtype = torch.float32 if self.upcast else self.compute.dtype
        with (
            torch.no_grad(),
            torch.autocast(self.compute.device, dtype=dtype, enabled=dtype != torch.float32),
        ):
            dist = self.vae.encode(pixels.to(self.compute.device, dtype)).latent_dist
        if self.upcast:  # latents are small: the fp16 UNet takes them as the fp16 VAE would have given them
            return dist.mean.to(torch.float16), dist.std.to(torch.float16)
        return dist.mean, dist.std

    def _key(self, image_hash: str, size: tuple[int, int], config, flipped: bool) -> str:
        parts = [
            FORMAT_VERSION,
            image_hash,
            f"{size[0]}x{size[1]}",
            config.crop,
            config.crop_scale,
            flipped,
            self.fingerprint,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def covers(self, examples: list[Example]) -> bool:
        return all((e.image, False) in {(k[0], k[2]) for k in self.variants} for e in examples)

    def batch(self, batch: list[Example], config, resolution: int, rng: random.Random):
        """Scaled latents for a training batch (cached where possible), with each item's SDXL size conditions.

        `rng` is drawn exactly as `load_pixels` draws it, cached or not, so the cache changes no random number.
        """
        return self.batch_with_placements(batch, config, resolution, rng)[:3]

    def batch_with_placements(self, batch: list[Example], config, resolution: int, rng: random.Random):
        """`batch`, and each item's Placement (where its mask must go)."""
        size = target_size(batch[0], resolution)
        means, stds, conditions, fresh, placements = [], [], [], [], []
        for example in batch:
            plain = self.variants.get((example.image, size, False))
            if plain is None:
                pixels, original, crop, placement = load_placed(
                    example.image,
                    size,
                    random_crop=config.crop == "random",
                    flip=config.random_flip,
                    rng=rng,
                    crop_scale=config.crop_scale,
                    color_jitter=config.color_jitter,
                )
                fresh.append((len(means), pixels))
                means.append(None), stds.append(None), conditions.append((original, crop))
                placements.append(placement)
                continue
            original = plain[2]
            placement = place(
                (original[1], original[0]),
                size,
                random_crop=config.crop == "random",
                flip=config.random_flip,
                rng=rng,
                crop_scale=config.crop_scale,
            )
            mean, std, _ = self.variants[(example.image, size, placement.flipped)]
            means.append(mean), stds.append(std), conditions.append((original, (placement.top, placement.left)))
            placements.append(placement)
        if fresh:
            encoded_means, encoded_stds = self.encode(torch.stack([p for _, p in fresh]))
            for (index, _), mean, std in zip(fresh, encoded_means, encoded_stds):
                means[index], stds[index] = mean, std
        means = [m.to(self.compute.device, self.compute.dtype) for m in means]
        stds = [s.to(self.compute.device, self.compute.dtype) for s in stds]
        return sample_latents(means, stds, self.vae.config.scaling_factor), conditions, size, placements


def write_atomic(path: str, tensors: dict[str, torch.Tensor]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    save_file({k: v.detach().cpu() for k, v in tensors.items()}, temporary)
    as_ordinary_file(temporary)  # a cache shared by workers on shared storage
    os.replace(temporary, path)


def sample_latents(means: list[torch.Tensor], stds: list[torch.Tensor], scaling_factor: float) -> torch.Tensor:
    """What `latent_dist.sample()` draws for the stacked batch: one randn over the whole batch shape.

    The draw is a contiguous randn, as diffusers' randn_tensor. The result is channels-last, as the VAE's output
    always was (its pixels come from an HWC buffer): the step's `randn_like(latents)` fills in that layout, and a
    fill in another layout consumes the generator differently, so a seed would no longer give the same LoRA.
    """
    mean, std = torch.stack(means), torch.stack(stds)
    latents = (mean + std * torch.randn(mean.shape, device=mean.device, dtype=mean.dtype)) * scaling_factor
    return latents.contiguous(memory_format=torch.channels_last)
