"""Loads a kohya-format LoRA file into a base checkpoint with ComfyUI's own code and prints, as JSON, what it applied.

Usage (see bench/interop/README.md):
    python bench/interop/comfyui_check.py --comfyui-src /tmp/comfyui \
        --checkpoint sd15.safetensors --lora out/style/style.safetensors

The check goes through the same calls as ComfyUI's `LoraLoader` node: `comfy.sd.load_checkpoint_guess_config`,
`comfy.utils.load_torch_file(safe_load=True)`, `comfy.sd.load_lora_for_models(model, clip, lora, 1.0, 1.0)`.
ComfyUI reports every file key it did not consume as the log line `lora key not loaded: <key>` and every patch
whose target weight is missing as `NOT LOADED <key>`; both are captured here. It then patches one UNet and one
text-encoder weight through ComfyUI's ModelPatcher and compares the result with W + (alpha/rank)·up@down computed
from the file with `safetensors` alone.

Exit status: 0 when every key loaded and the patched weights match, 1 when any key was not loaded or a
weight does not match, 2 when the checkpoint or ComfyUI could not be loaded at all. The JSON goes to stdout
in every case; ComfyUI's own log lines go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import sys
import time
import traceback
import types
from pathlib import Path

# ComfyUI imports these at module level on the path to comfy.sd, but loading a checkpoint and patching weights
# never calls them (einops is used in forward passes, torchvision/torchaudio by audio and image nodes).
# Installing torchvision/torchaudio would replace the CPU torch build with a CUDA one, so when they are absent
# they are replaced by stubs that raise if anything calls them. The JSON lists which stubs were used.
STUBBABLE_MODULES = ("einops", "torchvision", "torchaudio")

# Tensor suffixes of a kohya file (docs/formats/kohya-lora.md §1), plus PEFT's, so that a diffusers-format file
# given by mistake is still counted per module (it is the negative control in README.md).
LORA_SUFFIXES = (".lora_down.weight", ".lora_up.weight", ".alpha", ".lora_A.weight", ".lora_B.weight")
LORA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "unet.", "text_encoder.", "text_encoder_2.")


class _StubCalled(RuntimeError):
    pass


def _stub_attribute(module_name: str, attr: str) -> type:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise _StubCalled(
            f"`{module_name}.{attr}` is a stub in comfyui_check.py; this code path needs the real package"
        )

    # A class (not a function) so that ComfyUI modules may also subclass it at import time.
    return type(attr, (), {"__init__": refuse, "__call__": refuse})


class _StubLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        module.__path__ = []  # a package, so `import torchvision.transforms` also resolves to a stub

        def module_getattr(attr: str) -> type:
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _stub_attribute(spec.name, attr)

        module.__getattr__ = module_getattr  # type: ignore[method-assign]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _StubFinder(importlib.abc.MetaPathFinder):
    def __init__(self, top_level_names: set[str]) -> None:
        self.top_level_names = top_level_names

    def find_spec(self, name: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name.split(".")[0] in self.top_level_names:
            return importlib.machinery.ModuleSpec(name, _StubLoader(), is_package=True)
        return None


def install_stubs() -> list[str]:
    """Stubs only the packages that are not installed; returns their names."""
    missing = [name for name in STUBBABLE_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        sys.meta_path.insert(0, _StubFinder(set(missing)))
    return missing


class LogCapture(logging.Handler):
    """Keeps every WARNING+ record ComfyUI emits through `logging`, sorted by what it says about the LoRA."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.keys_not_loaded: list[str] = []
        self.patches_not_loaded: list[str] = []
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("lora key not loaded: "):
            self.keys_not_loaded.append(message[len("lora key not loaded: ") :])
        elif message.startswith("NOT LOADED "):
            self.patches_not_loaded.append(message[len("NOT LOADED ") :])
        else:
            self.other.append(f"{record.levelname}: {message}")


def import_comfy(comfyui_src: Path) -> types.ModuleType:
    sys.path.insert(0, str(comfyui_src))
    import comfy.cli_args  # noqa: E402  (needs the sys.path entry above)

    # ComfyUI reads its flags when comfy.model_management is first imported; the check runs on the CPU so that
    # it gives the same answer on every machine (key mapping does not depend on the device).
    comfy.cli_args.args.cpu = True
    import comfy.sd  # noqa: E402
    import comfy.utils  # noqa: E402

    return comfy


