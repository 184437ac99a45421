"""Flux LoRA training, readable top to bottom: load, freeze, inject, optimise, save; and `generate_flux`.

Same order and events as train.py (stage, started, progress, checkpoint, done), with Flux's objective:
rectified flow. A picture's latents x and noise ε are mixed at a noise level σ ∈ (0, 1) as (1 − σ)·x + σ·ε, and the
transformer predicts the velocity ε − x (the direction from picture to noise). σ is drawn logit-normal (more often in
the middle, where the velocity is hardest to guess) and shifted toward noise for big pictures, as Flux's own sampling
schedule is. dev also takes a guidance value (it was distilled from classifier-free guidance); schnell takes none.
T5 and CLIP stay frozen and each distinct caption is encoded once. docs/formats/flux.md has the sources.

States and `resume` work as train.py's (training_state.py): LoRA weights, optimizer, scheduler, data position and
every RNG (σ and noise draws included), so a resumed run ends with the LoRA an uninterrupted one does.

Not here yet (train.py has them for SD): several processes, validation, sample images, init_lora.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import FluxPipeline
from diffusers.optimization import get_scheduler
from diffusers.training_utils import cast_training_params
from peft import LoraConfig

from .data import CaptionRules, apply_caption_rules, batches, bucket_counts, epoch_order, read_manifest
from .device import Compute
from .file_modes import as_ordinary_file
from .flux_model import FAMILY, FluxBase, load_flux_base
from .latent_cache import LatentCache
from .lora_files import SAVE_DTYPES, WEIGHT_NAME, adapter_metadata, adapter_state
from .protocol import EngineFailure, emit
from .speed import make_optimizer
from .train import StopFlag, TrainingLog, kill_for_test, not_finite, optimizer_step, resume_from, state_parts
from .training_state import Position, save_state

# `target_modules` presets for Flux, as diffusers module-name suffixes. Double blocks: image and text streams each
# have q/k/v/out and an MLP; single blocks: q/k/v, the MLP input (`proj_mlp`) and one output (`proj_out`) for both.
FLUX_ATTENTION = ["attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0"]
FLUX_ATTENTION += ["attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out"]
FLUX_FF = ["ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2", "proj_mlp"]
# The AdaLN modulations: kohya trains them by default (every Linear in a block), diffusers' example does not.
FLUX_MODULATION = ["norm1.linear", "norm1_context.linear", "norm.linear"]
FLUX_TARGET_PRESETS = {
    "attention": FLUX_ATTENTION,
    "attention+ff": FLUX_ATTENTION + FLUX_FF + ["proj_out"],
    "all": FLUX_ATTENTION + FLUX_FF + ["proj_out"] + FLUX_MODULATION,
}
BLOCK_PREFIXES = ("transformer_blocks.", "single_transformer_blocks.")


@dataclass
class FluxSettings:
    """The Flux-only training keys (src/config/schema.ts has their descriptions)."""

    guidance_scale: float = 1.0  # dev: the guidance the transformer is told during training (kohya's advice: 1.0)
    timestep_sampling: str = "logit_normal"  # or "uniform"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    timestep_shift: float | None = None  # None: by the picture's token count, as Flux samples; 1.0: no shift
    max_sequence_length: int = 512  # T5 tokens (schnell was trained with 256)
    flux_components: str | None = None  # diffusers folder with VAE/encoders for a single transformer file


def flux_settings(config) -> FluxSettings:
    """FluxSettings from a train config: each key it has, else the default."""
    defaults = FluxSettings()
    return FluxSettings(**{k: getattr(config, k, getattr(defaults, k)) for k in defaults.__dataclass_fields__})


def flux_target_names(transformer, target_modules: list[str]) -> list[str]:
    """Full module names inside the double/single blocks that end with a preset's or an entry's suffix."""
    suffixes = [s for entry in target_modules for s in FLUX_TARGET_PRESETS.get(entry, [entry])]
    names = [
        name
        for name, module in transformer.named_modules()
        if isinstance(module, torch.nn.Linear)
        and name.startswith(BLOCK_PREFIXES)
        and any(name == s or name.endswith("." + s) for s in suffixes)
    ]
    if not names:
        raise EngineFailure(
            "target_module_missing",
            f"no Linear layer of the Flux transformer matches `target_modules` {target_modules}",
            culprit="target_modules",
            hint=f"use one of {sorted(FLUX_TARGET_PRESETS)} or a diffusers module name such as `attn.to_q`",
        )
    return names


# ---- the objective --------------------------------------------------------------------------------


def image_shift(tokens: int, scheduler_config) -> float:
    """exp(μ) of Flux's sampling schedule: μ grows linearly with the image's token count (0.5 at 256, 1.15 at 4096)."""
    base_len = scheduler_config.get("base_image_seq_len", 256)
    max_len = scheduler_config.get("max_image_seq_len", 4096)
    base_shift, max_shift = scheduler_config.get("base_shift", 0.5), scheduler_config.get("max_shift", 1.15)
    mu = base_shift + (max_shift - base_shift) * (tokens - base_len) / (max_len - base_len)
    return math.exp(mu)


def sample_sigmas(count: int, settings: FluxSettings, shift: float, device: str) -> torch.Tensor:
    """Noise levels σ ∈ (0, 1): logit-normal (sigmoid of a normal) or uniform, then shifted toward 1 by `shift`
    (σ' = shift·σ / (1 + (shift − 1)·σ), the same warp as the sampler's schedule)."""
    if settings.timestep_sampling == "uniform":
        sigmas = torch.rand(count, device=device)
    else:
        sigmas = torch.sigmoid(settings.logit_mean + settings.logit_std * torch.randn(count, device=device))
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flux_latents(base: FluxBase, cached: torch.Tensor) -> torch.Tensor:
    """LatentCache gives z · scaling_factor; Flux's VAE also has a shift: (z − shift_factor) · scaling_factor."""
    config = base.vae.config
    return cached - config.shift_factor * config.scaling_factor


