"""Validation loss on held-out pictures at fixed noise and fixed timesteps.

The training loss draws new noise and timesteps every step, so two values of it never measure the same thing.
Here every validation picture gets one seeded noise tensor per timestep of a fixed set, drawn once: between two
measurements only the LoRA changes, so the values compare across steps (and across identical runs).

With `masked_loss`, a picture's mask (its manifest `mask`) weights its squared error as in training
(training_options.per_sample_mse), so the loss measures what the LoRA is trained on: over the whole picture, a subject
that fills a small part of it would barely move the loss while it still improves, and the plateau warning would come
too early.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from .data import CaptionRules, apply_caption_rules, load_placed, read_manifest
from .protocol import emit
from .training_options import masks_for_batch, per_sample_mse

# Spread over the schedule: low timesteps measure detail and texture, high ones layout and colour.
TIMESTEP_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
CHUNK = 8  # UNet calls per forward pass: bounds memory on large validation sets


class Validation:
    def __init__(self, base, compute, manifest: str, config, resolution: int, every: int):
        self.base, self.compute, self.every = base, compute, every
        examples = read_manifest(manifest)
        # Captions as training sees them, without the random parts (shuffle, dropout).
        rules = CaptionRules(config.trigger_word, False, 0, 0.0)
        self.captions = [apply_caption_rules(e.caption, rules, random.Random(0)) for e in examples]
        loaded = [
            load_placed(e.image, resolution, random_crop=False, flip=False, rng=random.Random(0)) for e in examples
        ]
        self.conditions = [(orig, crop) for _, orig, crop, _ in loaded]
        pixels = torch.stack([p for p, _, _, _ in loaded]).to(compute.device, compute.dtype)
        with torch.no_grad():
            # The latent mean, not a sample: the VAE adds no randomness of its own.
            self.latents = base.vae.encode(pixels).latent_dist.mean * base.vae.config.scaling_factor
        # [N, 1, h, w] at the latent size, or None: without masks the loss stays the plain mean squared error.
        self.masks = (
            masks_for_batch(
                [e.mask for e in examples],
                [placement for _, _, _, placement in loaded],
                (resolution, resolution),
                tuple(self.latents.shape[-2:]),
                compute.device,
            )
            if getattr(config, "masked_loss", False) and any(e.mask for e in examples)
            else None
        )
        generator = torch.Generator().manual_seed(config.seed + 1)
        count = base.noise_scheduler.config.num_train_timesteps
        self.timesteps = torch.tensor([int(f * count) for f in TIMESTEP_FRACTIONS], device=compute.device).long()
        shape = (len(examples), len(TIMESTEP_FRACTIONS), *self.latents.shape[1:])
        self.noise = torch.randn(shape, generator=generator).to(compute.device, self.latents.dtype)
        self.images = len(examples)

    def run(self, step: int, epoch: int, logs) -> float:
        from .train import encode_prompts  # train.py imports this module

        base, device = self.base, self.compute.device
        models = [base.unet, *base.text_encoders]
        was_training = [m.training for m in models]
        for m in models:
            m.eval()  # LoRA dropout off: the measurement must not be random
        # Every (picture, timestep) pair, in a fixed order.
        pairs = [(i, t) for i in range(self.images) for t in range(len(self.timesteps))]
        total = 0.0
        try:
            with (
                torch.no_grad(),
                torch.autocast(device, dtype=self.compute.dtype, enabled=self.compute.dtype != torch.float32),
            ):
                for start in range(0, len(pairs), CHUNK):
                    chunk = pairs[start : start + CHUNK]
                    images = [i for i, _ in chunk]
                    latents = self.latents[images]
                    noise = torch.stack([self.noise[i, t] for i, t in chunk])
                    timesteps = torch.stack([self.timesteps[t] for _, t in chunk])
                    noisy = base.noise_scheduler.add_noise(latents, noise, timesteps)
                    hidden, pooled = encode_prompts(base, [self.captions[i] for i in images], device)
                    added = None
                    if base.family == "sdxl":
                        size = latents.shape[-1] * 2 ** (len(base.vae.config.block_out_channels) - 1)
                        time_ids = torch.tensor(
                            [[*self.conditions[i][0], *self.conditions[i][1], size, size] for i in images],
                            device=device,
                            dtype=hidden.dtype,
                        )
                        added = {"text_embeds": pooled, "time_ids": time_ids}
                    prediction = base.unet(noisy, timesteps, hidden, added_cond_kwargs=added).sample
                    target = (
                        noise
                        if base.prediction_type == "epsilon"
                        else base.noise_scheduler.get_velocity(latents, noise, timesteps)
                    )
                    if self.masks is None:
                        total += (
                            F.mse_loss(prediction.float(), target.float(), reduction="sum").item()
                            / prediction[0].numel()
                        )
                    else:
                        mask = self.masks[images]
                        total += per_sample_mse(prediction.float(), target.float(), mask).sum().item()
        finally:
            for m, flag in zip(models, was_training):
                m.train(flag)
        loss = total / len(pairs)
        logs.writer.add_scalar("validation/loss", loss, step)
        emit("validation", step=step, epoch=epoch, loss=loss, images=self.images)
        return loss


def validation_every(config, total_steps: int) -> int:
    return config.validation_every_n_steps or config.sample_every_n_steps or max(1, total_steps // 10)
