"""Flux through the CLI, as a user runs it: `make-checkpoint --family flux-dev` → `train` → the kohya file (Flux names,
ss_* metadata) beside the diffusers file, both loading into FluxPipeline with the same effect → `generate` with the
LoRA. A schnell base trains too; a transformer file without `flux_components` is refused before the engine starts.

Switching off a piece fails a test here: no Flux dispatch (the SD trainer cannot load the folder), no kohya
conversion (wrong key names), no Flux metadata (`ss_base_model_version`), LoRA ignored by generate (same PNG)."""

import json
import zlib
from pathlib import Path

import pytest
import torch
from lora_scripts_engine.flux_model import (
    build_tiny_flux,
    load_flux_base,
    load_transformer_file,
    save_transformer_file,
    write_tiny_flux_folder,
)
from PIL import Image
from safetensors import safe_open
from test_train_e2e import run_cli, write_dataset

FLUX_CONFIG = """\
base_model: {base}
train_data_dir: data
output_dir: {out}
output_name: {name}
resolution: 64
batch_size: 2
max_train_steps: {steps}
learning_rate: 0.01
lora_rank: 4
lora_alpha: 8
target_modules: [attention+ff]
mixed_precision: "no"
save_precision: fp32
"""


def train_cli(folder: Path, base: str, out: str, name: str, steps: int, extra: str = ""):
    config = folder / f"{name}.yaml"
    config.write_text(FLUX_CONFIG.format(base=base, out=out, name=name, steps=steps) + extra)
    return run_cli("train", "--config", str(config), cwd=folder)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def flux_dev(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flux-e2e")
    ok(run_cli("make-checkpoint", "--family", "flux-dev", "--out", "base", cwd=folder))
    write_dataset(folder / "data", count=4)
    ok(train_cli(folder, "base", "out", "fluxy", steps=4))
    return {"folder": folder, "base": folder / "base", "out": folder / "out"}


def read_file(path: Path) -> tuple[list[str], dict]:
    with safe_open(str(path), framework="pt") as f:
        return list(f.keys()), f.metadata()


def test_kohya_file_has_flux_names_and_flux_metadata(flux_dev):
    keys, metadata = read_file(flux_dev["out"] / "fluxy.safetensors")
    assert "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight" in keys
    assert "lora_unet_single_blocks_1_linear1.lora_up.weight" in keys
    assert all(k.startswith(("lora_unet_double_blocks_", "lora_unet_single_blocks_")) for k in keys)
    assert metadata["ss_base_model_version"] == "flux1"
    assert metadata["modelspec.architecture"] == "flux-1-dev/lora"
    assert (metadata["ss_network_dim"], metadata["ss_network_alpha"], metadata["ss_output_name"]) == (
        "4",
        "8.0",
        "fluxy",
    )
    record = json.loads((flux_dev["out"] / "lora_scripts.json").read_text())
    assert record["base_model"]["family"] == "flux" and record["base_model"]["prediction_type"] == "flow_matching"


def fused_transformer(base_folder: Path, lora: Path | None) -> dict[str, torch.Tensor]:
    """The base's transformer weights with `lora` loaded by FluxPipeline.load_lora_weights and fused in."""
    base = load_flux_base(str(base_folder))
    if lora is not None:
        base.pipeline.load_lora_weights(str(lora), adapter_name="t")
        loaded = [n for n, _ in base.transformer.named_modules() if n.endswith("lora_A.t")]
        assert len(loaded) == 34  # every trained layer (attention+ff on 2 double + 2 single blocks)
        base.pipeline.fuse_lora(components=["transformer"], lora_scale=1.0, adapter_names=["t"])
        base.pipeline.unload_lora_weights()
    return {k: v.clone() for k, v in base.transformer.state_dict().items()}


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def fused(flux_dev):
    base, out = flux_dev["base"], flux_dev["out"]
    return {
        "plain": fused_transformer(base, None),
        "diffusers": fused_transformer(base, out / "pytorch_lora_weights.safetensors"),
    }


def test_diffusers_file_loads_in_flux_pipeline_and_changes_the_transformer(fused):
    assert max_difference(fused["diffusers"], fused["plain"]) > 1e-3


def test_kohya_file_converted_back_loads_with_the_same_weights_after_fuse(flux_dev, fused):
    converted = flux_dev["folder"] / "fluxy-diffusers.safetensors"
    kohya = flux_dev["out"] / "fluxy.safetensors"
    ok(run_cli("convert", str(kohya), "--to", "diffusers", "--out", str(converted), cwd=flux_dev["folder"]))
    assert max_difference(fused_transformer(flux_dev["base"], converted), fused["diffusers"]) < 1e-5


def test_inspect_names_the_kohya_file_flux(flux_dev):
    result = ok(run_cli("inspect", str(flux_dev["out"] / "fluxy.safetensors"), "--json", cwd=flux_dev["folder"]))
    assert json.loads(result.stdout)["family"]["name"] == "flux"


def test_kohya_file_merged_into_a_bfl_transformer_file_equals_the_fused_diffusers_lora(flux_dev, fused):
    base_file = save_transformer_file(
        load_flux_base(str(flux_dev["base"])).transformer, flux_dev["folder"] / "t.safetensors"
    )
    merged = flux_dev["folder"] / "merged.safetensors"
    kohya = flux_dev["out"] / "fluxy.safetensors"
    ok(run_cli("merge", str(base_file), str(kohya), "--out", str(merged), cwd=flux_dev["folder"]))
    state = load_transformer_file(str(merged)).state_dict()
    assert max_difference({k: state[k] for k in fused["diffusers"]}, fused["diffusers"]) < 1e-5


def png_parameters(path: Path) -> str:
    """The PNG's `parameters` tEXt chunk (WebUI's infotext)."""
    data, offset = path.read_bytes(), 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt" and body.startswith(b"parameters\0"):
            return body[len(b"parameters\0") :].decode("latin-1")
        if kind == b"iTXt" and body.startswith(b"parameters\0"):
            text = body.split(b"\0", 5)[-1]
            return (zlib.decompress(text) if body[11] else text).decode("utf-8")
        offset += 12 + length
    raise AssertionError(f"{path} has no parameters chunk")


def test_generate_renders_with_the_lora_differently_than_without(flux_dev):
    """One engine run, two prompts on one seed: with `<lora:fluxy:1>` (the kohya file, found by name) and without."""
    images = flux_dev["folder"] / "images"
    args = ["--base-model", "base", "--lora-dir", "out", "--width", "64", "--height", "64", "--steps", "3"]
    prompt = "red sun, white sky"
    ok(
        run_cli(
            "generate",
            "--prompt",
            f"{prompt}, <lora:fluxy:1>",
            "--prompt",
            prompt,
            *args,
            "--seed",
            "5",
            "--out",
            "images",
            cwd=flux_dev["folder"],
        )
    )
    pngs = sorted(images.glob("*.png"), key=lambda p: p.stat().st_mtime_ns)
    assert len(pngs) == 2
    infotexts = [png_parameters(p) for p in pngs]
    with_lora = next(i for i, text in enumerate(infotexts) if "<lora:fluxy:1>" in text)
    assert "Steps: 3" in infotexts[with_lora] and "Lora hashes" in infotexts[with_lora]
    a, b = (
        torch.frombuffer(bytearray(Image.open(p).convert("RGB").tobytes()), dtype=torch.uint8).float() for p in pngs
    )
    assert (a - b).abs().max() > 2  # out of 255: the LoRA changes the picture


def test_schnell_base_trains_and_is_written_as_schnell(flux_dev):
    folder = flux_dev["folder"]
    write_tiny_flux_folder(folder / "schnell", "schnell", seed=1)
    ok(train_cli(folder, "schnell", "out-schnell", "quick", steps=1))
    keys, metadata = read_file(folder / "out-schnell" / "quick.safetensors")
    assert "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight" in keys
    assert metadata["modelspec.architecture"] == "flux-1-schnell/lora"


def test_transformer_file_without_flux_components_is_refused_in_one_line(flux_dev):
    folder = flux_dev["folder"]
    save_transformer_file(build_tiny_flux("dev", seed=0).transformer, folder / "flux1-tiny.safetensors")
    result = train_cli(folder, "flux1-tiny.safetensors", "out-refused", "refused", steps=1)
    assert result.returncode != 0
    assert "flux_components" in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "out-refused").exists()