def flow_matching_loss(base: FluxBase, latents, prompt, pooled, text_ids, settings: FluxSettings, shift: float):
    """MSE between the transformer's velocity and ε − x at noise levels σ, on 2×2-packed latent tokens."""
    batch, channels, height, width = latents.shape
    noise = torch.randn_like(latents)
    sigmas = sample_sigmas(batch, settings, shift, latents.device).to(latents.dtype)
    s = sigmas.view(-1, 1, 1, 1)
    noisy = (1 - s) * latents + s * noise
    pack = lambda x: FluxPipeline._pack_latents(x, batch, channels, height, width)
    image_ids = FluxPipeline._prepare_latent_image_ids(batch, height // 2, width // 2, latents.device, latents.dtype)
    guidance = (
        torch.full((batch,), settings.guidance_scale, device=latents.device, dtype=latents.dtype)
        if base.transformer.config.guidance_embeds
        else None
    )
    velocity = base.transformer(
        hidden_states=pack(noisy),
        timestep=sigmas,  # the transformer multiplies by 1000 itself
        guidance=guidance,
        pooled_projections=pooled,
        encoder_hidden_states=prompt,
        txt_ids=text_ids,
        img_ids=image_ids,
        return_dict=False,
    )[0]
    return F.mse_loss(velocity.float(), pack(noise - latents).float())


def caching_prompt_encoder(base: FluxBase, device: str, max_sequence_length: int):
    """T5 states, CLIP's pooled vector and the text ids for each caption, encoded once (the encoders are frozen)."""
    cache: dict[str, tuple] = {}

    def encode(captions: list[str]):
        for caption in captions:
            if caption not in cache:
                with torch.no_grad():
                    prompt, pooled, text_ids = base.pipeline.encode_prompt(
                        prompt=caption, prompt_2=None, device=device, max_sequence_length=max_sequence_length
                    )
                cache[caption] = (prompt, pooled, text_ids)
        entries = [cache[c] for c in captions]
        return torch.cat([e[0] for e in entries]), torch.cat([e[1] for e in entries]), entries[0][2]

    return encode


# ---- saving ------------------------------------------------------------------------------------


def save_flux_lora(base: FluxBase, path: str, save_precision: str) -> str:
    """The diffusers Flux LoRA file (`transformer.`-prefixed keys, LoraConfig in the metadata), written atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".saving-", dir=folder)
    try:
        FluxPipeline.save_lora_weights(
            staging,
            transformer_lora_layers=adapter_state(base.transformer, SAVE_DTYPES[save_precision]),
            transformer_lora_adapter_metadata=adapter_metadata(base.transformer),
            weight_name=WEIGHT_NAME,
            safe_serialization=True,
        )
        as_ordinary_file(os.path.join(staging, WEIGHT_NAME))
        os.replace(os.path.join(staging, WEIGHT_NAME), path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


# ---- the loop ----------------------------------------------------------------------------------


def train_flux(request, compute: Compute, settings: FluxSettings | None = None, base: FluxBase | None = None) -> None:
    """`request`: a TrainRequest (config + manifest); `settings`: the Flux keys (default: read from the config);
    `base`: an already loaded model (tests), else `config.base_model` is loaded."""
    config, run = request.config, request.options
    settings = settings or flux_settings(config)
    stop = StopFlag()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    # 1. Load the frozen base in the compute dtype, first on the CPU. With fixed captions (no shuffle, no dropout) T5
    #    and CLIP encode them all on the device and leave it before the transformer arrives: the peak is the larger of
    #    the two, not their sum (T5-XXL is 9.5 GB in bf16, the transformer 23.8 GB).
    emit("stage", name="load_model", message=f"loading Flux base model {config.base_model}")
    if base is None:
        base = load_flux_base(config.base_model, components=settings.flux_components, dtype=compute.dtype)
    for model in [base.transformer, base.vae, *base.text_encoders]:
        model.requires_grad_(False)
    resolution = config.resolution or 1024
    examples = read_manifest(request.manifest)
    rules = CaptionRules(config.trigger_word, config.shuffle_caption, config.keep_tokens, config.caption_dropout_rate)
    for encoder in base.text_encoders:
        encoder.to(compute.device)
    encode = caching_prompt_encoder(base, compute.device, settings.max_sequence_length)
    if not config.shuffle_caption and not config.caption_dropout_rate:
        encode(sorted({apply_caption_rules(e.caption, rules, rng) for e in examples}))
        for encoder in base.text_encoders:
            encoder.to("cpu")
        emit("stage", name="text_encoders", message="captions encoded once; T5 and CLIP moved off the device")
    base.transformer.to(compute.device)
    base.vae.to(compute.device)

    # 2. LoRA on the transformer's block Linears (peft); its weights stay fp32 (bf16 rounds lr-1e-4 updates away).
    names = flux_target_names(base.transformer, config.target_modules)
    # Per `target_modules` entry, as train.py reports them (`unet`: the denoiser, here the transformer).
    targets = [
        {"name": entry, "unet": len(flux_target_names(base.transformer, [entry])), "text_encoder": 0}
        for entry in config.target_modules
    ]
    base.transformer.add_adapter(
        LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            init_lora_weights="gaussian",
            target_modules=names,
        )
    )
    cast_training_params([base.transformer], dtype=torch.float32)
    if config.gradient_checkpointing:
        base.transformer.enable_gradient_checkpointing()

    # 3. Optimizer over the LoRA parameters only.
    params = [p for p in base.transformer.parameters() if p.requires_grad]
    groups = [{"params": params, "lr": config.learning_rate}]
    optimizer = make_optimizer(groups, config.optimizer, config.adam_weight_decay, compute.device)

    # 4. Data: the manifest, `repeats` per image, seeded order per epoch, one bucket per batch; latents and captions
    #    encoded once where they can be.
    buckets = bucket_counts(examples, resolution)
    steps_per_epoch = math.ceil(
        sum(math.ceil(n / config.batch_size) for n in buckets.values()) / config.gradient_accumulation_steps
    )
    total_steps = config.max_train_steps or steps_per_epoch * config.epochs
    epochs = math.ceil(total_steps / steps_per_epoch)
    lr_scheduler = get_scheduler(
        config.lr_scheduler, optimizer, num_warmup_steps=config.lr_warmup_steps, num_training_steps=total_steps
    )
    emit(
        "started",
        family=FAMILY,
        prediction_type="flow_matching",
        flux_variant=base.variant,
        resolution=resolution,
        num_images=len(examples),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        layers={"unet": len(names), "text_encoder": 0},  # `unet`: the denoiser, here the transformer
        targets=targets,
        trainable_params=sum(p.numel() for p in params),
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
    )
    latents = LatentCache(
        base.vae, compute, os.path.join(config.cache_dir or os.path.join(config.output_dir, "cache"), "latents")
    )
    if config.cache_latents:
        latents.build(examples, config, resolution)
    logs = TrainingLog(os.path.join(config.output_dir, "logs"), config.logging_steps)
    started_at = time.time()
    base.transformer.train()

    # 5. Resume (train.py's): weights, optimizer, scheduler, position and every RNG as they were at the state. A state
    #    at the last step was killed in its ending (6), which is all that is left to do.
    position = Position()
    if config.resume:
        position, _ = resume_from(config.resume, total_steps, params, optimizer, lr_scheduler, None, logs, rng)
    is_finished_state = bool(config.resume) and position.step == total_steps
    last_saved = position.step if config.resume else None  # where a failure leaves the last LoRA and state

    def save_training_state(at: Position) -> None:
        if config.save_state_limit > 0:
            parts = state_parts(params, optimizer, lr_scheduler, None, logs, rng, None)
            save_state(config.output_dir, at, parts, dataclasses.asdict(run.state_fingerprint), config.save_state_limit)

    # 6. The loop: one optimizer step per `gradient_accumulation_steps` batches.
    step, epoch = position.step, max(0, position.epoch - 1)
    first_step = step
    last_state_at = time.monotonic()  # a timed state bounds what a SIGKILL loses when `save_steps` is 0
    while step < total_steps and not stop.is_set:
        epoch += 1
        micro_batches = batches(
            epoch_order(examples, epoch, config.seed), config.batch_size, epoch, config.seed, resolution
        )
        for index, batch in enumerate(micro_batches):
            if epoch == position.epoch and index < position.batches_done:
                continue  # consumed before the state was saved
            started = time.perf_counter()
            captions = [apply_caption_rules(e.caption, rules, rng) for e in batch]
            scaled, _, _ = latents.batch(batch, config, resolution, rng)
            x = flux_latents(base, scaled.to(compute.device))
            shift = settings.timestep_shift or image_shift(x.shape[2] * x.shape[3] // 4, base.pipeline.scheduler.config)
            prompt, pooled, text_ids = encode(captions)
            with torch.autocast(compute.device, dtype=compute.dtype, enabled=compute.dtype != torch.float32):
                loss = flow_matching_loss(base, x, prompt, pooled, text_ids, settings, shift)
            if step + 1 == run.test_nan_at_step:
                loss = loss * float("nan")  # test hook: proves a non-finite loss stops the run keeping what was saved
            value = float(loss.detach())
            if not math.isfinite(value):
                raise not_finite(f"the loss became {value} at step {step + 1}", last_saved, config)
            (loss / config.gradient_accumulation_steps).backward()
            if (index + 1) % config.gradient_accumulation_steps and index != len(micro_batches) - 1:
                continue
            optimizer_step(optimizer, groups, config.max_grad_norm, None)
            lr_scheduler.step()
            step += 1
            lr = lr_scheduler.get_last_lr()[0]
            step_ms = round((time.perf_counter() - started) * 1000, 2)
            smoothed = logs.record(step, value, lr, step_ms)
            emit(
                "progress",
                step=step,
                total_steps=total_steps,
                epoch=epoch,
                loss=value,
                loss_smoothed=smoothed,
                lr=lr,
                step_ms=step_ms,
            )
            is_final = step >= total_steps or stop.is_set
            position = Position(step, epoch, index + 1)
            is_save_step = bool(config.save_steps) and step % config.save_steps == 0 and not is_final
            if is_save_step:
                path = os.path.join(config.output_dir, "checkpoints", f"step-{step:08d}", WEIGHT_NAME)
                save_flux_lora(base, path, config.save_precision)
                emit("checkpoint", step=step, epoch=epoch, path=path, is_final=False)
            is_state_due = (
                bool(config.save_state_every_minutes)
                and time.monotonic() - last_state_at >= config.save_state_every_minutes * 60
            )
            if (is_save_step or is_state_due) and not is_final:
                save_training_state(position)  # last: everything this step did is in it
                last_state_at = time.monotonic()
                last_saved = step if is_save_step else last_saved
            if is_final:
                break

    # 7. The final LoRA and state (also after Ctrl-C: nothing trained is lost, and `resume` goes on from here). A
    #    finished state writes the final LoRA again from its weights (the same bytes) and keeps itself as it is.
    if step == first_step and not is_finished_state:
        raise EngineFailure(
            "interrupted", "stopped before the first training step; nothing new was saved", culprit="train"
        )
    epoch = position.epoch  # the loop's, or the finished state's (the loop did not run)
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise not_finite(f"the LoRA weights became non-finite by step {step}", last_saved, config)
    final_path = os.path.join(config.output_dir, WEIGHT_NAME)
    save_flux_lora(base, final_path, config.save_precision)
    kill_for_test(run.test_kill_at, "lora_file")
    emit("checkpoint", step=step, epoch=epoch, path=final_path, is_final=True)
    if not is_finished_state:
        save_training_state(position)
    kill_for_test(run.test_kill_at, "state")
    logs.close()
    emit(
        "done",
        files=[final_path],
        steps=step,
        epoch=epoch,
        interrupted=stop.is_set,
        started_at=started_at,
        finished_at=time.time(),
    )


# ---- generating --------------------------------------------------------------------------------


def generate_flux(
    base: FluxBase,
    prompt: str,
    *,
    loras: list[tuple[str, float]] = (),
    seed: int = 0,
    steps: int = 28,
    guidance_scale: float = 3.5,
    width: int = 1024,
    height: int = 1024,
    max_sequence_length: int = 512,
    output_type: str = "pil",
):
    """One picture with the diffusers LoRA files `loras` (path, weight) loaded by FluxPipeline.load_lora_weights.
    schnell ignores `guidance_scale` (no guidance embedding); it is made for about 4 steps."""
    pipeline = base.pipeline
    names = []
    for index, (path, _) in enumerate(loras):
        name = f"lora_{index}"
        pipeline.load_lora_weights(path, adapter_name=name)
        names.append(name)
    try:
        if names:
            pipeline.set_adapters(names, adapter_weights=[weight for _, weight in loras])
        result = pipeline(
            prompt,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            width=width,
            height=height,
            max_sequence_length=max_sequence_length,
            generator=torch.Generator(device="cpu").manual_seed(seed),
            output_type=output_type,
        )
    finally:
        if names:
            pipeline.delete_adapters(names)
    return result.images[0]
