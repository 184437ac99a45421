"""End to end: `lora-scripts train --config` on tiny SD 1.x / SDXL checkpoints, results read back by diffusers."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.tiny_models import write_checkpoint
from PIL import Image, ImageDraw
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]


def article_yaml(data: Path, model, out: Path) -> str:
    """The article's YAML (configs/jiangnan_lora.yaml), verbatim but for the three paths."""
    text = (REPO / "configs" / "jiangnan_lora.yaml").read_text()
    return (
        text.replace("./data/jiangnan_village", str(data))
        .replace("./models/sd-v1-5-pruned.safetensors", str(model))
        .replace("./output/jiangnan_style", str(out))
    )


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The engine under test is this very virtualenv, so no second install happens.
    env = {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix, "CI": "1"}
    return subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def write_dataset(folder: Path, count: int = 8, size: int = 64) -> Path:
    """Two learnable motifs: a red disc on white ("red sun") and a blue bar on black ("blue bar")."""
    folder.mkdir(parents=True)
    rows = ["file_name,caption"]
    for i in range(count):
        is_sun = i % 2 == 0
        image = Image.new("RGB", (size, size), "white" if is_sun else "black")
        draw = ImageDraw.Draw(image)
        offset = (i * 3) % 16
        if is_sun:
            draw.ellipse((8 + offset, 8, 40 + offset, 40), fill=(220, 30, 30))
        else:
            draw.rectangle((offset, 24, 48 + offset, 40), fill=(30, 60, 220))
        image.save(folder / f"img_{i:02d}.png")
        rows.append(f'img_{i:02d}.png,"{"red sun, white sky" if is_sun else "blue bar, night"}, test style"')
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


def read_header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def kohya_name(prefix: str, module: str) -> str:
    return prefix + "_" + module.replace(".", "_")


def kohya_delta(tensors: dict, name: str) -> torch.Tensor:
    down, up = tensors[f"{name}.lora_down.weight"].float(), tensors[f"{name}.lora_up.weight"].float()
    scale = float(tensors[f"{name}.alpha"]) / down.shape[0]
    if down.dim() == 4:  # 1x1 conv (proj_in/out in SD 1.x)
        return (scale * (up[:, :, 0, 0] @ down[:, :, 0, 0]))[:, :, None, None]
    return scale * (up @ down)


@pytest.fixture(scope="module")
def sd1_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd1")
    model = write_checkpoint("sd1", str(root / "base.safetensors"), seed=0)
    data = write_dataset(root / "data")
    config = root / "jiangnan_lora.yaml"
    config.write_text(article_yaml(data, model, root / "output" / "jiangnan_style"))
    result = run_cli(
        "train",
        "--config",
        str(config),
        "--save-steps",
        "10",
        "--set",
        'sample_prompts=["red sun, test style"]',
        "--sample-inference-steps",
        "2",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    return root, Path(model), root / "output" / "jiangnan_style", result


def test_sd1_writes_the_expected_files(sd1_run):
    _, _, out, result = sd1_run
    assert result.stdout.strip() == str(out / "jiangnan_style.safetensors")
    names = {p.name for p in out.iterdir()}
    # 15 epochs x 2 steps = 30 steps; save_steps 10 → steps 10 and 20 (30 is the final file).
    assert {
        "jiangnan_style.safetensors",
        "pytorch_lora_weights.safetensors",
        "jiangnan_style-step00000010.safetensors",
        "jiangnan_style-step00000020.safetensors",
        "logs",
        "checkpoints",
        "manifest.jsonl",
        "lora_scripts.json",
        "config.resolved.yaml",
    } <= names
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000010", "step-00000020"]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name.startswith(".saving")]
    record = json.loads((out / "lora_scripts.json").read_text())
    assert record["training"]["steps"] == 30 and record["config"]["lora_alpha"] == 32


def test_sd1_every_output_has_the_umasks_mode(sd1_run):
    # LoRA files, WebUI file, run record, checkpoints, samples, logs, latent cache, state folders and files: ordinary
    # files (0644 under umask 022), so another user, a web server or a worker on shared storage can read them.
    _, _, out, _ = sd1_run
    umask = os.umask(0)
    os.umask(umask)
    paths = [out, *out.rglob("*")]
    assert {"states", "samples", "latents", "pytorch_lora_weights.safetensors", "training_state.pt"} <= {
        p.name for p in paths
    }
    wrong = [
        (str(p.relative_to(out)), oct(p.stat().st_mode & 0o777))
        for p in paths
        if p.stat().st_mode & 0o777 != (0o777 if p.is_dir() else 0o666) & ~umask
    ]
    assert wrong == []


def test_sd1_renders_sample_prompts_at_each_save_and_at_the_end(sd1_run):
    _, _, out, result = sd1_run
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["step-00000010-0.png", "step-00000020-0.png", "step-00000030-0.png"]
    with Image.open(out / "samples" / samples[-1]) as image:
        assert image.size == (64, 64)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "logs"), size_guidance={"images": 0}).Reload()
    assert [e.step for e in events.Images("samples/0")] == [10, 20, 30]


