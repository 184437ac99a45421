"""Optional changes to a training step: the noise, the noise schedule, the loss weights, the optimizer, the LoRA shape.

Each function is pure (tensors and settings in, tensors or torch objects out) so train.py can call it in one line, and
each is off by default in a way that leaves the step exactly as it was: `make_noise` with every option off draws the
same random numbers as the plain step, `step_loss` with no weights and no mask is the plain mean squared error.
Sources are named per function; the definitions are the ones diffusers, kohya sd-scripts and the papers use.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from diffusers.training_utils import EMAModel, compute_snr
from PIL import Image

from .data import Placement
from .protocol import EngineFailure

# ---- noise ------------------------------------------------------------------------------------


def make_noise(
    latents: torch.Tensor,
    *,
    noise_offset: float = 0.0,
    adaptive_noise_scale: float = 0.0,
    multires_noise_iterations: int = 0,
    multires_noise_discount: float = 0.3,
) -> torch.Tensor:
    """The noise a step adds to `latents`: Gaussian, then the offset, then the multi-resolution layers.

    Draws from torch's global generator (which a training state saves), in the order train.py always did: with every
    option off it is `torch.randn_like(latents)` and nothing else is drawn, so runs without the options are unchanged.
    """
    noise = torch.randn_like(latents)
    if noise_offset or adaptive_noise_scale:
        noise = offset_noise(latents, noise, noise_offset, adaptive_noise_scale)
    if multires_noise_iterations:
        noise = multires_noise(noise, multires_noise_iterations, multires_noise_discount)
    return noise


def offset_noise(
    latents: torch.Tensor, noise: torch.Tensor, offset: float, adaptive_scale: float = 0.0
) -> torch.Tensor:
    """Adds one random value per image and channel (a brightness shift) scaled by `offset`.

    Plain offset noise (crosslabs.org/blog/diffusion-with-offset-noise) lets a model learn pictures much darker or
    brighter than average, which pure per-pixel noise never asks it to produce. `adaptive_scale` (kohya sd-scripts'
    `adaptive_noise_scale`) adds `adaptive_scale × |mean of that latent channel|` to the offset, so images whose
    latents are already far from zero mean get a larger shift.
    """
    shift = torch.randn(latents.shape[0], latents.shape[1], 1, 1, device=latents.device, dtype=latents.dtype)
    if not adaptive_scale:
        return noise + offset * shift  # in the latents' dtype, exactly as train.py has always computed it
    scale = offset + adaptive_scale * latents.detach().float().mean(dim=(2, 3), keepdim=True).abs()
    return noise + (scale * shift).to(noise.dtype)


def multires_noise(base_noise: torch.Tensor, iterations: int, discount: float) -> torch.Tensor:
    """Multi-resolution ("pyramid") noise: `base_noise` plus `iterations` layers of Gaussian noise, each coarser.

    As in Jonathan Whitaker's "Multi-Resolution Noise for Diffusion Model Training" report and kohya sd-scripts'
    pyramid_noise_like (so their `multires_noise_iterations` / `multires_noise_discount` values carry over): layer i
    (from 0) is drawn at the size divided by r^i, r uniform in [2, 4), upsampled bilinearly and weighted by
    `discount`^i; it stops early once a layer is one pixel wide. Coarse layers move whole regions together, so the
    model also learns overall colour and contrast. Each image's noise is then divided by its own standard deviation
    (kohya divides by the whole batch's): unit variance per image, as the noise schedule assumes.
    """
    batch, channels, height, width = base_noise.shape
    noise = base_noise.float().clone()
    for i in range(iterations):
        ratio = 2 + 2 * float(torch.rand(()))
        size = (max(1, int(height / ratio**i)), max(1, int(width / ratio**i)))
        coarse = torch.randn(batch, channels, *size, device=base_noise.device)
        noise += F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False) * discount**i
        if 1 in size:
            break
    noise = noise / noise.std(dim=(1, 2, 3), keepdim=True)
    return noise.to(base_noise.dtype)


# ---- noise schedule ---------------------------------------------------------------------------


def zero_terminal_snr_scheduler(scheduler: DDPMScheduler, prediction_type: str) -> DDPMScheduler:
    """The same DDPM schedule rescaled so its last timestep is pure noise (signal-to-noise ratio exactly 0).

    Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed": SD's schedule leaves some signal
    at the last timestep, so a model never learns to start from pure noise and cannot make very dark or bright images.
    diffusers' `rescale_betas_zero_snr=True` applies the paper's rescale (alphas_cumprod[-1] becomes 0, the first
    timestep keeps its value). At SNR 0 an epsilon target carries no information about the image, so the paper
    requires v-prediction; sampling should then use trailing timesteps and a guidance rescale (~0.7).
    """
    if prediction_type != "v_prediction":
        raise EngineFailure(
            "zero_terminal_snr_needs_v_prediction",
            f"`zero_terminal_snr: true` needs a v-prediction model, but this one predicts {prediction_type}",
            culprit="zero_terminal_snr",
            hint="set `prediction_type: v_prediction` (the LoRA then only works with v-prediction samplers), "
            "or remove `zero_terminal_snr`",
        )
    return DDPMScheduler.from_config(scheduler.config, rescale_betas_zero_snr=True)


# ---- loss weights -----------------------------------------------------------------------------


def loss_weights_min_snr(
    timesteps: torch.Tensor, scheduler: DDPMScheduler, gamma: float, prediction_type: str
) -> torch.Tensor:
    """Per-sample loss weights of Min-SNR-γ (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting").

    With SNR(t) = alphas_cumprod / (1 − alphas_cumprod), the weight is min(SNR, γ) / SNR for an epsilon target and
    min(SNR, γ) / (SNR + 1) for a v target (diffusers' train_text_to_image `--snr_gamma`, kohya's apply_snr_weight).
    Nearly clean timesteps (huge SNR) are weighted down, so the few easy steps stop dominating the gradient; γ = 5 is
    the paper's value. At SNR 0 (the last step of a zero-terminal-SNR schedule) the epsilon weight is its limit, 1.
    """
    snr = compute_snr(scheduler, timesteps).float()
    clipped = torch.clamp(snr, max=gamma)
    if prediction_type == "v_prediction":
        return clipped / (snr + 1)
    return torch.where(snr > 0, clipped / snr.clamp(min=torch.finfo(snr.dtype).tiny), torch.ones_like(snr))


def prior_loss_weights(is_class_image: Sequence[bool], prior_loss_weight: float, device=None) -> torch.Tensor:
    """Per-sample weights of DreamBooth prior preservation: 1 for a training picture, `prior_loss_weight` for a
    regularisation (class) picture.

    Ruiz et al. 2022 (DreamBooth) add the class pictures' loss times λ so the model keeps what the class looks like
    while it learns the subject. Weighting each sample, as kohya sd-scripts does, lets class pictures share batches and
    buckets with the training pictures instead of needing a doubled batch.
    """
    return torch.tensor([prior_loss_weight if c else 1.0 for c in is_class_image], dtype=torch.float32, device=device)


# ---- masked loss ------------------------------------------------------------------------------


def per_sample_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The squared error of each sample, averaged over the pixels that count: [B].

    `mask` ([B, 1, h, w] at the latent size, values in [0, 1]) weights each latent pixel; the mean is taken over the
    mask's weight, so a picture whose subject covers a tenth of it still counts as much as the others. A sample whose
    mask is all zero contributes 0.
    """
    error = (prediction.float() - target.float()) ** 2
    if mask is None:
        return error.mean(dim=tuple(range(1, error.ndim)))
    weights = mask.float().expand_as(error)
    kept = weights.sum(dim=(1, 2, 3))
    return (error * weights).sum(dim=(1, 2, 3)) / kept.clamp(min=1e-8)


def step_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    sample_weights: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The step's scalar loss: the mean over the batch of each sample's (masked) squared error times its weight.

    `sample_weights` is the product of whichever per-sample weights are on (loss_weights_min_snr, prior_loss_weights).
    With neither weights nor mask it is `F.mse_loss(prediction, target)`, the plain step's loss.
    """
    if sample_weights is None and mask is None:
        return F.mse_loss(prediction.float(), target.float(), reduction="mean")  # bit for bit the plain step's
    losses = per_sample_mse(prediction, target, mask)
    if sample_weights is not None:
        losses = losses * sample_weights.to(losses.device, losses.dtype)
    return losses.mean()


def mask_to_latent(mask: torch.Tensor, latent_size: tuple[int, int]) -> torch.Tensor:
    """A pixel mask [B, 1, H, W] (or [H, W]) in [0, 1] → [B, 1, h, w] at the latent size, each value the share of its
    8×8 pixel patch that is kept (area averaging, as kohya's masked loss does)."""
    while mask.ndim < 4:
        mask = mask.unsqueeze(0)
    return F.interpolate(mask.float(), size=latent_size, mode="area")


def load_mask(path: str, size: tuple[int, int], placement: Placement, latent_size: tuple[int, int]) -> torch.Tensor:
    """The mask of one picture, placed like the picture itself (data.render: resize, crop, mirror), at the latent size:
    [1, 1, h, w] in [0, 1].

    `path` is a grayscale mask (white: learn, black: ignore), or a picture with transparency, whose alpha is the mask.
    `size` is the target (w, h) in pixels.
    """
    with Image.open(path) as opened:
        mask = opened.getchannel("A") if opened.mode in ("RGBA", "LA", "PA") else opened.convert("L")
    mask = mask.resize(placement.resized, Image.Resampling.BILINEAR)
    mask = mask.crop((placement.left, placement.top, placement.left + size[0], placement.top + size[1]))
    if placement.flipped:
        mask = mask.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = torch.frombuffer(bytearray(mask.tobytes()), dtype=torch.uint8).reshape(size[1], size[0])
    return mask_to_latent(pixels.float() / 255.0, latent_size)


def masks_for_batch(
    mask_paths: Sequence[str | None],
    placements: Sequence[Placement],
    size: tuple[int, int],
    latent_size: tuple[int, int],
    device=None,
) -> torch.Tensor:
    """The batch's masks [B, 1, h, w]: each picture's mask placed like the picture (load_mask), or all ones for a
    picture without a mask (it is learned whole)."""
    masks = [
        load_mask(path, size, placement, latent_size) if path else torch.ones(1, 1, *latent_size)
        for path, placement in zip(mask_paths, placements)
    ]
    return torch.cat(masks).to(device)


# ---- EMA of the LoRA weights ------------------------------------------------------------------


class LoraEma:
    """An exponential moving average of the trained LoRA parameters, kept beside them in fp32.

    diffusers' EMAModel does the averaging: after optimizer step n, ema ← d·ema + (1 − d)·param with
    d = min(`decay`, (1 + k) / (10 + k)), k = n − 1 (its warm-up, so the first steps are not pinned to the zero-delta
    start). Averaging over the last ~1/(1 − d) steps smooths the noise of small-batch LoRA training; the saved LoRA
    files hold the average (`swapped_in`), while training goes on with the raw weights.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], decay: float):
        self.params = list(params)
        self.average = EMAModel(self.params, decay=decay, foreach=True)

    def update(self) -> None:
        """Call once after each optimizer step."""
        self.average.step(self.params)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """Inside, the parameters hold the average (to save or sample); afterwards exactly the raw weights again."""
        raw = [p.detach().clone() for p in self.params]
        self.average.copy_to(self.params)
        try:
            yield
        finally:
            with torch.no_grad():
                for param, value in zip(self.params, raw):
                    param.copy_(value)

    def state_dict(self) -> dict:
        """Plain numbers and CPU tensors (loadable with torch.load(weights_only=True)): the average and its step."""
        state = self.average.state_dict()
        return {**state, "shadow_params": [s.detach().cpu().clone() for s in state["shadow_params"]]}

    def load_state_dict(self, state: dict) -> None:
        saved = state["shadow_params"]
        if [tuple(s.shape) for s in saved] != [tuple(p.shape) for p in self.params]:
            raise EngineFailure(
                "state_mismatch",
                "the saved EMA weights do not fit the layers of this run",
                culprit="resume",
                hint="start a new run (remove `resume`)",
            )
        self.average.load_state_dict(state)
        # EMAModel keeps the loaded tensors where torch.load put them (the CPU): move them next to the parameters.
        self.average.shadow_params = [s.to(p.device, torch.float32) for s, p in zip(saved, self.params)]


def averaged(ema: LoraEma | None) -> contextlib.AbstractContextManager:
    """`with averaged(ema):` around a save (or samples): the EMA weights inside when EMA is on, else nothing changes."""
    return ema.swapped_in() if ema else contextlib.nullcontext()


# ---- optimizers -------------------------------------------------------------------------------

EXTRA_OPTIMIZERS = ("prodigy", "adafactor")


def make_optimizer_extra(groups: list[dict], name: str, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizers beyond AdamW; each group's `lr` is used as it is (the lr scheduler scales it as for AdamW).

    - `prodigy` (Mishchenko & Defazio 2023, package prodigyopt): estimates the step size itself; the group lr is a
      multiplier of that estimate, so `learning_rate: 1` is the intended setting. Bias correction and the warm-up
      safeguard are on, as its authors advise for diffusion models.
    - `adafactor` (Shazeer & Stern 2018, transformers' implementation): factored second moments, so its state is a
      fraction of AdamW's; run with a fixed lr (relative_step, scale_parameter and warmup_init off), so the configured
      learning rate and scheduler apply as with AdamW.
    """
    if name == "prodigy":
        try:
            from prodigyopt import Prodigy
        except ImportError as error:
            raise EngineFailure(
                "optimizer_missing",
                "`optimizer: prodigy` needs the prodigyopt package, which is not in the engine's environment",
                culprit="optimizer",
                hint="run `lora-scripts setup --force`, or use `optimizer: adamw`",
            ) from error
        return Prodigy(
            groups, lr=1.0, weight_decay=weight_decay, decouple=True, use_bias_correction=True, safeguard_warmup=True
        )
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(
            groups,
            lr=groups[0]["lr"],
            weight_decay=weight_decay,
            relative_step=False,
            scale_parameter=False,
            warmup_init=False,
        )
    raise ValueError(f"not an extra optimizer: {name}")


# ---- per-block learning rates and ranks -------------------------------------------------------

UNET_BLOCK = re.compile(r"^(down_blocks\.\d+|mid_block|up_blocks\.\d+)\.")
OTHER_BLOCK = "other"  # conv_in, time_embedding, conv_out…: LoRA layers outside the down/mid/up blocks


def unet_block_of(parameter_name: str) -> str:
    """`down_blocks.1.attentions.0…` → `down_blocks.1`; `mid_block.…` → `mid_block`; anything else → `other`."""
    found = UNET_BLOCK.match(parameter_name)
    return found[1] if found else OTHER_BLOCK


def unet_blocks(unet: torch.nn.Module) -> list[str]:
    """The block names this UNet has, in order: down_blocks.0…, mid_block, up_blocks.0…, other."""
    names = [f"down_blocks.{i}" for i in range(len(unet.down_blocks))]
    names += ["mid_block"] if getattr(unet, "mid_block", None) is not None else []
    return names + [f"up_blocks.{i}" for i in range(len(unet.up_blocks))] + [OTHER_BLOCK]


def block_values(entries: Sequence[str], key: str, cast: type = float) -> dict[str, float]:
    """The config's `BLOCK=VALUE` items (`["up_blocks.3=0.5", "mid_block=0"]`; zod checked their form and range) →
    {block: value}. A block named twice is refused: which value was meant is unclear."""
    values: dict[str, float] = {}
    for entry in entries:
        block, _, value = (part.strip() for part in entry.partition("="))
        if block in values:
            raise EngineFailure(
                "duplicate_unet_block",
                f"`{key}` names {block} twice",
                culprit=key,
                hint=f"keep one `{block}=…` item",
            )
        values[block] = cast(float(value))  # `4.0` is a valid rank too: zod checked it is whole
    return values


def per_block_lr_groups(unet: torch.nn.Module, learning_rate: float, multipliers: dict[str, float]) -> list[dict]:
    """Optimizer groups for the UNet's trainable (LoRA) parameters: one per block, lr = learning_rate × multiplier.

    Blocks not named keep multiplier 1. Following kohya sd-scripts' block learning rates (`down_lr_weight`,
    `mid_lr_weight`, `up_lr_weight`): the outer blocks hold fine detail and texture, the inner ones composition, so
    lowering one side steers what the LoRA picks up; 0 leaves a block's LoRA at its initial (no-effect) weights.
    Groups come in block order, and each keeps the model's parameter order, so a resumed run lines up with its state.
    """
    known = unet_blocks(unet)
    unknown = sorted(set(multipliers) - set(known))
    if unknown:
        raise EngineFailure(
            "unknown_unet_block",
            f"`unet_block_lr` names {', '.join(unknown)}, which this UNet does not have",
            culprit="unet_block_lr",
            hint=f"use the blocks of this model: {', '.join(known)}",
        )
    by_block: dict[str, list[torch.nn.Parameter]] = {block: [] for block in known}
    for name, param in unet.named_parameters():
        if param.requires_grad:
            by_block[unet_block_of(name)].append(param)
    groups = []
    for block, params in by_block.items():
        if params:
            multiplier = multipliers.get(block, 1.0)
            groups.append(
                {"params": params, "lr": learning_rate * multiplier, "block": block, "lr_multiplier": multiplier}
            )
    return groups


def logged_learning_rate(optimizer: torch.optim.Optimizer, last_lrs: Sequence[float]) -> float:
    """The learning rate to report: the scheduled `learning_rate` itself, whatever the block multipliers, and for
    Prodigy the step size it uses (its estimate d times the scheduled lr)."""
    for lr, group in zip(last_lrs, optimizer.param_groups):
        multiplier = group.get("lr_multiplier", 1.0)
        if multiplier:
            return lr / multiplier * group.get("d", 1.0)
    return 0.0


def block_rank_pattern(unet: torch.nn.Module, block_ranks: dict[str, int], rank: int, alpha: float) -> dict:
    """peft LoraConfig arguments giving each named UNet block its own rank: `rank_pattern` and `alpha_pattern`.

    Each block's alpha keeps the run's alpha/rank ratio, so a block at a lower rank has the same update scale and only
    less capacity (peft scales a LoRA by alpha / r). The keys are regular expressions peft matches against the end of
    each module name (`(.*\\.)?KEY$`), one per block.
    """
    known = [block for block in unet_blocks(unet) if block != OTHER_BLOCK]
    unknown = sorted(set(block_ranks) - set(known))
    if unknown:
        raise EngineFailure(
            "unknown_unet_block",
            f"`unet_block_rank` names {', '.join(unknown)}, which this UNet does not have",
            culprit="unet_block_rank",
            hint=f"use the blocks of this model: {', '.join(known)}",
        )
    ranks, alphas = {}, {}
    for block, block_rank in block_ranks.items():
        key = re.escape(block) + r"\..*"
        ranks[key] = block_rank
        alphas[key] = alpha * block_rank / rank
    return {"rank_pattern": ranks, "alpha_pattern": alphas}
