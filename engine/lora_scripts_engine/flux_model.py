"""Flux.1 (dev and schnell) base models: a tiny random one for tests, a diffusers folder, or a single transformer file.

A Flux base is a diffusers `FluxPipeline`: the transformer (double-stream + single-stream blocks), a 16-channel VAE,
CLIP-L (pooled prompt vector) and T5 (per-token prompt states), their tokenizers and a flow-matching scheduler.
dev and schnell have the same layout; dev has a guidance embedding (`guidance_in`, `guidance_embeds: true`).

Single files are in Black Forest Labs' layout (`double_blocks.N.img_attn.qkv`, `single_blocks.N.linear1`, …), the
names kohya's and ComfyUI's LoRA keys are built from. diffusers' own `from_single_file` converter assumes the full
width (3072) and fetches the config from the hub, so this module converts with its own table (`bfl_layout`), which
works at any size and offline; docs/formats/flux.md lists what a single file must hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import CLIPTokenizer, T5Config, T5EncoderModel, T5TokenizerFast

from .models import MODEL_CONFIGS_DIR
from .protocol import EngineFailure
from .tiny_models import build_text_encoder, fill_random_

FAMILY = "flux"
# What FLUX.1-dev's and FLUX.1-schnell's diffusers folders ship (scheduler/scheduler_config.json, vae/config.json).
DEV_SCHEDULER = dict(
    num_train_timesteps=1000,
    shift=3.0,
    use_dynamic_shifting=True,
    base_shift=0.5,
    max_shift=1.15,
    base_image_seq_len=256,
    max_image_seq_len=4096,
)
SCHNELL_SCHEDULER = dict(num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=False)
FLUX_VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=16,
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    scaling_factor=0.3611,
    shift_factor=0.1159,
    use_quant_conv=False,
    use_post_quant_conv=False,
)
# Full size: 3072 wide (24 heads of 128), 19 double + 38 single blocks, T5-XXL states (4096), CLIP-L pooled (768).
FULL_TRANSFORMER = dict(
    patch_size=1,
    in_channels=64,
    num_layers=19,
    num_single_layers=38,
    attention_head_dim=128,
    num_attention_heads=24,
    joint_attention_dim=4096,
    pooled_projection_dim=768,
    axes_dims_rope=(16, 56, 56),
)
# Tiny: 32 wide (2 heads of 16, split 4+6+6 over the rotary axes), 2 + 2 blocks; 64 px images → 8×8 latents → 16 tokens.
TINY_TRANSFORMER = dict(
    FULL_TRANSFORMER,
    num_layers=2,
    num_single_layers=2,
    attention_head_dim=16,
    num_attention_heads=2,
    joint_attention_dim=32,
    pooled_projection_dim=32,
    axes_dims_rope=(4, 6, 6),
)
TINY_VAE = dict(FLUX_VAE, block_out_channels=[16, 16, 32, 32], layers_per_block=1, norm_num_groups=8, sample_size=64)
TINY_CLIP = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, projection_dim=32)
TINY_T5 = dict(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, feed_forward_proj="gated-gelu")
TINY_T5_WORDS = ["▁a", "▁photo", "▁of", "▁cat", "▁dog", "▁sks", "▁red", "▁blue", "▁on", "▁the", "▁picture", "▁style"]
# A BFL file has no place for the rotary split; ours record it here, full-size files get the real one.
ROPE_METADATA_KEY = "flux_axes_dims_rope"


@dataclass
class FluxBase:
    """A loaded Flux model: the pipeline (every component) and where it came from."""

    pipeline: FluxPipeline
    source: str

    @property
    def transformer(self) -> FluxTransformer2DModel:
        return self.pipeline.transformer

    @property
    def vae(self) -> AutoencoderKL:
        return self.pipeline.vae

    @property
    def text_encoders(self) -> list:
        return [self.pipeline.text_encoder, self.pipeline.text_encoder_2]

    @property
    def variant(self) -> str:
        """`dev` (guidance-distilled: takes a guidance value) or `schnell` (timestep-distilled: none)."""
        return "dev" if self.transformer.config.guidance_embeds else "schnell"


# ---- tiny models -------------------------------------------------------------------------------


def tiny_t5_tokenizer() -> T5TokenizerFast:
    """A T5-style tokenizer (SentencePiece-like unigram, `</s>` appended) over a few whole words and the letters."""
    words = ["<pad>", "</s>", "<unk>", *TINY_T5_WORDS, "▁", *"abcdefghijklmnopqrstuvwxyz"]
    model = Tokenizer(models.Unigram([(word, -float(rank)) for rank, word in enumerate(words)], unk_id=2))
    model.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    model.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    model.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(
        tokenizer_object=model,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=0,
        model_max_length=512,
    )


def build_tiny_flux(variant: str = "dev", seed: int = 0) -> FluxBase:
    """A random Flux of `variant` ("dev" or "schnell") from diffusers' own classes: ≈ 0.2 M transformer parameters."""
    transformer = FluxTransformer2DModel(**TINY_TRANSFORMER, guidance_embeds=variant == "dev")
    vae = AutoencoderKL(**TINY_VAE)
    clip = build_text_encoder(MODEL_CONFIGS_DIR / "sd15" / "text_encoder", TINY_CLIP)
    t5 = T5EncoderModel(T5Config(**TINY_T5, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    generator = torch.Generator().manual_seed(seed)
    for module in (transformer, vae, clip, t5):
        fill_random_(module, generator)
        module.eval()
    scheduler = FlowMatchEulerDiscreteScheduler(**(DEV_SCHEDULER if variant == "dev" else SCHNELL_SCHEDULER))
    pipeline = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=clip,
        tokenizer=CLIPTokenizer.from_pretrained(MODEL_CONFIGS_DIR / "tokenizer-clip"),
        text_encoder_2=t5,
        tokenizer_2=tiny_t5_tokenizer(),
        transformer=transformer,
    )
    return FluxBase(pipeline, "random")


def write_tiny_flux_folder(folder: str | Path, variant: str = "dev", seed: int = 0) -> Path:
    """A tiny Flux saved as a diffusers folder (model_index.json, transformer/, vae/, text_encoder(_2)/, tokenizer(_2)/)."""
    build_tiny_flux(variant, seed).pipeline.save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


# ---- the BFL (original) layout ------------------------------------------------------------------


def bfl_layout(num_layers: int, num_single_layers: int, guidance: bool) -> list[tuple[str, list[str], str]]:
    """Every BFL tensor as (BFL name, diffusers names, how): `copy` one tensor, `concat` several along dim 0 (BFL
    fuses q, k, v, and in single blocks the MLP input too), `swap` the two halves of dim 0 (the final AdaLN: BFL
    gives shift then scale, diffusers scale then shift). The table ComfyUI's `flux_to_diffusers` also encodes."""
    linear = lambda bfl, diffusers: [(f"{bfl}.{p}", [f"{diffusers}.{p}"], "copy") for p in ("weight", "bias")]
    fused = lambda bfl, parts: [(f"{bfl}.{p}", [f"{d}.{p}" for d in parts], "concat") for p in ("weight", "bias")]
    norm = lambda bfl, diffusers: [(f"{bfl}.scale", [f"{diffusers}.weight"], "copy")]
    rows = [
        *linear("img_in", "x_embedder"),
        *linear("txt_in", "context_embedder"),
        *linear("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"),
        *linear("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"),
        *linear("vector_in.in_layer", "time_text_embed.text_embedder.linear_1"),
        *linear("vector_in.out_layer", "time_text_embed.text_embedder.linear_2"),
    ]
    if guidance:
        rows += linear("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1")
        rows += linear("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2")
    for i in range(num_layers):
        b, d = f"double_blocks.{i}", f"transformer_blocks.{i}"
        rows += [
            *linear(f"{b}.img_mod.lin", f"{d}.norm1.linear"),
            *linear(f"{b}.txt_mod.lin", f"{d}.norm1_context.linear"),
            *fused(f"{b}.img_attn.qkv", [f"{d}.attn.to_q", f"{d}.attn.to_k", f"{d}.attn.to_v"]),
            *fused(f"{b}.txt_attn.qkv", [f"{d}.attn.add_q_proj", f"{d}.attn.add_k_proj", f"{d}.attn.add_v_proj"]),
            *norm(f"{b}.img_attn.norm.query_norm", f"{d}.attn.norm_q"),
            *norm(f"{b}.img_attn.norm.key_norm", f"{d}.attn.norm_k"),
            *norm(f"{b}.txt_attn.norm.query_norm", f"{d}.attn.norm_added_q"),
            *norm(f"{b}.txt_attn.norm.key_norm", f"{d}.attn.norm_added_k"),
            *linear(f"{b}.img_attn.proj", f"{d}.attn.to_out.0"),
            *linear(f"{b}.txt_attn.proj", f"{d}.attn.to_add_out"),
            *linear(f"{b}.img_mlp.0", f"{d}.ff.net.0.proj"),
            *linear(f"{b}.img_mlp.2", f"{d}.ff.net.2"),
            *linear(f"{b}.txt_mlp.0", f"{d}.ff_context.net.0.proj"),
            *linear(f"{b}.txt_mlp.2", f"{d}.ff_context.net.2"),
        ]
    for i in range(num_single_layers):
        b, d = f"single_blocks.{i}", f"single_transformer_blocks.{i}"
        rows += [
            *linear(f"{b}.modulation.lin", f"{d}.norm.linear"),
            *fused(f"{b}.linear1", [f"{d}.attn.to_q", f"{d}.attn.to_k", f"{d}.attn.to_v", f"{d}.proj_mlp"]),
            *linear(f"{b}.linear2", f"{d}.proj_out"),
            *norm(f"{b}.norm.query_norm", f"{d}.attn.norm_q"),
            *norm(f"{b}.norm.key_norm", f"{d}.attn.norm_k"),
        ]
    rows += linear("final_layer.linear", "proj_out")
    rows += [(f"final_layer.adaLN_modulation.1.{p}", [f"norm_out.linear.{p}"], "swap") for p in ("weight", "bias")]
    return rows


def swap_halves(tensor: torch.Tensor) -> torch.Tensor:
    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first], dim=0)


