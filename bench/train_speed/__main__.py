"""Side-by-side training benchmark: our trainer, diffusers' train_text_to_image_lora.py and (if it runs here) kohya's
train_network.py on the same model, data, resolution, batch size, rank, steps, seed and torch build.
Run it through `node bench/train-speed.mjs` (sets up the engine venv first); prints JSON, --write also writes Markdown."""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from . import runners
from .ceiling import kernel_ceiling
from .data import prepare_data
from .env import ensure_comparison_venv
from .flops import as_the_engine_runs_it, count_step_flops, matmul_throughput, step_inputs, training_step
from .measure import run_measured
from .models import model_folder
from .report import STANDIN_LINE, achieved_line, ceiling_lines, machine, markdown, ratio_lines, versions

LEARNING_RATE = 1e-4
PRECISION_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
SEED = 0


def log(message: str) -> None:
    print(f"[train-speed] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="node bench/train-speed.mjs")
    parser.add_argument("--diffusers-src", type=Path, help="a diffusers checkout (never downloaded)")
    parser.add_argument("--kohya-src", type=Path, help="a kohya-ss/sd-scripts checkout (never downloaded)")
    parser.add_argument(
        "--diffusers-bf16", action="store_true", help="also run diffusers' script with --mixed_precision bf16"
    )
    parser.add_argument(
        "--precisions",
        default="auto",
        help="ours (and diffusers' script) at each: auto (ours picks; diffusers fp32), fp32, bf16, e.g. fp32,bf16",
    )
    parser.add_argument("--latent-caching", default="on", help="ours with cache_latents on, off, or on,off")
    parser.add_argument("--steps", type=int, help="stop every trainer after this many steps (default: all epochs)")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the FLOP count and kernel ceiling (minutes on sd15)"
    )
    parser.add_argument("--models", default="demo,sd15")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--resolution", default="demo=64,sd15=256", help="px for every model, or per model: demo=64,sd15=256"
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--work", type=Path, help="keep runs here (default: a temporary folder)")
    parser.add_argument("--write", type=Path, help="also write the results as Markdown (e.g. bench/RESULTS.md)")
    return parser.parse_args()


def run_name(trainer: str, precision: str, cached: bool = True) -> str:
    """`ours`, `ours-fp32`, `ours-bf16-uncached`, `diffusers`, `diffusers-bf16`: the names of earlier RESULTS files."""
    name = (
        trainer if precision == "auto" or (trainer == "diffusers" and precision == "fp32") else f"{trainer}-{precision}"
    )
    return name + ("" if cached else "-uncached")


def trainer_runs(args, model_dir: Path, data: dict, work: Path, settings: dict) -> dict:
    runs = {}
    precisions = args.precisions.split(",")
    for precision in precisions:
        for cached in [{"on": True, "off": False}[c] for c in args.latent_caching.split(",")]:
            name = run_name("ours", precision, cached)
            runs[name] = runners.ours(model_dir, data["ours"], work / name, settings, precision, cached)
    if args.diffusers_src:
        bf16_runs = [p == "bf16" for p in precisions] + ([True] if args.diffusers_bf16 else [])
        for bf16 in dict.fromkeys(bf16_runs):
            name = run_name("diffusers", "bf16" if bf16 else "fp32")
            runs[name] = runners.diffusers(
                args.diffusers_src, model_dir, data["diffusers"], work / name, settings, bf16=bf16
            )
    if args.kohya_src:
        runs["kohya"] = runners.kohya(args.kohya_src, model_dir, data["kohya"], work / "kohya", settings)
    return runs


def resolution_of(spec: str, model: str) -> int:
    """`256` for every model, or `demo=64,sd15=256`: each model at the size it is made for (the demo model is 64 px)."""
    if "=" not in spec:
        return int(spec)
    sizes = dict(part.split("=") for part in spec.split(","))
    if model not in sizes:
        sys.exit(f"--resolution {spec} names no size for model {model}")
    return int(sizes[model])


