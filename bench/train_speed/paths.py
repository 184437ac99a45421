"""Where the benchmark keeps things (the cache folder is found as src/engine/paths.ts finds it)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("LORA_SCRIPTS_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lora-scripts"
)
BENCH_VENV = CACHE / "bench-venv-diffusers"
BENCH_CACHE = CACHE / "bench"
HERE = Path(__file__).resolve().parent
STEP_TIMER_DIR = HERE / "step_timer"  # holds sitecustomize.py
TORCHVISION_STANDIN_DIR = HERE / "torchvision_standin"
TORCHVISION_STANDIN_FINDER = TORCHVISION_STANDIN_DIR / "finder.py"  # serves it to import statements only
ENGINE_VENV_PYTHON = Path(sys.executable)  # bench/train-speed.mjs runs the orchestrator with the engine venv's python
