"""A diffusers-folder UNet loaded straight into another dtype, without holding both copies at once.

diffusers maps the whole fp32 file and casts it: every page of the file stays mapped (and counted in the process's
memory) until the cast ends, so a 3.4 GB fp32 SD 1.5 UNet wanted as bf16 peaks at 3.4 + 1.7 GB. Reading it in
chunks and reopening the file between them unmaps what is already converted: the peak is the bf16 UNet plus a chunk.
"""
from __future__ import annotations

from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import UNet2DConditionModel
from safetensors import safe_open

CHUNK_BYTES = 256 << 20
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def load_unet_as(folder: Path, dtype: torch.dtype) -> UNet2DConditionModel | None:
    """The UNet in `folder` (`<model>/unet`) as `dtype`; None where diffusers' own loader is already lean or must
    decide (stored in `dtype` already: it maps it without copying; variant or missing files)."""
    files = sorted(f for f in folder.glob("*.safetensors") if f.name.count(".") == 1) if folder.is_dir() else []
    if not files or not (folder / "config.json").is_file():
        return None
    with safe_open(files[0], "pt") as handle:
        first = next(iter(handle.keys()), None)
        if first is None or handle.get_slice(first).get_dtype() == SAFETENSORS_DTYPES.get(dtype):
            return None
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder))
    state = {}
    for file in files:
        state.update(read_converted(file, dtype))
    unet.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in [*unet.parameters(), *unet.buffers()]):
        return None
    return unet


def read_converted(file: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    tensors, handle, mapped = {}, None, 0
    with safe_open(file, "pt") as listing:
        keys = list(listing.keys())
    for key in keys:
        if handle is None or mapped > CHUNK_BYTES:
            handle, mapped = safe_open(file, "pt"), 0  # dropping the old handle unmaps the pages read through it
        tensor = handle.get_tensor(key)
        mapped += tensor.nbytes
        tensors[key] = tensor.to(dtype, copy=True)
    return tensors
