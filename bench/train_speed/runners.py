"""The command line of each trainer for the same model, data and settings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .env import venv_python
from .paths import BENCH_VENV, REPO, TORCHVISION_STANDIN_FINDER

DIFFUSERS_SCRIPT = Path("examples/text_to_image/train_text_to_image_lora.py")
ENGINE_LINE = re.compile(r"engine \S+ on (\S+) \((\w+)")  # "engine 0.1.0 on cpu (float32: …)"
STANDIN_ENV = {
    "LORA_SCRIPTS_BENCH_TORCHVISION_STANDIN": str(TORCHVISION_STANDIN_FINDER)
}  # read by step_timer/sitecustomize.py
ANY_DTYPE = re.compile(r"\b(bfloat16|float16|float32)\b")
PRECISION_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


class Run:
    """What to execute: argv, extra environment, extra PYTHONPATH entries, and the precision if known up front."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        python_path: list[Path] | None = None,
        precision: str | None = None,
    ):
        self.argv, self.env, self.python_path, self.precision = argv, env or {}, python_path or [], precision


MIXED_PRECISION_OF = {"auto": "auto", "fp32": "no", "bf16": "bf16"}  # a bench precision → our `mixed_precision`


def ours(
    model_dir: Path, data_dir: Path, work: Path, settings: dict, precision: str = "auto", cache_latents: bool = True
) -> Run:
    """`lora-scripts train` with a generated config; with precision `auto` its pick is read from the output."""
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "train_data_dir": str(data_dir),
        "base_model": str(model_dir),
        "resolution": settings["resolution"],
        "lora_rank": settings["rank"],
        "lora_alpha": settings["rank"],
        "target_modules": ["to_q", "to_k", "to_v", "to_out.0"],
        "batch_size": settings["batch_size"],
        "epochs": settings["epochs"],
        "learning_rate": settings["learning_rate"],
        "seed": settings["seed"],
        "output_dir": str(work / "output"),
        "save_steps": 0,
        "mixed_precision": MIXED_PRECISION_OF[precision],
        "cache_latents": cache_latents,
        # A cache left by an earlier bench run would skip the encoding this run must time.
        "cache_dir": str(work / "cache"),
    }
    if settings.get("max_steps"):
        config["max_train_steps"] = settings["max_steps"]
    shutil.rmtree(work / "cache", ignore_errors=True)
    (work / "config.yaml").write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
    return Run(
        ["node", str(REPO / "bin" / "lora-scripts.mjs"), "train", "--config", str(work / "config.yaml")],
        {"CI": "1"},
        precision=None if precision == "auto" else precision,
    )


def precision_of_ours(log: str) -> str:
    """The compute dtype our CLI printed when the engine started (mixed_precision `auto` picks it)."""
    match = ENGINE_LINE.search(log) or ANY_DTYPE.search(log)
    return PRECISION_NAMES.get(match.group(match.lastindex), match.group(match.lastindex)) if match else "unknown"


def diffusers(
    diffusers_src: Path, model_dir: Path, data_dir: Path, work: Path, settings: dict, bf16: bool
) -> Run | str:
    script = diffusers_src / DIFFUSERS_SCRIPT
    if not script.exists():
        return f"{script} does not exist (give a diffusers checkout with --diffusers-src)"
    argv = [
        str(venv_python(BENCH_VENV)),
        str(script),
        "--pretrained_model_name_or_path",
        str(model_dir),
        "--train_data_dir",
        str(data_dir),
        "--caption_column",
        "text",
        "--resolution",
        str(settings["resolution"]),
        "--train_batch_size",
        str(settings["batch_size"]),
        "--num_train_epochs",
        str(settings["epochs"]),
        "--learning_rate",
        str(settings["learning_rate"]),
        "--lr_scheduler",
        "constant",
        "--rank",
        str(settings["rank"]),
        "--seed",
        str(settings["seed"]),
        "--output_dir",
        str(work / "output"),
        "--dataloader_num_workers",
        "0",
        "--checkpointing_steps",
        str(10**9),
    ]
    if settings.get("max_steps"):
        argv += ["--max_train_steps", str(settings["max_steps"])]
    if bf16:
        argv += ["--mixed_precision", "bf16"]
    env = {
        "HF_DATASETS_CACHE": str(
            work / "hf-datasets-cache"
        ),  # a fresh cache: its dataset preparation is part of the run
        **STANDIN_ENV,
    }
    return Run(argv, env, precision="bf16" if bf16 else "fp32")


def kohya(kohya_src: Path, model_dir: Path, data_dir: Path, work: Path, settings: dict) -> Run | str:
    """kohya's train_network.py through bench/train_speed/kohya.py, in fp32 like diffusers' default; a reason if it can't run."""
    try:
        from . import kohya as kohya_module
    except ImportError as err:
        return f"bench/train_speed/kohya.py is not available ({err})"
    kohya_settings = {**settings, "alpha": settings["rank"], "target": "unet-attention", "precision": "no"}
    try:
        python = kohya_module.kohya_env(str(kohya_src))
        if python is None:
            return "kohya's venv could not be set up (kohya.py printed why)"
        made = kohya_module.kohya_run(str(kohya_src), python, str(model_dir), str(data_dir), str(work), kohya_settings)
    except (
        Exception
    ) as err:  # KohyaCannotRun (or a kohya.py failure): reported as the reason, the other trainers still run
        return f"{type(err).__name__}: {err}"
    if isinstance(made, str):
        return made
    argv, env = made
    return Run(argv, {**env, **STANDIN_ENV}, precision="fp32")
