"""Writes diffusers components as one original-layout (LDM / sgm) .safetensors checkpoint.

The inverse of diffusers' `from_single_file` conversions (`convert_ldm_unet_checkpoint`,
`convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`, `convert_open_clip_checkpoint` in
diffusers/loaders/single_file_utils.py). Names are derived from each model's config (blocks,
layers_per_block, which up blocks have attentions), so tiny test models get the same layout as
SD 1.5. The configs travel in the `lora_scripts.architecture` metadata for models.py to rebuild.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import save_file

from .file_modes import as_ordinary_file

if TYPE_CHECKING:
    from .models import BaseModel

ARCHITECTURE_METADATA_KEY = "lora_scripts.architecture"
UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
# (prefix, layout) per text encoder: "hf" = transformers CLIP names, "openclip" = OpenCLIP names.
TEXT_ENCODER_LAYOUTS = {
    "sd1": [("cond_stage_model.transformer.", "hf")],
    "sd2": [("cond_stage_model.model.", "openclip")],
    "sdxl": [("conditioner.embedders.0.transformer.", "hf"), ("conditioner.embedders.1.model.", "openclip")],
}
UNET_RESNET_NAMES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
VAE_RESNET_NAMES = {"conv_shortcut": "nin_shortcut"}
VAE_ATTENTION_NAMES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
OPENCLIP_NAMES = {
    "embeddings.token_embedding.weight": "token_embedding.weight",
    "embeddings.position_embedding.weight": "positional_embedding",
    "final_layer_norm.weight": "ln_final.weight",
    "final_layer_norm.bias": "ln_final.bias",
}
OPENCLIP_LAYER_NAMES = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}
# Run-time and bookkeeping fields of a transformers config; the rest describes the architecture.
TEXT_CONFIG_NOISE = {"transformers_version", "_name_or_path", "dtype", "torch_dtype", "id2label", "label2id"}


def save_single_file(
    model: BaseModel,
    path: str | Path,
    *,
    dtype: torch.dtype | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Writes `model` (a BaseModel, loaded or built) as an original-layout checkpoint at `path`.

    `dtype` casts floating tensors (None keeps them); `extra_metadata` joins the header.
    The write is atomic: a temp file in the same folder, then `os.replace`.
    """
    tensors = original_layout_state_dict(model)
    if dtype is not None:
        tensors = {key: value.to(dtype) if value.is_floating_point() else value for key, value in tensors.items()}
    architecture = json.dumps(architecture_record(model))
    metadata = {"format": "pt", ARCHITECTURE_METADATA_KEY: architecture, **(extra_metadata or {})}
    return write_atomically(tensors, Path(path), metadata)


def original_layout_state_dict(model: BaseModel) -> dict[str, torch.Tensor]:
    layouts = TEXT_ENCODER_LAYOUTS[model.family]
    if model.family == "sdxl":
        check_sdxl_encoder_widths(model.text_encoders)
    tensors = prefixed(UNET_PREFIX, unet_to_original(model.unet.state_dict(), model.unet.config))
    tensors |= prefixed(VAE_PREFIX, vae_to_original(model.vae.state_dict(), model.vae.config))
    for encoder, (prefix, layout) in zip(model.text_encoders, layouts, strict=True):
        convert = clip_to_openclip if layout == "openclip" else clip_to_hf_layout
        tensors |= prefixed(prefix, convert(encoder.state_dict(), encoder.config))
    if model.prediction_type == "v_prediction":
        tensors["v_pred"] = torch.zeros(0)  # ComfyUI's marker for v-models; models.py honours it too
    return {key: value.detach().contiguous() for key, value in tensors.items()}


def check_sdxl_encoder_widths(text_encoders: list) -> None:
    # diffusers tells SDXL's two encoders apart by position-embedding width (single_file_utils
    # `create_diffusers_clip_model_from_ldm`): equal widths would load encoder 1 into both.
    widths = [encoder.config.hidden_size for encoder in text_encoders]
    if widths[0] == widths[1]:
        raise ValueError(f"SDXL text encoders need different hidden sizes to be saved as one file, got {widths}")


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + key: value for key, value in tensors.items()}


# ---- UNet ------------------------------------------------------------------------------------


