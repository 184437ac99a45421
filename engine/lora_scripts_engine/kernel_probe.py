"""Which of the engine's own CPU bf16 kernels this torch and peft can run, checked once per process (issue 15).

The kernels (packed_conv.py, packed_linear.py, cpu_attention.py, speed.leave_lora_inputs_to_autocast) call oneDNN ops
that torch does not promise to keep, replace `forward` methods and flip a peft-internal flag, so an upgrade of either
may break them. A family runs only where every op and attribute it uses is there and a one-layer self-check gives
PyTorch's own layer's results; a family that fails stays off and the run says why: slower steps, never wrong ones.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .cpu_attention import KeptProbabilitiesMode
from .packed_conv import pack_frozen_convolutions
from .packed_linear import pack_frozen_linears

# Packed layers against plain ones in bf16 (measured bit-identical; the packed-layer tests use the same bounds).
BF16_TOLERANCE = dict(rtol=2e-2, atol=2e-2)
# bf16 attention with kept probabilities against fp32 attention, as a share of the largest value (test_cpu_attention.py)
ATTENTION_TOLERANCE = 0.03


@dataclass(frozen=True)
class KernelFamily:
    name: str  # as the fast-path line lists it
    needs: tuple[str, ...]  # the private ops and attributes it calls, as dotted paths
    self_check: Callable[[], str | None]  # how its layer differs from PyTorch's, or None


def find(path: str) -> object | None:
    """The object at a dotted `path` (`torch.ops.mkldnn._linear_pointwise`), or None where this install lacks it."""
    root, *names = path.split(".")
    found = importlib.import_module(root)
    for name in names:
        found = getattr(found, name, None)  # torch.ops namespaces raise AttributeError for an unknown op, too
        if found is None:
            return None
    return found


@functools.cache
def why_off(family: KernelFamily) -> str | None:
    """Why `family` can't run here (an op missing, or its self-check), or None when it can."""
    missing = [path for path in family.needs if find(path) is None]
    if missing:
        return ", ".join(f"`{path}`" for path in missing) + " missing"
    # A private op may still be there with other arguments or other results: that is what the self-check catches.
    # fork_rng: the check's random layers leave the run's random numbers (noise, timesteps) as they were.
    with torch.random.fork_rng(devices=[]), torch.enable_grad(), torch.autocast("cpu", enabled=False):
        torch.manual_seed(0)
        try:
            return family.self_check()
        except Exception as error:  # any failure of a private op means: PyTorch's own kernels instead
            return f"self-check failed ({type(error).__name__}: {(str(error).splitlines() or [''])[0]})"


def output_and_input_gradient(layer: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`layer`'s output and input gradient, called twice (a packed layer packs its weights at its first call)."""
    for _ in range(2):
        leaf = x.clone().requires_grad_(True)
        out = layer(leaf)
        (out.float() * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
    return out.detach().float(), leaf.grad.float()


def first_difference(got, expected, names: tuple[str, ...], *, rtol: float, atol: float) -> str | None:
    for name, a, b in zip(names, got, expected):
        if a.shape != b.shape:
            return f"self-check: {name} has shape {tuple(a.shape)}, PyTorch's {tuple(b.shape)}"
        if not torch.allclose(a, b, rtol=rtol, atol=atol):
            return f"self-check: {name} differs from PyTorch's by up to {(a - b).abs().max().item():.3g}"
    return None


def packed_layer_check(plain: torch.nn.Module, pack: Callable[[torch.nn.Module], int], x: torch.Tensor) -> str | None:
    packed = copy.deepcopy(plain)
    if pack(packed) != 1:
        return "oneDNN is not available in this torch build"
    got, expected = (output_and_input_gradient(layer, x) for layer in (packed, plain))
    return first_difference(got, expected, ("output", "input gradient"), **BF16_TOLERANCE)


def packed_convolution_check() -> str | None:
    # stride 1: the input gradient runs as a packed convolution too (strided ones use torch.nn.grad.conv2d_input)
    conv = torch.nn.Conv2d(16, 24, 3, padding=1, dtype=torch.bfloat16).requires_grad_(False)
    x = torch.randn(2, 16, 6, 6, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    return packed_layer_check(conv, pack_frozen_convolutions, x)


def packed_linear_check() -> str | None:
    linear = torch.nn.Linear(32, 24, dtype=torch.bfloat16).requires_grad_(False)
    return packed_layer_check(linear, pack_frozen_linears, torch.randn(2, 5, 32, dtype=torch.bfloat16))


def kept_attention_check() -> str | None:
    """F.scaled_dot_product_attention under KeptProbabilitiesMode in bf16 (as the UNet's processors call it) against
    PyTorch's attention in fp32: output and the three input gradients."""
    inputs, grad = [torch.randn(1, 2, 16, 8) for _ in range(3)], torch.randn(1, 2, 16, 8)
    results = []
    for dtype in (torch.bfloat16, torch.float32):
        leaves = [t.to(dtype).requires_grad_(True) for t in inputs]
        with KeptProbabilitiesMode() if dtype == torch.bfloat16 else contextlib.nullcontext():
            out = F.scaled_dot_product_attention(*leaves)
        out.backward(grad.to(dtype))
        results.append([t.float() for t in (out, *(leaf.grad for leaf in leaves))])
    atol = ATTENTION_TOLERANCE * max(t.abs().max().item() for t in results[1])
    return first_difference(*results, ("output", "query gradient", "key gradient", "value gradient"), rtol=0, atol=atol)


def lora_autocast_check() -> str | None:
    """A peft LoRA layer on a bf16 linear layer under autocast, with `cast_input_dtype_enabled` off as
    speed.leave_lora_inputs_to_autocast sets it, against the same layer as peft runs it."""
    from peft import LoraConfig, inject_adapter_in_model

    model = torch.nn.Sequential(torch.nn.Linear(32, 24, dtype=torch.bfloat16)).requires_grad_(False)
    model = inject_adapter_in_model(LoraConfig(r=4, target_modules=["0"]), model)
    for parameter in model.parameters():
        if parameter.requires_grad:  # LoRA weights in fp32 and B non-zero, as after a few training steps
            parameter.data = torch.randn_like(parameter, dtype=torch.float32)
    if not hasattr(model[0], "cast_input_dtype_enabled"):
        return "peft's LoRA layers have no `cast_input_dtype_enabled`"
    left = copy.deepcopy(model)
    left[0].cast_input_dtype_enabled = False
    x = torch.randn(2, 5, 32, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, expected = (output_and_input_gradient(layer, x) for layer in (left, model))
    return first_difference(got, expected, ("output", "input gradient"), **BF16_TOLERANCE)


LORA_INPUTS_LEFT_TO_AUTOCAST = KernelFamily(
    "LoRA inputs left to autocast", ("peft.tuners.tuners_utils.BaseTunerLayer._cast_input_dtype",), lora_autocast_check
)
PACKED_CONVOLUTIONS = KernelFamily(
    "packed frozen convolutions",
    ("torch.ops.mkldnn._convolution_pointwise", "torch._C._nn.mkldnn_reorder_conv2d_weight", "torch.Tensor.to_mkldnn"),
    packed_convolution_check,
)
PACKED_LINEARS = KernelFamily(
    "packed frozen linear layers",
    ("torch.ops.mkldnn._reorder_linear_weight", "torch.ops.mkldnn._linear_pointwise"),
    packed_linear_check,
)
KEPT_PROBABILITIES_ATTENTION = KernelFamily(
    "attention with kept probabilities",
    ("torch._softmax_backward_data", "torch.overrides.TorchFunctionMode"),
    kept_attention_check,
)
