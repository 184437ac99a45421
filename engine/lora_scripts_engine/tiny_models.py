"""Random-weight Stable Diffusion models in the real architectures, tiny or SD 1.5-sized, for tests and the demo.

Tiny models keep everything of their family's shipped config (model_configs/) except the sizes,
and keep CLIP's real vocabulary (49408 tokens, 77 positions) so the shipped tokenizers fit.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from .models import (
    MODEL_CONFIGS_DIR,
    BaseModel,
    sampling_scheduler_from_folder,
    shipped_config_folder,
    shipped_tokenizers,
)
from .single_file import save_single_file

TINY_PREDICTION_TYPES = {"sd1": "epsilon", "sd2": "v_prediction", "sdxl": "epsilon"}
# Two blocks: 64 px images → 8×8 latents → one downsampling in the UNet. sd1 uses two layers per
# block like the real models; sdxl has an attention level with an upsampler (`output_blocks.N.2.conv`).
SD_BLOCKS = dict(
    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"]
)
SDXL_BLOCKS = dict(
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"], up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"]
)
TINY_UNETS = {
    "sd1": dict(
        SD_BLOCKS, block_out_channels=[32, 64], layers_per_block=2, attention_head_dim=2, cross_attention_dim=32
    ),
    "sd2": dict(
        SD_BLOCKS, block_out_channels=[32, 64], layers_per_block=1, attention_head_dim=[2, 4], cross_attention_dim=48
    ),
    # cross-attention sees both encoders side by side (32 + 64); the added embedding is the pooled
    # output of encoder 2 (64) plus six time ids of 8 each.
    "sdxl": dict(
        SDXL_BLOCKS,
        block_out_channels=[32, 64],
        layers_per_block=1,
        transformer_layers_per_block=[1, 2],
        attention_head_dim=[2, 4],
        cross_attention_dim=32 + 64,
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 64,
    ),
}
TINY_VAE = dict(block_out_channels=[16, 16, 32, 32], layers_per_block=1, norm_num_groups=8, sample_size=64)
# SDXL's encoders must differ in width: diffusers tells them apart by it when loading one file.
TINY_CLIP_32 = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, projection_dim=32)
TINY_CLIP_48 = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, projection_dim=48)
TINY_CLIP_64 = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, projection_dim=64
)
TINY_TEXT_ENCODERS = {"sd1": [TINY_CLIP_32], "sd2": [TINY_CLIP_48], "sdxl": [TINY_CLIP_32, TINY_CLIP_64]}
TEXT_ENCODER_CLASSES = {"CLIPTextModel": CLIPTextModel, "CLIPTextModelWithProjection": CLIPTextModelWithProjection}


def build_tiny_components(family: str, seed: int = 0) -> BaseModel:
    """A random tiny model of `family` ("sd1", "sd2" or "sdxl"): UNet ≈ 1–2 M, VAE ≈ 0.2 M parameters."""
    prediction_type = TINY_PREDICTION_TYPES[family]
    config_dir = MODEL_CONFIGS_DIR / shipped_config_folder(family, prediction_type)
    unet_config = {**read_config(config_dir / "unet"), **TINY_UNETS[family], "sample_size": 8}
    unet = UNet2DConditionModel.from_config(unet_config)
    vae = AutoencoderKL.from_config({**read_config(config_dir / "vae"), **TINY_VAE})
    text_encoders = [
        build_text_encoder(config_dir / folder, sizes)
        for folder, sizes in zip(["text_encoder", "text_encoder_2"], TINY_TEXT_ENCODERS[family])
    ]
    return random_base_model(
        family=family,
        prediction_type=prediction_type,
        config_dir=config_dir,
        unet=unet,
        vae=vae,
        text_encoders=text_encoders,
        seed=seed,
    )


def build_full_size_sd15(seed: int = 0) -> BaseModel:
    """A random model with SD 1.5's exact shapes (1,066,235,307 parameters), from the shipped sd15 configs."""
    config_dir = MODEL_CONFIGS_DIR / "sd15"
    # Built on the meta device and filled once: the default initialisers take ~13 s on 2 cores
    # for 1 B parameters that fill_random_ then overwrites.
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(read_config(config_dir / "unet"))
        vae = AutoencoderKL.from_config(read_config(config_dir / "vae"))
        text_encoder = build_text_encoder(config_dir / "text_encoder", {})
    unet, vae, text_encoder = (materialize(module) for module in (unet, vae, text_encoder))
    return random_base_model(
        family="sd1",
        prediction_type="epsilon",
        config_dir=config_dir,
        unet=unet,
        vae=vae,
        text_encoders=[text_encoder],
        seed=seed,
    )


