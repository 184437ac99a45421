"""End to end: each training option of docs/training-options.md, set in a user's YAML, reaches the training step.

Every run trains the shipped demo model for two steps through the CLI; tests that read the same settings share one
run. With the same seed, an option that is on must change the trained LoRA against the same run without it, and
where it is cheap to see, change it the way the docs say: a block at learning-rate multiplier 0 stays untrained, a
block rank is the rank of that block's layers, the saved LoRA is the EMA average (and a resumed EMA run equals an
uninterrupted one), Min-SNR lowers the first step's loss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo-sd1.safetensors"
STEPS = 2  # 4 pictures, batch 2, 1 epoch: each option acts from the first step on


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
    root = tmp_path_factory.mktemp("options")
    made = cli("demo-data", "--style", "jiangnan", "--count", "4", "--out", str(root / "data"), cwd=root)
    assert made.returncode == 0, made.stderr
    return root


def write_config(root: Path, name: str, **overrides) -> Path:
    values = {
        "train_data_dir": str(root / "data"),
        "base_model": str(DEMO_MODEL),
        "resolution": 64,
        "lora_rank": 4,
        "target_modules": "attention",
        "batch_size": 2,
        "epochs": 1,
        "learning_rate": 1e-3,
        "seed": 7,
        "save_precision": "fp32",
        "logging_steps": 1,
        "output_dir": str(root / name),
        **overrides,
    }
    path = root / f"{name}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return path


def train(root: Path, name: str, *flags: str, **overrides) -> Path:
    result = cli("train", "--config", str(write_config(root, name, **overrides)), *flags, cwd=root)
    assert result.returncode == 0, result.stderr
    return root / name


def trained_once(root: Path, name: str, **overrides) -> Path:
    """A run another test of this file may already have made with the same settings (the same name)."""
    out = root / name
    return out if (out / "pytorch_lora_weights.safetensors").exists() else train(root, name, **overrides)


def lora(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(output_dir / "pytorch_lora_weights.safetensors"))


def differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    assert a.keys() == b.keys()
    return any(not torch.equal(a[key], b[key]) for key in a)


def assert_same_lora(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-5, atol=1e-7), key


def logged(output_dir: Path, tag: str) -> list[float]:
    """A TensorBoard scalar of the run, by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(output_dir / "logs"))
    events.Reload()
    return [event.value for event in sorted(events.Scalars(tag), key=lambda e: e.step)]


def final_state(output_dir: Path) -> dict:
    return torch.load(
        output_dir / "states" / f"step-{STEPS:08d}" / "training_state.pt", map_location="cpu", weights_only=True
    )


@pytest.fixture(scope="module")
def plain(root) -> Path:
    return train(root, "plain")


# ---- noise, schedule, loss weights ------------------------------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        {"noise_offset": 0.1},
        {"adaptive_noise_scale": 0.05},
        {"multires_noise_iterations": 6, "multires_noise_discount": 0.3},
        # Below SD's smallest SNR (≈ 0.0047 at t = 999): every sample is down-weighted, whatever timesteps step 1
        # draws (at γ = 5 a step whose timesteps all have SNR ≤ 5 keeps weight 1 and logs the plain loss).
        {"min_snr_gamma": 0.001},
        {"optimizer": "adafactor"},
        {"optimizer": "prodigy"},
    ],
    ids=lambda option: "+".join(option),
)
def test_each_option_changes_the_trained_lora(root, plain, option):
    name = "-".join(f"{k}={v}" for k, v in option.items())
    on = trained_once(root, name, **option)
    trained = lora(on)
    assert all(torch.isfinite(t).all() for t in trained.values())
    assert differs(trained, lora(plain))


def test_multires_noise_discount_reaches_the_noise(root):
    # The 0.3 run is the one test_each_option_changes_the_trained_lora trains.
    strong = trained_once(
        root,
        "multires_noise_iterations=6-multires_noise_discount=0.3",
        multires_noise_iterations=6,
        multires_noise_discount=0.3,
    )
    weak = train(root, "multires-0.1", multires_noise_iterations=6, multires_noise_discount=0.1)
    assert differs(lora(strong), lora(weak))


def test_min_snr_weighting_lowers_the_first_steps_loss(root, plain):
    # Same weights, noise and timesteps at step 1; each sample's error is weighted by min(SNR, γ)/SNR, < 1 for
    # every timestep at this γ.
    weighted = logged(trained_once(root, "min_snr_gamma=0.001", min_snr_gamma=0.001), "train/loss")
    assert weighted[0] < logged(plain, "train/loss")[0]


