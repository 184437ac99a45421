"""Exact resume through the CLI on the shipped demo model: a run killed (SIGKILL) or stopped (Ctrl-C) and resumed
gives the same LoRA as an uninterrupted run, also when killed anywhere in its ending (the finished state then only
writes the files the ending did not); a changed config is refused; a NaN loss never reaches a saved file."""

from __future__ import annotations

import json
import os
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
TOTAL_STEPS = 8  # 4 images, batch 2, 4 epochs


def cli_env(**extra: str) -> dict:
    # The engine under test is this very virtualenv, so no second install happens.
    return {**os.environ, "LORA_SCRIPTS_ENGINE_VENV": sys.prefix, "CI": "1", **extra}


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=900,
    )


def kohya_file(output_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    path = str(output_dir / "straight.safetensors")  # every run here is named after the uninterrupted one
    with safe_open(path, "pt") as f:
        return {key: f.get_tensor(key) for key in f.keys()}, f.metadata()


def start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_config(root: Path, name: str, **overrides) -> Path:
    values = {
        "train_data_dir": str(root / "data"),
        "base_model": str(DEMO_MODEL),
        "resolution": 64,
        "lora_rank": 4,
        "target_modules": "attention",
        "batch_size": 2,
        "epochs": 4,
        "learning_rate": 1e-3,
        "seed": 7,
        "save_steps": 2,
        "save_precision": "fp32",
        "output_dir": str(root / name),
        **overrides,
    }
    path = root / f"{name}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v) if not isinstance(v, str) else v}\n" for k, v in values.items()))
    return path


def wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 600) -> None:
    deadline = time.time() + timeout_s
    while not path.exists():
        assert process.poll() is None, f"the run ended before {path} appeared: {process.stderr.read()}"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def engine_pid(cli_pid: int) -> int:
    children = Path(f"/proc/{cli_pid}/task/{cli_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def lora_tensors(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(output_dir / "pytorch_lora_weights.safetensors"))


def assert_same_lora(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-5, atol=1e-7), key


def run_record(output_dir: Path) -> dict:
    return json.loads((output_dir / "lora_scripts.json").read_text())


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    made = cli("demo-data", "--style", "jiangnan", "--count", "4", "--out", str(root / "data"), cwd=root)
    assert made.returncode == 0, made.stderr
    return root


@pytest.fixture(scope="module")
def uninterrupted(root) -> Path:
    result = cli("train", "--config", str(write_config(root, "straight")), cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "straight"


def wait_for_state(output_dir: Path, process: subprocess.Popen, min_step: int, timeout_s: float = 600) -> None:
    deadline = time.time() + timeout_s
    while not any(
        int(p.parent.name.split("-")[1]) >= min_step for p in (output_dir / "states").glob("step-*/state.json")
    ):
        assert process.poll() is None, f"the run ended before a state at step {min_step}: {process.stderr.read()}"
        assert time.time() < deadline, f"no state at step {min_step} in {output_dir}"
        time.sleep(0.05)


def test_killed_run_resumes_to_the_same_lora(root, uninterrupted):
    # No checkpoints at all: the timed states alone (here one per step) must make a killed run resumable.
    config = write_config(root, "killed", save_steps=0, save_state_every_minutes=0.0001)
    process = start_cli("train", "--config", str(config), cwd=root)
    wait_for_state(root / "killed", process, min_step=2)
    os.kill(engine_pid(process.pid), signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "error: engine: the engine stopped unexpectedly (SIGKILL)" in stderr
    assert "--resume` goes on from it" in stderr
    assert not (root / "killed" / "pytorch_lora_weights.safetensors").exists()  # killed before the end

    resumed = cli("train", "--config", str(config), "--resume", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the state at step" in resumed.stderr
    assert run_record(root / "killed")["training"]["steps"] == TOTAL_STEPS
    assert_same_lora(lora_tensors(root / "killed"), lora_tensors(uninterrupted))


def test_ctrl_c_then_resume_gives_the_same_lora(root, uninterrupted):
    config = write_config(root, "stopped", save_steps=3)
    process = start_cli("train", "--config", str(config), cwd=root)
    wait_for(root / "stopped" / "states" / "step-00000003" / "state.json", process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    stopped_at = run_record(root / "stopped")["training"]["steps"]
    assert 3 <= stopped_at < TOTAL_STEPS
    assert (root / "stopped" / "states" / f"step-{stopped_at:08d}" / "state.json").exists()

    resumed = cli("train", "--config", str(config), "--resume", "latest", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    record = run_record(root / "stopped")
    assert (record["training"]["steps"], record["training"]["resumed_from_step"]) == (TOTAL_STEPS, stopped_at)
    assert_same_lora(lora_tensors(root / "stopped"), lora_tensors(uninterrupted))
    # save_state_limit 2: only the newest two states are kept.
    assert sorted(p.name for p in (root / "stopped" / "states").iterdir()) == [
        f"step-{s:08d}" for s in sorted({6, stopped_at, TOTAL_STEPS})[-2:]
    ]


def test_resume_refuses_a_changed_config_and_names_what_changed(root, uninterrupted):
    result = cli(
        "train", "--config", str(write_config(root, "straight", batch_size=1, lora_rank=8)), "--resume", cwd=root
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: resume: latest: the config changed since the state at step 8 was saved: `lora_rank` 4 → 8, `lora_alpha` 8 → 16, `batch_size` 2 → 1"
    ]


def test_the_webui_file_says_what_the_run_did(uninterrupted):
    _, metadata = kohya_file(uninterrupted)
    # `mixed_precision: auto` on a CPU with the small demo model computes in fp32: kohya's `no`.
    assert metadata["ss_mixed_precision"] == "no"
    assert metadata["ss_optimizer"] == "torch.optim.adamw.AdamW(weight_decay=0.01)"
    assert (metadata["ss_steps"], metadata["ss_epoch"]) == ("8", "4")


# Each point of the ending, in order: the engine writes the diffusers file, then the final state; the CLI then writes
# the WebUI file, the run record, and last the record's diagnostics. Killed after each, `--resume auto` completes it.
ENDING = {
    "lora_file": None,  # no final state yet: resume trains the last steps again from the state at step 6
    "state": ["straight.safetensors", "lora_scripts.json"],
    "webui_file": ["lora_scripts.json"],
    "run_record": ["lora_scripts.json"],
}


@pytest.mark.parametrize("point", list(ENDING))
def test_a_run_killed_in_its_ending_is_completed_by_resume_auto(root, uninterrupted, point):
    name = f"cut-{point}"
    config = write_config(root, name, output_name="straight")
    killed = cli("train", "--config", str(config), cwd=root, LORA_SCRIPTS_TEST_KILL_AT=point)
    # The engine's SIGKILL is an error of the CLI; the CLI's own is its death.
    assert killed.returncode in (1, -signal.SIGKILL), killed.stderr
    out = root / name
    assert not (out / "lora_scripts.json").exists() or "diagnostics" not in run_record(out)

    resumed = cli("train", "--config", str(config), "--resume", "auto", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    if ENDING[point] is None:
        assert "resuming from the state at step 6" in resumed.stderr
    else:
        written = ", ".join(ENDING[point])
        assert (
            f"the state at step 8 had finished this run: wrote the files its ending had not, {written}"
            in resumed.stderr
        )
    assert_same_lora(lora_tensors(out), lora_tensors(uninterrupted))
    (tensors, metadata), (expected, _) = kohya_file(out), kohya_file(uninterrupted)
    assert_same_lora(tensors, expected)
    assert metadata["ss_steps"] == "8"
    record = run_record(out)
    assert (record["training"]["steps"], record["diagnostics"]) == (TOTAL_STEPS, [])


def test_resume_of_a_finished_run_says_it_is_complete_and_extends_with_more_epochs(root, uninterrupted):
    finished = cli("train", "--config", str(write_config(root, "straight")), "--resume", cwd=root)
    assert finished.returncode == 0, finished.stderr
    assert (
        "the run was already complete at step 8: nothing to write (raise `epochs` to train further)" in finished.stderr
    )
    extended = cli("train", "--config", str(write_config(root, "straight", epochs=5)), "--resume", cwd=root)
    assert extended.returncode == 0, extended.stderr
    assert run_record(uninterrupted)["training"]["steps"] == 10


def test_resume_latest_without_a_state_fails(root):
    result = cli("train", "--config", str(write_config(root, "never", epochs=1)), "--resume", "latest", cwd=root)
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: resume: latest: no saved training state in {root}/never/states"
    ]


def test_nan_loss_stops_the_run_and_keeps_the_last_good_lora(root):
    from lora_scripts_engine.models import load_base_model

    result = cli("train", "--config", str(write_config(root, "diverged")), cwd=root, LORA_SCRIPTS_TEST_NAN_AT_STEP="5")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1
    assert errors == [
        f"error: learning_rate: the loss became nan at step 5; training stopped and the LoRA and state saved at step 4 are kept ({root}/diverged/diverged-step00000004.safetensors)"
    ]
    assert "hint: lower `learning_rate` (now 0.001; try 0.00025) and train again" in result.stderr
    out = root / "diverged"
    assert not (out / "pytorch_lora_weights.safetensors").exists() and not (out / "diverged.safetensors").exists()
    assert sorted(p.name for p in (out / "states").iterdir()) == ["step-00000002", "step-00000004"]
    last_good = out / "diverged-step00000004.safetensors"
    assert all(torch.isfinite(t).all() for t in load_file(str(last_good)).values())
    base = load_base_model(str(DEMO_MODEL), dtype=torch.float32, device="cpu")
    base.pipeline().load_lora_weights(str(last_good), adapter_name="last_good")
    assert sum(1 for name, _ in base.unet.named_modules() if name.endswith("lora_A.last_good")) > 0
