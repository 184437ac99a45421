"""The CPU bf16 fast paths together (speed.use_training_kernels: packed layers, kept-probability attention, LoRA inputs
left to autocast) in a whole UNet step as training runs it: bf16 weights, fp32 LoRA, autocast, strided and 1×1
convolutions, self- and cross-attention; and behind their probe (kernel_probe.py): a missing op, a wrong kernel or
`cpu_kernels: off` leave PyTorch's kernels in place and say why."""

from __future__ import annotations

import io
import json

import pytest
import torch
from diffusers.training_utils import cast_training_params
from lora_scripts_engine import kernel_probe, packed_conv, protocol
from lora_scripts_engine.cpu_attention import KeptProbabilitiesProcessor
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.packed_conv import pack_frozen_convolutions
from lora_scripts_engine.packed_linear import pack_frozen_linears
from lora_scripts_engine.speed import (
    kernels_off_message,
    leave_lora_inputs_to_autocast,
    report_kernels_off,
    use_training_kernels,
)
from lora_scripts_engine.tiny_models import write_checkpoint
from packed_layers import NO_BF16_PACKING, needs_bf16_packing
from peft import LoraConfig

FAMILIES = [
    kernel_probe.LORA_INPUTS_LEFT_TO_AUTOCAST,
    kernel_probe.PACKED_CONVOLUTIONS,
    kernel_probe.PACKED_LINEARS,
    kernel_probe.KEPT_PROBABILITIES_ATTENTION,
]
ALL_ON = [family.name for family in FAMILIES]


@pytest.fixture(autouse=True)
def fresh_probe():
    """The probe's verdicts are cached per process: each test probes anew, and leaves no simulated failure behind."""
    kernel_probe.why_off.cache_clear()
    yield
    kernel_probe.why_off.cache_clear()


def lora_gradients(checkpoint, dtype, switch=lambda unet: None) -> torch.Tensor:
    """The LoRA gradients of the second of two steps, after `switch(unet)` set fast paths up."""
    base = load_base_model(str(checkpoint), dtype=dtype)
    unet = base.unet.requires_grad_(False)
    torch.manual_seed(1)
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights="gaussian")
    )
    cast_training_params([unet], dtype=torch.float32)
    unet.to(memory_format=torch.channels_last)
    switch(unet)
    torch.manual_seed(0)
    latents = torch.randn(2, 4, 16, 16).contiguous(memory_format=torch.channels_last)
    hidden = torch.randn(2, 77, unet.config.cross_attention_dim)
    for _ in range(2):  # the second step runs on the weights packed at the first
        unet.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            prediction = unet(latents, torch.tensor([10, 500]), hidden).sample
        torch.nn.functional.mse_loss(prediction.float(), latents).backward()
    return torch.cat([p.grad.flatten() for p in unet.parameters() if p.requires_grad])


