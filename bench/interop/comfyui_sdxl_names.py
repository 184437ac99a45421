"""Checks that an SDXL LoRA written by our save path has only key names ComfyUI maps, at real SDXL size, with no weights.

Why this exists: ComfyUI recognises SDXL only by its real shapes, so the tiny SDXL checkpoint from
`make-checkpoint --family sdxl` is refused ("Could not detect model type"), and our tools cannot write a full-size
SDXL checkpoint (a 7 GB file, about 15 GB of RAM to load on the CPU). Key names depend only on the module layout, so
both sides are built on PyTorch's `meta` device (shapes, no memory):

1. our side: the SDXL UNet and both CLIP text encoders from the engine's shipped configs (`model_configs/sdxl`),
   targets resolved by the engine's `resolve_targets` with the suffixes TypeScript gives `--target-modules`,
   adapters added with `add_adapter(LoraConfig(...))` as `train.py` does, the small LoRA tensors filled with random
   numbers, saved with the engine's `save_lora`, then turned into the kohya file by `convertPeftFileToKohya` from
   `dist/` (the same calls `lora-scripts train` makes; only the optimizer steps are left out);
2. ComfyUI's side: the model config detected by `comfy.model_detection.model_config_from_diffusers_unet` from the
   UNet's shapes, the real `model_base.SDXL` and `comfy.sd.CLIP(SDXLClipModel)` classes on `meta`, and the real
   `comfy.sd.load_lora_for_models(model, clip, lora, 1.0, 1.0)`.

Two files are checked: both text encoders trained, and the first only (`text_encoder_2_lr: 0`, the SDXL advice),
where the second encoder gets no LoRA layers and the file has no `lora_te2_` key at all.
The weight math is not checked here (no weights); comfyui_check.py does that on a full-size SD 1.5 checkpoint.
Prints JSON like comfyui_check.py; exit 1 when a key was not loaded, 2 when the check itself could not run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

import comfyui_check  # same folder: stubs, log capture, ComfyUI import and module counts

REPO_ROOT = Path(__file__).resolve().parents[2]
SDXL_CONFIGS = REPO_ROOT / "engine" / "lora_scripts_engine" / "model_configs" / "sdxl"


def target_suffixes(target_modules: str) -> list[dict]:
    """The suffix lists TypeScript sends to the engine for `--target-modules` (dist/train/target-modules.js)."""
    module_url = (REPO_ROOT / "dist" / "train" / "target-modules.js").as_uri()
    script = f"import({json.dumps(module_url)}).then(m => console.log(JSON.stringify(m.resolveTargetModules({json.dumps(target_modules.split(','))}))))"
    return json.loads(subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True).stdout)


def build_meta_sdxl():
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(SDXL_CONFIGS / "unet"))
        te1 = CLIPTextModel(CLIPTextConfig.from_pretrained(SDXL_CONFIGS / "text_encoder"))
        te2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(SDXL_CONFIGS / "text_encoder_2"))
    return unet, [te1, te2]


def materialize_lora_(model, generator) -> None:
    """Gives the LoRA layers (only) real CPU tensors; the base layers stay on `meta`."""
    import torch
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer):
            for parts in (module.lora_A, module.lora_B):
                parts.to_empty(device="cpu")
                for param in parts.parameters():
                    with torch.no_grad():
                        param.copy_(torch.randn(param.shape, generator=generator) * 0.01)


# Each case: the text encoders' learning rates as the engine receives them (`text_encoder_lr`, `text_encoder_2_lr`);
# only whether each is 0 matters here (0 = that encoder frozen, no LoRA layers).
CASES = {"both_text_encoders": [1e-5, 1e-5], "te1_only": [1e-5, 0.0]}


def write_peft_file(path: Path, target_modules: str, rank: int, alpha: float, encoder_lrs: list[float]) -> dict:
    """Steps 2 and the save of engine/lora_scripts_engine/train.py, on a meta-device full-size SDXL."""
    import torch
    from peft import LoraConfig

    sys.path.insert(0, str(REPO_ROOT / "engine"))
    from lora_scripts_engine.lora_files import save_lora
    from lora_scripts_engine.request import TargetEntry
    from lora_scripts_engine.targets import resolve_targets

    unet, text_encoders = build_meta_sdxl()
    unet_names, te_names, counts = resolve_targets(
        [TargetEntry(**entry) for entry in target_suffixes(target_modules)], unet, text_encoders, encoder_lrs
    )
    lora = dict(r=rank, lora_alpha=alpha, lora_dropout=0.0, init_lora_weights="gaussian")
    generator = torch.Generator().manual_seed(0)
    unet.add_adapter(LoraConfig(target_modules=unet_names, **lora))
    materialize_lora_(unet, generator)
    for encoder, names in zip(text_encoders, te_names):
        if not names:
            continue  # a frozen encoder: train.py adds no adapter to it
        encoder.add_adapter(LoraConfig(target_modules=names, **lora))
        materialize_lora_(encoder, generator)
    base = types.SimpleNamespace(family="sdxl", unet=unet, text_encoders=text_encoders)
    save_lora(base, str(path), "fp16", train_text_encoder=True)
    return {
        "unet": len(unet_names),
        "text_encoders": [len(n) for n in te_names],
        "layers_per_block": unet.config.layers_per_block,
    }


def convert_to_kohya(peft_path: Path, kohya_path: Path, layers_per_block: int) -> None:
    """The kohya writer `lora-scripts train` calls (src/train/run.ts → convertPeftFileToKohya)."""
    module_url = (REPO_ROOT / "dist" / "lora" / "index.js").as_uri()
    options = {
        "input": str(peft_path),
        "output": str(kohya_path),
        "family": "sdxl",
        "metadata": {},
        "layersPerBlock": layers_per_block,
    }
    script = f"import({json.dumps(module_url)}).then(m => m.convertPeftFileToKohya({json.dumps(options)})).then(s => console.log(JSON.stringify(s)))"
    subprocess.run(["node", "-e", script], check=True, capture_output=True, text=True)


def comfy_meta_sdxl(comfy, diffusers_unet_state_dict: dict):
    """ComfyUI's own SDXL model and CLIP classes, detected from the UNet's shapes, with every weight on `meta`."""
    import comfy.model_detection
    import comfy.model_patcher
    import torch

    cpu, meta = torch.device("cpu"), torch.device("meta")
    model_config = comfy.model_detection.model_config_from_diffusers_unet(diffusers_unet_state_dict)
    if model_config is None:
        raise RuntimeError("ComfyUI did not recognise the full-size SDXL UNet config")
    model = model_config.get_model({}, "", device=meta)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)
    clip_options = {"initial_device": meta, "load_device": cpu, "offload_device": cpu}
    clip = comfy.sd.CLIP(target=model_config.clip_target({}), model_options=clip_options)
    return patcher, clip


def run_check(args: argparse.Namespace, capture: comfyui_check.LogCapture, work_dir: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    files = {}
    for case, encoder_lrs in CASES.items():
        peft_path = work_dir / f"{case}_pytorch_lora_weights.safetensors"
        kohya_path = work_dir / f"sdxl_full_size_{case}.safetensors"
        targets = write_peft_file(peft_path, args.target_modules, args.rank, args.alpha, encoder_lrs)
        convert_to_kohya(peft_path, kohya_path, targets["layers_per_block"])
        files[case] = (kohya_path, targets)
    unet, _ = build_meta_sdxl()
    unet_state_dict = unet.state_dict()

    # diffusers checks for torchvision when it is imported, so the stubs go in only after our side is done.
    stubs = comfyui_check.install_stubs()
    comfy = comfyui_check.import_comfy(args.comfyui_src)
    model, clip = comfy_meta_sdxl(comfy, unet_state_dict)
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    cases = {}
    for case, (kohya_path, targets) in files.items():
        capture.keys_not_loaded, capture.patches_not_loaded = [], []  # each file's own
        lora_sd = load_file(str(kohya_path))
        new_model, new_clip = comfy.sd.load_lora_for_models(model, clip, lora_sd, 1.0, 1.0)
        cases[case] = {
            "text_encoder_lrs": CASES[case],
            "engine_targets": targets,
            "keys_in_file": len(lora_sd),
            "modules": comfyui_check.count_modules(list(lora_sd), key_map, new_model.patches, new_clip.patcher.patches),
            "patched_weights": {"unet": len(new_model.patches), "text_encoders": len(new_clip.patcher.patches)},
            "keys_not_loaded": capture.keys_not_loaded,
            "patches_not_loaded": capture.patches_not_loaded,
        }
    return {
        "comfyui_version": comfyui_check.comfyui_version(args.comfyui_src),
        "model_type": type(model.model).__name__,
        "clip_type": type(clip.cond_stage_model).__name__,
        "target_modules": args.target_modules,
        "cases": cases,
        "other_warnings": capture.other,
        "stubbed_modules": stubs,
        "torch": torch.__version__,
    }


def is_success(report: dict) -> bool:
    """Every file: nothing skipped, every module patched; the te1-only file has no te2 module at all."""
    for case, result in report["cases"].items():
        if result["keys_not_loaded"] or result["patches_not_loaded"]:
            return False
        if not all(e["in_file"] == e["patched"] > 0 for e in result["modules"].values()):
            return False
        has_te2 = "lora_te2" in result["modules"]
        if has_te2 != bool(CASES[case][1]):
            return False
    return True


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui-src", type=Path, required=True, help="a local ComfyUI checkout (folder with comfy/)")
    parser.add_argument(
        "--target-modules", default="attention+ff", help="as `lora-scripts train --target-modules` (comma-separated)"
    )
    parser.add_argument(
        "--rank", type=int, default=4, help="LoRA rank; names do not depend on it (default 4, a small file)"
    )
    parser.add_argument("--alpha", type=float, default=8.0)
    parser.add_argument("--keep", type=Path, help="also keep the generated LoRA files in this folder")
    args = parser.parse_args(argv)
    if not (args.comfyui_src / "comfy" / "sd.py").is_file():
        parser.error(f"`{args.comfyui_src}` has no comfy/sd.py; pass the root of a ComfyUI checkout")
    return args


def main(argv: list[str]) -> int:
    import logging

    args = parse_args(argv)
    started = time.monotonic()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    capture = comfyui_check.LogCapture()
    logging.getLogger().addHandler(capture)
    with tempfile.TemporaryDirectory(prefix="comfyui-sdxl-") as temp:
        work_dir = args.keep or Path(temp)
        work_dir.mkdir(parents=True, exist_ok=True)
        try:
            report = run_check(args, capture, work_dir)
            status = 0 if is_success(report) else 1
        except Exception as error:  # the check could not run: say why, as JSON
            traceback.print_exc(file=sys.stderr)
            report = {"error": f"{type(error).__name__}: {error}", "other_warnings": capture.other}
            status = 2
    report["total_s"] = round(time.monotonic() - started, 1)
    report["ok"] = status == 0
    print(json.dumps(report, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
