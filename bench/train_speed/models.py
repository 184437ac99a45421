"""The two base models as diffusers folders every trainer can load: the shipped demo model, and a random-weight model
with SD 1.5's exact shapes (fixed seed). Built once in a child process (the SD 1.5-sized one holds ~4.3 GB while it is
written) and cached under ~/.cache/lora-scripts/bench/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .paths import BENCH_CACHE, ENGINE_VENV_PYTHON, REPO

MODEL_SEED = 0
LAYOUT_VERSION = 1  # bump when the way a folder is built changes, so stale caches are rebuilt
BUILDERS = {
    "demo": f"load_base_model({str(REPO / 'models' / 'demo-sd1.safetensors')!r})",
    "sd15": f"build_full_size_sd15(seed={MODEL_SEED})",
}
BUILD_SCRIPT = """
import sys
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.tiny_models import build_full_size_sd15
base = {builder}
base.pipeline().save_pretrained(sys.argv[1], safe_serialization=True)
"""


def model_folder(name: str, log) -> Path:
    folder = BENCH_CACHE / f"{name}-diffusers-v{LAYOUT_VERSION}"
    if (folder / "model_index.json").exists():
        return folder
    log(f"building the {name} model as a diffusers folder in {folder} (once)")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    env_path = str(REPO / "engine")
    subprocess.run(
        [str(ENGINE_VENV_PYTHON), "-c", BUILD_SCRIPT.format(builder=BUILDERS[name]), str(partial)],
        check=True,
        env={**__import__("os").environ, "PYTHONPATH": env_path, "HF_HUB_OFFLINE": "1"},
    )
    partial.rename(folder)
    return folder
