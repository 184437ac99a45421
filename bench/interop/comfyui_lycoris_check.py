"""Applies a LoHa / LoKr / DoRA file in LyCORIS' kohya layout with ComfyUI's own code and compares every patched
weight with the weight peft merged in training.

Usage (see bench/interop/README.md; src/lora/lycoris.test.ts runs it when COMFYUI_SRC is set):
    python bench/interop/comfyui_lycoris_check.py --comfyui-src /tmp/comfyui \
        --lora loha-kohya.safetensors --expected loha.expected.safetensors

`--expected` holds, per adapted module, `<component>.<path>.base` (W) and `.merged` (peft's merge of W), as
tests/fixtures/lycoris/make_fixtures.py writes them. The check makes ComfyUI's LoRA calls without a checkpoint:
`comfy.lora.load_lora(file tensors, key map)` turns the file into ComfyUI's weight adapters (its
`comfy/weight_adapter/{lora,loha,lokr}.py`; a key it does not consume is logged `lora key not loaded`), then
`comfy.lora.calculate_weight` patches each W at strength 1, as ModelPatcher does. The key map names the tiny
SD 1.x modules the way ComfyUI's `model_lora_keys_unet/clip` name a real model's (`lora_unet_<diffusers path>`,
`lora_te_text_model_…`).

DoRA: ComfyUI 0.3.64 norms a per-output `dora_scale` by the rows of W, not of W + ΔW as peft and LyCORIS do
(comfy/weight_adapter/base.py `weight_decompose`). The check compares DoRA weights with that rule and reports how
far they are from peft's merge (`dora_difference_from_peft`).

Prints JSON; exit status 0 when every key loaded and every weight matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comfyui_check import LogCapture, install_stubs  # noqa: E402


def kohya_name(target: str) -> str:
    component, path = target.split(".", 1)
    if component == "unet":
        return "lora_unet_" + path.replace(".", "_")
    path = path if path.startswith("text_model.") else "text_model." + path
    return "lora_te_" + path.replace(".", "_")


def comfy_dora_rule(base, lora_tensors: dict, module: str):
    """W + ΔW scaled by dora_scale / ‖W_row‖, ComfyUI's per-output rule, from the file alone."""
    import torch

    down = lora_tensors[f"{module}.lora_down.weight"].float()
    up = lora_tensors[f"{module}.lora_up.weight"].float()
    alpha = float(lora_tensors[f"{module}.alpha"].item())
    delta = (up.flatten(1) @ down.flatten(1)).reshape(base.shape) * (alpha / down.shape[0])
    norm = base.reshape(base.shape[0], -1).norm(dim=1).reshape(base.shape[0], *[1] * (base.dim() - 1))
    scale = lora_tensors[f"{module}.dora_scale"].float()
    return (base + delta) * (scale / (norm + torch.finfo(base.dtype).eps))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--comfyui-src", required=True, type=Path)
    parser.add_argument("--lora", required=True, type=Path)
    parser.add_argument("--expected", required=True, type=Path)
    args = parser.parse_args()

    import torch
    from safetensors.torch import load_file

    stubbed = install_stubs()
    sys.path.insert(0, str(args.comfyui_src))
    import comfy.cli_args  # noqa: E402

    comfy.cli_args.args.cpu = True
    import comfy.lora  # noqa: E402
    import comfy.utils  # noqa: E402

    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    lora = comfy.utils.load_torch_file(str(args.lora), safe_load=True)
    expected = load_file(str(args.expected))
    targets = sorted(key[: -len(".base")] for key in expected if key.endswith(".base"))
    key_map = {kohya_name(target): target for target in targets}
    patches = comfy.lora.load_lora(lora, key_map)
    modules_in_file = {key.rsplit(".", 2 if key.endswith(".weight") else 1)[0] for key in lora}

    worst, dora_from_peft, mismatched, kinds = 0.0, 0.0, [], set()
    for target in targets:
        adapter = patches.get(target)
        if adapter is None:
            mismatched.append(f"{target}: no patch")
            continue
        kinds.add(adapter.name)
        base = expected[f"{target}.base"].float()
        patched = comfy.lora.calculate_weight([(1.0, adapter, 1.0, None, None)], base.clone(), target)
        module = kohya_name(target)
        is_dora = f"{module}.dora_scale" in lora
        reference = comfy_dora_rule(base, lora, module) if is_dora else expected[f"{target}.merged"].float()
        error = float((patched - reference).abs().max())
        tolerance = 1e-5 * float(reference.abs().max()) + 1e-6
        worst = max(worst, error / max(float(reference.abs().max()), 1e-12))
        if is_dora:
            dora_from_peft = max(dora_from_peft, float((patched - expected[f"{target}.merged"]).abs().max()))
        if error > tolerance:
            mismatched.append(f"{target}: max error {error:.3g}")
    changed = sum(1 for t in targets if not torch.equal(expected[f"{t}.base"], expected[f"{t}.merged"]))
    report = {
        "comfyui_src": str(args.comfyui_src),
        "stubbed_modules": stubbed,
        "modules_in_file": len(modules_in_file),
        "modules_patched": len(patches),
        "adapter_kinds": sorted(kinds),
        "keys_not_loaded": capture.keys_not_loaded,
        "modules_changed_by_training": changed,
        "worst_relative_error": worst,
        "dora_difference_from_peft": dora_from_peft,
        "mismatched": mismatched,
    }
    print(json.dumps(report, indent=2))
    ok = not capture.keys_not_loaded and not mismatched and len(patches) == len(modules_in_file) == len(targets)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