@needs_bf16_packing
def test_a_bf16_step_with_the_cpu_kernels_is_as_close_to_fp32_as_the_plain_bf16_step(tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    used = []

    def as_a_cpu_bf16_run(unet):
        used.extend(use_training_kernels(unet, "cpu", torch.bfloat16, compiled=False).used)

    reference = lora_gradients(checkpoint, torch.float32)
    plain = lora_gradients(checkpoint, torch.bfloat16)
    fast = lora_gradients(checkpoint, torch.bfloat16, as_a_cpu_bf16_run)
    assert used == ALL_ON
    error = {
        name: ((grads - reference).norm() / reference.norm()).item()
        for name, grads in (("plain", plain), ("fast", fast))
    }
    # measured: plain 2.2 %, with the kernels 2.1 % (packed layers give the plain results; the attention rounds its
    # scores to bf16 before the softmax, as PyTorch's math attention does under autocast)
    assert error["plain"] < 0.05
    assert error["fast"] < 1.25 * error["plain"] + 1e-3, error


@needs_bf16_packing
def test_a_bf16_step_with_packed_layers_gives_the_plain_step_lora_gradients(tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)

    def packed_layers(unet):
        assert pack_frozen_convolutions(unet) > 0 and pack_frozen_linears(unet) > 0

    plain = lora_gradients(checkpoint, torch.bfloat16)
    packed = lora_gradients(checkpoint, torch.bfloat16, packed_layers)
    torch.testing.assert_close(packed, plain, rtol=1e-2, atol=1e-4)


def test_leaving_lora_inputs_to_autocast_changes_no_gradient(tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    cast = lora_gradients(checkpoint, torch.bfloat16)
    left = lora_gradients(checkpoint, torch.bfloat16, lambda unet: leave_lora_inputs_to_autocast([unet]))
    torch.testing.assert_close(left, cast, rtol=1e-3, atol=1e-3 * cast.abs().max().item())


def kernels_in_place(unet) -> dict:
    """Which of the engine's kernels the UNet's layers run (a packed layer's `forward` is set on the instance)."""
    return {
        "packed convolutions": sum("forward" in m.__dict__ for m in unet.modules() if isinstance(m, torch.nn.Conv2d)),
        "packed linears": sum("forward" in m.__dict__ for m in unet.modules() if type(m) is torch.nn.Linear),
        "kept attention": sum(isinstance(p, KeptProbabilitiesProcessor) for p in unet.attn_processors.values()),
        "LoRA inputs left": sum(not getattr(m, "cast_input_dtype_enabled", True) for m in unet.modules()),
    }


@needs_bf16_packing
def test_every_kernel_family_passes_its_probe_with_this_torch_and_peft():
    # the canary: after a torch or peft upgrade, this names the family that now falls back (and why)
    assert {family.name: kernel_probe.why_off(family) for family in FAMILIES} == dict.fromkeys(ALL_ON)


@pytest.mark.skipif(NO_BF16_PACKING is None, reason="this CPU packs bf16 weights")
def test_on_a_cpu_without_onednns_bf16_path_the_probe_keeps_exactly_the_packed_families_off_and_says_why():
    """An AVX2-only CPU: oneDNN refuses to pack bf16 weights, so both packed families stay off with that reason and
    the other two run; the run's random numbers are left as they were."""
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    verdicts = {family.name: kernel_probe.why_off(family) for family in FAMILIES}
    assert torch.equal(torch.rand(4), expected)
    packed = {kernel_probe.PACKED_CONVOLUTIONS.name, kernel_probe.PACKED_LINEARS.name}
    assert {name for name, why in verdicts.items() if why} == packed
    for name in packed:
        assert (
            verdicts[name].startswith("self-check failed (RuntimeError: ")
            and "bf16 path needs the cpu" in verdicts[name]
        ), verdicts[name]


@needs_bf16_packing
def test_the_probe_leaves_the_runs_random_numbers_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert all(kernel_probe.why_off(family) is None for family in FAMILIES)
    assert torch.equal(torch.rand(4), expected)


@needs_bf16_packing
def test_a_missing_op_leaves_its_family_off_and_the_unet_trains_on_pytorchs_kernels(tmp_path, monkeypatch):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    real_find = kernel_probe.find
    missing = "torch.ops.mkldnn._convolution_pointwise"
    monkeypatch.setattr(kernel_probe, "find", lambda path: None if path == missing else real_find(path))
    kernels, in_place = [], []

    def as_a_cpu_bf16_run(unet):
        kernels.append(use_training_kernels(unet, "cpu", torch.bfloat16, compiled=False))
        in_place.append(kernels_in_place(unet))

    fallback = lora_gradients(checkpoint, torch.bfloat16, as_a_cpu_bf16_run)
    assert kernels[0].used == [name for name in ALL_ON if name != "packed frozen convolutions"]
    assert kernels[0].off == {"packed frozen convolutions": "`torch.ops.mkldnn._convolution_pointwise` missing"}
    assert in_place[0]["packed convolutions"] == 0
    assert in_place[0]["packed linears"] > 0 and in_place[0]["kept attention"] > 0
    assert torch.isfinite(fallback).all() and fallback.abs().sum() > 0
    channel = io.StringIO()
    monkeypatch.setattr(protocol, "_channel", channel)
    report_kernels_off(kernels[0].off)
    (event,) = [json.loads(line) for line in channel.getvalue().splitlines()]
    assert event["type"] == "warning" and event["code"] == "cpu_kernels_off"
    assert event["message"] == (
        f"CPU kernels off: packed frozen convolutions (`{missing}` missing); PyTorch's own kernels run instead"
    )


@needs_bf16_packing
def test_a_packed_convolution_that_fails_its_self_check_is_never_used(tmp_path, monkeypatch):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    kernels = []

    def as_a_cpu_bf16_run(unet):
        kernels.append(use_training_kernels(unet, "cpu", torch.bfloat16, compiled=False))

    working = lora_gradients(checkpoint, torch.bfloat16, as_a_cpu_bf16_run)
    kernel_probe.why_off.cache_clear()
    right = packed_conv.packed_forward
    monkeypatch.setattr(packed_conv, "packed_forward", lambda self, x: right(self, x) * 1.1)  # a kernel gone wrong
    fallback = lora_gradients(checkpoint, torch.bfloat16, as_a_cpu_bf16_run)
    assert kernels[0].used == ALL_ON
    assert kernels[1].used == [name for name in ALL_ON if name != "packed frozen convolutions"]
    assert kernels[1].off["packed frozen convolutions"].startswith("self-check: output differs from PyTorch's by")
    # had the wrong kernel run, every convolution's output would be 10 % off; packed convolutions give the plain
    # results (test_packed_conv.py), so the step with them off equals the step with all kernels working
    torch.testing.assert_close(fallback, working, rtol=1e-2, atol=1e-4)


def test_cpu_kernels_off_leaves_every_layer_to_pytorch(tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    kernels, in_place = [], []

    def switched_off(unet):
        kernels.append(use_training_kernels(unet, "cpu", torch.bfloat16, compiled=False, cpu_kernels="off"))
        in_place.append(kernels_in_place(unet))

    plain = lora_gradients(checkpoint, torch.bfloat16)
    off = lora_gradients(checkpoint, torch.bfloat16, switched_off)
    assert kernels[0].used == [] and kernels[0].off == dict.fromkeys(ALL_ON, "`cpu_kernels: off`")
    assert set(in_place[0].values()) == {0}
    assert kernels_off_message(kernels[0].off) == "CPU kernels off (`cpu_kernels: off`): PyTorch's own kernels run"
    assert kernel_probe.why_off.cache_info().misses == 0  # `off` skips the probe too
    torch.testing.assert_close(off, plain, rtol=0, atol=0)


def test_fp32_runs_use_none_of_the_kernels_and_say_nothing():
    unet = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3)).requires_grad_(False)
    kernels = use_training_kernels(unet, "cpu", torch.float32, compiled=False)
    assert kernels.used == [] and kernels.off == {}
