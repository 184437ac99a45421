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
    vae = AutoencoderKL(block_out_channels=[8], norm_num_groups=8, down_block_types=["DownEncoderBlock2D"],
                        up_block_types=["UpDecoderBlock2D"])
    if family == "sdxl":
        return StableDiffusionXLPipeline(vae=vae, tokenizer=None, tokenizer_2=None, scheduler=SCHEDULER, **models)
    return StableDiffusionPipeline(vae=vae, tokenizer=None, scheduler=SCHEDULER, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False, **models)


def convert(source: Path, out: Path, to: str) -> None:
    env = {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix}
    result = subprocess.run(["node", str(REPO / "bin" / "lora-scripts.mjs"), "convert", str(source), "--to", to, "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def fused_weights(family: str, lora: Path) -> dict[str, dict[str, torch.Tensor]]:
    pipe = tiny_pipeline(family)
    components = ["unet", "text_encoder", "text_encoder_2"][: 3 if family == "sdxl" else 2]
    pipe.load_lora_weights(str(lora))
    pipe.fuse_lora(components=components)
    return {name: {k: v.clone() for k, v in getattr(pipe, name).state_dict().items() if "lora_" not in k} for name in components}


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_kohya_file_converted_to_diffusers_fuses_to_the_same_weights(family, tmp_path):
    kohya = FIXTURES / f"kohya-{family}-tiny.safetensors"
    converted = tmp_path / "diffusers.safetensors"
    convert(kohya, converted, "diffusers")

    from_kohya, from_converted = fused_weights(family, kohya), fused_weights(family, converted)
    base = {name: {k.replace(".base_layer", ""): v for k, v in getattr(tiny_pipeline(family), name).state_dict().items()} for name in from_kohya}
    for name, weights in from_kohya.items():
        changed = [k for k, v in weights.items() if not torch.equal(v, base[name][k.replace(".base_layer", "")])]
        # Every adapted layer (convs with their own rank and alpha included) moved, and moved the same way.
        assert len(changed) > 10, name
        assert weights.keys() == from_converted[name].keys()
        for key in weights:
            torch.testing.assert_close(from_converted[name][key], weights[key], rtol=0, atol=1e-7, msg=f"{name} {key}")
