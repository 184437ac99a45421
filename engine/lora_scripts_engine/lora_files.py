"""Saves the trained LoRA through diffusers + peft: `pytorch_lora_weights.safetensors`, written atomically.

The kohya/WebUI file is made from this one by the TypeScript side (src/lora/), so there is one writer per format.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from peft.utils import get_peft_model_state_dict

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
            kwargs[f"{name}_lora_layers"] = with_text_model_prefix(adapter_state(encoder, dtype))
            kwargs[f"{name}_lora_adapter_metadata"] = adapter_metadata(encoder)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".saving-", dir=folder)
    try:
        pipeline_class = StableDiffusionXLPipeline if base.family == "sdxl" else StableDiffusionPipeline
        pipeline_class.save_lora_weights(staging, weight_name=WEIGHT_NAME, safe_serialization=True, **kwargs)
        os.replace(os.path.join(staging, WEIGHT_NAME), path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