def test_sd1_kohya_file_has_exactly_the_matched_layers(sd1_run):
    _, model, out, _ = sd1_run
    base = load_base_model(str(model))
    expected_modules = [
        n
        for n, m in base.unet.named_modules()
        if isinstance(m, torch.nn.Linear) and (n.endswith(".to_q") or n.endswith(".to_v"))
    ]
    assert expected_modules
    expected = {
        f"{kohya_name('lora_unet', n)}.{part}"
        for n in expected_modules
        for part in ("lora_down.weight", "lora_up.weight", "alpha")
    }
    tensors = load_file(out / "jiangnan_style.safetensors")
    assert set(tensors) == expected
    assert all(float(tensors[k]) == 32.0 for k in tensors if k.endswith(".alpha"))
    assert all(tensors[k].shape[0] == 16 for k in tensors if k.endswith("lora_down.weight"))


def test_sd1_kohya_metadata_is_what_webui_reads(sd1_run):
    _, model, out, _ = sd1_run
    header, data = read_header(out / "jiangnan_style.safetensors")
    meta = header["__metadata__"]
    assert meta["ss_network_module"] == "networks.lora"
    assert meta["ss_network_dim"] == "16" and meta["ss_network_alpha"] == "32.0"
    assert meta["ss_output_name"] == "jiangnan_style"
    assert meta["ss_base_model_version"] == "sd_v1" and meta["ss_v2"] == "False"
    assert meta["ss_steps"] == "30" and meta["ss_epoch"] == "15" and meta["ss_num_epochs"] == "15"
    assert meta["ss_learning_rate"] == "0.0002"
    assert meta["ss_new_sd_model_hash"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert meta["sshs_model_hash"] == hashlib.sha256(data).hexdigest()
    assert json.loads(meta["ss_tag_frequency"])["."]["test style"] == 8
    assert float(meta["ss_training_finished_at"]) >= float(meta["ss_training_started_at"])


def test_sd1_diffusers_file_changes_the_pipeline_output(sd1_run):
    _, model, out, _ = sd1_run
    pipe = load_base_model(str(model)).pipeline()
    pipe.set_progress_bar_config(disable=True)

    def render():
        return pipe(
            "red sun, test style", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="pt"
        ).images

    before = render()
    pipe.load_lora_weights(str(out))
    after = render()
    assert (after - before).abs().max() > 1e-3


def test_sd1_kohya_formula_reproduces_the_trained_weights(sd1_run):
    _, model, out, _ = sd1_run
    trained = load_base_model(str(model)).pipeline()
    trained.load_lora_weights(str(out / "pytorch_lora_weights.safetensors"))
    trained.fuse_lora()
    merged = load_base_model(str(model)).unet
    tensors = load_file(out / "jiangnan_style.safetensors")
    modules = dict(merged.named_modules())
    for key in [k for k in tensors if k.endswith(".alpha")]:
        name = key.removesuffix(".alpha")
        module = next(m for n, m in modules.items() if kohya_name("lora_unet", n) == name)
        module.weight.data += kohya_delta(tensors, name).to(module.weight.dtype)
    trained_state = {n: p for n, p in trained.unet.named_parameters() if "lora_" not in n}
    for n, p in merged.named_parameters():
        torch.testing.assert_close(
            trained_state[n.replace(".weight", ".base_layer.weight") if n not in trained_state else n],
            p,
            rtol=1e-4,
            atol=1e-5,
        )


def test_sd1_tensorboard_has_one_scalar_per_step_and_loss_falls(sd1_run):
    _, _, out, _ = sd1_run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "logs")).Reload()
    for tag in ("train/loss", "train/loss_smoothed", "train/learning_rate", "train/it_per_s"):
        assert [e.step for e in events.Scalars(tag)] == list(range(1, 31)), tag
    losses = [e.value for e in events.Scalars("train/loss")]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10


