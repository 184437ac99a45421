"""SDXL end to end through the CLI: a tiny SDXL from `make-checkpoint`, trained with each text encoder at its own
learning rate (`text_encoder_lr`, `text_encoder_2_lr`; 0 = frozen, no LoRA on it), then read back by `inspect`,
rendered by `generate`, merged by `merge` and continued by `init_lora`.

One base model and a few 2-step trainings at 64 px are shared by every test of the module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.protocol import EngineFailure
from lora_scripts_engine.request import TargetEntry
from lora_scripts_engine.targets import resolve_targets
from lora_scripts_engine.tiny_models import write_checkpoint
from PIL import Image
from safetensors.torch import load_file
from test_train_e2e import read_header, run_cli, write_dataset

TE_LR = 1e-3
TINY_LR = 1e-8  # the second encoder's rate in the two-rate run: its LoRA must barely move


def prefixes(tensors: dict) -> set[str]:
    """`lora_unet`, `lora_te1`, … of a kohya file."""
    return {"_".join(key.split("_")[:2]) for key in tensors}


def components(tensors: dict) -> set[str]:
    """`unet`, `text_encoder`, … of a diffusers file."""
    return {key.split(".")[0] for key in tensors}


def up_norm(tensors: dict, prefix: str) -> float:
    """The size of what a kohya file's LoRA learned in one part: lora_up starts at 0 and moves by the learning rate."""
    ups = [v.float() for k, v in tensors.items() if k.startswith(prefix) and k.endswith(".lora_up.weight")]
    assert ups, prefix
    return float(torch.linalg.vector_norm(torch.cat([u.flatten() for u in ups])))


class Workspace:
    """A base model and a 4-picture dataset in `root`, trained on and rendered with through the CLI."""

    def __init__(self, root: Path, base: Path):
        self.root, self.base = root, base
        self.data = write_dataset(root / "data", count=4, size=64)
        self.stderr: dict[str, str] = {}  # each run's, by name

    def train(self, name: str, **keys) -> Path:
        """A 2-step run with the text encoders on; `keys` add to or replace the config's keys."""
        values = {
            "train_data_dir": str(self.data),
            "base_model": str(self.base),
            "resolution": 64,
            "lora_rank": 4,
            "target_modules": "attention",
            "train_text_encoder": True,
            "learning_rate": 1e-3,
            "batch_size": 2,
            "max_train_steps": 2,
            "save_precision": "fp32",
            "seed": 3,
            "output_dir": str(self.root / name),
            **keys,
        }
        config = self.root / f"{name}.yaml"
        config.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
        result = run_cli("train", "--config", str(config), cwd=self.root)
        assert result.returncode == 0, result.stderr
        self.stderr[name] = result.stderr
        return self.root / name

    def render_with_and_without(self, lora: Path) -> list[np.ndarray]:
        """One `generate` call (one base-model load): the prompt alone, then with `<lora:NAME:1>`, at the same seed."""
        out = self.root / "images"
        prompt = "red sun, test style"
        result = run_cli(
            "generate",
            *["--prompt", prompt, "--prompt", f"{prompt} <lora:{lora.stem}:1>", "--lora-dir", str(lora.parent)],
            *["--seed", "5", "--steps", "2", "--width", "64", "--height", "64"],
            *["--base-model", str(self.base), "--out", str(out), "--workspace", str(self.root / "ws")],
            cwd=self.root,
        )
        assert result.returncode == 0, result.stderr
        pictures = sorted(out.rglob("*.png"))
        assert len(pictures) == 2 and all(p.name.endswith("-5.png") for p in pictures), pictures  # both at seed 5
        return [np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in pictures]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("sdxl")
    made = run_cli("make-checkpoint", "--family", "sdxl", "--out", str(root / "base.safetensors"), cwd=root)
    assert made.returncode == 0, made.stderr
    return Workspace(root, root / "base.safetensors")


@pytest.fixture(scope="module")
def first_only(work) -> Path:
    """The SDXL advice: the first encoder trained, the second (OpenCLIP bigG) frozen."""
    return work.train("te1", text_encoder_lr=TE_LR, text_encoder_2_lr=0)


@pytest.fixture(scope="module")
def both(work) -> Path:
    """Both encoders trained, the second at a learning rate 10^5 times smaller; in two processes with EMA, so the
    per-encoder parameter groups go through the gradient sums and the average too."""
    return work.train(
        "both", text_encoder_lr=TE_LR, text_encoder_2_lr=TINY_LR, devices="cpu:2", batch_size=1, ema_decay=0.9
    )


