"""The kernel ceiling of one training step: what the step would take if its heavy kernels (convolutions, matrix
products, attention, forward and backward) ran back to back with nothing else between them, each as fast as it runs
alone at its own shape on this machine.

A dense 2048² matmul is the best case for the hardware; a UNet step at batch 1 and 256 px is made of convolutions
over 8×8 and 4×4 feature maps, attention with 40-wide heads and rank-16 LoRA products, which no kernel runs at that
peak. Timing each of them alone separates "our step wastes time" (step time well above the ceiling) from "these
shapes cannot go faster with PyTorch's kernels here" (step time close to the ceiling).
"""

from __future__ import annotations

import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten
HEAVY_OPS = {
    aten.convolution.default,
    aten.convolution_backward.default,
    aten.mm.default,
    aten.addmm.default,
    aten.bmm.default,
    aten.bmm.out,
    aten.baddbmm.default,
    aten._scaled_dot_product_flash_attention_for_cpu.default,
    aten._scaled_dot_product_flash_attention_for_cpu_backward.default,
    torch.ops.mkldnn._convolution_pointwise.default,  # the engine's packed frozen convolutions, forward and backward
    torch.ops.mkldnn._linear_pointwise.default,  # its packed frozen linear layers, forward and backward
    aten._softmax.default,
    aten._softmax_backward_data.default,  # its CPU bf16 attention (cpu_attention.py): no FLOPs, but time
}


class TensorShape(tuple):
    """(shape, stride, dtype) of an argument: enough to build a stand-in with the same memory layout."""


def shape_of(value):
    """Packed (oneDNN) weights are kept as they are: they are frozen, and their layout is what is being timed."""
    if isinstance(value, torch.Tensor) and not value.is_mkldnn:
        return TensorShape((tuple(value.shape), tuple(value.stride()), value.dtype))
    return value


def described(value):
    return ("packed", id(value)) if isinstance(value, torch.Tensor) and value.is_mkldnn else shape_of(value)


def stand_in(value):
    if not isinstance(value, TensorShape):
        return value
    shape, stride, dtype = value
    tensor = torch.empty_strided(shape, stride, dtype=dtype)
    storage = torch.empty(0, dtype=dtype).set_(tensor.untyped_storage())  # filled whole: views may overlap (expand)
    storage.normal_() if dtype.is_floating_point else storage.zero_()
    return tensor


class HeavyOpRecorder(TorchDispatchMode):
    """Records each heavy op the step dispatches (after autocast), with the shapes and layouts of its arguments."""

    def __init__(self):
        super().__init__()
        self.calls: dict[tuple, int] = {}
        self.arguments: dict[tuple, tuple] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in HEAVY_OPS:
            key = (func, repr(tree_map(described, (args, kwargs))))
            if key not in self.calls:
                self.calls[key] = 0
                self.arguments[key] = tree_map(shape_of, (args, kwargs))
            self.calls[key] += 1
        return func(*args, **kwargs)


def time_alone(func, shapes, repeats: int = 3) -> tuple[float, float]:
    """(best seconds, FLOPs) of one call of `func` on fresh tensors of the recorded shapes."""
    args, kwargs = tree_map(stand_in, shapes)
    with FlopCounterMode(display=False) as counter:
        func(*args, **kwargs)  # also the warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, counter.get_total_flops()


def kernel_ceiling(step) -> dict:
    """Runs `step()` once recording its heavy ops, then times each distinct one alone; the sum is the ceiling."""
    recorder = HeavyOpRecorder()
    with recorder:
        step()
    seconds = flops = 0.0
    by_kind: dict[str, list[float]] = {}
    for key, count in recorder.calls.items():
        func = key[0]
        best, op_flops = time_alone(func, recorder.arguments[key])
        seconds += best * count
        flops += op_flops * count
        kind = by_kind.setdefault(op_kind(func), [0.0, 0.0])
        kind[0], kind[1] = kind[0] + best * count, kind[1] + op_flops * count
    return {
        "seconds": seconds,
        "flops": flops,
        "distinct_ops": len(recorder.calls),
        "by_kind": {
            k: {
                "seconds": round(s, 3),
                "gflop": round(f / 1e9, 1),
                "gflops_per_s": round(f / s / 1e9, 1) if s else None,
            }
            for k, (s, f) in sorted(by_kind.items())
        },
    }


def op_kind(func) -> str:
    name = func.overloadpacket.__name__
    if "scaled_dot_product" in name:
        return "attention backward" if name.endswith("backward") else "attention"
    if name == "_convolution_pointwise":
        return "packed convolution (forward and input gradient)"
    if name == "_linear_pointwise":
        return "packed linear layer (forward and input gradient)"
    if name in ("bmm", "_softmax", "_softmax_backward_data"):  # nothing else in the UNet step calls these
        return "attention with kept probabilities (products and softmax)"
    return {"convolution": "convolution", "convolution_backward": "convolution backward"}.get(name, "matrix product")