def unet_module_names(config) -> dict[str, str]:
    """diffusers module path → LDM module path, for every module of a UNet2DConditionModel config."""
    per_block = config["layers_per_block"]
    if not isinstance(per_block, int):
        raise ValueError("the original layout needs one layers_per_block for all blocks")
    stride = per_block + 1  # LDM numbers resnets and the down/upsampler of a level consecutively
    names = {
        "conv_in": "input_blocks.0.0",
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2",
        "mid_block.resnets.0": "middle_block.0",
        "mid_block.attentions.0": "middle_block.1",
        "mid_block.resnets.1": "middle_block.2",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    down_types = config["down_block_types"]
    for i, block_type in enumerate(down_types):
        for j in range(per_block):
            names[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{stride * i + j + 1}.0"
            if "CrossAttn" in block_type:
                names[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{stride * i + j + 1}.1"
        if i < len(down_types) - 1:
            names[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{stride * (i + 1)}.0.op"
    for i, block_type in enumerate(config["up_block_types"]):
        has_attention = "CrossAttn" in block_type
        for j in range(stride):
            names[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{stride * i + j}.0"
            if has_attention:
                names[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{stride * i + j}.1"
        # The upsampler follows the last resnet, after its attention when the level has one.
        position = 2 if has_attention else 1
        names[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{stride * i + per_block}.{position}.conv"
    return names


def unet_to_original(state_dict: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    # Inside attentions (Transformer2DModel) the names are the same in both layouts.
    return rename_modules(state_dict, unet_module_names(config), {".resnets.": UNET_RESNET_NAMES}, "UNet")


# ---- VAE -------------------------------------------------------------------------------------


def vae_module_names(config) -> dict[str, str]:
    """diffusers module path → LDM module path, for every module of an AutoencoderKL config."""
    per_block = config["layers_per_block"]
    names = {
        name: name
        for name in (
            "encoder.conv_in",
            "encoder.conv_out",
            "decoder.conv_in",
            "decoder.conv_out",
            "quant_conv",
            "post_quant_conv",
        )
    }
    for part in ("encoder", "decoder"):
        names[f"{part}.conv_norm_out"] = f"{part}.norm_out"
        names[f"{part}.mid_block.resnets.0"] = f"{part}.mid.block_1"
        names[f"{part}.mid_block.resnets.1"] = f"{part}.mid.block_2"
        names[f"{part}.mid_block.attentions.0"] = f"{part}.mid.attn_1"
    for i in range(len(config["down_block_types"])):
        for j in range(per_block):
            names[f"encoder.down_blocks.{i}.resnets.{j}"] = f"encoder.down.{i}.block.{j}"
        names[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = f"encoder.down.{i}.downsample.conv"
    up_count = len(config["up_block_types"])
    for i in range(up_count):
        level = up_count - 1 - i  # LDM numbers decoder levels from the lowest resolution up
        for j in range(per_block + 1):
            names[f"decoder.up_blocks.{i}.resnets.{j}"] = f"decoder.up.{level}.block.{j}"
        names[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = f"decoder.up.{level}.upsample.conv"
    return names


def vae_to_original(state_dict: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    inner_names = {".resnets.": VAE_RESNET_NAMES, ".attentions.": VAE_ATTENTION_NAMES}
    tensors = rename_modules(state_dict, vae_module_names(config), inner_names, "VAE")
    for key, value in tensors.items():
        # LDM's mid-block attention uses 1×1 convs where diffusers uses Linear layers.
        if ".mid.attn_1." in key and key.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")):
            tensors[key] = value[:, :, None, None]
    return tensors


def rename_modules(
    state_dict: dict[str, torch.Tensor], module_names: dict[str, str], inner_names: dict[str, dict[str, str]], what: str
) -> dict[str, torch.Tensor]:
    """Renames each key by its longest module path in `module_names`, then the rest of the key."""
    renamed = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        candidates = (".".join(parts[:length]) for length in range(len(parts) - 1, 0, -1))
        module = next((candidate for candidate in candidates if candidate in module_names), None)
        if module is None:
            raise ValueError(f"no original-layout name for {what} weight `{key}`")
        rest = key[len(module) + 1 :]
        for marker, names in inner_names.items():
            if marker in module + ".":
                rest = rename_prefix(rest, names)
        renamed[f"{module_names[module]}.{rest}"] = value
    return renamed


def rename_prefix(name: str, renames: dict[str, str]) -> str:
    for old, new in renames.items():
        if name.startswith(old + "."):
            return new + name[len(old) :]
    return name


# ---- text encoders ---------------------------------------------------------------------------


def clip_to_hf_layout(state_dict: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    # transformers ≥ 5 flattens CLIPTextModel (no `text_model.`); original files always have it.
    return {key if key.startswith("text_model.") else "text_model." + key: value for key, value in state_dict.items()}


def clip_to_openclip(state_dict: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """HF CLIP names → OpenCLIP (`transformer.resblocks.N.attn.in_proj_weight`, `ln_final`, ...)."""
    weights = {key.removeprefix("text_model."): value for key, value in state_dict.items()}
    tensors = {openclip: weights.pop(hf) for hf, openclip in OPENCLIP_NAMES.items()}
    if "text_projection.weight" in weights:
        # OpenCLIP applies it as `x @ P`; a Linear stores the transpose.
        tensors["text_projection"] = weights.pop("text_projection.weight").T
    for layer in range(config.num_hidden_layers):
        source, target = f"encoder.layers.{layer}.", f"transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            projections = [weights.pop(f"{source}self_attn.{name}_proj.{kind}") for name in "qkv"]
            tensors[f"{target}attn.in_proj_{kind}"] = torch.cat(projections)  # rows [q; k; v]
            for hf, openclip in OPENCLIP_LAYER_NAMES.items():
                tensors[f"{target}{openclip}.{kind}"] = weights.pop(f"{source}{hf}.{kind}")
    if weights:
        raise ValueError(f"no OpenCLIP name for text encoder weights {sorted(weights)[:3]}")
    return tensors


# ---- metadata and writing --------------------------------------------------------------------


def architecture_record(model: BaseModel) -> dict:
    """The configs models.py needs to rebuild `model` from this file without any shipped config."""
    record = {
        "family": model.family,
        "prediction_type": model.prediction_type,
        "unet": public_config(model.unet.config),
        "vae": public_config(model.vae.config),
        "scheduler": {
            "_class_name": type(model.sampling_scheduler).__name__,
            **public_config(model.sampling_scheduler.config),
        },
    }
    for index, encoder in enumerate(model.text_encoders):
        record["text_encoder" if index == 0 else f"text_encoder_{index + 1}"] = text_encoder_config(encoder)
    return record


def public_config(config) -> dict:
    return {key: value for key, value in dict(config).items() if not key.startswith("_")}


def text_encoder_config(encoder) -> dict:
    config = {key: value for key, value in encoder.config.to_dict().items() if key not in TEXT_CONFIG_NOISE}
    return {**config, "architectures": [type(encoder).__name__]}


def write_atomically(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, temp_name, metadata=metadata)
        as_ordinary_file(temp_name)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