def test_a_frozen_second_encoder_gets_no_lora_in_either_file(first_only, both):
    kohya = load_file(first_only / "te1.safetensors")
    assert prefixes(kohya) == {"lora_unet", "lora_te1"}
    assert components(load_file(first_only / "pytorch_lora_weights.safetensors")) == {"unet", "text_encoder"}
    assert up_norm(kohya, "lora_te1_") > 0
    # What the run reports counts the trained layers only: half the text-encoder layers of the two-encoder run.
    layers = json.loads((first_only / "lora_scripts.json").read_text())["training"]["layers"]
    layers_both = json.loads((both / "lora_scripts.json").read_text())["training"]["layers"]
    assert layers["unet"] == layers_both["unet"] > 0
    assert 0 < layers["text_encoder"] and 2 * layers["text_encoder"] == layers_both["text_encoder"]
    header, _ = read_header(first_only / "te1.safetensors")
    assert header["__metadata__"]["ss_text_encoder_lr"].strip("[]").split(",")[0] == "0.001"


def test_each_text_encoder_learns_at_its_own_rate(both):
    kohya = load_file(both / "both.safetensors")
    assert prefixes(kohya) == {"lora_unet", "lora_te1", "lora_te2"}
    assert components(load_file(both / "pytorch_lora_weights.safetensors")) == {
        "unet",
        "text_encoder",
        "text_encoder_2",
    }
    te1, te2 = up_norm(kohya, "lora_te1_"), up_norm(kohya, "lora_te2_")
    # Adam moves each weight by about its learning rate per step: te2 at `text_encoder_2_lr` 1e-8 stays ~1e5× smaller
    # (the same size as te1's if `text_encoder_2_lr` were ignored and both took `text_encoder_lr`).
    assert te1 > 1e-3
    assert te2 < te1 * 1e-3


def test_inspect_says_sdxl_with_first_encoder_modules_only(work, first_only):
    result = run_cli("inspect", str(first_only / "te1.safetensors"), "--json", "--no-hash", cwd=work.root)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["family"]["name"] == "sdxl"
    assert report["layers"]["textEncoder"] > 0 and report["layers"]["textEncoder2"] == 0
    assert {m["component"] for m in report["modules"]} == {"unet", "text_encoder"}


def test_generate_with_the_lora_differs_from_the_base(work, first_only):
    plain, styled = work.render_with_and_without(first_only / "te1.safetensors")
    assert plain.shape == styled.shape == (64, 64, 3)
    assert np.abs(plain - styled).max() > 0


def test_merged_checkpoint_loads_in_diffusers_with_the_lora_in_unet_and_first_encoder(work, first_only):
    merged = work.root / "merged.safetensors"
    result = run_cli("merge", str(work.base), str(first_only / "te1.safetensors"), "--out", str(merged), cwd=work.root)
    assert result.returncode == 0, result.stderr
    # load_base_model reads a single file through StableDiffusionXLPipeline.from_single_file and the shipped
    # offline configs, as the engine does.
    base, loaded = load_base_model(str(work.base)), load_base_model(str(merged))
    assert loaded.family == "sdxl"

    def moved(a: torch.nn.Module, b: torch.nn.Module) -> int:
        after = b.state_dict()
        return sum(not torch.equal(v, after[k]) for k, v in a.state_dict().items())

    assert moved(base.unet, loaded.unet) > 0
    assert moved(base.text_encoders[0], loaded.text_encoders[0]) > 0
    assert moved(base.text_encoders[1], loaded.text_encoders[1]) == 0  # no te2 layers in the file


def test_init_lora_keeps_the_parents_second_encoder_as_it_is_when_its_rate_is_0(work, both):
    """Continuing a two-encoder LoRA with `text_encoder_2_lr: 0`: te2 is saved as the parent had it, te1 trains on."""
    parent = both / "both.safetensors"
    child = work.train("child", init_lora=str(parent), text_encoder_lr=TE_LR, text_encoder_2_lr=0, learning_rate=1e-3)
    before, after = load_file(parent), load_file(child / "child.safetensors")
    assert prefixes(after) == {"lora_unet", "lora_te1", "lora_te2"}
    te2 = [k for k in before if k.startswith("lora_te2_")]
    te1 = [k for k in before if k.startswith("lora_te1_") and k.endswith(".lora_up.weight")]
    for key in te2:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-9, msg=key)
    assert any(not torch.allclose(after[k], before[k], rtol=0, atol=1e-6) for k in te1)
    assert "`init_lora`'s text encoder 2 layers are kept as they are: their learning rate is 0" in work.stderr["child"]