def comfyui_version(comfyui_src: Path) -> str | None:
    version_file = comfyui_src / "comfyui_version.py"
    if not version_file.is_file():
        return None
    namespace: dict[str, object] = {}
    exec(version_file.read_text(), namespace)  # a one-line generated file: __version__ = "x.y.z"
    return str(namespace.get("__version__"))


def module_name_of(key: str) -> str:
    for suffix in LORA_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def prefix_of(module_name: str) -> str:
    for prefix in LORA_PREFIXES:
        if module_name.startswith(prefix):
            return prefix[:-1]
    return "other"


def count_modules(lora_keys: list[str], key_map: dict[str, str], unet_patches: dict, clip_patches: dict) -> dict:
    """Per file prefix: modules in the file, modules ComfyUI's key map knows, modules whose target got a patch."""
    counts: dict[str, dict[str, object]] = {}
    for module in sorted({module_name_of(k) for k in lora_keys}):
        entry = counts.setdefault(prefix_of(module), {"in_file": 0, "mapped": 0, "patched": 0, "targets": set()})
        entry["in_file"] += 1
        target = key_map.get(module)
        if target is None:
            continue
        entry["mapped"] += 1
        if target in unet_patches or target in clip_patches:
            entry["patched"] += 1
            # `diffusion_model.…`, `clip_l.…`, `clip_g.…`: which model part ComfyUI applied this prefix to
            entry["targets"].add(target.split(".")[0])
    for entry in counts.values():
        entry["targets"] = sorted(entry["targets"])
    return counts


def expected_weight(base, lora_tensors: dict, module: str, strength: float):
    """W + strength·(alpha/rank)·up@down, from the file alone (docs/formats/kohya-lora.md §4)."""
    # kohya names first, PEFT names for the diffusers-format negative control
    down_key, up_key = (
        (f"{module}.lora_down.weight", f"{module}.lora_up.weight")
        if f"{module}.lora_down.weight" in lora_tensors
        else (f"{module}.lora_A.weight", f"{module}.lora_B.weight")
    )
    down, up = lora_tensors[down_key].float(), lora_tensors[up_key].float()
    rank = down.shape[0]
    alpha_key = f"{module}.alpha"
    alpha = float(lora_tensors[alpha_key].item()) if alpha_key in lora_tensors else float(rank)
    delta = (up.flatten(1) @ down.flatten(1)).reshape(base.shape)
    return base.float() + strength * (alpha / rank) * delta, delta, alpha, rank


def verify_module(comfy, patcher, key_map: dict, lora_tensors: dict, module: str, strength: float) -> dict:
    """Patches one weight with ComfyUI's ModelPatcher and compares it with the formula."""
    import torch

    target = key_map[module]
    base = comfy.utils.get_attr(patcher.model, target).detach().clone()
    expected, delta, alpha, rank = expected_weight(base, lora_tensors, module, strength)
    patcher.patch_weight_to_device(target, device_to=torch.device("cpu"))
    patched = comfy.utils.get_attr(patcher.model, target).detach().float()
    patcher.unpatch_model()

    # ComfyUI sums in float32 and rounds once to the model's dtype (comfy/float.py `stochastic_rounding` is plain
    # rounding for fp32/fp16/bf16), so each element may differ from the float32 formula by at most one unit in the
    # last place; the second term covers subnormals.
    finfo = torch.finfo(base.dtype)
    tolerance = finfo.eps * expected.abs() + finfo.eps * finfo.smallest_normal
    is_match = bool(((patched - expected).abs() <= tolerance).all())
    # If the unpatched weight also passed, the comparison could not fail; such a check counts as not verified.
    is_delta_visible = bool(((base.float() - expected).abs() > tolerance).any())
    delta_max_abs = float((strength * (alpha / rank) * delta).abs().max())
    return {
        "module": module,
        "target": target,
        "dtype": str(base.dtype).replace("torch.", ""),
        "alpha": alpha,
        "rank": rank,
        "delta_max_abs": delta_max_abs,
        "max_abs_error": float((patched - expected).abs().max()),
        "changed_fraction": round(float((patched != base.float()).float().mean()), 4),
        "is_delta_visible": is_delta_visible,
        "is_match": is_match,
    }


