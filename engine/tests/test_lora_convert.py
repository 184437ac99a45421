"""`lora-scripts convert` read back by diffusers: a kohya file converted to diffusers format fuses into the same UNet
and text-encoder weights as the kohya file itself. The kohya fixtures and the tiny models they fit come from
tests/fixtures/lora/make_fixtures.py (sd-scripts' names, fp16, LoCon convs with their own rank and alpha)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "lora"
sys.path.insert(0, str(FIXTURES))
import make_fixtures  # noqa: E402  (the models the fixtures were made for)

SCHEDULER = DDPMScheduler(steps_offset=1, clip_sample=False)  # unused by these tests; set as diffusers asks


def tiny_pipeline(family: str):
    """A real pipeline around the fixture's models; the same seed gives the same base weights on every call."""
    models = make_fixtures.kohya_models(family)
    vae = AutoencoderKL(
        block_out_channels=[8],
        norm_num_groups=8,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
    )
    if family == "sdxl":
        return StableDiffusionXLPipeline(vae=vae, tokenizer=None, tokenizer_2=None, scheduler=SCHEDULER, **models)
    return StableDiffusionPipeline(
        vae=vae,
        tokenizer=None,
        scheduler=SCHEDULER,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        **models,
    )


def convert(source: Path, out: Path, to: str) -> None:
    env = {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix}
    result = subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), "convert", str(source), "--to", to, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def weights(pipe, components) -> dict[str, dict[str, torch.Tensor]]:
    """Each component's plain weights (`base_layer.` names, which PEFT adds, taken out)."""
    return {
        name: {
            k.replace(".base_layer", ""): v.clone()
            for k, v in getattr(pipe, name).state_dict().items()
            if "lora_" not in k
        }
        for name in components
    }


def fused_with_each(family: str, files: list[Path]) -> tuple[dict, list[dict]]:
    """Base weights, then the weights with each file fused in (unfused and unloaded again before the next)."""
    pipe = tiny_pipeline(family)
    components = ["unet", "text_encoder", "text_encoder_2"][: 3 if family == "sdxl" else 2]
    base, fused = weights(pipe, components), []
    for lora in files:
        pipe.load_lora_weights(str(lora))
        pipe.fuse_lora(components=components)
        fused.append(weights(pipe, components))
        pipe.unfuse_lora(components=components)
        pipe.unload_lora_weights()
    return base, fused


def assert_same_change(base: dict, expected: dict, got: dict) -> None:
    for name, weights_ in expected.items():
        changed = [k for k, v in weights_.items() if not torch.equal(v, base[name][k])]
        # Every adapted layer (convs with their own rank and alpha included) moved, and moved the same way.
        assert len(changed) > 4, name
        assert weights_.keys() == got[name].keys()
        for key in weights_:
            torch.testing.assert_close(got[name][key], weights_[key], rtol=0, atol=1e-7, msg=f"{name} {key}")


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_kohya_file_converted_to_diffusers_fuses_to_the_same_weights(family, tmp_path):
    kohya = FIXTURES / f"kohya-{family}-tiny.safetensors"
    converted = tmp_path / "diffusers.safetensors"
    convert(kohya, converted, "diffusers")
    base, (from_kohya, from_converted) = fused_with_each(family, [kohya, converted])
    assert_same_change(base, from_kohya, from_converted)


# The "diffusers new" spelling (no alphas: alpha = rank). Not peft-sd1-tiny: diffusers 0.42 loads a kohya file's
# per-module alpha for attention layers under `processor.to_k_lora.down.weight` names that match no module, so an
# attention alpha that differs from the most common one is lost on its side (our kohya alpha is right: to-kohya's
# e2e test checks it with the kohya formula).
def test_diffusers_file_converted_to_kohya_fuses_to_the_same_weights(tmp_path):
    original = FIXTURES / "diffusers-new-sd1-tiny.safetensors"
    converted = tmp_path / "kohya.safetensors"
    convert(original, converted, "kohya")
    base, (from_original, from_converted) = fused_with_each("sd1", [original, converted])
    assert_same_change(base, from_original, from_converted)
