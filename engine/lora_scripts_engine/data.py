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
    bucket: tuple[int, int] | None = None  # (width, height) chosen by TypeScript (src/dataset/buckets.ts); None: square
    is_class: bool = False  # a `reg_data_dir` picture: its loss counts `prior_loss_weight`, it gets no trigger word
    mask: str | None = None  # `masked_loss`: a mask file, or the picture itself when its transparency is the mask


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
                bucket = tuple(row["bucket"]) if row.get("bucket") else None
                examples.append(
                    Example(
                        row["image"],
                        row["caption"],
                        int(row.get("repeats", 1)),
                        bucket,
                        is_class=bool(row.get("is_class", False)),
                        mask=row.get("mask"),
                    )
                )
    if not examples:
        raise EngineFailure("dataset_empty", "the manifest lists no images", culprit=path)
    return examples


def epoch_order(examples: list[Example], epoch: int, seed: int) -> list[Example]:
    """Each image `repeats` times, shuffled with a generator seeded per epoch (so a resumed run sees the same order)."""
    expanded = [e for e in examples for _ in range(e.repeats)]
    generator = torch.Generator().manual_seed(seed * 100003 + epoch)
    return [expanded[i] for i in torch.randperm(len(expanded), generator=generator).tolist()]


def apply_caption_rules(caption: str, rules: CaptionRules, rng: random.Random, is_class: bool = False) -> str:
    """Trigger word first, optional shuffle of the comma-separated parts after `keep_tokens`, optional dropout.

    A class picture (`is_class`) keeps its caption without the trigger word: it shows the class, not the subject."""
    if rules.dropout_rate > 0 and rng.random() < rules.dropout_rate:
        return ""
    parts = [p.strip() for p in caption.split(",") if p.strip()]
    trigger = None if is_class else rules.trigger_word
    if trigger and (not parts or parts[0] != trigger):
        parts = [trigger] + [p for p in parts if p != trigger]
    keep = rules.keep_tokens + (1 if trigger else 0)
    if rules.shuffle and len(parts) > keep + 1:
        tail = parts[keep:]
        rng.shuffle(tail)
        parts = parts[:keep] + tail
    return ", ".join(parts)


def target_size(example: Example, resolution: int) -> tuple[int, int]:
    """(width, height) the image is trained at: its bucket, or the square training resolution."""
    return example.bucket or (resolution, resolution)


@dataclass
class Placement:
    """Where an image lands in its target: the resize, the crop's top-left and the mirror (the only random parts)."""

    resized: tuple[int, int]
    left: int
    top: int
    flipped: bool


def place(
    original: tuple[int, int],
    size: tuple[int, int],
    *,
    random_crop: bool,
    flip: bool,
    rng: random.Random,
    crop_scale: float = 1.0,
) -> Placement:
    """Cover `size` (w, h) with the (w, h) `original` and pick the crop; draws from `rng` exactly as training always has."""
    # Scaling to cover the target, divided by crop_scale, makes the crop cover crop_scale of the short side.
    scale = max(size[0] / original[0], size[1] / original[1]) / crop_scale
    resized = (max(size[0], round(original[0] * scale)), max(size[1], round(original[1] * scale)))
    if random_crop:
        left, top = rng.randint(0, resized[0] - size[0]), rng.randint(0, resized[1] - size[1])
    else:
        left, top = (resized[0] - size[0]) // 2, (resized[1] - size[1]) // 2
    return Placement(resized, left, top, flip and rng.random() < 0.5)


def open_rgb(path: str) -> Image.Image:
    with Image.open(path) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


def render(
    image: Image.Image, size: tuple[int, int], placement: Placement, *, rng: random.Random, color_jitter: float = 0.0
) -> torch.Tensor:
    """The placed image as [3, H, W] in [-1, 1]."""
    image = image.resize(placement.resized, Image.Resampling.LANCZOS)
    image = image.crop((placement.left, placement.top, placement.left + size[0], placement.top + size[1]))
    if placement.flipped:
        image = ImageOps.mirror(image)
    if color_jitter > 0:
        image = jitter_colours(image, color_jitter, rng)
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).reshape(size[1], size[0], 3)
    return data.permute(2, 0, 1).float() / 127.5 - 1.0


def load_pixels(
    path: str,
    size: int | tuple[int, int],
    *,
    random_crop: bool,
    flip: bool,
    rng: random.Random,
    crop_scale: float = 1.0,
    color_jitter: float = 0.0,
) -> tuple[torch.Tensor, tuple[int, int], tuple[int, int]]:
    """Image → [3, H, W] in [-1, 1] for `size` (w, h; an int: square); also returns the original size (h, w) and the
    crop's top-left (SDXL conditions on both).

    Augmentations (`crop_scale` < 1: a crop of that share of the short side; `color_jitter`) draw from `rng` only
    when switched on, so a run without them sees the same random numbers as before they existed.
    """
    pixels, original, _, placement = load_placed(
        path, size, random_crop=random_crop, flip=flip, rng=rng, crop_scale=crop_scale, color_jitter=color_jitter
    )
    return pixels, original, (placement.top, placement.left)


def load_placed(
    path: str,
    size: int | tuple[int, int],
    *,
    random_crop: bool,
    flip: bool,
    rng: random.Random,
    crop_scale: float = 1.0,
    color_jitter: float = 0.0,
) -> tuple[torch.Tensor, tuple[int, int], tuple[int, int], Placement]:
    """load_pixels, also returning the Placement itself (a mask is placed the same way: training_options.load_mask)."""
    size = (size, size) if isinstance(size, int) else size
    image = open_rgb(path)
    placement = place(image.size, size, random_crop=random_crop, flip=flip, rng=rng, crop_scale=crop_scale)
    pixels = render(image, size, placement, rng=rng, color_jitter=color_jitter)
    return pixels, (image.height, image.width), (placement.top, placement.left), placement


def jitter_colours(image: Image.Image, amount: float, rng: random.Random) -> Image.Image:
    """Brightness, contrast and saturation each scaled by a factor drawn from [1 - amount, 1 + amount]."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(1 - amount, 1 + amount))
    return image


def batches(order: list[Example], batch_size: int, epoch: int, seed: int, resolution: int) -> list[list[Example]]:
    """Batches of one target size each. One size: consecutive batches (the last may be smaller; none is skipped).
    Several: each size's images in epoch order, cut into batches, and the batches shuffled with the epoch's seed."""
    groups: dict[tuple[int, int], list[Example]] = {}
    for example in order:
        groups.setdefault(target_size(example, resolution), []).append(example)
    cut = [group[i : i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]
    if len(groups) == 1:
        return cut
    generator = torch.Generator().manual_seed(seed * 100003 + epoch + 7919)  # its own stream, not epoch_order's
    return [cut[i] for i in torch.randperm(len(cut), generator=generator).tolist()]


def bucket_counts(examples: list[Example], resolution: int) -> dict[tuple[int, int], int]:
    """Images per epoch (with repeats) for each target size, largest group first."""
    counts: dict[tuple[int, int], int] = {}
    for example in examples:
        size = target_size(example, resolution)
        counts[size] = counts.get(size, 0) + example.repeats
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
