"""Renders images with a base model and any mix of LoRAs. The base model loads once per request; each distinct
LoRA file loads once as a named adapter, and every batch then only switches adapters and their weights.

`generate` is `lora-scripts generate` (prompts, samplers and LoRA weights come resolved from TypeScript);
`render_strengths` is the demo's strength grid (one LoRA, several strengths, same prompts and seeds)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import diffusers
import torch
from safetensors import safe_open

from .device import Compute
from .models import load_base_model
from .networks import load_saved_file
from .protocol import EngineFailure, emit
from .request import BaseModelFacts, GenerateBatch, GenerateOptions, LoraWeights, RenderStrengthsOptions


def load_pipeline(base_model: str, compute: Compute, facts: BaseModelFacts | None = None):
    """`facts`: TypeScript's checkpoint verdict (family, prediction type), which the loader trusts."""
    family, prediction_type = (facts.family, facts.prediction_type) if facts else (None, None)
    base = load_base_model(
        base_model, dtype=compute.dtype, device=compute.device, family=family, prediction_type=prediction_type
    )
    pipe = base.pipeline()
    pipe.set_progress_bar_config(disable=True)
    # Tests count these: switching LoRAs between images must never load the base model again.
    emit("stage", name="load_base_model", message=base_model)
    return base, pipe


def save_png(image, path: str) -> str:
    image.save(path + ".tmp.png")
    os.replace(path + ".tmp.png", path)
    return path


def render_strengths(options: RenderStrengthsOptions, compute: Compute) -> None:
    _, pipe = load_pipeline(options.base_model, compute, options.base_model_facts)
    load_lora_file(pipe, options.lora, "style")
    os.makedirs(options.out_dir, exist_ok=True)
    files = []
    for strength in options.strengths:
        pipe.set_adapters(["style"], adapter_weights=[strength])
        for p_index, prompt in enumerate(options.prompts):
            for seed in options.seeds:
                generator = torch.Generator("cpu").manual_seed(seed)
                image = pipe(
                    prompt,
                    negative_prompt=options.negative_prompt or None,
                    height=options.size,
                    width=options.size,
                    num_inference_steps=options.steps,
                    guidance_scale=options.guidance_scale,
                    generator=generator,
                ).images[0]
                path = save_png(
                    image, os.path.join(options.out_dir, f"strength-{strength:.2f}-prompt-{p_index}-seed-{seed}.png")
                )
                files.append(path)
                emit("sample", step=0, prompt=prompt, path=path)
    emit("done", files=files)


def generate(options: GenerateOptions, compute: Compute) -> None:
    """One pipeline call per batch; on the CPU one per image (render_batch)."""
    if options.base_model_facts.family == "flux":
        generate_flux_batches(options, compute)
        return
    base, pipe = load_pipeline(options.base_model, compute, options.base_model_facts)

    def sd_inputs(batch) -> dict:
        pipe.scheduler = getattr(diffusers, batch.scheduler.class_name).from_config(
            base.sampling_scheduler.config, **batch.scheduler.config
        )
        return prompt_inputs(pipe, batch)

    render_batches(pipe, options, compute, sd_inputs)


def render_batches(pipe, options: GenerateOptions, compute: Compute, inputs_of) -> None:
    """Each batch with its LoRAs switched on, written as its PNG files; `inputs_of(batch)` sets up what the family
    needs (SD: the sampler) and returns the pipeline's prompt inputs."""
    os.makedirs(options.out_dir, exist_ok=True)
    adapters: dict[str, str] = {}  # LoRA file → adapter name
    files = []
    for batch in options.batches:
        activate_loras(pipe, batch.loras, adapters)
        inputs = inputs_of(batch)
        # One generator per image, seeded like WebUI (seed, seed+1, …): image k of a batch is the same picture
        # as a single image made with its own seed.
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in batch.seeds]
        images = render_batch(
            pipe,
            inputs,
            generators,
            compute.device,
            num_inference_steps=batch.steps,
            guidance_scale=batch.cfg_scale,
            width=batch.width,
            height=batch.height,
        )
        for image, name in zip(images, batch.files):
            files.append(save_png(image, os.path.join(options.out_dir, name)))
            emit("sample", step=len(files), prompt=batch.prompt, path=files[-1])
    emit("done", files=files)


# T5 tokens per prompt: what FLUX.1-dev and -schnell were trained with.
FLUX_MAX_SEQUENCE_LENGTH = {"dev": 512, "schnell": 256}