def to_bfl(transformer: FluxTransformer2DModel) -> dict[str, torch.Tensor]:
    """The transformer's weights in BFL names and fused shapes."""
    state, config = transformer.state_dict(), transformer.config
    out = {}
    for bfl, parts, how in bfl_layout(config.num_layers, config.num_single_layers, config.guidance_embeds):
        tensors = [state.pop(p) for p in parts]
        out[bfl] = swap_halves(tensors[0]) if how == "swap" else torch.cat(tensors) if how == "concat" else tensors[0]
    unused = [k for k in state if not k.startswith("pos_embed")]
    if unused:
        raise AssertionError(f"bfl_layout misses {unused[:3]}")  # a diffusers version added a weight
    return out


def from_bfl(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """BFL names → diffusers names; fused tensors are split at the widths `config` gives (inner, inner, inner, mlp)."""
    inner = config["num_attention_heads"] * config["attention_head_dim"]
    out = {}
    for bfl, parts, how in bfl_layout(config["num_layers"], config["num_single_layers"], config["guidance_embeds"]):
        tensor = state[bfl]
        if how == "swap":
            out[parts[0]] = swap_halves(tensor)
        elif how == "concat":
            widths = [inner] * 3 + ([tensor.shape[0] - 3 * inner] if len(parts) == 4 else [])
            out.update(zip(parts, torch.split(tensor, widths, dim=0)))
        else:
            out[parts[0]] = tensor
    return out


def config_from_bfl(state: dict[str, torch.Tensor], metadata: dict[str, str], culprit: str) -> dict:
    """The FluxTransformer2DModel config a BFL file's shapes say (the rotary split from its metadata or the full-size one)."""
    indices = lambda prefix: {int(k.split(".")[1]) for k in state if k.startswith(prefix)}
    head_dim = state["double_blocks.0.img_attn.norm.query_norm.scale"].shape[0]
    inner = state["img_in.weight"].shape[0]
    if ROPE_METADATA_KEY in metadata:
        axes = tuple(int(x) for x in metadata[ROPE_METADATA_KEY].split(","))
    elif head_dim == FULL_TRANSFORMER["attention_head_dim"]:
        axes = FULL_TRANSFORMER["axes_dims_rope"]
    else:
        raise EngineFailure(
            "flux_unknown_size",
            f"a Flux transformer with heads of {head_dim} (not 128) and no `{ROPE_METADATA_KEY}` metadata",
            culprit=culprit,
            hint="use a diffusers folder of this model (its transformer/config.json says the rotary split)",
        )
    return dict(
        patch_size=1,
        in_channels=state["img_in.weight"].shape[1],
        num_layers=max(indices("double_blocks.")) + 1,
        num_single_layers=max(indices("single_blocks.")) + 1,
        attention_head_dim=head_dim,
        num_attention_heads=inner // head_dim,
        joint_attention_dim=state["txt_in.weight"].shape[1],
        pooled_projection_dim=state["vector_in.in_layer.weight"].shape[1],
        guidance_embeds="guidance_in.in_layer.weight" in state,
        axes_dims_rope=axes,
    )


def save_transformer_file(transformer: FluxTransformer2DModel, path: str | Path, dtype=torch.float32) -> Path:
    """The transformer as a BFL single file (what flux1-dev.safetensors holds), with its rotary split in the metadata."""
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in to_bfl(transformer).items()}
    metadata = {ROPE_METADATA_KEY: ",".join(str(x) for x in transformer.config.axes_dims_rope)}
    save_file(tensors, str(path), metadata=metadata)
    return Path(path)


