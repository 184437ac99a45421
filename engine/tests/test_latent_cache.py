"""Latent cache and buckets: cached latents equal fresh ones, every change of image, size or VAE misses, and a
cached run trains the same LoRA as an uncached one."""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lora_scripts_engine import protocol
from lora_scripts_engine.data import Example, batches, load_pixels
from lora_scripts_engine.latent_cache import LatentCache
from lora_scripts_engine.tiny_models import build_tiny_components, write_checkpoint
from PIL import Image, ImageDraw
from safetensors.torch import load_file
from test_train_e2e import run_cli, tiny_config, write_dataset

CPU = SimpleNamespace(device="cpu", dtype=torch.float32)
WIDE = (96, 64)  # a bucket for the wide picture; tiny VAE: 8× down, so latents are 12×8


def settings(**changes):
    return SimpleNamespace(**{"crop": "center", "crop_scale": 1.0, "color_jitter": 0.0, "random_flip": True, **changes})


def picture(path: Path, size: tuple[int, int], colour: str) -> str:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((4, 4, size[0] // 2, size[1] - 8), fill=colour)
    image.save(path)
    return str(path)


@pytest.fixture
def vae():
    return build_tiny_components("sd1", seed=0).vae


@pytest.fixture
def examples(tmp_path):
    return [
        Example(picture(tmp_path / "square.png", (80, 80), "red"), "a", 1),
        Example(picture(tmp_path / "wide.png", (150, 90), "blue"), "b", 1, WIDE),
    ]


def cache_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.safetensors")}


def test_cached_latents_equal_freshly_encoded_ones(vae, examples, tmp_path):
    cache = LatentCache(vae, CPU, str(tmp_path / "cache"))
    cache.build(examples, settings(), 64)
    assert len(cache_files(tmp_path / "cache")) == 4  # two pictures, each plain and mirrored
    for example in examples:
        size = example.bucket or (64, 64)
        pixels, _, _ = load_pixels(example.image, size, random_crop=False, flip=False, rng=random.Random(0))
        with torch.no_grad():
            fresh = vae.encode(pixels[None]).latent_dist
        mean, std, _ = cache.variants[(example.image, size, False)]
        torch.testing.assert_close(mean, fresh.mean[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(std, fresh.std[0], atol=1e-5, rtol=1e-4)
        mirrored, _, _ = cache.variants[(example.image, size, True)]
        assert not torch.allclose(mirrored, mean)
    # Read back from disk by a new cache: the same values, and no VAE call.
    reread = LatentCache(vae, CPU, str(tmp_path / "cache"))
    reread.encode = lambda pixels: pytest.fail("a cached variant was encoded again")
    reread.build(examples, settings(), 64)
    for key, (mean, _std, original) in cache.variants.items():
        assert torch.equal(reread.variants[key][0], mean) and reread.variants[key][2] == original


def test_a_batch_from_the_cache_draws_the_same_latents_as_encoding_it(vae, examples, tmp_path):
    cached = LatentCache(vae, CPU, str(tmp_path / "cache"))
    cached.build(examples, settings(crop="random"), 64)
    uncached = LatentCache(vae, CPU, None)
    results = []
    for source in (cached, uncached):
        torch.manual_seed(3)
        rng = random.Random(5)
        results.append(
            [source.batch([e], settings(crop="random"), 64, rng) for e in examples] + [rng.random(), torch.rand(1)]
        )
    for (a, a_cond, a_size), (b, b_cond, b_size) in zip(results[0][:2], results[1][:2]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        assert a_cond == b_cond and a_size == b_size
    assert results[0][1][0].shape == (1, 4, 8, 12)  # the wide bucket: 96×64 px
    assert results[0][2] == results[1][2] and torch.equal(results[0][3], results[1][3])  # both RNGs in step


def test_a_changed_image_size_or_vae_misses_and_is_encoded_again(vae, examples, tmp_path):
    folder = tmp_path / "cache"
    first = LatentCache(vae, CPU, str(folder))
    first.build(examples, settings(random_flip=False), 64)
    before = cache_files(folder)
    old_wide = first.variants[(examples[1].image, WIDE, False)][0]

    picture(Path(examples[1].image), (150, 90), "green")  # same path, new pixels
    changed = LatentCache(vae, CPU, str(folder))
    changed.build(examples, settings(random_flip=False), 64)
    assert len(cache_files(folder) - before) == 1
    new_wide = changed.variants[(examples[1].image, WIDE, False)][0]
    assert not torch.allclose(new_wide, old_wide)  # the old file was not used
    pixels, _, _ = load_pixels(examples[1].image, WIDE, random_crop=False, flip=False, rng=random.Random(0))
    with torch.no_grad():
        torch.testing.assert_close(new_wide, vae.encode(pixels[None]).latent_dist.mean[0], atol=1e-5, rtol=1e-4)

    seen = cache_files(folder)
    resized = [examples[0], Example(examples[1].image, "b", 1, (64, 64))]  # another bucket
    LatentCache(vae, CPU, str(folder)).build(resized, settings(random_flip=False), 64)
    assert len(cache_files(folder) - seen) == 1

    seen = cache_files(folder)
    other_vae = build_tiny_components("sd1", seed=0).vae
    with torch.no_grad():
        next(other_vae.parameters()).view(-1)[0] += 0.5  # one changed value, in the sampled part
    LatentCache(other_vae, CPU, str(folder)).build(examples, settings(random_flip=False), 64)
    assert len(cache_files(folder) - seen) == 2


def test_pictures_that_change_every_epoch_are_not_cached(vae, examples, tmp_path):
    events = io.StringIO()
    protocol.set_channel(events)
    cache = LatentCache(vae, CPU, str(tmp_path / "cache"))
    cache.build(examples, settings(crop="random"), 64)
    # The 80 px square just covers 64×64 (no room to move: cached); the 150×90 picture has room in its 96×64 bucket.
    assert (examples[0].image, (64, 64), False) in cache.variants
    assert not any(key[0] == examples[1].image for key in cache.variants) and not cache.covers(examples)
    jitter = LatentCache(vae, CPU, str(tmp_path / "cache"))
    jitter.build(examples, settings(color_jitter=0.1), 64)
    assert not jitter.variants and not jitter.covers(examples)
    protocol.set_channel(sys.stdout)
    warnings = [json.loads(line) for line in events.getvalue().splitlines() if '"warning"' in line]
    assert [w["message"] for w in warnings] == [
        "1 of 2 pictures change every epoch with `crop: random`: they are encoded at each step, not cached",
        "2 of 2 pictures change every epoch with `color_jitter`: they are encoded at each step, not cached",
    ]


def test_batches_hold_one_bucket_each_and_are_the_same_every_time():
    order = [Example(f"{i}.png", "", 1, WIDE if i % 3 == 0 else None) for i in range(10)]
    first = batches(order, 3, epoch=1, seed=0, resolution=64)
    assert first == batches(order, 3, epoch=1, seed=0, resolution=64)
    assert sorted(e.image for b in first for e in b) == sorted(e.image for e in order)
    assert all(len({e.bucket for e in batch}) == 1 for batch in first)
    assert len(first) == 2 + 2  # 4 wide pictures in batches of 3 and 1, 6 square in two of 3
    square_only = [Example(f"{i}.png", "", 1) for i in range(5)]
    assert batches(square_only, 2, epoch=1, seed=0, resolution=64) == [
        square_only[0:2],
        square_only[2:4],
        square_only[4:],
    ]


def test_cache_on_or_off_trains_the_same_lora(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=4)
    loras = []
    for name, extra in (("cached", ""), ("uncached", "cache_latents: false\ncache_text_encoder_outputs: false\n")):
        result = run_cli(
            "train",
            "--config",
            str(
                tiny_config(
                    tmp_path, model, data, name, "epochs: 2\nrandom_flip: true\ncaption_dropout_rate: 0.3\n" + extra
                )
            ),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        loras.append(load_file(tmp_path / name / "pytorch_lora_weights.safetensors"))
    assert len(list((tmp_path / "cached" / "cache" / "latents").glob("*.safetensors"))) == 8
    assert not (tmp_path / "uncached" / "cache").exists()
    assert loras[0].keys() == loras[1].keys()
    for key in loras[0]:
        torch.testing.assert_close(loras[0][key].float(), loras[1][key].float(), atol=2e-3, rtol=1e-2)


def test_mixed_shapes_train_in_buckets_through_the_cli(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = tmp_path / "data"
    data.mkdir()
    rows = ["file_name,caption"]
    for i in range(6):
        size = (256, 256) if i % 2 else (400, 240)
        picture(data / f"p{i}.png", size, "red" if i % 2 else "blue")
        rows.append(f"p{i}.png,picture {i}")
    (data / "metadata.csv").write_text("\n".join(rows) + "\n")
    result = run_cli(
        "train",
        "--config",
        str(tiny_config(tmp_path, model, data, "mixed", "resolution: 256\nepochs: 1\n")),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "buckets: 256×256 ×3, 320×192 ×3" in result.stdout + result.stderr
    manifest = [json.loads(line) for line in (tmp_path / "mixed" / "manifest.jsonl").read_text().splitlines()]
    assert {tuple(row["bucket"]) for row in manifest} == {(256, 256), (320, 192)}
    record = json.loads((tmp_path / "mixed" / "lora_scripts.json").read_text())
    assert record["training"]["steps"] == 4  # 3 + 3 pictures in batches of 2, never mixing sizes


def test_an_fp16_run_encodes_with_a_force_upcast_vae_in_fp32_and_gets_finite_fp16_latents(examples, tmp_path):
    """SDXL's VAE overflows in fp16; its config says `force_upcast`, and the cache then encodes in fp32."""
    fp16 = SimpleNamespace(device="cpu", dtype=torch.float16)
    upcast = build_tiny_components("sdxl", seed=0).vae.to(torch.float16)
    upcast.register_to_config(force_upcast=True)
    plain = build_tiny_components("sdxl", seed=0).vae.to(torch.float16)
    plain.register_to_config(force_upcast=False)

    cache = LatentCache(upcast, fp16, None)
    assert {p.dtype for p in upcast.parameters()} == {torch.float32}
    assert not {p.dtype for p in plain.parameters()} - {torch.float16}
    LatentCache(plain, fp16, None)
    assert {p.dtype for p in plain.parameters()} == {torch.float16}, "a VAE without force_upcast stays fp16"

    loaded = load_pixels(examples[0].image, (64, 64), random_crop=False, flip=False, rng=random.Random(0))
    pixels = loaded[0][None]
    mean, std = cache.encode(pixels)
    assert mean.dtype == torch.float16 and torch.isfinite(mean).all() and torch.isfinite(std).all()
    with torch.no_grad():
        reference = upcast.encode(pixels.float()).latent_dist.mean
    torch.testing.assert_close(mean.float(), reference, rtol=1e-2, atol=1e-3)