def generate_flux_batches(options: GenerateOptions, compute: Compute) -> None:
    """Flux: the folder's FluxPipeline with its own FlowMatchEuler scheduler (the batch's SD sampler is not used).
    `cfg_scale` is dev's guidance input (schnell has none); Flux has no negative prompt and no emphasis weights, so
    the plain prompt is encoded, T5 and CLIP both."""
    base = load_flux_pipeline(options.base_model, compute)
    render_batches(base.pipeline, options, compute, lambda batch: flux_prompt_inputs(base, batch))


def load_flux_pipeline(base_model: str, compute: Compute):
    """A diffusers Flux folder as a FluxBase (generate and the render worker load it alike)."""
    from .flux_model import load_flux_base

    base = load_flux_base(base_model, dtype=compute.dtype, device=compute.device)
    base.pipeline.set_progress_bar_config(disable=True)
    emit("stage", name="load_base_model", message=base_model)
    return base


def flux_prompt_inputs(base, batch: GenerateBatch) -> dict:
    """The plain prompt (Flux has no negative prompt or emphasis here), with the variant's T5 length."""
    return {"prompt": batch.prompt, "max_sequence_length": FLUX_MAX_SEQUENCE_LENGTH[base.variant]}


def render_batch(pipe, inputs: dict, generators: list[torch.Generator], device: str, **settings) -> list:
    """A batch's images, image k being exactly the picture its seed makes alone (the README promises it on the CPU).
    On the CPU the math libraries pick kernels by batch size, and their roundings differ by a last bit: MKL's
    GEMM has its own kernels for 1-3 rows (the time embedding has one row per image and CFG half, so a single
    image takes one and a batch another), and torch runs a convolution of one small image through its own
    kernel, not oneDNN's (the VAE's; the UNet's without CFG). Such a last bit turned a pixel 1/255 off now and
    then. So on the CPU each image is its own pipeline call, the very computation of a single image. The cost is
    the batching speed-up, small on a CPU at full size: an SD 1.5-sized UNet step for 4 images at 256 px took
    16.2 s batched, 17.6 s one at a time; the VAE 28.0 / 27.3 s (bench/generate-batch.py, 1 thread). A GPU keeps
    one call per batch, for speed: there a batch image may differ from the single one by rounding."""
    if device == "cpu":
        return [
            pipe(**inputs, generator=generator, num_images_per_prompt=1, **settings).images[0]
            for generator in generators
        ]
    return pipe(**inputs, generator=generators, num_images_per_prompt=len(generators), **settings).images


