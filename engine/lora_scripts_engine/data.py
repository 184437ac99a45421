"""manifest.jsonl → batches of pixel tensors and captions, in a seeded order.

The TypeScript side has already checked every image and caption; this module only loads them.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass

import torch
from PIL import Image, ImageEnhance, ImageOps

from .protocol import EngineFailure


@dataclass
class Example:
    image: str
    caption: str
    repeats: int


@dataclass
class CaptionRules:
    trigger_word: str | None
    shuffle: bool
    keep_tokens: int
    dropout_rate: float


def read_manifest(path: str) -> list[Example]:
    examples = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                examples.append(Example(row["image"], row["caption"], int(row.get("repeats", 1))))
    if not examples:
        raise EngineFailure("dataset_empty", "the manifest lists no images", culprit=path)
    return examples


def epoch_order(examples: list[Example], epoch: int, seed: int) -> list[Example]:
    """Each image `repeats` times, shuffled with a generator seeded per epoch (so a resumed run sees the same order)."""
    expanded = [e for e in examples for _ in range(e.repeats)]
    generator = torch.Generator().manual_seed(seed * 100003 + epoch)
    return [expanded[i] for i in torch.randperm(len(expanded), generator=generator).tolist()]


def apply_caption_rules(caption: str, rules: CaptionRules, rng: random.Random) -> str:
    """Trigger word first, optional shuffle of the comma-separated parts after `keep_tokens`, optional dropout."""
    if rules.dropout_rate > 0 and rng.random() < rules.dropout_rate:
        return ""
    parts = [p.strip() for p in caption.split(",") if p.strip()]
    if rules.trigger_word and (not parts or parts[0] != rules.trigger_word):
        parts = [rules.trigger_word] + [p for p in parts if p != rules.trigger_word]
    keep = rules.keep_tokens + (1 if rules.trigger_word else 0)
    if rules.shuffle and len(parts) > keep + 1:
        tail = parts[keep:]
        rng.shuffle(tail)
        parts = parts[:keep] + tail
    return ", ".join(parts)


def load_pixels(path: str, resolution: int, *, random_crop: bool, flip: bool, rng: random.Random, crop_scale: float = 1.0, color_jitter: float = 0.0) -> tuple[torch.Tensor, tuple[int, int], tuple[int, int]]:
    """Image → [3, R, R] in [-1, 1]; also returns the original size and the crop's top-left (SDXL conditions on both).

    Augmentations (`crop_scale` < 1: a crop of that share of the short side; `color_jitter`) draw from `rng` only
    when switched on, so a run without them sees the same random numbers as before they existed.
    """
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    original_size = (image.height, image.width)
    # Resizing the short side to resolution / crop_scale makes the R×R crop cover crop_scale of it.
    scale = resolution / (crop_scale * min(image.width, image.height))
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    if random_crop:
        left, top = rng.randint(0, size[0] - resolution), rng.randint(0, size[1] - resolution)
    else:
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    image = image.crop((left, top, left + resolution, top + resolution))
    if flip and rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if color_jitter > 0:
        image = jitter_colours(image, color_jitter, rng)
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(resolution, resolution, 3)
    pixels = data.permute(2, 0, 1).float() / 127.5 - 1.0
    return pixels, original_size, (top, left)


def jitter_colours(image: Image.Image, amount: float, rng: random.Random) -> Image.Image:
    """Brightness, contrast and saturation each scaled by a factor drawn from [1 - amount, 1 + amount]."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(1 - amount, 1 + amount))
    return image


def batches(order: list[Example], batch_size: int):
    """Consecutive batches; the last one may be smaller (no image is skipped)."""
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
