"""Runs one trainer command and measures it the same way for every trainer: wall time of the whole command, peak
RSS of the command and its waited-for descendants (os.wait4), the time from the command's start to its first
training step, and per-step times from step_timer/sitecustomize.py (time.perf_counter is the system's monotonic
clock, the same in every process)."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from .paths import STEP_TIMER_DIR

STEP_TIMES_ENV = "LORA_SCRIPTS_BENCH_STEP_TIMES"
WARMUP_STEPS = 2  # step-to-step differences dropped before taking the median (allocations, thread pools)


def run_measured(argv: list[str], extra_env: dict[str, str], work: Path, python_path: list[Path]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    times_file, log_file = work / "step-times.txt", work / "output.log"
    times_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        **extra_env,
        STEP_TIMES_ENV: str(times_file),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(STEP_TIMER_DIR), *map(str, python_path), *filter(None, [extra_env.get("PYTHONPATH")])]
    )
    with log_file.open("w") as log:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = times_file.read_text().splitlines() if times_file.exists() else []
    stamps = [float(line) for line in lines if not line.startswith("first-forward")]
    first_forward = next((float(line.split()[1]) for line in lines if line.startswith("first-forward")), None)
    result = {
        "exit_code": child.returncode,
        "e2e_s": round(wall, 2),
        "peak_mib": round(usage.ru_maxrss / 1024),
        "first_step_at_s": round(first_forward - start, 2) if first_forward else None,
        "steps_recorded": len(stamps),
        "median_step_s": median_step(stamps),
        "log": str(log_file),
    }
    if child.returncode != 0:
        result["error"] = log_file.read_text()[-1500:]
    return result


def median_step(stamps: list[float]) -> float | None:
    steps = [later - earlier for earlier, later in zip(stamps, stamps[1:])][WARMUP_STEPS:]
    return round(statistics.median(steps), 4) if steps else None