def prompt_inputs(pipe, batch: GenerateBatch) -> dict:
    """Plain prompts of up to 75 tokens go to the pipeline as text. `(word:1.2)` emphasis (weighted segments from
    TypeScript) and longer prompts are encoded here, as WebUI does: 75-token chunks, each scaled by its tokens'
    weights, concatenated along the sequence (the UNet's cross-attention takes any length)."""
    positive = batch.prompt_segments or [(batch.prompt, 1.0)]
    negative = batch.negative_segments or [(batch.negative_prompt, 1.0)]
    positive_pieces, negative_pieces = token_chunks(pipe.tokenizer, positive), token_chunks(pipe.tokenizer, negative)
    chunks = max(len(positive_pieces), len(negative_pieces))
    if batch.prompt_segments is None and chunks == 1:
        return {"prompt": batch.prompt, "negative_prompt": batch.negative_prompt}
    with torch.no_grad():
        embeds, pooled = embed_chunks(pipe, positive_pieces, chunks)
        negative_embeds, negative_pooled = embed_chunks(pipe, negative_pieces, chunks)
        if (
            is_sdxl(pipe)
            and getattr(pipe.config, "force_zeros_for_empty_prompt", False)
            and not "".join(t for t, _ in negative).strip()
        ):
            # As the SDXL pipeline does for an empty negative prompt: zeros, not the encoding of "".
            negative_embeds, negative_pooled = torch.zeros_like(negative_embeds), torch.zeros_like(negative_pooled)
    inputs = {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}
    if is_sdxl(pipe):
        inputs |= {"pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}
    return inputs


def is_sdxl(pipe) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def token_chunks(tokenizer, segments: list[tuple[str, float]]) -> list[tuple[list[int], list[float]]]:
    """Token ids and weights in chunks of 75 (at least one, possibly empty)."""
    ids: list[int] = []
    weights: list[float] = []
    for text, weight in segments:
        tokens = tokenizer(text, add_special_tokens=False).input_ids
        ids += tokens
        weights += [weight] * len(tokens)
    room = tokenizer.model_max_length - 2
    return [(ids[i : i + room], weights[i : i + room]) for i in range(0, max(len(ids), 1), room)]


def embed_chunks(
    pipe, pieces: list[tuple[list[int], list[float]]], chunks: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """WebUI's emphasis, per 77-token chunk: each token's output embedding is scaled by its weight, then the chunk is
    rescaled to its unweighted mean, so emphasis shifts attention between words rather than the overall level.
    Empty chunks pad the result to `chunks` (the prompt and negative prompt must have the same length). SDXL: both
    encoders' penultimate layers side by side, and the pooled embedding of the first chunk, as its pipeline encodes."""
    pairs = [(pipe.tokenizer, pipe.text_encoder)] + ([(pipe.tokenizer_2, pipe.text_encoder_2)] if is_sdxl(pipe) else [])
    room = pipe.tokenizer.model_max_length - 2  # BOS and EOS
    pieces = pieces + [([], [])] * (chunks - len(pieces))
    encoded, pooled = [], None
    for ids, weights in pieces:
        padding = room - len(ids)
        hidden_parts = []
        for tokenizer, encoder in pairs:
            full = torch.tensor(
                [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] + [tokenizer.pad_token_id] * padding],
                device=encoder.device,
            )
            output = encoder(full, output_hidden_states=is_sdxl(pipe))
            hidden_parts.append(output.hidden_states[-2] if is_sdxl(pipe) else output[0])
            if is_sdxl(pipe) and encoder is pipe.text_encoder_2 and pooled is None:
                pooled = output[0]
        hidden = torch.cat(hidden_parts, dim=-1)
        scale = torch.tensor([1.0, *weights, 1.0] + [1.0] * padding, dtype=hidden.dtype, device=hidden.device)
        weighted = hidden * scale[None, :, None]
        encoded.append(weighted * (hidden.mean() / weighted.mean()))
    return torch.cat(encoded, dim=1), pooled


# Keys only LoHa, LoKr and DoRA files have (peft names and LyCORIS names).
LYCORIS_KEY_PARTS = (".hada_", ".lokr_", ".lora_magnitude_vector", ".dora_scale")


def load_lora_file(pipe, path: str, adapter_name: str) -> None:
    """diffusers loads LoRA files; LoHa/LoKr/DoRA files that training saved (peft keys and config) load through peft
    with their saved config (networks.load_saved_file). LyCORIS-key files are refused with the way out."""
    with safe_open(path, "pt") as file:
        keys = list(file.keys())
    if not any(part in key for key in keys for part in LYCORIS_KEY_PARTS):
        pipe.load_lora_weights(path, adapter_name=adapter_name)
        return
    if all(key.startswith("lora_") for key in keys):  # LyCORIS (kohya) keys: no peft config to rebuild it from
        is_lokr = any(".lokr_" in key for key in keys)
        raise EngineFailure(
            "lora_not_loadable",
            f"{path}: a LyCORIS {'LoKr' if is_lokr else 'LoHa/DoRA'} file (kohya keys) cannot be rendered with here",
            culprit=path,
            hint="bake it into the base model with `lora-scripts merge` and render with that checkpoint"
            if is_lokr
            else "use the diffusers file training saved beside it, or `lora-scripts convert FILE --to diffusers --out NEW`",
        )
    text_encoders = [e for e in (getattr(pipe, "text_encoder", None), getattr(pipe, "text_encoder_2", None)) if e]
    load_saved_file(SimpleNamespace(unet=pipe.unet, text_encoders=text_encoders), path, adapter_name)


def activate_loras(pipe, loras: list[LoraWeights], adapters: dict[str, str]) -> None:
    """Loads LoRA files not seen before, then makes exactly `loras` active with their text-encoder and UNet weights."""
    for lora in loras:
        if lora.path not in adapters:
            adapters[lora.path] = f"lora_{len(adapters)}"
            load_lora_file(pipe, lora.path, adapters[lora.path])
            emit("stage", name="load_lora", message=lora.path)
    if not loras:
        if adapters:
            pipe.disable_lora()
        return
    pipe.enable_lora()
    parts = pipe.get_list_adapters()  # {"unet": [names], "text_encoder": [names]}
    names = [adapters[lora.path] for lora in loras]
    weights = [
        {
            part: lora.te_weight if part.startswith("text_encoder") else lora.unet_weight
            for part, present in parts.items()
            if name in present
        }
        for lora, name in zip(loras, names)
    ]
    pipe.set_adapters(names, adapter_weights=weights)
