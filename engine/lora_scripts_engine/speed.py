"""Fast paths by device: memory layout, attention kernel, optimizer, FLOP/s and loss reads that don't stall a GPU.

Everything here changes how fast a step runs, never what it computes (gradient checkpointing and `compile` give the
same numbers up to float rounding), so none of it is part of a resume fingerprint.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    conv_flop_count,
    register_flop_formula,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

from . import packed_conv, packed_linear
from .cpu_attention import use_kept_probabilities_attention
from .kernel_probe import (
    KEPT_PROBABILITIES_ATTENTION,
    LORA_INPUTS_LEFT_TO_AUTOCAST,
    PACKED_CONVOLUTIONS,
    PACKED_LINEARS,
    why_off,
)
from .models import VAE_ENCODING_PREFIXES
from .networks import base_layers_read_by_adapters
from .protocol import EngineFailure, emit
from .training_options import EXTRA_OPTIMIZERS, make_optimizer_extra

aten = torch.ops.aten


def conv_memory_format(device: str, dtype: torch.dtype) -> torch.memory_format:
    """cuDNN (tensor cores) and oneDNN in bf16 (the packed convolutions) run convolutions faster on NHWC: measured on
    the CPU in bf16, 5 % per UNet step and 15 % per VAE encode. In fp32 on the CPU NCHW is faster: an SD 1.5-sized UNet
    LoRA step at 256 px took 3.3–3.45 s contiguous against 3.7 s channels-last, the VAE encode the same 1.4 s (2 cores,
    2026-12-06). The loader reads weights straight into this layout (no second copy)."""
    if device == "cuda" or (device == "cpu" and dtype == torch.bfloat16):
        return torch.channels_last
    return torch.contiguous_format


def apply_fast_paths(
    base,
    compute,
    *,
    gradient_checkpointing: bool,
    compile_unet: bool,
    trained_text_encoders: list,
    cpu_kernels: str = "auto",
) -> list[str]:
    """Sets the UNet up for speed on `compute`'s device; returns what was switched on, for the start message."""
    used = []
    if conv_memory_format(compute.device, compute.dtype) == torch.channels_last:
        # A no-op where the loader already read the weights channels-last (models.load_base_model's memory_format).
        base.unet.to(memory_format=torch.channels_last)
        for prefix in VAE_ENCODING_PREFIXES:  # the decoder runs only for samples: not worth a copy of its weights
            base.vae.get_submodule(prefix.rstrip(".")).to(memory_format=torch.channels_last)
        used.append("channels_last")
    processors = {type(p).__name__ for p in base.unet.attn_processors.values()}
    if processors == {"AttnProcessor2_0"}:
        used.append("SDPA attention")
    kernels = use_training_kernels(
        base.unet,
        compute.device,
        compute.dtype,
        compiled=compile_unet,
        cpu_kernels=cpu_kernels,
        trained_text_encoders=trained_text_encoders,
    )
    report_kernels_off(kernels.off)
    used += kernels.used
    if gradient_checkpointing:
        base.unet.enable_gradient_checkpointing()
        for encoder in trained_text_encoders:
            encoder.gradient_checkpointing_enable()
        used.append("gradient checkpointing")
    if compile_unet:
        base.unet.compile()  # in place: state_dict, peft adapters and saving see the same module
        used.append("torch.compile")
    return used


@dataclass
class TrainingKernels:
    used: list[str]  # the kernel families switched on, as the fast-path line lists them
    off: dict[str, str]  # family → why it stays off where it would have paid (kernel_probe, or `cpu_kernels: off`)


CPU_KERNELS_OFF_BY_CONFIG = "`cpu_kernels: off`"