def test_full_size_sd15_checkpoint_trains_through_the_same_path(tmp_path):
    """Real SD 1.5 layer names, shapes and memory: random fp16 weights (~2 GB), 2 steps at 64 px."""
    model = write_checkpoint("sd1", str(tmp_path / "sd15.safetensors"), full_size=True, seed=0)
    data = write_dataset(tmp_path / "data", count=2)
    out = tmp_path / "out" / "sd15_style"
    config = tmp_path / "sd15.yaml"
    config.write_text(
        f"train_data_dir: {data}\nbase_model: {model}\nlora_rank: 4\ntarget_modules: attention+ff\nresolution: 64\nbatch_size: 1\nepochs: 1\noutput_dir: {out}\n"
    )
    result = run_cli("train", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tensors = load_file(out / "sd15_style.safetensors")
    modules = {k.rsplit(".", 2)[0] if k.endswith(".weight") else k.removesuffix(".alpha") for k in tensors}
    # kohya's default network on SD 1.5: 16 Transformer2D blocks x (8 attention + 2 ff + proj_in + proj_out).
    assert len(modules) == 192 and len(tensors) == 3 * 192
    assert tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"].shape == (
        4,
        768,
    )
    assert tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight"].shape == (
        320,
        4,
    )
    assert tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_up.weight"].shape == (
        2560,
        4,
    )
    assert tensors["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].shape == (4, 320, 1, 1)
    assert tensors["lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0.alpha"].item() == 8.0
    header, _ = read_header(out / "sd15_style.safetensors")
    assert header["__metadata__"]["ss_steps"] == "2"


def tiny_config(root: Path, model, data: Path, name: str, extra: str = "") -> Path:
    config = root / f"{name}.yaml"
    config.write_text(
        f"train_data_dir: {data}\nbase_model: {model}\nlora_rank: 4\nbatch_size: 2\nlearning_rate: 1e-3\noutput_dir: {root / name}\n{extra}"
    )
    return config


def test_same_seed_gives_the_same_lora(tmp_path):
    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=4)
    runs = []
    for name in ("first", "second"):
        result = run_cli(
            "train",
            "--config",
            str(
                tiny_config(
                    tmp_path, model, data, name, "epochs: 2\nshuffle_caption: true\ncrop: random\nrandom_flip: true\n"
                )
            ),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        runs.append(load_file(tmp_path / name / "pytorch_lora_weights.safetensors"))
    assert runs[0].keys() == runs[1].keys()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    other = run_cli(
        "train", "--config", str(tiny_config(tmp_path, model, data, "third", "epochs: 2\nseed: 7\n")), cwd=tmp_path
    )
    assert other.returncode == 0, other.stderr
    third = load_file(tmp_path / "third" / "pytorch_lora_weights.safetensors")
    assert not all(torch.equal(runs[0][k], third[k]) for k in runs[0])


def test_ctrl_c_saves_the_lora_trained_so_far_and_exits_cleanly(tmp_path):
    import signal
    import time

    model = write_checkpoint("sd1", str(tmp_path / "base.safetensors"), seed=0)
    data = write_dataset(tmp_path / "data", count=4)
    config = tiny_config(tmp_path, model, data, "stopped", "epochs: 5000\n")
    env = {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix, "CI": "1"}
    process = subprocess.Popen(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), "train", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events_dir = tmp_path / "stopped" / "logs"
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith("events.out") for p in events_dir.glob("*")):
        time.sleep(0.2)
    time.sleep(2)  # some steps
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "the LoRA trained so far was saved" in stderr
    record = json.loads((tmp_path / "stopped" / "lora_scripts.json").read_text())
    assert record["training"]["interrupted"] is True
    steps = record["training"]["steps"]
    assert 0 < steps < 10000
    header, _ = read_header(tmp_path / "stopped" / "stopped.safetensors")
    assert header["__metadata__"]["ss_steps"] == str(steps)
    assert load_file(tmp_path / "stopped" / "pytorch_lora_weights.safetensors")
