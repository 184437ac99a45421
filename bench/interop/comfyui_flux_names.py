"""Checks that a Flux.1 LoRA written by our save path, in both its files, loads into ComfyUI's Flux at full size.

Why at full size, without weights: ComfyUI (like diffusers' single-file converter) recognises Flux only at its real
width (3072, 24 heads of 128), so the tiny Flux of the tests is no use there, and FLUX.1-dev is a 24 GB file. Key
names depend only on the module layout, so both sides are built on PyTorch's `meta` device:

1. our side: diffusers' FluxTransformer2DModel with FLUX.1's config (19 double, 38 single blocks; `guidance_in` for
   dev), targets from the engine's `flux_target_names` for `--target-modules`, `add_adapter(LoraConfig(...))` as
   flux_train.py does, the LoRA tensors filled with random numbers, saved by the engine's `save_flux_lora`
   (`pytorch_lora_weights.safetensors`), then turned into the kohya file by `fluxPeftToKohya` (src/lora/flux-keys.ts,
   run with tsx);
2. ComfyUI's side: the model config detected by `comfy.model_detection.model_config_from_unet` from the BFL-layout
   shapes (our `to_bfl` of the same transformer), the real `model_base.Flux` on `meta`, its
   `comfy.lora.model_lora_keys_unet` key map and `comfy.sd.load_lora_for_models(model, None, lora, 1.0, 0)`, once per
   file. ComfyUI maps kohya names to whole BFL weights and diffusers names to slices of the fused ones.

Then the fusing math, through ComfyUI's own `comfy.lora.calculate_weight`: for a few fused or swapped weights
(`img_attn.qkv`, `txt_attn.qkv`, `linear1`, the final AdaLN) a random real base weight W is patched once with the
kohya file's patch and once with the diffusers file's slice patches. The kohya one must equal W + ΔW from the
diffusers file; the diffusers one W + (rank/alpha)·ΔW, since ComfyUI applies a diffusers file at alpha = rank (it
reads no `lora_adapter_metadata`).

Prints JSON; exit 1 when a key was not loaded or a weight differs, 2 when the check itself could not run.
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
sys.path.insert(0, str(REPO_ROOT / "engine"))  # the engine's own modules (flux_model, flux_train)
TSX = REPO_ROOT / "node_modules" / ".bin" / "tsx"
CHECKED_WEIGHTS = [
    "diffusion_model.double_blocks.0.img_attn.qkv.weight",
    "diffusion_model.double_blocks.18.txt_attn.qkv.weight",
    "diffusion_model.single_blocks.0.linear1.weight",
    "diffusion_model.single_blocks.37.linear2.weight",
    "diffusion_model.double_blocks.5.img_mod.lin.weight",
]


def build_meta_flux(variant: str):
    import torch
    from diffusers import FluxTransformer2DModel
    from lora_scripts_engine.flux_model import FULL_TRANSFORMER

    with torch.device("meta"):
        return FluxTransformer2DModel(**FULL_TRANSFORMER, guidance_embeds=variant == "dev")


def write_peft_file(path: Path, variant: str, target_modules: str, rank: int, alpha: float) -> int:
    """Steps 2 and the save of flux_train.py, on a meta-device full-size Flux; returns the number of LoRA layers."""
    import torch
    from comfyui_sdxl_names import materialize_lora_
    from lora_scripts_engine.flux_train import flux_target_names, save_flux_lora
    from peft import LoraConfig

    transformer = build_meta_flux(variant)
    names = flux_target_names(transformer, target_modules.split(","))
    transformer.add_adapter(
        LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, init_lora_weights="gaussian", target_modules=names)
    )
    materialize_lora_(transformer, torch.Generator().manual_seed(0))
    save_flux_lora(types.SimpleNamespace(transformer=transformer), str(path), "fp32")
    return len(names)


def convert_to_kohya(peft_path: Path, kohya_path: Path, work_dir: Path) -> None:
    """src/lora/flux-keys.ts's fluxPeftToKohya on the file, through tsx (no build needed)."""
    script = work_dir / "convert.mts"
    lora = (REPO_ROOT / "src" / "lora").as_uri()
    script.write_text(
        f"""import {{ readFileSync, writeFileSync }} from 'node:fs';
import {{ parseSafetensors, serializeSafetensors }} from '{lora}/safetensors.ts';
import {{ fluxPeftToKohya }} from '{lora}/flux-keys.ts';
const file = parseSafetensors(readFileSync({json.dumps(str(peft_path))}), 'peft');
const {{ tensors }} = fluxPeftToKohya(file, {{ fileName: 'peft' }});
writeFileSync({json.dumps(str(kohya_path))}, serializeSafetensors({{ metadata: {{}}, tensors }}));
"""
    )
    subprocess.run([str(TSX), str(script)], check=True, capture_output=True, text=True, cwd=REPO_ROOT)


def comfy_meta_flux(comfy, variant: str):
    """ComfyUI's own Flux model, detected from the BFL-layout shapes, with every weight on `meta`."""
    import comfy.model_detection
    import comfy.model_patcher
    import torch
    from lora_scripts_engine.flux_model import to_bfl

    bfl_state = to_bfl(build_meta_flux(variant))
    model_config = comfy.model_detection.model_config_from_unet(bfl_state, "")
    if model_config is None:
        raise RuntimeError("ComfyUI did not recognise the full-size Flux transformer")
    cpu = torch.device("cpu")
    model = model_config.get_model({}, "", device=torch.device("meta"))
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu), bfl_state


