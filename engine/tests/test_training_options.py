"""Each training option changes the step as its docstring says, and leaves it unchanged when off.

Every test here fails if its option is ignored (the function returns its input, or the loop skips the call).
"""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F
from lora_scripts_engine.data import Placement
from lora_scripts_engine.models import training_noise_scheduler
from lora_scripts_engine.protocol import EngineFailure
from lora_scripts_engine.tiny_models import build_tiny_components
from lora_scripts_engine.training_options import (
    LoraEma,
    block_rank_pattern,
    load_mask,
    loss_weights_min_snr,
    make_noise,
    make_optimizer_extra,
    mask_to_latent,
    multires_noise,
    offset_noise,
    per_block_lr_groups,
    per_sample_mse,
    prior_loss_weights,
    step_loss,
    unet_block_of,
    zero_terminal_snr_scheduler,
)
from peft import LoraConfig
from PIL import Image

SD_SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012}


def scheduler(prediction_type: str = "epsilon"):
    return training_noise_scheduler(SD_SCHEDULER, prediction_type)


@pytest.fixture(scope="module")
def unet_with_lora():
    unet = build_tiny_components("sd1", seed=0).unet
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0", "conv_in"]))
    return unet


# ---- noise ------------------------------------------------------------------------------------


def test_make_noise_with_every_option_off_is_the_plain_steps_noise():
    latents = torch.randn(2, 4, 8, 8)
    torch.manual_seed(7)
    plain = torch.randn_like(latents)
    after_plain = torch.rand(())
    torch.manual_seed(7)
    assert torch.equal(make_noise(latents), plain)
    assert torch.equal(torch.rand(()), after_plain)  # nothing else was drawn: later random numbers are unchanged


def test_noise_offset_shifts_each_image_and_channel_by_one_value():
    latents, noise = torch.zeros(3, 4, 16, 16), torch.zeros(3, 4, 16, 16)
    torch.manual_seed(0)
    shifted = offset_noise(latents, noise, 0.1)
    assert shifted.abs().sum() > 0
    # constant over each image's channel, std of the shifts about the offset
    assert torch.equal(shifted, shifted[:, :, :1, :1].expand_as(shifted))
    torch.manual_seed(0)
    expected = 0.1 * torch.randn(3, 4, 1, 1)
    assert torch.allclose(shifted[:, :, 0, 0], expected[:, :, 0, 0])


def test_adaptive_noise_scale_grows_the_offset_with_the_latents_mean():
    latents = torch.zeros(2, 4, 8, 8)
    latents[1] += 3.0  # image 1's latents have mean 3 in every channel
    noise = torch.zeros_like(latents)
    torch.manual_seed(0)
    shift = torch.randn(2, 4, 1, 1)
    torch.manual_seed(0)
    shifted = offset_noise(latents, noise, 0.05, adaptive_scale=0.1)
    assert torch.allclose(shifted[0, :, 0, 0], 0.05 * shift[0, :, 0, 0])
    assert torch.allclose(shifted[1, :, 0, 0], (0.05 + 0.1 * 3.0) * shift[1, :, 0, 0])


def test_make_noise_applies_the_offset_it_is_given():
    latents = torch.zeros(2, 4, 8, 8)
    torch.manual_seed(3)
    plain = make_noise(latents)
    torch.manual_seed(3)
    with_offset = make_noise(latents, noise_offset=0.1)
    difference = with_offset - plain
    assert difference.abs().sum() > 0
    assert torch.allclose(difference, difference[:, :, :1, :1].expand_as(difference))


def test_multires_noise_has_unit_variance_per_image_and_low_frequencies():
    torch.manual_seed(0)
    base = torch.randn(4, 4, 64, 64)
    noise = multires_noise(base, iterations=6, discount=0.8)
    assert not torch.allclose(noise, base)
    stds = noise.std(dim=(1, 2, 3))
    assert torch.allclose(stds, torch.ones(4), atol=1e-5)

    def neighbour_correlation(x: torch.Tensor) -> float:
        a, b = x[..., :, :-1].flatten(), x[..., :, 1:].flatten()
        return float(torch.corrcoef(torch.stack([a, b]))[0, 1])

    # plain Gaussian noise has no correlation between neighbouring pixels; the coarse layers add it
    assert abs(neighbour_correlation(base)) < 0.05
    assert neighbour_correlation(noise) > 0.15