@pytest.fixture(scope="module")
def tiny_sdxl():
    from lora_scripts_engine.tiny_models import build_tiny_components

    return build_tiny_components("sdxl")


ATTENTION = TargetEntry(
    "attention", ["to_q", "to_k", "to_v", "to_out.0"], ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]
)


def test_targets_leave_an_encoder_at_rate_0_without_names_and_count_only_trained_layers(tiny_sdxl):
    unet, encoders = tiny_sdxl.unet, tiny_sdxl.text_encoders
    _, both, counts_both = resolve_targets([ATTENTION], unet, encoders, [1e-4, 1e-4])
    _, first, counts_first = resolve_targets([ATTENTION], unet, encoders, [1e-4, 0.0])
    _, off, counts_off = resolve_targets([ATTENTION], unet, encoders, None)
    assert all(both) and first[0] == both[0] and first[1] == [] and off == [[], []]
    assert counts_first[0]["text_encoder"] == len(first[0]) < counts_both[0]["text_encoder"]
    assert counts_off[0]["text_encoder"] == 0


def test_a_text_encoder_entry_on_frozen_encoders_says_why_it_matched_nothing(tiny_sdxl):
    entry = TargetEntry("q_proj", [], ["self_attn.q_proj"])
    for lrs, why in [(None, "`train_text_encoder` is off"), ([0.0, 0.0], "their learning rate is 0")]:
        with pytest.raises(EngineFailure) as failure:
            resolve_targets([entry], tiny_sdxl.unet, tiny_sdxl.text_encoders, lrs)
        assert failure.value.message == f"`q_proj` only matches text-encoder layers, and {why}"


def test_sd1_has_one_text_encoder_and_ignores_text_encoder_2_lr(tmp_path):
    """`text_encoder_2_lr` is SDXL's second encoder: at 0 on SD 1.x the one encoder still trains at `text_encoder_lr`."""
    sd1 = Workspace(tmp_path, Path(write_checkpoint("sd1", str(tmp_path / "sd1.safetensors"), seed=0)))
    out = sd1.train("sd1", text_encoder_lr=TE_LR, text_encoder_2_lr=0)
    kohya = load_file(out / "sd1.safetensors")
    assert prefixes(kohya) == {"lora_unet", "lora_te"}
    assert up_norm(kohya, "lora_te_") > 1e-3


def test_kohya_file_uses_sd_scripts_names_and_fuses_in_diffusers_as_the_diffusers_file(work, both):
    """Both encoders' LoRAs in sd-scripts' names (LDM UNet blocks, te1/te2), loaded by diffusers' own kohya reader:
    fused, every UNet and encoder weight equals what the diffusers-format file gives."""
    tensors = load_file(both / "both.safetensors")
    assert prefixes(tensors) == {"lora_unet", "lora_te1", "lora_te2"}
    assert any(k.startswith("lora_unet_input_blocks_") for k in tensors)
    assert not any("down_blocks" in k for k in tensors)
    assert any(k.startswith("lora_te1_text_model_encoder_layers_0_self_attn_q_proj") for k in tensors)
    assert any(k.startswith("lora_te2_text_model_encoder_layers_0_self_attn_out_proj") for k in tensors)

    def fused(path: Path):
        pipe = load_base_model(str(work.base)).pipeline()
        pipe.load_lora_weights(str(path))
        pipe.fuse_lora(components=["unet", "text_encoder", "text_encoder_2"])
        return pipe

    from_kohya, from_diffusers = fused(both / "both.safetensors"), fused(both / "pytorch_lora_weights.safetensors")
    for component in ("unet", "text_encoder", "text_encoder_2"):
        a, b = getattr(from_kohya, component).state_dict(), getattr(from_diffusers, component).state_dict()
        compared = [key for key in b if "lora_" not in key and ".base_layer." in key]
        assert compared, component
        for key in compared:
            torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    base_unet = load_base_model(str(work.base)).unet.state_dict()
    fused_unet = {
        k.replace(".base_layer.", "."): v for k, v in from_kohya.unet.state_dict().items() if "lora_" not in k
    }
    assert [k for k, v in fused_unet.items() if not torch.equal(v, base_unet[k])], "the kohya file changed no weight"
