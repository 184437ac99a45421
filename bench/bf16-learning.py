"""Does bf16 training still learn? Runs `lora-scripts demo` twice, in fp32 and in bf16 (the demo config with
`--set mixed_precision=…`), and prints the style score per LoRA strength and the smoothed training loss along the run.

Usage: npm run build && ~/.cache/lora-scripts/engine-venv/bin/python bench/bf16-learning.py [workdir]   (~4 min on 2 cores)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[1]
SCORE_LINE = re.compile(r"strength (\d\.\d)\s+style score (\d\.\d+)")
LOSS_AT = (25, 50, 100, 150, 200, 250)


def demo_run(work: Path, precision: str) -> dict:
    out = work / precision
    started = time.perf_counter()
    result = subprocess.run(
        [
            "node",
            str(REPO / "bin" / "lora-scripts.mjs"),
            "demo",
            "--out",
            str(out),
            "--set",
            f"mixed_precision={precision}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1"},
    )
    if result.returncode != 0:
        sys.exit(f"demo ({precision}) failed:\n{result.stderr[-3000:]}")
    scores = {float(s): float(v) for s, v in SCORE_LINE.findall(result.stdout)}
    events = EventAccumulator(str(out / "jiangnan_style" / "logs")).Reload()
    smoothed = {e.step: e.value for e in events.Scalars("train/loss_smoothed")}
    engine_line = next((line for line in result.stderr.splitlines() if line.startswith("engine ")), "")
    return {
        "precision": precision,
        "engine": engine_line,
        "wall_s": round(time.perf_counter() - started, 1),
        "style_scores": scores,
        "loss_smoothed": {step: round(smoothed[step], 4) for step in LOSS_AT if step in smoothed},
    }


def main() -> None:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bf16-learning-"))
    runs = [demo_run(work, precision) for precision in ("no", "bf16")]
    print(json.dumps(runs, indent=2))
    print(
        "| precision | style score at 0 / 0.5 / 0.7 / 1 | smoothed loss at step "
        + " / ".join(map(str, LOSS_AT))
        + " | wall |"
    )
    print("| --- | --- | --- | ---: |")
    for run in runs:
        scores = " / ".join(f"{v:.2f}" for _, v in sorted(run["style_scores"].items()))
        losses = " / ".join(f"{v:.3f}" for v in run["loss_smoothed"].values())
        print(
            f"| {'fp32' if run['precision'] == 'no' else run['precision']} | {scores} | {losses} | {run['wall_s']} s |"
        )


if __name__ == "__main__":
    main()