def use_training_kernels(
    unet: torch.nn.Module,
    device: str,
    dtype: torch.dtype,
    *,
    compiled: bool,
    cpu_kernels: str = "auto",
    trained_text_encoders=(),
) -> TrainingKernels:
    """The kernel choices of a LoRA run on `device` in `dtype` (shared with the benchmark, which sets a UNet up as the
    engine runs it): each of the engine's own kernels where it pays and kernel_probe finds it working here."""
    switches = {}  # family → switches it on, returning how many layers now run it
    if dtype != torch.float32:  # autocast is on
        switches[LORA_INPUTS_LEFT_TO_AUTOCAST] = lambda: leave_lora_inputs_to_autocast([unet, *trained_text_encoders])
    if cpu_bf16_kernels_pay_off(device, dtype, compiled):
        # measured on an SD 1.5-sized step at 256 px, batch 1, 2 cores: packed convolutions 2.08 → 1.80 s, then
        # packed linear layers −5 % and attention with kept probabilities −5 %
        switches[PACKED_CONVOLUTIONS] = lambda: pack_frozen_layers(unet, packed_conv)
        switches[PACKED_LINEARS] = lambda: pack_frozen_layers(unet, packed_linear)
        switches[KEPT_PROBABILITIES_ATTENTION] = lambda: use_kept_probabilities_attention(unet)
    if cpu_kernels == "off" and device == "cpu":
        return TrainingKernels([], {family.name: CPU_KERNELS_OFF_BY_CONFIG for family in switches})
    off = {family.name: why for family in switches if (why := why_off(family))}
    used = [family.name for family, switch_on in switches.items() if family.name not in off and switch_on()]
    return TrainingKernels(used, off)


def pack_frozen_layers(unet: torch.nn.Module, kind) -> int:
    """Packs `kind`'s (packed_conv or packed_linear) frozen layers, except those a LoHa/LoKr/DoRA adapter reads at every
    step: packing releases their plain weight (networks.base_layers_read_by_adapters)."""
    kept = base_layers_read_by_adapters(unet)
    return packed_conv.switch_frozen_layers(
        unet, lambda layer: kind.is_packable(layer) and layer not in kept, kind.packed_forward
    )


def cpu_bf16_kernels_pay_off(device: str, dtype: torch.dtype, compiled: bool) -> bool:
    """Measured to pay in bf16 (SD 1.5-sized step 2.08 → 1.80 s with packed convolutions alone, 1.48 s with all three);
    the fp32 demo model's step got slower with packing, so fp32 stays plain. torch.compile brings its own kernels."""
    return device == "cpu" and dtype == torch.bfloat16 and not compiled


def leave_lora_inputs_to_autocast(modules: list[torch.nn.Module]) -> int:
    """peft casts a LoRA layer's bf16 input to its fp32 weights' dtype, and autocast casts it straight back to bf16 for
    the product: two copies of every LoRA input, forward and backward, for the same numbers. Under autocast (every
    run that isn't fp32) the first cast is left out. Measured on an SD 1.5-sized bf16 step on the CPU: −4 %."""
    layers = [m for module in modules for m in module.modules() if hasattr(m, "cast_input_dtype_enabled")]
    for layer in layers:
        layer.cast_input_dtype_enabled = False
    return len(layers)


def kernels_off_message(off: dict[str, str]) -> str:
    """One line: which of the engine's kernels stay off, and why."""
    if set(off.values()) == {CPU_KERNELS_OFF_BY_CONFIG}:
        return f"CPU kernels off ({CPU_KERNELS_OFF_BY_CONFIG}): PyTorch's own kernels run"
    reasons = ", ".join(f"{name} ({why})" for name, why in off.items())
    return f"CPU kernels off: {reasons}; PyTorch's own kernels run instead"


def report_kernels_off(off: dict[str, str]) -> None:
    """Asked for (`cpu_kernels: off`): a stage line. Found broken by the probe: a warning, as the run is slower than it
    would be with the torch and peft versions the kernels were written for."""
    if not off:
        return
    if set(off.values()) == {CPU_KERNELS_OFF_BY_CONFIG}:
        emit("stage", name="cpu_kernels", message=kernels_off_message(off))
        return
    emit(
        "warning",
        code="cpu_kernels_off",
        message=kernels_off_message(off),
        hint="results are unchanged, steps are slower; this torch or peft changed what those kernels use "
        "(`cpu_kernels: off` skips the check)",
    )


def make_optimizer(groups: list[dict], optimizer: str, weight_decay: float, device: str) -> torch.optim.Optimizer:
    if optimizer in EXTRA_OPTIMIZERS:  # prodigy, adafactor
        return make_optimizer_extra(groups, optimizer, weight_decay)
    if optimizer == "adamw8bit":
        if device != "cuda":
            raise EngineFailure(
                "optimizer_needs_cuda",
                "`optimizer: adamw8bit` needs a CUDA GPU (bitsandbytes)",
                culprit="optimizer",
                hint="use `optimizer: adamw` on this machine",
            )
        try:
            import bitsandbytes
        except ImportError as error:
            raise EngineFailure(
                "optimizer_missing",
                "`optimizer: adamw8bit` needs the bitsandbytes package, which is not in the engine's environment",
                culprit="optimizer",
                hint="install it into the engine venv (`~/.cache/lora-scripts/engine-venv/bin/pip install bitsandbytes`), or use `optimizer: adamw`",
            ) from error
        return bitsandbytes.optim.AdamW8bit(groups, weight_decay=weight_decay)
    # The fused kernel updates every LoRA tensor in one pass instead of several ops per tensor: on CUDA one launch,
    # on the CPU 3× less time than the default loop (measured: 256 LoRA tensors, 3.3 M values, 60 → 19 ms per step).
    return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=device in ("cuda", "cpu"))


