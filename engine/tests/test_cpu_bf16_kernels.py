"""The CPU bf16 fast paths together (speed.use_training_kernels: packed layers, kept-probability attention, LoRA inputs
left to autocast) in a whole UNet step as training runs it: bf16 weights, fp32 LoRA, autocast, strided and 1×1
convolutions, self- and cross-attention."""
from __future__ import annotations

import torch
from diffusers.training_utils import cast_training_params
from peft import LoraConfig

from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.packed_conv import pack_frozen_convolutions
from lora_scripts_engine.packed_linear import pack_frozen_linears
from lora_scripts_engine.speed import leave_lora_inputs_to_autocast, use_training_kernels
from lora_scripts_engine.tiny_models import write_checkpoint


def lora_gradients(checkpoint, dtype, switch=lambda unet: None) -> torch.Tensor:
    """The LoRA gradients of the second of two steps, after `switch(unet)` set fast paths up."""
    base = load_base_model(str(checkpoint), dtype=dtype)
    unet = base.unet.requires_grad_(False)
    torch.manual_seed(1)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights="gaussian"))
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


def test_a_bf16_step_with_the_cpu_kernels_is_as_close_to_fp32_as_the_plain_bf16_step(tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "base.safetensors", seed=0)
    used = []

    def as_a_cpu_bf16_run(unet):
        used.extend(use_training_kernels(unet, "cpu", torch.bfloat16, compiled=False))

    reference = lora_gradients(checkpoint, torch.float32)
    plain = lora_gradients(checkpoint, torch.bfloat16)
    fast = lora_gradients(checkpoint, torch.bfloat16, as_a_cpu_bf16_run)
    assert used == ["LoRA inputs left to autocast", "packed frozen convolutions", "packed frozen linear layers", "attention with kept probabilities"]
    error = {name: ((grads - reference).norm() / reference.norm()).item() for name, grads in (("plain", plain), ("fast", fast))}
    # measured: plain 2.2 %, with the kernels 2.1 % (packed layers give the plain results; the attention rounds its
    # scores to bf16 before the softmax, as PyTorch's math attention does under autocast)
    assert error["plain"] < 0.05
    assert error["fast"] < 1.25 * error["plain"] + 1e-3, error


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
