"""Saves the trained LoRA through diffusers + peft: `pytorch_lora_weights.safetensors`, written atomically.

The kohya/WebUI file is made from this one by the TypeScript side (src/lora/), so there is one writer per format.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from peft.utils import get_peft_model_state_dict

from .file_modes import as_ordinary_file
from .protocol import EngineFailure
from .request import SETUP_HINT, InitLoraFacts

WEIGHT_NAME = "pytorch_lora_weights.safetensors"
SAVE_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def adapter_state(model: torch.nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", dtype).contiguous() for k, v in get_peft_model_state_dict(model).items()}


def with_text_model_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # transformers >= 5 flattens CLIPTextModel (no `text_model.`); files from transformers 4, ComfyUI and kohya
    # tools all spell it, and diffusers loads either, so we write the portable spelling.
    return {k if k.startswith("text_model.") else "text_model." + k: v for k, v in state.items()}


def adapter_metadata(model: torch.nn.Module) -> dict:
    # Without it diffusers assumes alpha = rank; our alpha defaults to 2 x rank, so the scale would halve.
    return model.peft_config["default"].to_dict()


def load_init_lora(base, path: str, facts: InitLoraFacts | None) -> dict:
    """Loads a kohya or diffusers LoRA as the starting adapter; its rank, alpha and layers come from the file.

    diffusers converts kohya names itself. `facts` is what TypeScript read from the file: `family` (None when the
    file can't tell) and `layers`, the number of modules in it, which must all exist in this base model.
    """
    if facts is None:
        raise EngineFailure(
            "bad_request",
            "`options.init_lora` is null while `config.init_lora` is set",
            culprit="options.init_lora",
            hint=SETUP_HINT,
        )
    names = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}
    family = facts.family
    if family and family != base.family:
        raise init_lora_failure(
            path, f"is an {names[family]} LoRA, but the base model is {names[base.family]}", code="init_lora_family"
        )
    try:
        base.pipeline().load_lora_weights(path, adapter_name="default")
    except (ValueError, RuntimeError, KeyError) as error:
        raise init_lora_failure(path, f"does not fit this base model ({first_mismatch(str(error))})") from error
    count = lambda model: sum(1 for name, _ in model.named_modules() if name.endswith("lora_A.default"))
    layers = {"unet": count(base.unet), "text_encoder": sum(count(e) for e in base.text_encoders)}
    if sum(layers.values()) < max(1, facts.layers):
        raise init_lora_failure(
            path, f"only {sum(layers.values())} of its {facts.layers} layers exist in this base model"
        )
    config = next(m.peft_config["default"] for m in [base.unet, *base.text_encoders] if hasattr(m, "peft_config"))
    return {"rank": config.r, "alpha": config.lora_alpha, "layers": layers}


def first_mismatch(text: str) -> str:
    """torch's load_state_dict report → its first size mismatch in one line, else the report's first line."""
    found = re.search(
        r"size mismatch for (\S+?)(?:\.default)?\.weight: copying a param with shape torch\.Size\((\[.*?\])\) from checkpoint, the shape in current model is torch\.Size\((\[.*?\])\)",
        text,
    )
    if found:
        return f"layer `{found[1]}` is {found[2]} in the file but {found[3]} in the model"
    return (text.strip().splitlines() or ["unknown error"])[0][:300]


def init_lora_failure(path: str, problem: str, code: str = "init_lora_mismatch") -> EngineFailure:
    return EngineFailure(
        code,
        f"`init_lora` {problem}",
        culprit=path,
        hint="continue a LoRA on the base model (family) it was trained on, or remove `init_lora` to train a new one",
    )


def save_lora(base, path: str, save_precision: str, train_text_encoder: bool) -> str:
    """Writes the diffusers LoRA file for the current adapter weights to `path` (temp folder + rename)."""
    dtype = SAVE_DTYPES[save_precision]
    kwargs = {
        "unet_lora_layers": adapter_state(base.unet, dtype),
        "unet_lora_adapter_metadata": adapter_metadata(base.unet),
    }
    if train_text_encoder:
        names = ["text_encoder", "text_encoder_2"][: len(base.text_encoders)]
        for name, encoder in zip(names, base.text_encoders):
            if not hasattr(encoder, "peft_config"):
                continue  # a frozen encoder (its learning rate 0) has no LoRA layers to write
            kwargs[f"{name}_lora_layers"] = with_text_model_prefix(adapter_state(encoder, dtype))
            kwargs[f"{name}_lora_adapter_metadata"] = adapter_metadata(encoder)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".saving-", dir=folder)
    try:
        pipeline_class = StableDiffusionXLPipeline if base.family == "sdxl" else StableDiffusionPipeline
        pipeline_class.save_lora_weights(staging, weight_name=WEIGHT_NAME, safe_serialization=True, **kwargs)
        as_ordinary_file(os.path.join(staging, WEIGHT_NAME))
        os.replace(os.path.join(staging, WEIGHT_NAME), path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
