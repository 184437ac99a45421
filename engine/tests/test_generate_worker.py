"""The long-lived renderer on the demo base model: jobs with two LoRAs load the base model once and each LoRA once;
a cancelled job writes nothing; a failing job is reported with its id and the worker goes on."""

from __future__ import annotations

import io
import json
from pathlib import Path

from lora_scripts_engine import generate_worker, protocol
from lora_scripts_engine.device import pick_compute
from lora_scripts_engine.request import GenerateWorkerOptions

REPO = Path(__file__).resolve().parents[2]
BASE = str(REPO / "models" / "demo-sd1.safetensors")
STYLES = REPO / "tests" / "fixtures" / "lora" / "styles"


def job(job_id: str, loras: list[str], size: int = 64) -> dict:
    return {
        "job": job_id,
        "base_model": BASE,
        "base_model_facts": {"family": "sd1", "prediction_type": "epsilon"},
        "batch": {
            "prompt": "canal town",
            "negative_prompt": "",
            "prompt_segments": None,
            "negative_segments": None,
            "seeds": [1, 2],
            "files": [f"{job_id}-0.png", f"{job_id}-1.png"],
            "steps": 2,
            "cfg_scale": 5.0,
            "width": size,
            "height": size,
            "scheduler": {"class_name": "EulerDiscreteScheduler", "config": {}},
            "loras": [{"path": str(STYLES / p), "name": p, "te_weight": 0.8, "unet_weight": 0.8} for p in loras],
        },
    }


def test_the_worker_loads_the_base_once_switches_loras_and_survives_a_failed_job(tmp_path):
    lines = [
        job("a", ["jiangnan_style.safetensors"]),
        job("b", ["neon_night_style.safetensors"]),
        job("c", ["jiangnan_style.safetensors"]),
        {"cancel": "d"},
        job("d", []),
        job("e", [], size=60),  # not a multiple of 8: the pipeline refuses it
        job("f", []),
    ]
    stdin = io.StringIO("".join(json.dumps(line) + "\n" for line in lines))
    channel = io.StringIO()
    protocol.set_channel(channel)
    try:
        generate_worker.serve(GenerateWorkerOptions(out_dir=str(tmp_path)), pick_compute("auto", None), stdin)
    finally:
        protocol.set_channel(__import__("sys").stdout)
    events = [json.loads(line) for line in channel.getvalue().splitlines()]
    stages = [e["name"] for e in events if e["type"] == "stage"]
    assert stages.count("load_base_model") == 1
    assert stages.count("load_lora") == 2
    ends = {e["job"]: e for e in events if e["type"] in ("job_done", "error")}
    assert [ends[j]["type"] for j in "abcdef"] == ["job_done"] * 4 + ["error", "job_done"]
    assert ends["d"]["cancelled"] is True and ends["d"]["files"] == []
    assert "divisible by 8" in ends["e"]["message"]
    assert all(Path(f).is_file() for j in "abcf" for f in ends[j]["files"])
    assert events[-1] == {"type": "done", "files": []}