def bench_model(args, model: str, work: Path, peaks: dict) -> dict:
    settings = {
        "images": args.images,
        "epochs": args.epochs,
        "resolution": resolution_of(args.resolution, model),
        "batch_size": args.batch_size,
        "rank": args.rank,
        "learning_rate": LEARNING_RATE,
        "seed": SEED,
        "max_steps": args.steps,
        "steps": args.steps or args.epochs * -(-args.images // args.batch_size),
    }
    model_dir = model_folder(model, log)
    data = prepare_data(work / model, args.images, settings["resolution"])
    results = {}
    for name, run in trainer_runs(args, model_dir, data, work / model, settings).items():
        warm_page_cache(model_dir)
        if isinstance(run, str):
            results[name] = {"skipped": run}
            log(f"{model}/{name}: skipped: {run}")
            continue
        log(f"{model}/{name}: {' '.join(run.argv[:3])} …")
        result = run_measured(run.argv, run.env, work / model / name, run.python_path)
        result["precision"] = run.precision or runners.precision_of_ours(Path(result["log"]).read_text())
        results[name] = result
        log(
            f"{model}/{name}: "
            + json.dumps({k: v for k, v in result.items() if k not in ("log", "error")})
            + (f"\n{result['error']}" if "error" in result else "")
        )
    if args.no_ceiling:
        return {
            "model": model,
            "settings": settings,
            "runs": results,
            "achieved": None,
            "ceiling_lines": [],
            "step_gflop": None,
        }
    ours = next(run for name, run in results.items() if name.startswith("ours"))
    return {"model": model, "settings": settings, "runs": results, **physical_limit(model_dir, settings, ours, peaks)}


def warm_page_cache(folder: Path) -> None:
    """Reads the model's files so every trainer finds them in the page cache: otherwise the first run alone pays the
    disk (seconds before its first step on a 4 GB model), or pays again after other processes pushed them out."""
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            with file.open("rb") as handle:
                while handle.read(64 << 20):
                    pass


def physical_limit(model_dir: Path, settings: dict, ours: dict, peaks: dict) -> dict:
    from diffusers import AutoencoderKL, UNet2DConditionModel

    vae_factor = 2 ** (len(AutoencoderKL.load_config(model_dir / "vae")["block_out_channels"]) - 1)
    unet = UNet2DConditionModel.from_pretrained(model_dir / "unet")
    latent_px = settings["resolution"] // vae_factor
    counted = count_step_flops(unet, latent_px, settings["batch_size"], torch.float32, settings["rank"])
    median_step_s = ours.get("median_step_s") if ours.get("exit_code") == 0 else None
    line = achieved_line(counted["flops"], median_step_s, ours.get("precision"), peaks)
    ceiling = None
    if ours.get("precision") in PRECISION_DTYPES:
        dtype = PRECISION_DTYPES[ours["precision"]]
        unet = as_the_engine_runs_it(unet, dtype)  # count_step_flops left the LoRA on it
        optimizer = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
        inputs = step_inputs(unet, latent_px, settings["batch_size"])
        inputs = (inputs[0].contiguous(memory_format=torch.channels_last), *inputs[1:])
        ceiling = kernel_ceiling(partial(training_step, unet, optimizer, inputs, dtype))
        log(f"{ours['precision']} kernel ceiling: " + json.dumps(ceiling))
    del unet
    gc.collect()
    return {
        "step_gflop": round(counted["flops"] / 1e9, 2),
        "flop_count": counted,
        "achieved": line,
        "kernel_ceiling": ceiling,
        "ceiling_lines": ceiling_lines(ceiling, median_step_s, ours.get("precision"), peaks) if ceiling else [],
    }


def comparison_lines(runs: dict) -> list[str]:
    """`ours` (precision auto) against every other trainer, as before; a run of a chosen precision against the other
    trainers' runs of that precision."""
    done = {name: run for name, run in runs.items() if "skipped" not in run}
    lines = []
    for name, run in done.items():
        for other_name, other in done.items():
            if other_name.startswith("ours") or not name.startswith("ours"):
                continue
            if name != "ours" and other.get("precision") != run.get("precision"):
                continue
            lines += ratio_lines(
                run, other, other_name.replace("-bf16", " (bf16)") + ("" if name == "ours" else f", {name}")
            )
    return lines


def caching_lines(runs: dict, steps: int) -> list[str]:
    """From how many steps latent caching pays for the seconds it adds before the first step."""
    lines = []
    for name, uncached in runs.items():
        cached = runs.get(name.removesuffix("-uncached"))
        if (
            not name.endswith("-uncached")
            or not cached
            or not all(r.get("first_step_at_s") and r.get("median_step_s") for r in (cached, uncached))
        ):
            continue
        cost = cached["first_step_at_s"] - uncached["first_step_at_s"]
        saving = uncached["median_step_s"] - cached["median_step_s"]
        label = name.removesuffix("-uncached")
        if saving <= 0:
            lines.append(
                f"latent caching ({label}): +{cost:.1f} s before the first step and no faster steps: it does not pay here"
            )
            continue
        pays_from = max(1, math.ceil(cost / saving))
        verdict = "pays in this run" if steps >= pays_from else f"does not pay in this run of {steps} steps"
        lines.append(
            f"latent caching ({label}): +{cost:.1f} s before the first step, {saving:.2f} s saved per step: "
            f"pays from {pays_from} steps on ({verdict})"
        )
    return lines


def main() -> None:
    args = parse_args()
    if args.diffusers_src or args.kohya_src:
        ensure_comparison_venv(log)
        print(STANDIN_LINE, file=sys.stderr, flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="train-speed-"))
    log(f"work folder: {work}")
    peaks = {"fp32": matmul_throughput(torch.float32) / 1e9, "bf16": matmul_throughput(torch.bfloat16) / 1e9}
    models = []
    for model in args.models.split(","):
        result = bench_model(args, model, work, peaks)
        result["lines"] = comparison_lines(result["runs"])
        result["lines"] += caching_lines(result["runs"], result["settings"]["steps"])
        result["lines"] += [result["achieved"]] if result["achieved"] else []
        result["lines"] += result["ceiling_lines"]
        if result["step_gflop"] is not None:
            result["lines"] += [
                "UNet LoRA step FLOPs counted with torch.utils.flop_counter (latents and text embeddings as inputs): "
                f"{result['step_gflop']} GFLOP; CPU SDPA ops counted: {result['flop_count']['cpu_sdpa_counted']}"
                + " (torch has no formula for them; lora_scripts_engine/speed.py registers one with register_flop_formula)"
            ]
        models.append(result)
        print("\n".join(result["lines"]), file=sys.stderr, flush=True)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "versions": versions(),
        "torchvision": STANDIN_LINE if (args.diffusers_src or args.kohya_src) else None,
        "settings": {
            k: getattr(args, k)
            for k in ("images", "epochs", "steps", "resolution", "batch_size", "rank", "precisions", "latent_caching")
        }
        | {"learning_rate": LEARNING_RATE, "seed": SEED},
        "matmul_peak_gflops": {k: round(v, 1) for k, v in peaks.items()},
        "models": models,
    }
    print(json.dumps(report, indent=2, default=str))
    if args.write:
        args.write.write_text(markdown(report) + "\n")
        log(f"wrote {args.write}")


if __name__ == "__main__":
    main()