def test_zero_terminal_snr_changes_a_v_prediction_run(root):
    v_plain = train(root, "v-plain", prediction_type="v_prediction")
    v_zero = train(root, "v-zero-snr", prediction_type="v_prediction", zero_terminal_snr=True)
    assert differs(lora(v_zero), lora(v_plain))


def test_zero_terminal_snr_refuses_an_epsilon_model_in_one_line(root):
    result = cli("train", "--config", str(write_config(root, "eps-zero-snr", zero_terminal_snr=True)), cwd=root)
    assert result.returncode != 0
    assert "`zero_terminal_snr: true` needs a v-prediction model" in result.stderr
    assert "prediction_type: v_prediction" in result.stderr


def test_prodigy_logs_its_own_step_size(root, plain):
    prodigy = trained_once(root, "optimizer=prodigy", optimizer="prodigy")
    # AdamW logs the configured rate; Prodigy its estimate d (starts at 1e-6) times that rate.
    assert logged(plain, "train/learning_rate")[0] == pytest.approx(1e-3)
    assert logged(prodigy, "train/learning_rate")[0] < 1e-3


# ---- EMA --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ema(root) -> Path:
    return train(root, "ema", ema_decay=0.9)


def test_ema_saves_the_average_not_the_last_weights(ema, plain):
    saved = lora(ema)
    assert differs(saved, lora(plain))
    state = final_state(ema)
    average, raw = state["ema"]["shadow_params"], state["params"]
    assert state["ema"]["optimization_step"] == STEPS
    # Every saved tensor is one of the averaged tensors, and none of the raw ones (they moved away from the average).
    for key, tensor in saved.items():
        assert any(a.shape == tensor.shape and torch.equal(a, tensor) for a in average), key
    changed = [r for r, a in zip(raw, average) if not torch.equal(r, a)]
    assert changed, "the average should differ from the raw weights"
    for tensor in saved.values():
        assert not any(r.shape == tensor.shape and torch.equal(r, tensor) for r in changed)
    # The raw weights are the ones training goes on with: the same as the plain run's, since EMA changes no step.
    plain_state = final_state(plain)
    for r, p in zip(raw, plain_state["params"]):
        assert torch.equal(r, p)