def pick_verify_modules(key_map: dict, lora_keys: list[str], unet_patches: dict) -> list[str]:
    """The first mapped UNet module and the first mapped text-encoder module of the file."""
    mapped = sorted({module_name_of(k) for k in lora_keys if module_name_of(k) in key_map})
    unet = [m for m in mapped if key_map[m] in unet_patches]
    clip = [m for m in mapped if key_map[m] not in unet_patches]
    return unet[:1] + clip[:1]


def run_check(args: argparse.Namespace, capture: LogCapture) -> dict:
    from safetensors.torch import load_file

    comfy = import_comfy(args.comfyui_src)
    started = time.monotonic()
    model, clip, _vae, _clipvision = comfy.sd.load_checkpoint_guess_config(
        str(args.checkpoint), output_vae=False, output_clip=True, embedding_directory=None
    )
    load_s = time.monotonic() - started

    lora_sd = comfy.utils.load_torch_file(str(args.lora), safe_load=True)
    lora_keys = list(lora_sd.keys())
    # The same key map load_lora_for_models builds internally, rebuilt to attribute each patch to a module.
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    new_model, new_clip = comfy.sd.load_lora_for_models(model, clip, lora_sd, args.strength, args.strength)

    unet_patches, clip_patches = new_model.patches, new_clip.patcher.patches
    verified = []
    lora_tensors = load_file(str(args.lora))  # independent of ComfyUI's reader
    for module in pick_verify_modules(key_map, lora_keys, unet_patches):
        patcher = new_model if key_map[module] in unet_patches else new_clip.patcher
        verified.append(verify_module(comfy, patcher, key_map, lora_tensors, module, args.strength))

    return {
        "comfyui_version": comfyui_version(args.comfyui_src),
        "checkpoint": str(args.checkpoint),
        "model_type": type(model.model).__name__,
        "clip_type": type(clip.cond_stage_model).__name__,
        "lora": str(args.lora),
        "strength": args.strength,
        "keys_in_file": len(lora_keys),
        "modules": count_modules(lora_keys, key_map, unet_patches, clip_patches),
        "patched_weights": {"unet": len(unet_patches), "text_encoders": len(clip_patches)},
        "keys_not_loaded": capture.keys_not_loaded,
        "patches_not_loaded": capture.patches_not_loaded,
        "other_warnings": capture.other,
        "verified": verified,
        "checkpoint_load_s": round(load_s, 1),
    }


def is_success(report: dict) -> bool:
    if report["keys_not_loaded"] or report["patches_not_loaded"]:
        return False
    every_module_patched = all(e["in_file"] == e["patched"] for e in report["modules"].values())
    every_weight_ok = all(v["is_match"] and v["is_delta_visible"] for v in report["verified"])
    return every_module_patched and every_weight_ok and len(report["verified"]) > 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui-src", type=Path, required=True, help="a local ComfyUI checkout (folder with comfy/)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="single-file SD1.x/SD2.x/SDXL checkpoint")
    parser.add_argument("--lora", type=Path, required=True, help="kohya-format LoRA .safetensors")
    parser.add_argument("--strength", type=float, default=1.0, help="strength_model = strength_clip (default 1.0)")
    args = parser.parse_args(argv)
    for name in ("comfyui_src", "checkpoint", "lora"):
        if not getattr(args, name).exists():
            parser.error(f"`{getattr(args, name)}` does not exist")
    if not (args.comfyui_src / "comfy" / "sd.py").is_file():
        parser.error(f"`{args.comfyui_src}` has no comfy/sd.py; pass the root of a ComfyUI checkout")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # ComfyUI's own log lines (model type, dtype, warnings) stay readable on stderr; stdout carries only the JSON.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    stubs = install_stubs()
    try:
        report = run_check(args, capture)
        status = 0 if is_success(report) else 1
    except Exception as error:  # ComfyUI could not load the checkpoint or the file: report why, as JSON
        traceback.print_exc(file=sys.stderr)
        report = {"error": f"{type(error).__name__}: {error}", "other_warnings": capture.other}
        status = 2
    report["stubbed_modules"] = stubs
    report["total_s"] = round(time.monotonic() - started, 1)
    report["ok"] = status == 0
    print(json.dumps(report, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
