"""End to end: `network_type: loha | lokr | dora` in a user's YAML trains that adapter on the demo model through the
CLI; the kohya file inspects as that type, merges into the demo checkpoint, and `generate` renders with the
diffusers file and with the LyCORIS file (LoHa/DoRA; a LyCORIS LoKr file is refused in one line pointing at
`merge`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo-sd1.safetensors"
NAMES = {"loha": "LoHa", "lokr": "LoKr", "dora": "DoRA"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The engine under test is this very virtualenv, so no second install happens.
    env = {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix, "CI": "1"}
    return subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("networks")
    made = cli("demo-data", "--style", "jiangnan", "--count", "2", "--out", str(root / "data"), cwd=root)
    assert made.returncode == 0, made.stderr
    return root


def train(root: Path, network: str) -> Path:
    values = {
        "train_data_dir": str(root / "data"),
        "base_model": str(DEMO_MODEL),
        "resolution": 64,
        "lora_rank": 4,
        "network_type": network,
        "target_modules": "attention",
        "batch_size": 2,
        "epochs": 2,
        "learning_rate": 1e-3,
        "seed": 7,
        "save_precision": "fp32",
        "output_dir": str(root / network),
        "output_name": network,
    }
    config = root / f"{network}.yaml"
    config.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    result = cli("train", "--config", str(config), cwd=root)
    assert result.returncode == 0, result.stderr
    return root / network


def keys(path: Path) -> list[str]:
    with safe_open(str(path), "pt") as file:
        return list(file.keys())


@pytest.mark.parametrize("network", ["loha", "lokr", "dora"])
def test_a_network_type_trains_inspects_merges_and_renders(root: Path, network: str):
    out = train(root, network)
    kohya, diffusers = out / f"{network}.safetensors", out / "pytorch_lora_weights.safetensors"
    part = {"loha": ".hada_w1_a", "lokr": ".lokr_w1", "dora": ".lora_magnitude_vector"}[network]
    assert any(part in key for key in keys(diffusers)), keys(diffusers)[:3]

    inspected = cli("inspect", str(kohya), "--json", "--no-hash", cwd=root)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["network"]["type"] == network

    merged = root / f"{network}-merged.safetensors"
    result = cli("merge", str(DEMO_MODEL), f"{kohya}:1", "--out", str(merged), cwd=root)
    assert result.returncode == 0, result.stderr
    assert merged.stat().st_size > 0

    def render(lora: Path, name: str) -> subprocess.CompletedProcess:
        return cli(
            "generate",
            "--prompt",
            "a canal town",
            "--lora",
            f"{lora}:1",
            "--base-model",
            str(DEMO_MODEL),
            "--steps",
            "2",
            "--width",
            "64",
            "--height",
            "64",
            "--workspace",
            str(root / f"ws-{name}"),
            cwd=root / network,
        )

    pictures_before = set((root / network).rglob("*.png"))
    rendered = render(diffusers, network)
    assert rendered.returncode == 0, rendered.stderr
    assert set((root / network).rglob("*.png")) - pictures_before, rendered.stdout

    if network == "lokr":  # the LyCORIS LoKr file has no peft form: one line sends the user to `merge`
        refused = render(kohya, "lokr-kohya")
        assert refused.returncode != 0
        assert "lora-scripts merge" in refused.stderr, refused.stderr
    else:  # the LyCORIS LoHa/DoRA file `<lora:NAME>` finds renders too (generate converts it for the engine)
        pictures_before = set((root / network).rglob("*.png"))
        rendered = render(kohya, f"{network}-kohya")
        assert rendered.returncode == 0, rendered.stderr
        assert set((root / network).rglob("*.png")) - pictures_before, rendered.stdout
