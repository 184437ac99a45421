"""validation.py: the loss on held-out pictures is the same however often it is measured, and follows the LoRA."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from lora_scripts_engine.device import pick_compute
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.tiny_models import write_checkpoint
from lora_scripts_engine.validation import TIMESTEP_FRACTIONS, Validation
from peft import LoraConfig
from PIL import Image


class Logs:
    def __init__(self):
        self.scalars = []
        self.writer = SimpleNamespace(add_scalar=lambda tag, value, step: self.scalars.append((tag, step, value)))


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_validation_loss_is_repeatable_and_changes_with_the_lora(tmp_path, family):
    base = load_base_model(str(write_checkpoint(family, tmp_path / "base.safetensors", seed=0)))
    rows = []
    for i, colour in enumerate([(200, 30, 30), (30, 60, 200)]):
        Image.new("RGB", (64, 64), colour).save(tmp_path / f"{i}.png")
        rows.append(json.dumps({"image": str(tmp_path / f"{i}.png"), "caption": f"picture {i}", "repeats": 1}))
    (tmp_path / "validation.jsonl").write_text("\n".join(rows) + "\n")
    config = SimpleNamespace(trigger_word="tst", seed=42)
    base.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_v"], init_lora_weights="gaussian"))
    validation = Validation(base, pick_compute("no", None), str(tmp_path / "validation.jsonl"), config, 64, every=2)
    assert validation.captions == ["tst, picture 0", "tst, picture 1"]
    assert validation.noise.shape[:2] == (2, len(TIMESTEP_FRACTIONS))

    logs = Logs()
    base.unet.train()  # as during training
    torch.manual_seed(0)
    first = validation.run(2, 1, logs)
    torch.manual_seed(123)  # the training RNG state must not matter
    assert validation.run(4, 1, logs) == first
    assert [(tag, step) for tag, step, _ in logs.scalars] == [("validation/loss", 2), ("validation/loss", 4)]
    assert base.unet.training  # restored after measuring

    with torch.no_grad():
        for name, parameter in base.unet.named_parameters():
            if "lora_B" in name:
                parameter.add_(0.05)
    assert validation.run(6, 2, logs) != first


def test_masked_validation_loss_is_the_mean_over_each_masks_kept_pixels(tmp_path):
    """With `masked_loss` each picture's mask weights its squared error as in training: an all-white mask gives the
    plain loss, a half mask another value; without `masked_loss` the masks are not read."""
    base = load_base_model(str(write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)))
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "picture.png")
    white = Image.new("L", (64, 64), 255)
    white.save(tmp_path / "white.png")
    half = Image.new("L", (64, 64), 0)
    half.paste(255, (0, 0, 32, 64))
    half.save(tmp_path / "half.png")

    def loss(mask: str | None, masked_loss: bool) -> float:
        row = {"image": str(tmp_path / "picture.png"), "caption": "a picture", "repeats": 1}
        manifest = tmp_path / f"validation-{mask}-{masked_loss}.jsonl"
        manifest.write_text(json.dumps({**row, **({"mask": str(tmp_path / mask)} if mask else {})}) + "\n")
        config = SimpleNamespace(trigger_word=None, seed=42, masked_loss=masked_loss)
        validation = Validation(base, pick_compute("no", None), str(manifest), config, 64, every=2)
        return validation.run(2, 1, Logs())

    plain = loss(None, False)
    assert loss("half.png", False) == plain  # masks are read only with `masked_loss`
    assert loss("white.png", True) == pytest.approx(plain, rel=1e-6)
    halved = loss("half.png", True)
    assert halved != pytest.approx(plain, rel=1e-3)