def write_checkpoint(
    family: str, path: str | Path, *, full_size: bool = False, dtype: torch.dtype | None = None, seed: int = 0
) -> Path:
    """Builds a random model and saves it as an original-layout single-file checkpoint.

    `full_size` (sd1 only) gives SD 1.5 shapes; `dtype` defaults to float16 for it (2.1 GB instead
    of 4.3 GB) and float32 for tiny models (so round trips are exact).
    """
    if full_size and family != "sd1":
        raise ValueError(f"full_size builds SD 1.5 only, not {family}")
    if family in FLUX_FAMILIES:
        return write_tiny_flux(FLUX_FAMILIES[family], path, seed)
    model = build_full_size_sd15(seed) if full_size else build_tiny_components(family, seed)
    dtype = dtype or (torch.float16 if full_size else torch.float32)
    return save_single_file(model, path, dtype=dtype)


# `make-checkpoint --family` names for the tiny Flux variants.
FLUX_FAMILIES = {"flux-dev": "dev", "flux-schnell": "schnell"}


def write_tiny_flux(variant: str, path: str | Path, seed: int) -> Path:
    """A diffusers Flux folder, or with a `.safetensors` path the transformer alone as a BFL single file (what
    flux1-dev.safetensors is; the VAE and encoders then come from a folder made with the same seed)."""
    from .flux_model import build_tiny_flux, save_transformer_file, write_tiny_flux_folder  # imports this module

    if str(path).endswith(".safetensors"):
        return save_transformer_file(build_tiny_flux(variant, seed).transformer, path)
    return write_tiny_flux_folder(path, variant, seed)


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def build_text_encoder(folder: Path, sizes: dict) -> CLIPTextModel | CLIPTextModelWithProjection:
    config = read_config(folder)
    encoder_class = TEXT_ENCODER_CLASSES[config["architectures"][0]]
    return encoder_class(CLIPTextConfig(**{**config, **sizes}))


def materialize(module: torch.nn.Module) -> torch.nn.Module:
    """Allocates a meta-device module on the CPU, keeping its real buffers (e.g. CLIP position ids)."""
    buffers = {name: buffer.clone() for name, buffer in module.named_buffers()}
    module.to_empty(device="cpu")
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            buffer.copy_(buffers[name])
    return module


def fill_random_(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Overwrites every parameter with seeded random values, none zero or one.

    Distinct non-trivial values everywhere (biases and norm scales included) make a swapped or
    dropped weight change the outputs, which the round-trip tests rely on. Matrices get
    std 1/sqrt(fan_in) so activations keep their scale through the layers.
    """
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim >= 2:
                param.normal_(0.0, param[0].numel() ** -0.5, generator=generator)
            elif name.endswith("bias"):
                param.normal_(0.0, 0.1, generator=generator)
            else:
                param.normal_(1.0, 0.1, generator=generator)  # norm scales


def random_base_model(*, family, prediction_type, config_dir, unet, vae, text_encoders, seed) -> BaseModel:
    """Fills freshly built modules with seeded random weights and wraps them like a loaded model."""
    generator = torch.Generator().manual_seed(seed)
    for module in (unet, vae, *text_encoders):
        fill_random_(module, generator)
        module.eval()
    return BaseModel(
        family=family,
        prediction_type=prediction_type,
        unet=unet,
        vae=vae,
        text_encoders=text_encoders,
        tokenizers=shipped_tokenizers(family, MODEL_CONFIGS_DIR),
        sampling_scheduler=sampling_scheduler_from_folder(config_dir, prediction_type, config_dir.name),
        source="random",
    )