def expected_delta(peft: dict, target: str, shapes: dict, variant: str, alpha: float, rank: int):
    """ΔW of a BFL weight from the diffusers file: each part's (alpha/r)·B·A on its own rows, zero for parts the
    LoRA does not train (widths from the diffusers model), halves swapped where the layout says so."""
    import torch
    from lora_scripts_engine.flux_model import bfl_layout, swap_halves

    bfl_name = target[len("diffusion_model.") :]
    _, parts, how = next(r for r in bfl_layout(19, 38, variant == "dev") if r[0] == bfl_name)
    deltas = []
    for name in parts:
        module = "transformer." + name[: -len(".weight")]
        if f"{module}.lora_A.weight" in peft:
            deltas.append((alpha / rank) * peft[f"{module}.lora_B.weight"] @ peft[f"{module}.lora_A.weight"])
        else:
            deltas.append(torch.zeros(shapes[name]))
    return swap_halves(deltas[0]) if how == "swap" else torch.cat(deltas)


def count_modules(lora_keys: list[str], key_map: dict, patches: dict) -> dict:
    """Modules in the file, modules ComfyUI's key map knows, modules whose target weight got a patch. A diffusers
    name maps to (BFL weight, slice) where BFL fuses it; comfyui_check.count_modules expects plain names."""
    modules = sorted({comfyui_check.module_name_of(k) for k in lora_keys})
    targets = [key_map.get(m) for m in modules]
    weights = [t[0] if isinstance(t, tuple) else t for t in targets]
    return {
        "in_file": len(modules),
        "mapped": sum(t is not None for t in targets),
        "patched": sum(w is not None and w in patches for w in weights),
    }


def run_check(args: argparse.Namespace, capture: comfyui_check.LogCapture, work_dir: Path) -> dict:
    import torch
    from safetensors.torch import load_file

    peft_path, kohya_path = work_dir / "pytorch_lora_weights.safetensors", work_dir / "flux_full_size.safetensors"
    layers = write_peft_file(peft_path, args.variant, args.target_modules, args.rank, args.alpha)
    convert_to_kohya(peft_path, kohya_path, work_dir)

    stubs = comfyui_check.install_stubs()  # after our side: diffusers looks for torchvision when imported
    comfy = comfyui_check.import_comfy(args.comfyui_src)
    model, bfl_state = comfy_meta_flux(comfy, args.variant)
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    files, patched = {}, {}
    for label, path in (("kohya", kohya_path), ("diffusers", peft_path)):
        lora_sd = load_file(str(path))
        before_keys, before_patches = len(capture.keys_not_loaded), len(capture.patches_not_loaded)
        new_model, _ = comfy.sd.load_lora_for_models(model, None, lora_sd, 1.0, 0.0)
        patched[label] = new_model.patches
        files[label] = {
            "keys_in_file": len(lora_sd),
            "modules": count_modules(list(lora_sd), key_map, new_model.patches),
            "patched_weights": len(new_model.patches),
            "keys_not_loaded": capture.keys_not_loaded[before_keys:],
            "patches_not_loaded": capture.patches_not_loaded[before_patches:],
        }

    peft = {k: v.float() for k, v in load_file(str(peft_path)).items()}
    shapes = {name: tuple(t.shape) for name, t in build_meta_flux(args.variant).state_dict().items()}
    generator = torch.Generator().manual_seed(1)
    weights = {}
    for target in CHECKED_WEIGHTS:
        if target not in patched["kohya"]:
            weights[target] = "not trained with these target modules"
            continue
        base = torch.randn(bfl_state[target[len("diffusion_model.") :]].shape, generator=generator) * 0.02
        delta = expected_delta(peft, target, shapes, args.variant, args.alpha, args.rank)
        # ComfyUI reads a diffusers file's scale from `.alpha` keys, which diffusers does not write: it applies the
        # file at alpha = rank and ignores `lora_adapter_metadata`, so the file's strength is rank/alpha of ours.
        wants = {"kohya": base + delta, "diffusers": base + delta * (args.rank / args.alpha)}
        errors = {}
        for label, want in wants.items():
            got = comfy.lora.calculate_weight(patched[label][target], base.clone(), target)
            errors[label] = float((got - want).abs().max())
        weights[target] = {"max_error": errors, "delta_max": float(delta.abs().max())}
    return {
        "comfyui_version": comfyui_check.comfyui_version(args.comfyui_src),
        "model_type": type(model.model).__name__,
        "variant": args.variant,
        "target_modules": args.target_modules,
        "engine_layers": layers,
        "files": files,
        "weights": weights,
        "other_warnings": capture.other,
        "stubbed_modules": stubs,
        "torch": torch.__version__,
    }


def is_success(report: dict) -> bool:
    for entry in report["files"].values():
        if entry["keys_not_loaded"] or entry["patches_not_loaded"]:
            return False
        if not entry["modules"]["in_file"] == entry["modules"]["patched"] > 0:
            return False
    checked = [w for w in report["weights"].values() if isinstance(w, dict)]
    return bool(checked) and all(
        max(w["max_error"].values()) <= 1e-6 + 1e-5 * w["delta_max"] and w["delta_max"] > 0 for w in checked
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui-src", type=Path, required=True, help="a local ComfyUI checkout (folder with comfy/)")
    parser.add_argument("--variant", choices=["dev", "schnell"], default="dev")
    parser.add_argument(
        "--target-modules", default="all", help="flux_train.py presets or module suffixes, comma-separated"
    )
    parser.add_argument("--rank", type=int, default=4, help="names do not depend on it (default 4, a small file)")
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
    with tempfile.TemporaryDirectory(prefix="comfyui-flux-") as temp:
        work_dir = args.keep or Path(temp)
        work_dir.mkdir(parents=True, exist_ok=True)
        try:
            report = run_check(args, capture, work_dir)
        except Exception:
            print(json.dumps({"error": traceback.format_exc()}, indent=2))
            return 2
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    return 0 if is_success(report) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
