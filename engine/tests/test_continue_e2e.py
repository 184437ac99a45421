"""`init_lora` through the CLI on the shipped demo model: a continued run starts exactly from the parent (kohya or
diffusers file alike), records its lineage, and a file that is not a LoRA or does not fit is one clear error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from test_resume_e2e import DEMO_MODEL, cli, write_config


def continue_from(root: Path, name: str, parent: Path, **overrides) -> Path:
    # A learning rate of 1e-9 for one step: AdamW moves each weight by about 1e-9, so the child equals its start.
    config = write_config(
        root,
        name,
        train_data_dir=str(root / "snow"),
        init_lora=str(parent),
        max_train_steps=1,
        learning_rate=1e-9,
        **overrides,
    )
    result = cli("train", "--config", str(config), cwd=root)
    assert result.returncode == 0, result.stderr
    (root / name / "cli-stderr.txt").write_text(result.stderr)
    return root / name


def kohya_metadata(path: Path) -> dict:
    with safe_open(str(path), "pt") as f:
        return f.metadata()


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("continue")
    for style, folder in [("jiangnan", "data"), ("northern_snow", "snow")]:
        made = cli("demo-data", "--style", style, "--count", "4", "--out", str(root / folder), cwd=root)
        assert made.returncode == 0, made.stderr
    return root


@pytest.fixture(scope="module")
def parent(root) -> Path:
    # rank 4 and attention+ff here; the children's configs keep the defaults (rank 16, attention): the file decides.
    result = cli(
        "train",
        "--config",
        str(write_config(root, "parent", max_train_steps=4, target_modules="attention+ff")),
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    return root / "parent"


def test_continuing_a_kohya_or_diffusers_file_starts_from_its_weights(root, parent):
    from_kohya = continue_from(
        root, "from_kohya", parent / "parent.safetensors", lora_rank=16, target_modules="attention"
    )
    from_diffusers = continue_from(
        root, "from_diffusers", parent / "pytorch_lora_weights.safetensors", train_text_encoder=True
    )
    assert (
        "warning: `init_lora` has no text-encoder layers: only its UNet layers are trained"
        in (from_diffusers / "cli-stderr.txt").read_text()
    )
    start = load_file(str(parent / "pytorch_lora_weights.safetensors"))
    for child in (from_kohya, from_diffusers):
        weights = load_file(str(child / "pytorch_lora_weights.safetensors"))
        assert weights.keys() == start.keys()  # the parent's layers, not the config's `attention`
        for key in start:
            assert torch.allclose(weights[key], start[key], atol=1e-6), key
    metadata = kohya_metadata(from_kohya / "from_kohya.safetensors")
    assert (metadata["ss_network_dim"], metadata["ss_network_alpha"]) == ("4", "8.0")  # the parent's rank and alpha


def test_the_continued_file_records_its_lineage(root, parent):
    child = continue_from(root, "child", parent / "parent.safetensors")
    grandchild = continue_from(root, "grandchild", child / "child.safetensors")
    sha = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()
    lineage = json.loads(kohya_metadata(grandchild / "grandchild.safetensors")["lora_scripts.lineage"])
    parent_entry = {
        "file": "parent.safetensors",
        "sha256": sha(parent / "parent.safetensors"),
        "output_name": "parent",
        "steps": 4,
        "datasets": [{"name": "data", "images": 4, "sha256": lineage["ancestors"][0]["datasets"][0]["sha256"]}],
    }
    assert lineage["ancestors"] == [parent_entry]
    assert lineage["parent_lora"]["file"] == "child.safetensors" and lineage["parent_lora"]["sha256"] == sha(
        child / "child.safetensors"
    )
    assert lineage["parent_lora"]["steps"] == 1 and lineage["parent_lora"]["datasets"][0]["name"] == "snow"
    assert (lineage["steps"], lineage["datasets"][0]["name"], lineage["datasets"][0]["images"]) == (1, "snow", 4)
    assert json.loads((grandchild / "lora_scripts.json").read_text())["lineage"] == lineage
    assert json.loads((parent / "lora_scripts.json").read_text())["lineage"]["parent_lora"] is None


def test_a_base_model_as_init_lora_is_refused_before_training(root):
    result = cli("train", "--config", str(write_config(root, "not_lora", init_lora=str(DEMO_MODEL))), cwd=root)
    assert result.returncode == 1
    assert error_lines(result) == [
        f"error: {DEMO_MODEL}: `init_lora` is not a LoRA this tool can continue (the file holds a base model checkpoint)"
    ]
    assert not (root / "not_lora").exists()


def test_an_sdxl_lora_on_an_sd1_base_model_is_one_clear_error(root):
    name = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj"
    path = root / "sdxl_lora.safetensors"
    save_file(
        {
            f"{name}.lora_down.weight": torch.zeros(4, 1280),
            f"{name}.lora_up.weight": torch.zeros(1280, 4),
            f"{name}.alpha": torch.tensor(4.0),
        },
        str(path),
    )
    result = cli("train", "--config", str(write_config(root, "sdxl_on_sd1", init_lora=str(path))), cwd=root)
    assert error_lines(result) == [f"error: {path}: `init_lora` is an SDXL LoRA, but the base model is SD 1.x"]
    assert "hint: continue a LoRA on the base model (family) it was trained on" in result.stderr


def test_a_lora_of_another_sd1_sized_model_names_the_layer_that_does_not_fit(root):
    name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"  # SD 1.5's shapes: 768 → 320
    path = root / "sd15_lora.safetensors"
    save_file(
        {
            f"{name}.lora_down.weight": torch.zeros(4, 768),
            f"{name}.lora_up.weight": torch.zeros(320, 4),
            f"{name}.alpha": torch.tensor(4.0),
        },
        str(path),
    )
    result = cli("train", "--config", str(write_config(root, "sd15_on_demo", init_lora=str(path))), cwd=root)
    assert error_lines(result) == [
        f"error: {path}: `init_lora` does not fit this base model (layer `down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A` is [4, 768] in the file but [4, 128] in the model)"
    ]
