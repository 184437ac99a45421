"""Exact resume of a Flux run through the CLI, as test_resume_e2e.py proves it for SD: a tiny Flux run killed
(SIGKILL, the tests-only hook) after its state at step 3 and trained on with `resume: latest` ends with the LoRA of
an uninterrupted run. The state lies mid-epoch, so the data position, the optimizer, the scheduler and every RNG
(σ and noise draws) must all come back for the files to match.

One run gives both sides: the hook kills it just after it wrote its final (uninterrupted) LoRA and before its final
state, so the newest state is the one at step 3; the resumed run must train steps 4–6 again to the same file and the
same losses (TensorBoard: a run that ignored the state would log steps 1–6)."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from lora_scripts_engine.flux_model import write_tiny_flux_folder
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_resume_e2e import cli
from test_train_e2e import write_dataset

TOTAL_STEPS = 6  # 4 pictures, batch 1: 4 steps per epoch, so the resumed run crosses into epoch 2
CONFIG = """\
base_model: base
train_data_dir: data
output_dir: {name}
output_name: {name}
resolution: 64
batch_size: 1
max_train_steps: 6
learning_rate: 0.01
lora_rank: 4
target_modules: [attention]
mixed_precision: "no"
save_precision: fp32
save_steps: 3
logging_steps: 1
seed: 11
"""


def train(folder: Path, name: str, *flags: str, **env: str):
    config = folder / f"{name}.yaml"
    config.write_text(CONFIG.format(name=name))
    return cli("train", "--config", str(config), *flags, cwd=folder, **env)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def lora(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def logged(event_file: Path, tag: str) -> list[tuple[int, float]]:
    events = EventAccumulator(str(event_file))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_killed_flux_run_resumes_to_the_uninterrupted_lora(tmp_path):
    write_tiny_flux_folder(tmp_path / "base", "dev", seed=3)  # what `make-checkpoint --family flux-dev` writes
    write_dataset(tmp_path / "data", count=4, size=64)
    out = tmp_path / "run"
    killed = train(tmp_path, "run", LORA_SCRIPTS_TEST_KILL_AT="lora_file")
    assert killed.returncode == 1 and "SIGKILL" in killed.stderr, killed.stderr
    uninterrupted = lora(shutil.copy(out / "pytorch_lora_weights.safetensors", tmp_path / "uninterrupted.safetensors"))
    (first_log,) = (out / "logs").glob("events.out.tfevents.*")
    assert sorted(p.name for p in (out / "states").iterdir()) == ["step-00000003"]
    saved = json.loads((out / "states" / "step-00000003" / "state.json").read_text())
    assert (saved["step"], saved["epoch"], saved["batches_done"]) == (3, 1, 3)

    resumed = ok(train(tmp_path, "run", "--resume", "latest"))
    assert "resuming from the state at step 3" in resumed.stderr
    record = json.loads((out / "lora_scripts.json").read_text())
    assert (record["training"]["steps"], record["training"]["resumed_from_step"]) == (TOTAL_STEPS, 3)
    got = lora(out / "pytorch_lora_weights.safetensors")
    assert got.keys() == uninterrupted.keys()
    for key in got:
        assert torch.allclose(got[key], uninterrupted[key], rtol=1e-5, atol=1e-7), key
    (second_log,) = set((out / "logs").glob("events.out.tfevents.*")) - {first_log}
    for tag in ("train/loss", "train/loss_smoothed"):  # the smoothed loss goes on from the state's
        before, after = logged(first_log, tag), logged(second_log, tag)
        assert [step for step, _ in after] == [step for step, _ in before[3:]] == [4, 5, 6]
        assert [value for _, value in after] == pytest.approx([value for _, value in before[3:]], rel=1e-5)
    # The end saves its state too, so a later `resume` with more steps goes on from there.
    assert sorted(p.name for p in (out / "states").iterdir()) == ["step-00000003", "step-00000006"]