# Prefixes a Flux transformer's keys carry in the files people share: none (BFL), ComfyUI's full checkpoints.
TRANSFORMER_PREFIXES = ("model.diffusion_model.", "diffusion_model.")


def read_transformer_file(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    state, metadata = {}, {}
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
        for key in f.keys():
            name = next((key[len(p) :] for p in TRANSFORMER_PREFIXES if key.startswith(p)), key)
            if name.startswith(
                ("double_blocks.", "single_blocks.", "img_in.", "txt_in.", "time_in.", "vector_in.")
            ) or (name.startswith(("guidance_in.", "final_layer."))):
                state[name] = f.get_tensor(key)
    if "double_blocks.0.img_attn.norm.query_norm.scale" not in state:
        raise EngineFailure(
            "flux_not_a_transformer",
            "holds no Flux transformer (no `double_blocks.0.img_attn.norm.query_norm.scale`)",
            culprit=path,
            hint="pass flux1-dev.safetensors / flux1-schnell.safetensors or a diffusers Flux folder",
        )
    return state, metadata


def load_transformer_file(path: str, dtype: torch.dtype = torch.float32) -> FluxTransformer2DModel:
    """A BFL single file → FluxTransformer2DModel, built on `meta` and filled (no second copy of a 24 GB model)."""
    state, metadata = read_transformer_file(path)
    config = config_from_bfl(state, metadata, path)
    with torch.device("meta"):
        transformer = FluxTransformer2DModel(**config)
    converted = {k: v.to(dtype) for k, v in from_bfl(state, config).items()}
    missing, unexpected = transformer.load_state_dict(converted, strict=False, assign=True)
    missing = [k for k in missing if not k.startswith("pos_embed")]  # the rotary embedding has no weights
    if missing or unexpected:
        raise EngineFailure(
            "flux_layout_mismatch",
            f"does not fit the Flux layout its shapes say (missing {missing[:2]}, unexpected {unexpected[:2]})",
            culprit=path,
        )
    return transformer.eval()


# ---- loading a base --------------------------------------------------------------------------------


def is_flux_folder(path: str | Path) -> bool:
    index = Path(path) / "model_index.json"
    return index.is_file() and json.loads(index.read_text()).get("_class_name") == "FluxPipeline"


def load_flux_base(
    base_model: str, *, components: str | None = None, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> FluxBase:
    """A diffusers Flux folder, or a BFL transformer file with the VAE, text encoders, tokenizers and scheduler from
    the diffusers folder `components` (a Flux transformer file holds none of them). Offline: local files only."""
    path = Path(base_model).expanduser()
    if path.is_dir():
        if not is_flux_folder(path):
            raise EngineFailure(
                "flux_not_a_folder",
                "has no model_index.json naming FluxPipeline",
                culprit=base_model,
                hint="pass a diffusers Flux folder (e.g. a download of black-forest-labs/FLUX.1-dev)",
            )
        pipeline = FluxPipeline.from_pretrained(str(path), dtype=dtype, local_files_only=True)
    elif path.is_file():
        if not components or not is_flux_folder(components):
            raise EngineFailure(
                "flux_components_missing",
                "is a Flux transformer file; the VAE, text encoders and tokenizers come from a diffusers Flux folder",
                culprit=base_model,
                hint="set `flux_components` to a diffusers FLUX.1 folder (its transformer/ is not loaded)",
            )
        transformer = load_transformer_file(str(path), dtype)
        pipeline = FluxPipeline.from_pretrained(components, transformer=transformer, dtype=dtype, local_files_only=True)
    else:
        raise EngineFailure("base_model_missing", "no such file or folder", culprit=base_model)
    pipeline.to(device)
    return FluxBase(pipeline, str(path))
