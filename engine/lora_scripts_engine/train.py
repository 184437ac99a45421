"""The LoRA training loop, readable top to bottom: load, freeze, inject, optimise, save.

Follows the order of diffusers' examples/text_to_image/train_text_to_image_lora.py; every setting comes from
the config TypeScript validated (src/config/schema.ts), so nothing here re-checks ranges.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import time

import torch
from diffusers.optimization import get_scheduler
from diffusers.training_utils import cast_training_params

from .data import CaptionRules, apply_caption_rules, batches, bucket_counts, epoch_order, read_manifest
from .device import Compute
from .distributed import current as current_ranks
from .latent_cache import LatentCache
from .lora_files import WEIGHT_NAME, load_init_lora, save_lora
from .models import load_base_model
from .networks import adapter_config
from .protocol import EngineFailure, emit
from .request import TrainConfig, TrainRequest
from .samples import render_samples
from .speed import LossReader, StepFlops, apply_fast_paths, conv_memory_format, make_optimizer, report_fast_paths
from .targets import resolve_targets
from .training_options import (
    LoraEma,
    averaged,
    block_rank_pattern,
    block_values,
    logged_learning_rate,
    loss_weights_min_snr,
    make_noise,
    masks_for_batch,
    per_block_lr_groups,
    prior_loss_weights,
    step_loss,
    zero_terminal_snr_scheduler,
)
from .training_state import Position, capture_rng, load_state, restore_parameters, restore_rng, save_state
from .validation import Validation, validation_every


class StopFlag:
    """Set by Ctrl-C (SIGINT/SIGTERM): the loop finishes its step, saves, and reports `done` with interrupted=true."""

    def __init__(self):
        self.is_set = False
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, *_):
        self.is_set = True


def train(request: TrainRequest, compute: Compute) -> None:
    """`compute`: the device and dtype `hello` reported (chosen once, in __main__)."""
    config, run = request.config, request.options
    stop = StopFlag()
    # One process, or one of several (distributed.py): each computes its slice of every micro-batch of
    # `batch_size` × processes pictures; only the first writes files and reports.
    ranks = current_ranks()
    global_batch = config.batch_size * ranks.count
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    # 1. Load the frozen base model in the compute dtype.
    emit("stage", name="load_model", message=f"loading base model {config.base_model}")
    facts = run.base_model_facts  # TypeScript's checkpoint verdict (src/checkpoint): trusted, not re-detected
    prediction_type = facts.prediction_type if config.prediction_type == "auto" else config.prediction_type
    base = load_base_model(
        config.base_model,
        dtype=compute.dtype,
        device=compute.device,
        prediction_type=prediction_type,
        family=facts.family,
        memory_format=conv_memory_format(compute.device, compute.dtype),
    )
    for model in [base.unet, base.vae, *base.text_encoders]:
        model.requires_grad_(False)
    if config.zero_terminal_snr:
        base.noise_scheduler = zero_terminal_snr_scheduler(base.noise_scheduler, base.prediction_type)
    resolution = config.resolution or base.unet.config.sample_size * (
        2 ** (len(base.vae.config.block_out_channels) - 1)
    )

    # 2. Inject the LoRA layers with peft on the resolved target modules, or continue `init_lora` (its rank, alpha
    #    and layers); keep their weights in fp32.
    encoder_lrs = text_encoder_lrs(config, len(base.text_encoders))
    if config.init_lora:
        shape = load_init_lora(base, config.init_lora, run.init_lora)
        layers, counts, rank, alpha = shape["layers"], [], shape["rank"], shape["alpha"]
        trained = [base.unet] if layers["unet"] else []
        in_file = [e for e in base.text_encoders if hasattr(e, "peft_config")]
        te_trained = [e for e, lr in zip(base.text_encoders, encoder_lrs or []) if e in in_file and lr]
        for encoder in base.text_encoders:
            # A text-encoder LoRA in the file that is not trained (`train_text_encoder` off or its learning rate 0)
            # stays as it is in the parent, and is saved.
            encoder.requires_grad_(encoder in te_trained)
        kept = [
            f"text encoder {i + 1}" for i, e in enumerate(base.text_encoders) if e in in_file and e not in te_trained
        ]
        if config.train_text_encoder and kept:
            emit(
                "warning",
                code="init_lora_text_encoder_frozen",
                message=f"`init_lora`'s {' and '.join(kept)} layers are kept as they are: their learning rate is 0",
                hint="set `text_encoder_lr` / `text_encoder_2_lr` above 0 to train them too",
            )
        if config.unet_block_rank:
            emit(
                "warning",
                code="init_lora_block_rank",
                message="`unet_block_rank` is ignored with `init_lora`: the file's ranks are trained as they are",
                hint="remove `unet_block_rank`, or train a new LoRA (remove `init_lora`)",
            )
        if config.train_text_encoder and not in_file:
            emit(
                "warning",
                code="init_lora_no_text_encoder",
                message="`init_lora` has no text-encoder layers: only its UNet layers are trained",
                hint="set `train_text_encoder: false`, or train a new LoRA (remove `init_lora`)",
            )
    else:
        unet_names, te_names, counts = resolve_targets(run.targets, base.unet, base.text_encoders, encoder_lrs)
        layers, rank, alpha = (
            {"unet": len(unet_names), "text_encoder": sum(len(n) for n in te_names)},
            config.lora_rank,
            config.lora_alpha,
        )

        # `network_type` picks the peft adapter (networks.py); every type takes peft's rank/alpha patterns.
        def network(names, **shape):
            return adapter_config(
                config.network_type, rank, alpha, config.lora_dropout, names, lokr_factor=config.lokr_factor, **shape
            )

        trained = []
        if unet_names:
            # Per-block ranks (`unet_block_rank`) are peft rank/alpha patterns; the text encoders keep `lora_rank`.
            block_ranks = block_values(config.unet_block_rank, "unet_block_rank", int)
            shape = block_rank_pattern(base.unet, block_ranks, rank, alpha) if block_ranks else {}
            base.unet.add_adapter(network(unet_names, **shape))
            trained.append(base.unet)
        te_trained = []
        for encoder, names in zip(base.text_encoders, te_names):
            if names:
                encoder.add_adapter(network(names))
                te_trained.append(encoder)
    saves_text_encoder = any(hasattr(e, "peft_config") for e in base.text_encoders)
    # LoRA params stay fp32: at lr 1e-4 fp16/bf16 updates round to zero.
    cast_training_params(trained + te_trained, dtype=torch.float32)
    report_fast_paths(
        apply_fast_paths(
            base,
            compute,
            gradient_checkpointing=config.gradient_checkpointing,
            compile_unet=config.torch_compile,
            trained_text_encoders=te_trained,
            cpu_kernels=config.cpu_kernels,
        ),
        compute,
    )

    # 3. Optimizer over the LoRA parameters only, with the UNet (per block with `unet_block_lr`) and text-encoder
    #    learning rates.
    block_lrs = block_values(config.unet_block_lr, "unet_block_lr")
    groups = (
        per_block_lr_groups(base.unet, config.learning_rate, block_lrs)
        if block_lrs
        else [{"params": [p for p in base.unet.parameters() if p.requires_grad], "lr": config.learning_rate}]
    )
    for encoder, lr in zip(base.text_encoders, encoder_lrs or []):
        if encoder in te_trained:  # each encoder its own learning rate (SDXL: `text_encoder_2_lr` for the second)
            groups.append({"params": [p for p in encoder.parameters() if p.requires_grad], "lr": lr})
    groups = [g for g in groups if g["params"]]
    params = [p for g in groups for p in g["params"]]
    trainable = sum(p.numel() for p in params)
    optimizer = make_optimizer(groups, config.optimizer, config.adam_weight_decay, compute.device)

    # 4. Data: the manifest TypeScript wrote, `repeats` per image, seeded order per epoch.
    #    Batches hold one bucket (target size) each; frozen work (latents, prompts) is done once where it can be.
    examples = read_manifest(request.manifest)
    buckets = bucket_counts(examples, resolution)
    batches_per_epoch = sum(math.ceil(count / global_batch) for count in buckets.values())
    steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation_steps)
    total_steps = config.max_train_steps or steps_per_epoch * config.epochs
    epochs = math.ceil(total_steps / steps_per_epoch)
    lr_scheduler = get_scheduler(
        config.lr_scheduler, optimizer, num_warmup_steps=config.lr_warmup_steps, num_training_steps=total_steps
    )
    caption_rules = CaptionRules(
        config.trigger_word, config.shuffle_caption, config.keep_tokens, config.caption_dropout_rate
    )
    emit(
        "started",
        family=base.family,
        prediction_type=base.prediction_type,
        resolution=resolution,
        num_images=len(examples),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        layers=layers,
        targets=counts,
        trainable_params=trainable,
        lora_rank=rank,
        lora_alpha=alpha,
        layers_per_block=int(
            base.unet.config.layers_per_block
            if isinstance(base.unet.config.layers_per_block, int)
            else base.unet.config.layers_per_block[0]
        ),
    )

    if ranks.count > 1:
        describe_processes(config, ranks.count)
    latents = LatentCache(
        base.vae, compute, os.path.join(config.cache_dir or os.path.join(config.output_dir, "cache"), "latents")
    )
    if config.cache_latents:
        # The first process encodes and writes the cache files; the others then read them.
        if ranks.is_main:
            latents.build(examples, config, resolution)
        ranks.barrier()
        if not ranks.is_main:
            latents.build(examples, config, resolution)
    encode_captions = (
        caching_prompt_encoder(base, compute.device)
        if config.cache_text_encoder_outputs and not te_trained and not config.shuffle_caption
        else None
    )

    logs = TrainingLog(os.path.join(config.output_dir, "logs"), config.logging_steps, writes=ranks.is_main)
    # Held-out pictures (TypeScript wrote their manifest): a loss at fixed noise and timesteps, comparable across steps.
    validation = (
        Validation(base, compute, run.validation_manifest, config, resolution, validation_every(config, total_steps))
        if run.validation_manifest and ranks.is_main
        else None
    )
    if latents.covers(examples):
        base.vae.encoder = None  # every latent is cached: only sampling's decoder is still needed
    started_at = time.time()
    scaler = torch.amp.GradScaler("cuda") if compute.dtype == torch.float16 else None
    for model in trained + te_trained:
        model.train()

    # 5. Resume: weights, optimizer, scheduler, position and every RNG as they were when the state was saved.
    position, saved_ema = Position(), None
    if config.resume:
        position, saved_ema = resume_from(
            config.resume, total_steps, params, optimizer, lr_scheduler, scaler, logs, rng
        )
    # The average starts from the (restored) weights; a state carries its average for an exact resume. Every process
    # updates it alike after the gradients are summed, so all hold the same average; the first one saves it.
    ema = LoraEma(params, config.ema_decay) if config.ema_decay else None
    if ema and saved_ema:
        ema.load_state_dict(saved_ema)
    last_saved = position.step if config.resume else None
    # A state at the last step: the run was killed in its ending (section 7), which is all that is left to do.
    is_finished_state = bool(config.resume) and position.step == total_steps

    def save_training_state(at: Position) -> None:
        if config.save_state_limit > 0 and ranks.is_main:
            parts = state_parts(params, optimizer, lr_scheduler, scaler, logs, rng, ema)
            save_state(config.output_dir, at, parts, dataclasses.asdict(run.state_fingerprint), config.save_state_limit)

    # 6. The loop: one optimizer step per `gradient_accumulation_steps` batches.
    step, epoch = position.step, max(0, position.epoch - 1)
    first_step = step
    last_state_at = time.monotonic()  # a timed state bounds what a SIGKILL loses when `save_steps` is 0
    flops, losses = StepFlops(enabled=not config.torch_compile), LossReader(compute.device)
    step_start, step_images = 0.0, 0

    def report(loss_value: float, at: dict) -> None:
        if not math.isfinite(
            loss_value
        ):  # on CUDA the loss is read a step late: the weights were checked before every save
            raise not_finite(f"the loss became {loss_value} at step {at['step']}", last_saved, config)
        smoothed = logs.record(at["step"], loss_value, at["lr"], at["step_ms"], at["tflops"])
        emit(
            "progress",
            total_steps=total_steps,
            loss=loss_value,
            loss_smoothed=smoothed,
            **{k: v for k, v in at.items() if v is not None},
        )

    while step < total_steps and not stop.is_set:
        epoch += 1
        micro_batches = batches(epoch_order(examples, epoch, config.seed), global_batch, epoch, config.seed, resolution)
        for index, batch in enumerate(micro_batches):
            if epoch == position.epoch and index < position.batches_done:
                continue  # consumed before the state was saved
            if step_images == 0:  # the first micro-batch of an optimizer step
                step_start = time.perf_counter()
            captions = [apply_caption_rules(e.caption, caption_rules, rng, e.is_class) for e in batch]
            *loaded, placements = latents.batch_with_placements(batch, config, resolution, rng)
            weights, mask = sample_weights_and_mask(batch, placements, loaded, config, compute.device)
            part = ranks.part(len(batch))
            with flops.counting(part.stop - part.start):
                loss = diffusion_loss(
                    base, compute, config, loaded, captions, encode_captions, part, sample_weights=weights, mask=mask
                )
                if step + 1 == run.test_nan_at_step:
                    loss = loss * float("nan")  # test hook: proves a non-finite loss stops the run without saving
                if loss.requires_grad:  # an empty slice (fewer pictures than processes) has nothing to learn from
                    backward(loss / config.gradient_accumulation_steps, scaler)
                loss = ranks.sum_(loss.detach())  # the micro-batch's loss: the slices' losses are weighted by size
                if not losses.lagged and not math.isfinite(float(loss)):  # free on a CPU: stop before the update
                    raise not_finite(f"the loss became {float(loss)} at step {step + 1}", last_saved, config)
            step_images += len(batch)
            is_last_micro = index == len(micro_batches) - 1
            if (index + 1) % config.gradient_accumulation_steps != 0 and not is_last_micro:
                continue
            ranks.sum_gradients(params)  # every process now holds the micro-batches' mean gradient
            optimizer_step(optimizer, groups, config.max_grad_norm, scaler)
            if ema:
                ema.update()
            lr_scheduler.step()
            step += 1
            seconds = time.perf_counter() - step_start
            at = dict(
                step=step,
                epoch=epoch,
                lr=logged_learning_rate(optimizer, lr_scheduler.get_last_lr()),
                step_ms=round(seconds * 1000, 2),
                tflops=flops.tflops(step_images, seconds),
            )
            for loss_value, read_at in losses.push(loss, at):
                report(loss_value, read_at)
            step_images = 0
            stop.is_set = ranks.any(stop.is_set)  # a Ctrl-C that reached one process stops all after this step
            is_final = step >= total_steps or stop.is_set
            position = Position(step, epoch, index + 1)
            is_save_step = bool(config.save_steps) and step % config.save_steps == 0 and not is_final
            if is_save_step:
                path = os.path.join(config.output_dir, "checkpoints", f"step-{step:08d}", WEIGHT_NAME)
                with averaged(ema):  # the files hold the EMA weights; training goes on with the raw ones
                    require_finite(params, step, last_saved, config)
                    if ranks.is_main:
                        save_lora(base, path, config.save_precision, saves_text_encoder)
                emit("checkpoint", step=step, epoch=epoch, path=path, is_final=False)
            if (
                ranks.is_main
                and config.sample_prompts
                and config.sample_every_n_steps
                and step % config.sample_every_n_steps == 0
                and not is_final
            ):
                # Sampling must not shift the training noise (exact resume); it shows what the saved files hold.
                with torch.random.fork_rng(devices=[]), averaged(ema):
                    render_samples(base, config, resolution, step, logs)
            if validation and step % validation.every == 0 and not is_final:
                with averaged(ema):
                    validation.run(step, epoch, logs)
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

    for loss_value, read_at in losses.drain():
        report(loss_value, read_at)

    # 7. Save the final LoRA and state (also after Ctrl-C: nothing trained is lost, and `resume` goes on from here).
    #    A finished state writes the final LoRA again from its weights (the same bytes) and keeps itself as it is.
    if step == first_step and not is_finished_state:
        raise EngineFailure(
            "interrupted", "stopped before the first training step; nothing new was saved", culprit="train"
        )
    epoch = position.epoch  # the loop's, or the finished state's (the loop did not run)
    final_path = os.path.join(config.output_dir, WEIGHT_NAME)
    with averaged(ema):
        require_finite(params, step, last_saved, config)
        if not ranks.is_main:
            return  # the first process writes the files and reports the end
        save_lora(base, final_path, config.save_precision, saves_text_encoder)
    kill_for_test(run.test_kill_at, "lora_file")
    emit("checkpoint", step=step, epoch=epoch, path=final_path, is_final=True)
    if not is_finished_state:
        save_training_state(position)  # the raw weights and the average, as at any other state
    kill_for_test(run.test_kill_at, "state")
    with averaged(ema):
        if config.sample_prompts:
            render_samples(base, config, resolution, step, logs)
        if validation:
            validation.run(step, epoch, logs)
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


def text_encoder_lrs(config: TrainConfig, encoders: int) -> list[float] | None:
    """Each text encoder's learning rate, None with `train_text_encoder` off; 0 leaves that encoder frozen (no LoRA).

    SD 1/2 have one encoder (`text_encoder_lr`); SDXL's second, OpenCLIP bigG, has its own `text_encoder_2_lr`.
    """
    if not config.train_text_encoder:
        return None
    return [config.text_encoder_lr, config.text_encoder_2_lr][:encoders]


def kill_for_test(kill_at: str | None, point: str) -> None:
    """Tests only: SIGKILL at a named point of the ending, to prove `resume` completes a run cut off there."""
    if kill_at == point:
        os.kill(os.getpid(), signal.SIGKILL)


def state_parts(params, optimizer, lr_scheduler, scaler, logs, rng, ema) -> dict:
    """What a training state holds beside its position; resume_from restores each part."""
    return {
        "params": [p.detach().cpu() for p in params],
        "optimizer": optimizer.state_dict(),
        "scheduler": lr_scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler else None,
        "smoothed_loss": logs.smoothed,
        "rng": capture_rng(rng),
        "ema": ema.state_dict() if ema else None,
    }


def resume_from(
    folder: str, total_steps: int, params, optimizer, lr_scheduler, scaler, logs, rng
) -> tuple[Position, dict | None]:
    """Restores everything a state holds; returns its position and its EMA state (None when saved without EMA)."""
    position, saved = load_state(folder)
    if position.step > total_steps:
        raise EngineFailure(
            "resume_finished",
            f"the state at step {position.step} is past the end of this run ({total_steps} steps)",
            culprit=folder,
            hint="raise `epochs` (or `max_train_steps`) to train further from it",
        )
    restore_parameters(params, saved["params"], folder)
    optimizer.load_state_dict(saved["optimizer"])
    lr_scheduler.load_state_dict(saved["scheduler"])
    if scaler and saved["scaler"]:
        scaler.load_state_dict(saved["scaler"])
    logs.smoothed = saved["smoothed_loss"]
    restore_rng(saved["rng"], rng)  # last: nothing after this may draw random numbers before the loop
    if position.step == total_steps:
        emit(
            "stage",
            name="resume",
            message=f"the state at step {position.step} finished this run: its final files from {folder}",
        )
    else:
        emit("stage", name="resume", message=f"resuming at step {position.step} (epoch {position.epoch}) from {folder}")
    return position, saved.get("ema")


def not_finite(what: str, last_saved: int | None, config: TrainConfig) -> EngineFailure:
    kept = f"the LoRA and state saved at step {last_saved} are kept" if last_saved else "nothing was saved"
    return EngineFailure(
        "loss_not_finite",
        f"{what}; training stopped and {kept}",
        culprit="learning_rate",
        hint=f"lower `learning_rate` (now {config.learning_rate:g}; try {config.learning_rate / 4:g}) and train again"
        + ("" if config.mixed_precision == "no" else ", or set `mixed_precision: no`"),
    )


def require_finite(params, step: int, last_saved: int | None, config: TrainConfig) -> None:
    """Never write a LoRA with NaN or infinite weights: a later load would give black or noise images."""
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise not_finite(f"the LoRA weights became non-finite by step {step}", last_saved, config)


def encode_prompts(base, captions: list[str], device: str):
    """Text-encoder outputs as the UNet expects them: SD 1/2 last hidden state; SDXL both encoders' penultimate layers + pooled."""
    hidden, pooled = [], None
    for tokenizer, encoder in zip(base.tokenizers, base.text_encoders):
        ids = tokenizer(
            captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids.to(device)
        if base.family != "sdxl":
            return encoder(ids)[0], None
        out = encoder(ids, output_hidden_states=True)
        hidden.append(out.hidden_states[-2])
        pooled = out[0]  # the last encoder (with projection) gives the pooled text embedding
    return torch.cat(hidden, dim=-1), pooled


def caching_prompt_encoder(base, device: str):
    """encode_prompts for frozen text encoders and fixed captions: each distinct caption is encoded once."""
    cache: dict[str, tuple] = {}

    def encode(captions: list[str]):
        for caption in captions:
            if caption not in cache:
                with torch.no_grad():
                    cache[caption] = encode_prompts(base, [caption], device)
        hidden = torch.cat([cache[c][0] for c in captions])
        return hidden, torch.cat([cache[c][1] for c in captions]) if base.family == "sdxl" else None

    return encode


def sample_weights_and_mask(batch, placements, loaded, config: TrainConfig, device: str):
    """The whole micro-batch's per-sample loss weights (class pictures: `prior_loss_weight`) and latent-size masks
    (`masked_loss`); None where nothing differs from the plain loss."""
    weights = (
        prior_loss_weights([e.is_class for e in batch], config.prior_loss_weight, device)
        if any(e.is_class for e in batch)
        else None
    )
    latents, _, size = loaded
    mask = (
        masks_for_batch([e.mask for e in batch], placements, size, tuple(latents.shape[-2:]), device)
        if config.masked_loss and any(e.mask for e in batch)
        else None
    )
    return weights, mask


def diffusion_loss(
    base,
    compute,
    config: TrainConfig,
    loaded,
    captions: list[str],
    encode_captions=None,
    part: slice | None = None,
    *,
    sample_weights: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Noise the image latents at random timesteps; the loss is the MSE of the UNet's prediction.

    `loaded`: (scaled latents, per-item (original size, crop top-left), target (w, h)) from LatentCache.batch.
    `part`: this process's slice of the micro-batch (distributed.py). The noise and timesteps are drawn for the whole
    micro-batch, as one process draws them, and the slice's mean loss is weighted by its share, so the processes'
    losses (and gradients) sum to the one-process mean. An empty slice gives a zero loss without a graph.
    `sample_weights` [B] and `mask` [B, 1, h, w] are the whole micro-batch's (sample_weights_and_mask), sliced here.
    """
    device = compute.device
    latents, conditions, (width, height) = loaded
    whole = len(captions)
    part = part or slice(0, whole)
    with torch.autocast(device, dtype=compute.dtype, enabled=compute.dtype != torch.float32):
        # Offset and multi-resolution noise (training_options.py); with both off the plain Gaussian draw.
        noise = make_noise(
            latents,
            noise_offset=config.noise_offset,
            adaptive_noise_scale=config.adaptive_noise_scale,
            multires_noise_iterations=config.multires_noise_iterations,
            multires_noise_discount=config.multires_noise_discount,
        )
        scheduler = base.noise_scheduler
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), device=device).long()
        if part.stop - part.start < whole:
            latents, noise, timesteps = latents[part], noise[part], timesteps[part]
            captions, conditions = captions[part], conditions[part]
            sample_weights = None if sample_weights is None else sample_weights[part]
            mask = None if mask is None else mask[part]
            if not captions:
                return torch.zeros((), device=device)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        hidden, pooled = encode_captions(captions) if encode_captions else encode_prompts(base, captions, device)
        added = None
        if base.family == "sdxl":
            time_ids = torch.tensor(
                [[*orig, *crop, height, width] for orig, crop in conditions], device=device, dtype=hidden.dtype
            )
            added = {"text_embeds": pooled, "time_ids": time_ids}
        prediction = base.unet(noisy, timesteps, hidden, added_cond_kwargs=added).sample
        target = noise if base.prediction_type == "epsilon" else scheduler.get_velocity(latents, noise, timesteps)
    # Min-SNR-γ weights each sample by its timestep (computed on this slice's timesteps, which were drawn whole).
    if config.min_snr_gamma:
        snr_weights = loss_weights_min_snr(timesteps, scheduler, config.min_snr_gamma, base.prediction_type)
        sample_weights = snr_weights if sample_weights is None else sample_weights * snr_weights
    loss = step_loss(prediction, target, sample_weights=sample_weights, mask=mask)
    return loss if len(captions) == whole else loss * (len(captions) / whole)


def backward(loss: torch.Tensor, scaler) -> None:
    (scaler.scale(loss) if scaler else loss).backward()


def optimizer_step(optimizer, groups, max_grad_norm: float, scaler) -> None:
    if scaler:
        scaler.unscale_(optimizer)
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], max_grad_norm)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)


class NoWriter:
    def __getattr__(self, _name):
        return lambda *args, **kwargs: None


def describe_processes(config: TrainConfig, processes: int) -> None:
    """The rule a multi-process run trains by, said once at its start."""
    per_step = config.batch_size * processes * config.gradient_accumulation_steps
    emit(
        "stage",
        name="processes",
        message=(
            f"{processes} processes: each step learns from {per_step} pictures (batch_size {config.batch_size}"
            f" × {processes} processes × gradient_accumulation_steps {config.gradient_accumulation_steps});"
            f" learning_rate {config.learning_rate:g} is used as given, not scaled with the processes"
        ),
    )


class TrainingLog:
    """TensorBoard scalars every `logging_steps`: loss, smoothed loss, learning rate, it/s."""

    SMOOTHING = 0.9  # EMA weight: about the last 10 steps, enough to see a trend through the timestep noise

    def __init__(self, folder: str, every: int, writes: bool = True):
        from torch.utils.tensorboard import SummaryWriter

        # Processes other than the first keep the smoothed loss (it is in the state) but write no event file.
        self.writer = SummaryWriter(folder) if writes else NoWriter()
        self.every = every
        self.smoothed: float | None = None

    def record(self, step: int, loss: float, lr: float, step_ms: float, tflops: float | None = None) -> float:
        self.smoothed = loss if self.smoothed is None else self.SMOOTHING * self.smoothed + (1 - self.SMOOTHING) * loss
        if step % self.every == 0:
            self.writer.add_scalar("train/loss", loss, step)
            self.writer.add_scalar("train/loss_smoothed", self.smoothed, step)
            self.writer.add_scalar("train/learning_rate", lr, step)
            self.writer.add_scalar("train/it_per_s", 1000.0 / max(step_ms, 1e-6), step)
            if tflops is not None:
                self.writer.add_scalar("train/tflops", tflops, step)
        return self.smoothed

    def add_image(self, tag: str, image_hwc, step: int) -> None:
        self.writer.add_image(tag, image_hwc, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