def test_multires_noise_stops_once_a_layer_is_one_pixel():
    base = torch.randn(1, 4, 8, 8)
    torch.manual_seed(0)
    multires_noise(base, iterations=50, discount=0.3)
    after_capped = torch.rand(())
    torch.manual_seed(0)
    multires_noise(base, iterations=4, discount=0.3)  # layer 3 is 8 / r^3 < 1 → 1 pixel: four layers at most
    assert torch.equal(torch.rand(()), after_capped)


def test_make_noise_adds_multires_layers_when_asked():
    latents = torch.zeros(2, 4, 32, 32)
    torch.manual_seed(5)
    plain = make_noise(latents)
    torch.manual_seed(5)
    layered = make_noise(latents, multires_noise_iterations=4, multires_noise_discount=0.5)
    assert not torch.allclose(plain, layered)
    assert torch.allclose(layered.std(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)


# ---- zero terminal SNR ------------------------------------------------------------------------


def test_zero_terminal_snr_makes_the_last_timestep_pure_noise():
    original = scheduler("v_prediction")
    rescaled = zero_terminal_snr_scheduler(original, "v_prediction")
    assert float(original.alphas_cumprod[-1]) > 1e-3  # SD's schedule keeps some signal at t = 999
    assert float(rescaled.alphas_cumprod[-1]) == 0.0
    assert torch.allclose(rescaled.alphas_cumprod[0], original.alphas_cumprod[0])
    assert rescaled.config.prediction_type == "v_prediction"
    # noising at the last step now gives the noise itself: nothing of the image is left
    latents, noise = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    last = torch.tensor([999])
    assert torch.allclose(rescaled.add_noise(latents, noise, last), noise, atol=1e-6)
    assert not torch.allclose(original.add_noise(latents, noise, last), noise, atol=1e-3)


def test_zero_terminal_snr_refuses_an_epsilon_model():
    with pytest.raises(EngineFailure) as raised:
        zero_terminal_snr_scheduler(scheduler("epsilon"), "epsilon")
    assert raised.value.culprit == "zero_terminal_snr"


# ---- min-SNR weighting ------------------------------------------------------------------------


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_min_snr_weights_follow_the_formula(prediction_type):
    noise_scheduler = scheduler(prediction_type)
    timesteps = torch.tensor([0, 10, 100, 500, 999])
    gamma = 5.0
    weights = loss_weights_min_snr(timesteps, noise_scheduler, gamma, prediction_type)
    for t, weight in zip(timesteps.tolist(), weights.tolist()):
        a = float(noise_scheduler.alphas_cumprod[t])
        snr = a / (1 - a)
        expected = min(snr, gamma) / (snr + 1 if prediction_type == "v_prediction" else snr)
        assert math.isclose(weight, expected, rel_tol=1e-4)
    assert weights[0] < 0.01  # the nearly clean step is weighted far down
    if prediction_type == "epsilon":
        assert weights[-1] == pytest.approx(1.0)  # noisy steps (SNR < γ) keep weight 1


def test_min_snr_weight_at_zero_snr_is_finite():
    rescaled = zero_terminal_snr_scheduler(scheduler("v_prediction"), "v_prediction")
    last = torch.tensor([999])
    assert loss_weights_min_snr(last, rescaled, 5.0, "epsilon").tolist() == [1.0]
    assert loss_weights_min_snr(last, rescaled, 5.0, "v_prediction").tolist() == [0.0]


def test_min_snr_weights_change_the_step_loss():
    prediction, target = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    timesteps = torch.tensor([5, 400, 900])
    weights = loss_weights_min_snr(timesteps, scheduler(), 5.0, "epsilon")
    plain = step_loss(prediction, target)
    weighted = step_loss(prediction, target, sample_weights=weights)
    per_sample = ((prediction - target) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(plain, F.mse_loss(prediction, target))
    assert torch.allclose(weighted, (per_sample * weights).mean())
    assert not torch.allclose(weighted, plain)


# ---- prior preservation -----------------------------------------------------------------------


def test_prior_loss_weight_scales_only_the_class_pictures():
    weights = prior_loss_weights([False, True, False, True], 0.5)
    assert weights.tolist() == [1.0, 0.5, 1.0, 0.5]
    prediction, target = torch.randn(4, 4, 8, 8), torch.randn(4, 4, 8, 8)
    per_sample = ((prediction - target) ** 2).mean(dim=(1, 2, 3))
    loss = step_loss(prediction, target, sample_weights=weights)
    expected = (per_sample[0] + per_sample[2] + 0.5 * (per_sample[1] + per_sample[3])) / 4
    assert torch.allclose(loss, expected)
    assert not torch.allclose(loss, per_sample.mean())


# ---- masked loss ------------------------------------------------------------------------------


def test_masked_loss_ignores_masked_out_pixels():
    prediction, target = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, :, :4] = 1  # learn the left half only
    changed = target.clone()
    changed[:, :, :, 4:] += 100.0  # the right half is ignored, whatever is there
    assert torch.allclose(per_sample_mse(prediction, target, mask), per_sample_mse(prediction, changed, mask))
    assert torch.allclose(
        per_sample_mse(prediction, target, mask), ((prediction - target)[..., :4] ** 2).mean(dim=(1, 2, 3))
    )
    assert not torch.allclose(step_loss(prediction, changed, mask=mask), step_loss(prediction, changed))
    assert torch.allclose(step_loss(prediction, target, mask=torch.ones(2, 1, 8, 8)), F.mse_loss(prediction, target))


def test_an_all_zero_mask_contributes_nothing():
    prediction, target = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    mask = torch.ones(2, 1, 8, 8)
    mask[1] = 0
    losses = per_sample_mse(prediction, target, mask)
    assert losses[1] == 0 and losses[0] > 0


def test_mask_is_averaged_down_to_the_latent_size():
    mask = torch.zeros(64, 64)
    mask[:, :16] = 1  # a quarter of the width
    mask[:4, 16:24] = 1  # half of one 8×8 patch's rows
    latent = mask_to_latent(mask, (8, 8))
    assert latent.shape == (1, 1, 8, 8)
    assert torch.all(latent[0, 0, :, :2] == 1) and latent[0, 0, 0, 2] == 0.5 and latent[0, 0, 1, 2] == 0
    assert torch.all(latent[0, 0, :, 3:] == 0)


def test_load_mask_places_the_mask_like_the_picture(tmp_path):
    # 128×64 mask, white on its left quarter; the picture is resized to 64×32 and cropped to 32×32
    mask = Image.new("L", (128, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    path = tmp_path / "mask.png"
    mask.save(path)
    placement = Placement(resized=(64, 32), left=0, top=0, flipped=False)
    latent = load_mask(str(path), (32, 32), placement, (4, 4))
    assert latent.shape == (1, 1, 4, 4)
    assert torch.all(latent[0, 0, :, :2] > 0.9) and torch.all(latent[0, 0, :, 2:] < 0.1)
    mirrored = load_mask(str(path), (32, 32), Placement((64, 32), 0, 0, True), (4, 4))
    assert torch.allclose(mirrored, latent.flip(-1))
    cropped = load_mask(str(path), (32, 32), Placement((64, 32), 16, 0, False), (4, 4))
    assert torch.all(cropped < 0.05)  # the white quarter was cropped away (but for the resize's blurred edge)


def test_load_mask_reads_the_alpha_of_a_transparent_picture(tmp_path):
    picture = Image.new("RGBA", (16, 16), (255, 255, 255, 0))
    picture.paste((10, 20, 30, 255), (0, 0, 8, 16))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    path = tmp_path / "picture.png"
    path.write_bytes(buffer.getvalue())
    latent = load_mask(str(path), (16, 16), Placement((16, 16), 0, 0, False), (2, 2))
    assert latent.flatten().tolist() == [1.0, 0.0, 1.0, 0.0]


# ---- EMA --------------------------------------------------------------------------------------


def ema_decay_at(step: int, decay: float) -> float:
    """diffusers EMAModel's decay after optimizer step `step` (1-based), without use_ema_warmup."""
    k = step - 1
    return 0.0 if k <= 0 else min(decay, (1 + k) / (10 + k))


def test_ema_lags_the_weights_by_the_decay():
    param = torch.nn.Parameter(torch.zeros(3))
    ema = LoraEma([param], decay=0.5)
    expected = param.detach().clone()
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
        with torch.no_grad():
            param.fill_(value)
        ema.update()
        d = ema_decay_at(step, 0.5)
        expected = d * expected + (1 - d) * param.detach()
    with ema.swapped_in():
        assert torch.allclose(param.detach(), expected)
        assert not torch.allclose(param.detach(), torch.full((3,), 5.0))  # the average lags the raw weights
    assert torch.equal(param.detach(), torch.full((3,), 5.0))  # the raw weights are back after the swap


def test_ema_resumes_exactly(tmp_path):
    torch.manual_seed(0)
    values = [torch.randn(4, 2) for _ in range(8)]

    def run(stop_after: int | None) -> torch.Tensor:
        param = torch.nn.Parameter(torch.zeros(4, 2))
        ema = LoraEma([param], decay=0.9)
        for index, value in enumerate(values):
            if index == stop_after:
                path = tmp_path / "ema.pt"
                torch.save(ema.state_dict(), path)
                ema = LoraEma([param], decay=0.9)  # a new process: a fresh average, then the saved state
                ema.load_state_dict(torch.load(path, weights_only=True))
            with torch.no_grad():
                param.copy_(value)
            ema.update()
        with ema.swapped_in():
            return param.detach().clone()

    assert torch.equal(run(None), run(5))
    assert not torch.equal(run(None), values[-1])


def test_ema_refuses_a_state_of_other_layers():
    ema = LoraEma([torch.nn.Parameter(torch.zeros(3))], decay=0.9)
    other = LoraEma([torch.nn.Parameter(torch.zeros(4))], decay=0.9)
    with pytest.raises(EngineFailure):
        ema.load_state_dict(other.state_dict())


# ---- optimizers -------------------------------------------------------------------------------


def one_step(optimizer_for, steps: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(8, 8))
    start = weight.detach().clone()
    optimizer = optimizer_for([{"params": [weight], "lr": 1e-2}])
    for _ in range(steps):
        loss = (weight @ torch.ones(8) - 1).pow(2).sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return start, weight.detach().clone()


@pytest.mark.parametrize("name", ["prodigy", "adafactor"])
def test_extra_optimizers_take_their_own_step(name):
    start, after = one_step(lambda groups: make_optimizer_extra(groups, name, 0.01), steps=3)
    _, after_adamw = one_step(lambda groups: torch.optim.AdamW(groups, weight_decay=0.01), steps=3)
    assert not torch.equal(after, start)
    assert not torch.allclose(after, after_adamw)  # not AdamW under another name


def test_optimizer_types():
    weight = torch.nn.Parameter(torch.zeros(2))
    from prodigyopt import Prodigy
    from transformers.optimization import Adafactor

    assert isinstance(make_optimizer_extra([{"params": [weight], "lr": 1.0}], "prodigy", 0.0), Prodigy)
    assert isinstance(make_optimizer_extra([{"params": [weight], "lr": 1e-4}], "adafactor", 0.0), Adafactor)


@pytest.mark.parametrize("name", ["prodigy", "adafactor"])
def test_extra_optimizers_resume_exactly(name):
    def run(save_at: int | None) -> torch.Tensor:
        torch.manual_seed(0)
        weight = torch.nn.Parameter(torch.randn(8, 8))
        optimizer = make_optimizer_extra([{"params": [weight], "lr": 1e-2}], name, 0.01)
        for step in range(6):
            if step == save_at:
                buffer = io.BytesIO()
                torch.save({"weight": weight.detach().clone(), "optimizer": optimizer.state_dict()}, buffer)
                buffer.seek(0)
                saved = torch.load(buffer, weights_only=True)
                weight = torch.nn.Parameter(saved["weight"])
                optimizer = make_optimizer_extra([{"params": [weight], "lr": 1e-2}], name, 0.01)
                optimizer.load_state_dict(saved["optimizer"])
            (weight @ torch.ones(8) - 1).pow(2).sum().backward()
            optimizer.step()
            optimizer.zero_grad()
        return weight.detach()

    assert torch.equal(run(None), run(3))


def test_prodigy_scales_its_estimate_by_the_group_lr():
    def moved(lr: float) -> float:
        start, after = one_step(lambda groups: make_optimizer_extra([{**groups[0], "lr": lr}], "prodigy", 0.0), 3)
        return float((after - start).abs().sum())

    assert moved(0.5) < moved(1.0)


# ---- per-block learning rates and ranks -------------------------------------------------------


def test_block_names():
    assert unet_block_of("down_blocks.1.attentions.0.proj_in.lora_A.default.weight") == "down_blocks.1"
    assert unet_block_of("mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.default.weight") == "mid_block"
    assert unet_block_of("up_blocks.12.resnets.0.conv1.lora_A.default.weight") == "up_blocks.12"
    assert unet_block_of("conv_in.lora_A.default.weight") == "other"


def test_per_block_lr_groups_put_each_lora_param_in_its_blocks_group(unet_with_lora):
    multipliers = {"down_blocks.0": 0.5, "mid_block": 0.0, "up_blocks.1": 2.0}
    groups = per_block_lr_groups(unet_with_lora, 1e-4, multipliers)
    trainable = [p for p in unet_with_lora.parameters() if p.requires_grad]
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len(trainable) and {id(p) for p in grouped} == {id(p) for p in trainable}
    names = {id(p): n for n, p in unet_with_lora.named_parameters()}
    blocks = {g["block"]: g for g in groups}
    assert set(blocks) == {"down_blocks.0", "mid_block", "up_blocks.1", "other"}  # the tiny UNet's LoRA blocks
    for group in groups:
        assert group["lr"] == pytest.approx(1e-4 * multipliers.get(group["block"], 1.0))
        for param in group["params"]:
            name = names[id(param)]
            assert name.startswith(group["block"] + ".") or (group["block"] == "other" and name.startswith("conv_in"))
    # an AdamW step over these groups moves a 2× block and leaves the 0× block where it was
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    before = {g["block"]: [p.detach().clone() for p in g["params"]] for g in groups}
    for p in grouped:
        p.grad = torch.ones_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    for group in groups:
        changes = [float((p.detach() - b).abs().max()) for p, b in zip(group["params"], before[group["block"]])]
        if group["block"] == "mid_block":
            assert max(changes) == 0
        else:
            assert max(changes) == pytest.approx(group["lr"], rel=1e-3)  # AdamW's first step moves by ~lr
    with torch.no_grad():
        for group in groups:
            for p, b in zip(group["params"], before[group["block"]]):
                p.copy_(b)


def test_per_block_lr_groups_refuse_an_unknown_block(unet_with_lora):
    with pytest.raises(EngineFailure) as raised:
        per_block_lr_groups(unet_with_lora, 1e-4, {"down_blocks.7": 0.5})
    assert "down_blocks.7" in raised.value.message and "up_blocks.1" in (raised.value.hint or "")


def test_block_rank_pattern_gives_a_block_its_own_rank_and_keeps_the_scale():
    unet = build_tiny_components("sd1", seed=0).unet
    pattern = block_rank_pattern(unet, {"down_blocks.0": 2, "up_blocks.1": 8}, rank=4, alpha=8)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"], **pattern))
    seen = set()
    for name, module in unet.named_modules():
        if name.endswith("to_q") and hasattr(module, "lora_A"):
            block = unet_block_of(name + ".")
            rank = {"down_blocks.0": 2, "up_blocks.1": 8}.get(block, 4)
            assert module.lora_A["default"].weight.shape[0] == rank, name
            assert module.scaling["default"] == pytest.approx(2.0)  # alpha / r stays 8 / 4 in every block
            seen.add(block)
    assert {"down_blocks.0", "up_blocks.1", "mid_block"} <= seen


def test_block_rank_pattern_refuses_an_unknown_block():
    unet = build_tiny_components("sd1", seed=0).unet
    with pytest.raises(EngineFailure):
        block_rank_pattern(unet, {"up_blocks.9": 2}, rank=4, alpha=4)


# ---- the options together, in one step of the tiny UNet -----------------------------------------


def test_options_compose_in_one_tiny_unet_step():
    """The calls as train.py's diffusion_loss makes them: with every option off the loss is the plain step's; with
    them on, the LoRA gradients differ."""
    base = build_tiny_components("sd2", seed=0)  # v-prediction, as zero terminal SNR needs
    unet = base.unet
    unet.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_v"], init_lora_weights="gaussian"))
    lora = [p for p in unet.parameters() if p.requires_grad]
    hidden = torch.randn(2, 77, unet.config.cross_attention_dim, generator=torch.Generator().manual_seed(1))
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))

    def lora_gradients(*, options: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(0)
        noise_scheduler = base.noise_scheduler
        if options:
            noise = make_noise(latents, noise_offset=0.1, multires_noise_iterations=3, multires_noise_discount=0.3)
            noise_scheduler = zero_terminal_snr_scheduler(noise_scheduler, "v_prediction")
        else:
            noise = make_noise(latents)
        timesteps = torch.tensor([50, 999])
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
        prediction = unet(noisy, timesteps, hidden).sample
        if options:
            weights = loss_weights_min_snr(timesteps, noise_scheduler, 5.0, "v_prediction")
            weights = weights * prior_loss_weights([False, True], 0.5)
            mask = torch.ones(2, 1, 8, 8)
            mask[:, :, :4] = 0
            loss = step_loss(prediction, target, sample_weights=weights, mask=mask)
        else:
            loss = step_loss(prediction, target)
            assert torch.equal(loss, F.mse_loss(prediction.float(), target.float()))
        grads = torch.autograd.grad(loss, lora)
        return loss.detach(), [g.clone() for g in grads]

    plain_loss, plain = lora_gradients(options=False)
    loss, changed = lora_gradients(options=True)
    assert torch.isfinite(loss) and not torch.equal(loss, plain_loss)
    assert any(not torch.allclose(a, b) for a, b in zip(plain, changed))


def test_a_lora_with_block_ranks_saves_and_loads_with_those_ranks(tmp_path):
    from lora_scripts_engine.lora_files import save_lora

    base = build_tiny_components("sd1", seed=0)
    pattern = block_rank_pattern(base.unet, {"up_blocks.1": 8}, rank=4, alpha=8)
    base.unet.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_v"], **pattern))
    path = save_lora(base, str(tmp_path / "lora.safetensors"), "fp32", False)

    loaded = build_tiny_components("sd1", seed=0)
    loaded.pipeline().load_lora_weights(path, adapter_name="default")
    shapes = {
        name: (module.lora_A["default"].weight.shape[0], module.scaling["default"])
        for name, module in loaded.unet.named_modules()
        if name.endswith(("to_q", "to_v")) and hasattr(module, "lora_A")
    }
    assert shapes and all(
        shape == ((8, 2.0) if name.startswith("up_blocks.1.") else (4, 2.0)) for name, shape in shapes.items()
    ), shapes


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_make_noise_with_an_offset_is_bit_for_bit_the_old_steps(dtype):
    """train.py's offset noise before this module: a seed must give the same LoRA as it did."""
    latents = torch.randn(2, 4, 8, 8).to(dtype).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(11)
    old = torch.randn_like(latents)
    old += 0.07 * torch.randn(2, 4, 1, 1, dtype=latents.dtype)
    torch.manual_seed(11)
    new = make_noise(latents, noise_offset=0.07)
    assert new.dtype == dtype and torch.equal(new, old)


def test_block_values_read_the_configs_items():
    from lora_scripts_engine.training_options import block_values

    assert block_values(["up_blocks.3=0.5", "mid_block=0"], "unet_block_lr") == {"up_blocks.3": 0.5, "mid_block": 0.0}
    assert block_values(["down_blocks.0=8"], "unet_block_rank", int) == {"down_blocks.0": 8}
    with pytest.raises(EngineFailure) as raised:
        block_values(["mid_block=1", "mid_block=2"], "unet_block_lr")
    assert raised.value.culprit == "unet_block_lr"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_options_run_on_cuda(tmp_path):
    """Device placement: weights, timesteps and a state loaded from a CPU file all meet on the GPU."""
    latents = torch.randn(2, 4, 16, 16, device="cuda")
    noise = make_noise(latents, noise_offset=0.05, adaptive_noise_scale=0.01, multires_noise_iterations=4)
    assert noise.device.type == "cuda"
    weights = loss_weights_min_snr(torch.tensor([10, 900], device="cuda"), scheduler(), 5.0, "epsilon")
    mask = mask_to_latent(torch.ones(2, 1, 128, 128, device="cuda"), (16, 16))
    loss = step_loss(noise, latents, sample_weights=weights * prior_loss_weights([False, True], 0.5), mask=mask)
    assert loss.device.type == "cuda" and torch.isfinite(loss)

    param = torch.nn.Parameter(torch.zeros(4, device="cuda"))
    ema = LoraEma([param], decay=0.9)
    ema.update()
    torch.save(ema.state_dict(), tmp_path / "ema.pt")
    resumed = LoraEma([param], decay=0.9)
    resumed.load_state_dict(torch.load(tmp_path / "ema.pt", map_location="cpu", weights_only=True))
    with torch.no_grad():
        param.fill_(1.0)
    resumed.update()  # fails if the loaded average stayed on the CPU
    for name in ("prodigy", "adafactor"):
        optimizer = make_optimizer_extra([{"params": [param], "lr": 1.0}], name, 0.0)
        param.grad = torch.ones_like(param)
        optimizer.step()


def test_logged_learning_rate_is_the_scheduled_base_rate(unet_with_lora):
    from lora_scripts_engine.training_options import logged_learning_rate

    groups = per_block_lr_groups(unet_with_lora, 1e-4, {"down_blocks.0": 0.0, "mid_block": 3.0})
    optimizer = torch.optim.AdamW(groups)
    scheduled = [g["lr"] * 0.5 for g in groups]  # a scheduler halfway down
    assert groups[0]["block"] == "down_blocks.0"  # multiplier 0: skipped
    assert logged_learning_rate(optimizer, scheduled) == pytest.approx(0.5e-4)
    weight = torch.nn.Parameter(torch.zeros(2))
    prodigy = make_optimizer_extra([{"params": [weight], "lr": 1.0}], "prodigy", 0.0)
    prodigy.param_groups[0]["d"] = 2e-5
    assert logged_learning_rate(prodigy, [0.5]) == pytest.approx(1e-5)
    assert logged_learning_rate(torch.optim.AdamW([weight], lr=3e-4), [3e-4]) == pytest.approx(3e-4)


def test_masks_for_batch_learns_pictures_without_a_mask_whole(tmp_path):
    from lora_scripts_engine.training_options import masks_for_batch

    mask = Image.new("L", (16, 16), 0)
    mask.paste(255, (0, 0, 8, 16))
    mask.save(tmp_path / "mask.png")
    placement = Placement((16, 16), 0, 0, False)
    masks = masks_for_batch([str(tmp_path / "mask.png"), None], [placement, placement], (16, 16), (2, 2))
    assert masks.shape == (2, 1, 2, 2)
    assert masks[0].flatten().tolist() == [1.0, 0.0, 1.0, 0.0] and torch.all(masks[1] == 1)


def test_averaged_swaps_in_the_ema_only_when_it_is_on():
    from lora_scripts_engine.training_options import averaged

    param = torch.nn.Parameter(torch.zeros(2))
    ema = LoraEma([param], decay=0.9)
    ema.update()  # the average is the zeros
    with torch.no_grad():
        param.fill_(1.0)
    with averaged(ema):
        assert torch.all(param == 0)
    with averaged(None):
        assert torch.all(param == 1)
    assert torch.all(param == 1)
