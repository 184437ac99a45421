"""`lora-scripts merge` (TypeScript, streamed) checked against diffusers: a checkpoint merged at weight w must load
through models.py with the same UNet and text-encoder weights as diffusers' load_lora_weights + fuse_lora(w) on the
base, and sample the same images as the base with the LoRA applied at w.

Tiny random models of each family (tiny_models.py); the LoRA covers attention, MLP, 1×1 and 3×3 convs and every
text encoder, with random non-zero factors and alpha ≠ rank so that the scale matters.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
from diffusers.utils.state_dict_utils import convert_state_dict_to_kohya
from lora_scripts_engine.lora_files import save_lora
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.tiny_models import write_checkpoint
from peft import LoraConfig
from safetensors.torch import load_file, safe_open, save_file

REPO = Path(__file__).resolve().parents[2]
WEIGHT = 0.7
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
# fp32 throughout: the merge adds w·(α/r)·up@down in float32 as diffusers does, but sums in another order.
WEIGHT_ATOL = 1e-5


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args], capture_output=True, text=True, timeout=120
    )


def make_lora(checkpoint: Path, path: Path, seed: int = 1) -> Path:
    """A diffusers/PEFT LoRA file (our engine's own writer) with random A and B, r=4, alpha=6."""
    torch.manual_seed(seed)
    base = load_base_model(str(checkpoint))
    config = dict(r=4, lora_alpha=6, init_lora_weights=False)
    base.unet.add_adapter(LoraConfig(target_modules=UNET_TARGETS, **config))
    for encoder in base.text_encoders:
        encoder.add_adapter(LoraConfig(target_modules=TEXT_TARGETS, **config))
    return Path(save_lora(base, str(path), "fp32", train_text_encoder=True))


def kohya_copy(peft_file: Path, path: Path) -> Path:
    """The same LoRA in kohya format (diffusers' converter); it writes alpha = rank, so put alpha 6 back."""
    tensors = convert_state_dict_to_kohya(load_file(peft_file))
    tensors = {k: (torch.tensor(6.0) if k.endswith(".alpha") else v) for k, v in tensors.items()}
    save_file(tensors, path)
    return path


def fused_oracle(checkpoint: Path, lora: Path, weight: float):
    base = load_base_model(str(checkpoint))
    pipe = base.pipeline()
    pipe.load_lora_weights(str(lora))
    pipe.fuse_lora(lora_scale=weight)
    pipe.unload_lora_weights()
    return base


def component_weights(model) -> dict[str, dict[str, torch.Tensor]]:
    parts = {"unet": model.unet, **{f"text_encoder_{i}": te for i, te in enumerate(model.text_encoders)}}
    return {name: {k: v.detach().clone() for k, v in module.state_dict().items()} for name, module in parts.items()}


def assert_same_weights(merged, oracle, base) -> None:
    got, want, before = component_weights(merged), component_weights(oracle), component_weights(base)
    for component, tensors in want.items():
        assert got[component].keys() == tensors.keys(), component
        changed = 0
        for key, expected in tensors.items():
            torch.testing.assert_close(
                got[component][key], expected, atol=WEIGHT_ATOL, rtol=0, msg=f"{component}.{key}"
            )
            changed += not torch.equal(expected, before[component][key])
        assert changed > 0, f"the LoRA changed nothing in {component}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = {}

    def make(family: str) -> tuple[Path, Path]:
        if family not in cache:
            folder = tmp_path_factory.mktemp(family)
            checkpoint = write_checkpoint(family, folder / "base.safetensors")
            cache[family] = (checkpoint, make_lora(checkpoint, folder / "lora.safetensors"))
        return cache[family]

    return make


@pytest.mark.parametrize("family", ["sd1", "sd2", "sdxl"])
def test_merged_checkpoint_loads_with_the_weights_diffusers_fuses(tiny, tmp_path, family):
    checkpoint, lora = tiny(family)
    merged = tmp_path / "merged.safetensors"
    result = cli("merge", str(checkpoint), f"{lora}:{WEIGHT}", "--out", str(merged))
    assert result.returncode == 0, result.stderr
    assert_same_weights(
        load_base_model(str(merged)), fused_oracle(checkpoint, lora, WEIGHT), load_base_model(str(checkpoint))
    )
    with safe_open(str(merged), "pt") as f:
        record = json.loads(f.metadata()["lora_scripts.merged_loras"])
    assert record == [{"file": "lora.safetensors", "weight": WEIGHT, "modules": record[0]["modules"]}]


def test_kohya_file_merges_like_diffusers_loads_it(tiny, tmp_path):
    checkpoint, peft_lora = tiny("sd1")
    lora = kohya_copy(peft_lora, tmp_path / "kohya.safetensors")
    merged = tmp_path / "merged.safetensors"
    result = cli("merge", str(checkpoint), f"{lora}:-0.5", "--out", str(merged))
    assert result.returncode == 0, result.stderr
    assert_same_weights(
        load_base_model(str(merged)), fused_oracle(checkpoint, lora, -0.5), load_base_model(str(checkpoint))
    )


# Two sampling steps at 64 px; merged weights differ from base + LoRA by float32 rounding only.
IMAGE_ATOL = 1e-3


def test_merged_checkpoint_samples_like_base_with_lora(tiny, tmp_path):
    checkpoint, lora = tiny("sd1")
    merged = tmp_path / "merged.safetensors"
    assert cli("merge", str(checkpoint), f"{lora}:{WEIGHT}", "--out", str(merged)).returncode == 0

    def sample(pipe) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.from_numpy(
            pipe(
                "a house by the water",
                num_inference_steps=2,
                height=64,
                width=64,
                generator=generator,
                output_type="np",
            ).images
        )

    with_lora = load_base_model(str(checkpoint)).pipeline()
    with_lora.load_lora_weights(str(lora), adapter_name="style")
    with_lora.set_adapters(["style"], adapter_weights=[WEIGHT])
    expected = sample(with_lora)
    with_lora.disable_lora()
    plain = sample(with_lora)
    got = sample(load_base_model(str(merged)).pipeline())
    torch.testing.assert_close(got, expected, atol=IMAGE_ATOL, rtol=0)
    assert (plain - expected).abs().max() > 50 * IMAGE_ATOL, (
        "the LoRA must visibly change the image for this test to mean anything"
    )


def test_lora_for_another_family_is_refused_naming_it(tiny, tmp_path):
    sd1_checkpoint, _ = tiny("sd1")
    _, sdxl_lora = tiny("sdxl")
    result = cli("merge", str(sd1_checkpoint), str(sdxl_lora), "--out", str(tmp_path / "merged.safetensors"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {sdxl_lora}: ")
    assert "hint: merge a LoRA into the base model family it was trained on" in result.stderr
    assert not (tmp_path / "merged.safetensors").exists()
