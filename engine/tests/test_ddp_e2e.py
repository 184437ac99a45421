"""One job in two CPU processes (`devices: cpu:2`, accelerate's launcher, gloo) through the CLI on the demo model:
it trains the LoRA one process trains with the same global batch, and a run SIGKILLed after a saved state resumes,
in two processes or in one, to that same LoRA.

Tolerance: the processes sum their slices' gradients in another order than one process's batched kernels do, so the
weights differ by float rounding, which Adam can blow up where a gradient is near zero (its update is m/√v, about a
whole step whatever the gradient's size). Measured after 6 Adam steps at lr 1e-3: at most 5e-7 on an AVX-512 CPU,
1.4e-5 on an AVX2-only one (other GEMM blocking). atol 1e-4 stays 10× below what any real difference moves a weight
(a wrong slice or noise draw: ~1e-3, the size of one step) and 7× above the rounding measured.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo-sd1.safetensors"
# 3 pictures in global micro-batches of 2: each epoch ends with a micro-batch of 1, where the second process's slice
# is empty. 2 steps per epoch, 3 epochs.
TOTAL_STEPS = 6


def cli_env() -> dict:
    return {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix, "CI": "1"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def write_config(root: Path, name: str, **overrides) -> Path:
    values = {
        "train_data_dir": str(root / "data"),
        "base_model": str(DEMO_MODEL),
        "resolution": 64,
        "lora_rank": 4,
        "target_modules": "attention",
        "batch_size": 2,
        "epochs": 3,
        "learning_rate": 1e-3,
        "seed": 7,
        "save_steps": 0,
        "save_precision": "fp32",
        "output_dir": str(root / name),
        **overrides,
    }
    path = root / f"{name}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v) if not isinstance(v, str) else v}\n" for k, v in values.items()))
    return path


def lora_tensors(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(output_dir / "pytorch_lora_weights.safetensors"))


def assert_same_lora(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-4), (key, (a[key] - b[key]).abs().max())


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def is_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, what: str, timeout_s: float = 600) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    made = cli("demo-data", "--style", "jiangnan", "--count", "3", "--out", str(root / "data"), cwd=root)
    assert made.returncode == 0, made.stderr
    return root


@pytest.fixture(scope="module")
def one_process(root) -> Path:
    """The reference: one process, a batch of 2."""
    result = cli("train", "--config", str(write_config(root, "one")), cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "one"


def test_two_processes_train_the_lora_of_one_process_with_the_same_global_batch(root, one_process):
    result = cli("train", "--config", str(write_config(root, "two", batch_size=1, devices="cpu:2")), cwd=root)
    assert result.returncode == 0, result.stderr
    assert (
        "2 processes: each step learns from 2 pictures (batch_size 1 × 2 processes × gradient_accumulation_steps 1);"
        " learning_rate 0.001 is used as given, not scaled with the processes"
    ) in result.stderr
    assert f"step {TOTAL_STEPS}/{TOTAL_STEPS}" in result.stderr
    assert_same_lora(lora_tensors(root / "two"), lora_tensors(one_process))
    # Written once, by the first process: one TensorBoard file, one log of the run.
    assert len(list((root / "two" / "logs").glob("events.out.tfevents.*"))) == 1
    record = json.loads((root / "two" / "lora_scripts.json").read_text())
    assert record["training"]["steps"] == TOTAL_STEPS


def test_a_killed_two_process_run_resumes_in_two_or_one_process_to_the_same_lora(root, one_process):
    # A state after every step (save_steps 0, timed states): the kill loses at most the step under way.
    config = write_config(root, "killed", batch_size=1, devices="cpu:2", save_state_every_minutes=0.0001)
    process = subprocess.Popen(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), "train", "--config", str(config)],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    states = root / "killed" / "states"
    wait_until(lambda: any(states.glob("step-*/state.json")) or process.poll() is not None, "no state was saved")
    assert process.poll() is None, process.stderr.read()
    launcher = children(process.pid)
    ranks = [rank for pid in launcher for rank in children(pid)]
    assert len(launcher) == 1 and len(ranks) == 2, (launcher, ranks)

    # SIGKILL the CLI, as a killed server: its launcher and both ranks must end on their own.
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    wait_until(lambda: not any(is_alive(pid) for pid in launcher + ranks), "a rank outlived the killed CLI", 60)
    assert not (root / "killed" / "pytorch_lora_weights.safetensors").exists()
    shutil.copytree(root / "killed", root / "killed-one")

    resumed = cli("train", "--config", str(config), "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the state at step" in resumed.stderr
    assert_same_lora(lora_tensors(root / "killed"), lora_tensors(one_process))

    # The same state on one process: batch_size 2 keeps the global batch, so the fingerprint accepts it.
    single = write_config(root, "killed-one", batch_size=2)
    resumed = cli("train", "--config", str(single), "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the state at step" in resumed.stderr
    assert_same_lora(lora_tensors(root / "killed-one"), lora_tensors(one_process))

    # One process with the per-process batch unchanged halves the global batch: refused, naming it.
    halved = cli("train", "--config", str(write_config(root, "killed-one", batch_size=1)), "--resume", cwd=root)
    assert halved.returncode == 1
    assert "`batch_size` 2 → 1" in halved.stderr


def test_gpu_indices_without_a_gpu_are_one_line_naming_devices(root):
    result = cli("train", "--config", str(write_config(root, "gpus", devices=[0, 1])), cwd=root)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: devices: GPU 0, 1 does not exist: no CUDA GPU is visible"], result.stderr


def test_ctrl_c_stops_both_processes_at_one_step_and_keeps_what_they_trained(root, one_process):
    config = write_config(root, "stopped", batch_size=1, devices="cpu:2", epochs=40, save_steps=2)
    process = subprocess.Popen(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), "train", "--config", str(config)],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_state = root / "stopped" / "states" / "step-00000002" / "state.json"
    wait_until(lambda: first_state.exists() or process.poll() is not None, "no state was saved")
    process.send_signal(signal.SIGINT)  # the CLI passes it to the first rank, which tells the other at its next step
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    record = json.loads((root / "stopped" / "lora_scripts.json").read_text())
    stopped_at = record["training"]["steps"]
    assert record["training"]["interrupted"] and 2 <= stopped_at < 80
    assert (root / "stopped" / "states" / f"step-{stopped_at:08d}" / "state.json").exists()
