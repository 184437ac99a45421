"""Picks the device and compute dtype, each with the reason that is printed at start (nanochat's habit)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

# On a CPU, bf16 pays only where the matmuls dominate the step. Measured on a 2-core AVX-512 BF16 CPU
# (bench/RESULTS-step-flops.md): an SD 1.5-sized UNet step is 2.6× faster in bf16 (with the engine's CPU bf16
# kernels), the 26 MB demo model's is slower. Every real SD checkpoint is over 1 GiB, every tiny test model far below.
BF16_CPU_MIN_MODEL_BYTES = 1 << 30
# bf16 must beat fp32 by this much on the probe: CPUs without native bf16 emulate it and come out near or below 1×.
BF16_CPU_MIN_SPEEDUP = 1.5


@dataclass
class Compute:
    device: str
    dtype: torch.dtype
    reason: str

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def pick_compute(mixed_precision: str, base_model: str | None) -> Compute:
    """`mixed_precision` as the config gives it (no default here: the schema has it). `base_model` (a train
    request's, else None): on a CPU its size decides whether bf16 is worth it."""
    if torch.cuda.is_available():
        if mixed_precision == "no":
            return Compute("cuda", torch.float32, "mixed_precision: no")
        if mixed_precision == "fp16":
            return Compute("cuda", torch.float16, "mixed_precision: fp16")
        if mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
            return Compute(
                "cuda",
                torch.bfloat16,
                "mixed_precision: bf16" if mixed_precision == "bf16" else "CUDA device supports bf16",
            )
        return Compute("cuda", torch.float16, "CUDA device without bf16 support")
    if torch.backends.mps.is_available():
        return Compute("mps", torch.float32, "Apple GPU (MPS): fp32 is the reliable choice there")
    return pick_cpu_compute(mixed_precision, base_model)


def pick_cpu_compute(mixed_precision: str, base_model: str | None) -> Compute:
    if mixed_precision == "bf16":
        return Compute("cpu", torch.bfloat16, "mixed_precision: bf16")
    if mixed_precision == "fp16":
        return Compute(
            "cpu",
            torch.float32,
            "no GPU: fp16 is slow on a CPU, so fp32 is used (bf16 is the CPU's fast half precision)",
        )
    if mixed_precision == "no" or base_model is None:
        return Compute("cpu", torch.float32, "no CUDA or MPS device: fp32 on the CPU")
    size = model_bytes(base_model)
    if size is not None and size < BF16_CPU_MIN_MODEL_BYTES:
        return Compute("cpu", torch.float32, "small base model on the CPU: bf16 does not pay at this size, fp32")
    speedup = bf16_matmul_speedup()
    if speedup >= BF16_CPU_MIN_SPEEDUP:
        return Compute(
            "cpu",
            torch.bfloat16,
            f"this CPU multiplies bf16 {speedup:.1f}x faster than fp32 (`mixed_precision: no` keeps fp32)",
        )
    return Compute("cpu", torch.float32, f"this CPU has no fast bf16 ({speedup:.1f}x fp32): fp32")


def model_bytes(base_model: str) -> int | None:
    """Size of a single-file checkpoint or of a diffusers folder's UNet; None for a hub id (those are full-size)."""
    path = Path(base_model).expanduser()
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        folder = path / "unet" if (path / "unet").is_dir() else path
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return None


def bf16_matmul_speedup() -> float:
    """fp32 time / bf16 time of a UNet-sized matmul (1024 tokens × 320 channels, SD's first level at 256 px): ~60 ms."""

    def best_of_three(dtype: torch.dtype) -> float:
        a, b = torch.randn(1024, 320, dtype=dtype), torch.randn(320, 1280, dtype=dtype)
        a @ b
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(3):
                a @ b
            times.append(time.perf_counter() - start)
        return min(times)

    return best_of_three(torch.float32) / best_of_three(torch.bfloat16)


def cpu_threads() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota (containers); torch's default
    counts the host's cores and oversubscribes a container limited to fewer."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def set_cpu_threads() -> None:
    """Intra-op threads = usable cores, unless the user set OMP_NUM_THREADS (then torch already follows it)."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_threads())