def test_ema_resume_is_exact(root, ema):
    half = train(root, "ema-resumed", ema_decay=0.9, max_train_steps=STEPS // 2)
    assert (half / "states" / f"step-{STEPS // 2:08d}" / "state.json").exists()
    resumed = cli(
        "train", "--config", str(write_config(root, "ema-resumed", ema_decay=0.9)), "--resume", "latest", cwd=root
    )
    assert resumed.returncode == 0, resumed.stderr
    assert_same_lora(lora(root / "ema-resumed"), lora(ema))


# ---- per-block learning rates and ranks -------------------------------------------------------


@pytest.fixture(scope="module")
def per_block(root) -> Path:
    """One run for both per-block options: each test reads its own option's effect (B at zero, the A matrices' rank)."""
    return train(root, "per-block", unet_block_lr=["mid_block=0", "up_blocks.1=0.5"], unet_block_rank=["mid_block=2"])


def test_block_lr_zero_leaves_that_block_untrained(per_block, plain):
    trained, base = lora(per_block), lora(plain)
    mid_up = [k for k in trained if ".mid_block." in k and "lora_B" in k]
    assert mid_up, "the demo UNet's mid block has attention layers"
    # gaussian init: B starts at zero; at lr 0 (and so no weight decay) it stays there, while the plain run moved it.
    assert all(not trained[k].any() for k in mid_up)
    assert all(base[k].any() for k in mid_up)
    others = [k for k in trained if k.startswith("unet.down_blocks") and "lora_B" in k]
    assert others and all(trained[k].any() for k in others)  # the blocks not at 0 did learn
    # The reported learning rate is the configured one, whatever the multipliers.
    assert logged(per_block, "train/learning_rate")[0] == pytest.approx(1e-3)


def test_block_rank_sets_the_rank_of_that_blocks_layers(per_block):
    tensors = lora(per_block)
    downs = {k: t for k, t in tensors.items() if k.startswith("unet.") and "lora_A" in k}
    assert {t.shape[0] for k, t in downs.items() if ".mid_block." in k} == {2}
    assert {t.shape[0] for k, t in downs.items() if ".mid_block." not in k} == {4}


def test_an_unknown_block_is_refused_naming_the_models_blocks(root):
    result = cli("train", "--config", str(write_config(root, "bad-block", unet_block_lr=["up_blocks.7=0.5"])), cwd=root)
    assert result.returncode != 0
    assert "`unet_block_lr` names up_blocks.7, which this UNet does not have" in result.stderr


# ---- class pictures (prior preservation) and masked loss --------------------------------------


def write_pictures(folder: Path, names: list[str], colour, mode: str = "RGB") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new(mode, (64, 64), colour).save(folder / name)
    return folder


def manifest(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "manifest.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def class_dir(root) -> Path:
    folder = write_pictures(root / "class", ["a.png", "b.png"], (128, 128, 128))
    for name in ("a", "b"):
        (folder / f"{name}.txt").write_text("a canal town")
    return folder


def test_class_pictures_train_alongside_at_their_weight(root, plain, class_dir):
    weighted = train(root, "prior-1", reg_data_dir=str(class_dir), trigger_word="jiangnan_style")
    lines = manifest(weighted)
    classes = [line for line in lines if line.get("is_class")]
    # 4 training pictures, 2 class pictures: each class picture twice per epoch, as many as the training pictures.
    assert [(Path(c["image"]).name, c["repeats"], c["caption"]) for c in classes] == [
        ("a.png", 2, "a canal town"),
        ("b.png", 2, "a canal town"),
    ]
    assert len(lines) == 6 and not any(line.get("mask") for line in lines)
    assert differs(lora(weighted), lora(plain))
    unweighted = train(root, "prior-0", reg_data_dir=str(class_dir), trigger_word="jiangnan_style", prior_loss_weight=0)
    assert differs(lora(unweighted), lora(weighted))


def test_a_class_folder_inside_the_training_folder_is_refused(root):
    result = cli("train", "--config", str(write_config(root, "bad-reg", reg_data_dir=str(root / "data"))), cwd=root)
    assert result.returncode != 0
    assert "`reg_data_dir` is inside `train_data_dir`" in result.stderr


def test_white_masks_learn_like_no_mask_and_black_masks_learn_nothing(root, plain):
    names = sorted(p.name for p in (root / "data").glob("*.png"))
    white = write_pictures(root / "masks-white", names, 255, mode="L")
    black = write_pictures(root / "masks-black", names, 0, mode="L")
    whole = train(root, "mask-white", masked_loss=True, mask_dir=str(white))
    assert all(line["mask"].startswith(str(white)) for line in manifest(whole))
    assert_same_lora(lora(whole), lora(plain))  # the mean over every pixel is the plain loss
    nothing = train(root, "mask-black", masked_loss=True, mask_dir=str(black))
    # No pixel counts: zero loss, zero gradients, so every LoRA B matrix stays at its initial zeros.
    tensors = lora(nothing)
    assert all(not t.any() for k, t in tensors.items() if "lora_B" in k)


def test_a_pictures_transparency_is_its_mask(root):
    # The demo pictures made fully transparent: without `mask_dir` the alpha is the mask, so nothing is learned.
    folder = root / "alpha-data"
    folder.mkdir()
    for source in sorted((root / "data").glob("*.png")):
        with Image.open(source) as opened:
            picture = opened.convert("RGBA")
        picture.putalpha(0)
        picture.save(folder / source.name)
    (folder / "metadata.csv").write_text((root / "data" / "metadata.csv").read_text())
    out = train(root, "mask-alpha", masked_loss=True, train_data_dir=str(folder))
    assert all(line["mask"] == line["image"] for line in manifest(out))
    assert all(not t.any() for k, t in lora(out).items() if "lora_B" in k)


# ---- several processes ------------------------------------------------------------------------


def test_two_processes_with_every_option_train_the_lora_of_one(root, class_dir):
    # Every draw (offset, multi-resolution noise) is made for the whole global batch and sliced; weights and masks
    # are sliced alike; the EMA updates alike on both processes: `cpu:2` at batch 1 is the one-process run at batch 2.
    names = sorted(p.name for p in (root / "data").glob("*.png"))
    masks = root / "masks-half"
    masks.mkdir(exist_ok=True)
    for name in names:
        half = Image.new("L", (64, 64), 0)
        half.paste(255, (0, 0, 32, 64))
        half.save(masks / name)
    options = dict(
        noise_offset=0.05,
        adaptive_noise_scale=0.01,
        multires_noise_iterations=4,
        min_snr_gamma=5,
        ema_decay=0.9,
        reg_data_dir=str(class_dir),
        prior_loss_weight=0.5,
        masked_loss=True,
        mask_dir=str(masks),
        unet_block_lr=["mid_block=0.5"],
    )
    one = train(root, "all-one", batch_size=2, **options)
    two = train(root, "all-two", batch_size=1, devices="cpu:2", **options)
    a, b = lora(one), lora(two)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-5), (key, (a[key] - b[key]).abs().max())
