"""data.py's picture transforms: crops, flips and colour jitter change the training pictures as configured."""

from __future__ import annotations

import random

import pytest
import torch
from lora_scripts_engine.data import load_pixels
from PIL import Image, ImageDraw


@pytest.fixture
def framed(tmp_path):
    """64 px: a red 8 px frame around a grey middle, with a blue square in the top-left of the middle."""
    image = Image.new("RGB", (64, 64), (200, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 55, 55), fill=(128, 128, 128))
    draw.rectangle((8, 8, 23, 23), fill=(0, 0, 220))
    path = tmp_path / "framed.png"
    image.save(path)
    return str(path)


def rgb(pixels: torch.Tensor) -> torch.Tensor:
    return ((pixels + 1) * 127.5).round()


def load(path, rng=None, **options):
    defaults = dict(random_crop=False, flip=False)
    return load_pixels(path, 64, rng=rng or random.Random(0), **{**defaults, **options})[0]


def is_red(pixel: torch.Tensor) -> bool:
    return bool(pixel[0] > 150 and pixel[1] < 60 and pixel[2] < 60)


def test_without_augmentation_the_picture_is_unchanged_and_no_random_number_is_drawn(framed):
    rng = random.Random(5)
    before = rng.getstate()
    pixels = rgb(load(framed, rng))
    assert rng.getstate() == before  # runs without augmentation keep their exact random sequence
    assert is_red(pixels[:, 0, 0]) and is_red(pixels[:, 32, 63])
    assert pixels[2, 12, 12] > 200  # the blue square where it was drawn


def test_crop_scale_zooms_in_past_the_frame(framed):
    pixels = rgb(load(framed, crop_scale=0.75))  # the middle 48 px, enlarged to 64
    assert not is_red(pixels[:, 2, 2]) and not is_red(pixels[:, 32, 61])
    assert pixels[2, 4, 4] > 200  # the blue square now reaches the corner


def test_random_crops_move_with_the_seed_and_repeat_with_it(framed):
    crops = [load(framed, random.Random(seed), random_crop=True, crop_scale=0.7) for seed in range(6)]
    assert len({tuple(c.flatten().tolist()) for c in crops}) > 1
    assert torch.equal(load(framed, random.Random(3), random_crop=True, crop_scale=0.7), crops[3])


def test_flip_mirrors_about_half_the_time(framed):
    rng = random.Random(1)
    flipped = 0
    for _ in range(40):
        pixels = rgb(load(framed, rng, flip=True))
        is_mirrored = pixels[2, 12, 51] > 200  # the blue square on the right
        assert is_mirrored or pixels[2, 12, 12] > 200
        flipped += int(is_mirrored)
    assert 10 <= flipped <= 30


def test_colour_jitter_changes_brightness_within_its_range(framed):
    plain = rgb(load(framed)).mean()
    means = [rgb(load(framed, random.Random(seed), color_jitter=0.2)).mean() for seed in range(12)]
    assert max(means) > plain * 1.03 and min(means) < plain * 0.97  # it does change the picture, both ways
    # Brightness, contrast and saturation each by at most ±20%: the mean moves well under 50%.
    assert all(plain * 0.5 < m < plain * 1.5 for m in means)
    assert torch.equal(
        load(framed, random.Random(4), color_jitter=0.2), load(framed, random.Random(4), color_jitter=0.2)
    )