def count_cpu_kernel_flops() -> None:
    """Teaches torch's FLOP counter the CPU attention kernels (torch 2.13 counts only the CUDA ones, same maths) and
    the oneDNN convolution and linear product that packed frozen layers call (packed_conv.py, packed_linear.py), forward
    and input gradient alike. KeptProbabilitiesAttention (cpu_attention.py) is plain matrix products, counted as such."""
    from torch.utils.flop_counter import flop_registry

    forward, backward = (
        aten._scaled_dot_product_flash_attention_for_cpu,
        aten._scaled_dot_product_flash_attention_for_cpu_backward,
    )
    if forward in flop_registry or forward.default in flop_registry:
        return
    register_flop_formula(forward)(lambda q, k, v, *args, out_shape=None, **kwargs: sdpa_flop_count(q, k, v))
    register_flop_formula(backward)(
        lambda grad, q, k, v, *args, out_shape=None, **kwargs: sdpa_backward_flop_count(grad, q, k, v)
    )
    register_flop_formula(torch.ops.mkldnn._convolution_pointwise)(
        lambda x_shape, w_shape, *args, out_shape=None, **kwargs: conv_flop_count(x_shape, w_shape, out_shape)
    )
    register_flop_formula(torch.ops.mkldnn._linear_pointwise)(
        lambda x_shape, w_shape, *args, out_shape=None, **kwargs: 2 * math.prod(out_shape) * x_shape[-1]
    )


count_cpu_kernel_flops()


class StepFlops:
    """Counts the FLOPs of the first micro-batch with torch's counter, then turns step times into achieved FLOP/s."""

    def __init__(self, enabled: bool = True):
        self.per_image: float | None = None
        self.enabled = enabled  # off under torch.compile: the counter would trace the compiled graph's first call

    @contextlib.contextmanager
    def counting(self, images: int):
        if self.per_image is not None or not self.enabled:
            yield
            return
        with FlopCounterMode(display=False) as counter:
            yield
        self.per_image = counter.get_total_flops() / max(images, 1)

    def tflops(self, images: int, seconds: float) -> float | None:
        return None if self.per_image is None or seconds <= 0 else round(self.per_image * images / seconds / 1e12, 4)


class LossReader:
    """Reading a CUDA tensor waits for the GPU; reading step N's loss one step later lets step N+1's work queue first.

    On the CPU (and MPS) every op has already run when Python sees its result, so losses are read at once.
    """

    def __init__(self, device: str):
        self.lagged = device == "cuda"
        self.pending: list[tuple[torch.Tensor, object, dict]] = []

    def push(self, loss: torch.Tensor, record: dict) -> list[tuple[float, dict]]:
        """Queues step `record`'s loss; returns the (loss, record) pairs that can now be read without a stall."""
        loss, copied = loss.detach(), None
        if self.lagged:
            loss = loss.to("cpu", non_blocking=True)
            copied = torch.cuda.Event()
            copied.record()
        self.pending.append((loss, copied, record))
        return self.drain(keep=1 if self.lagged else 0)

    def drain(self, keep: int = 0) -> list[tuple[float, dict]]:
        """Everything queued but the last `keep`; waits only for the copies of those (the GPU runs on meanwhile)."""
        ready, self.pending = self.pending[: len(self.pending) - keep], self.pending[len(self.pending) - keep :]
        for _, copied, _ in ready:
            if copied is not None:
                copied.synchronize()
        return [(float(loss), record) for loss, _, record in ready]


def report_fast_paths(used: list[str], compute) -> None:
    emit(
        "stage",
        name="fast_paths",
        message=f"{compute.device} {compute.dtype_name}, threads {torch.get_num_threads()}: "
        + (", ".join(used) or "plain PyTorch"),
    )
