"""Training states for exact resume: LoRA weights, optimizer, scheduler, position in the data and every RNG.

A state is a folder `<output_dir>/states/step-XXXXXXXX/` holding `training_state.pt` (tensors, loaded with
weights_only) and `state.json` (step, epoch and the run's fingerprint, read by TypeScript to refuse a changed config).
It is written into a temp folder and renamed, so a process killed mid-save never leaves a half state behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from .file_modes import as_ordinary_folder
from .protocol import EngineFailure

STATES_FOLDER = "states"
STATE_FILE = "training_state.pt"
RECORD_FILE = "state.json"


@dataclass
class Position:
    """Where a run stands: optimizer steps done, the current epoch (1-based) and micro-batches consumed in it."""

    step: int = 0
    epoch: int = 0
    batches_done: int = 0


def capture_rng(rng: random.Random) -> dict:
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
        "python": random.getstate(),
        "captions_and_crops": rng.getstate(),  # the run's own generator (caption rules, crops, flips)
    }


def restore_rng(saved: dict, rng: random.Random) -> None:
    torch.set_rng_state(saved["torch"])
    if saved["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])
    name, keys, *rest = saved["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(saved["python"])
    rng.setstate(saved["captions_and_crops"])


def save_state(output_dir: str, position: Position, parts: dict, record: dict, keep: int) -> str:
    """Writes the state atomically, then prunes to the `keep` newest. `parts` holds the tensors and state dicts."""
    folder = os.path.join(output_dir, STATES_FOLDER)
    os.makedirs(folder, exist_ok=True)
    final = os.path.join(folder, f"step-{position.step:08d}")
    staging = tempfile.mkdtemp(prefix=".saving-", dir=folder)
    try:
        with open(os.path.join(staging, STATE_FILE), "wb") as f:
            torch.save({**parts, "position": vars(position)}, f)
            f.flush()
            os.fsync(f.fileno())
        # `saved_at` orders states: a run resumed from an older state overwrites the newer ones as it goes.
        summary = {**vars(position), "saved_at": time.time(), "fingerprint": record}
        with open(os.path.join(staging, RECORD_FILE), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(final):
            shutil.rmtree(final)
        as_ordinary_folder(staging)
        os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    prune_states(folder, keep)
    return final


def prune_states(folder: str, keep: int) -> None:
    """Keeps the `keep` most recently saved complete states; removes older ones and abandoned temp folders."""
    complete = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.startswith(".saving-"):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.isfile(os.path.join(path, RECORD_FILE)):
            with open(os.path.join(path, RECORD_FILE), encoding="utf-8") as f:
                complete.append((json.load(f).get("saved_at", 0), path))
    for _, path in sorted(complete, reverse=True)[keep:]:
        shutil.rmtree(path, ignore_errors=True)


def load_state(folder: str) -> tuple[Position, dict]:
    path = os.path.join(folder, STATE_FILE)
    if not os.path.isfile(path):
        raise EngineFailure(
            "state_missing",
            f"no `{STATE_FILE}` in {folder}",
            culprit="resume",
            hint="point `resume` at a folder under `<output_dir>/states/`, or use `resume: latest`",
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return Position(**saved.pop("position")), saved


def restore_parameters(params: list[torch.Tensor], saved: list[torch.Tensor], folder: str) -> None:
    if [tuple(p.shape) for p in params] != [tuple(s.shape) for s in saved]:
        raise EngineFailure(
            "state_mismatch",
            "the saved LoRA weights do not fit the layers of this run",
            culprit=folder,
            hint="start a new run (remove `resume`)",
        )
    with torch.no_grad():
        for param, value in zip(params, saved):
            param.copy_(value)
