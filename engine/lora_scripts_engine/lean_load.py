"""A diffusers-folder model (UNet, VAE) loaded straight into the dtype and layout training runs it in, without
holding two copies at once.

diffusers maps the whole file and casts it: every page of the file stays mapped (and counted in the process's memory)
as long as one tensor still points into it. So a 3.4 GB fp32 SD 1.5 UNet wanted as bf16 peaks at 3.4 + 1.7 GB, and
an fp32 one turned channels-last afterwards keeps the mapped original of every convolution weight next to its copy
(+1.9 GiB with the VAE: 7.75 GiB at the first fp32 step at 256 px instead of 5.1). Here each tensor that must change
is copied into its final dtype and layout through a mapping that is dropped every 256 MiB (unmapping what is already
copied); each tensor already as wanted stays a view of one mapping that nothing else reads, so it costs memory only
once training touches it, as in diffusers (the VAE decoder, say, is never read by training).
"""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import init_empty_weights
from safetensors import safe_open

CHUNK_BYTES = 256 << 20
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def load_model_as(
    model_class,
    folder: Path,
    dtype: torch.dtype,
    memory_format=torch.contiguous_format,
    layout_prefixes: tuple[str, ...] = ("",),
):
    """The `model_class` (a diffusers ModelMixin) in `folder` (`<model>/unet`, `<model>/vae`) as `dtype`, the 4-D
    weights whose names start with one of `layout_prefixes` in `memory_format`; None where diffusers' own loader is
    already lean (stored in `dtype`, contiguous wanted: it maps the file without copying) or must decide (variant,
    sharded-index or missing files, other weight names)."""
    files = sorted(f for f in folder.glob("*.safetensors") if f.name.count(".") == 1) if folder.is_dir() else []
    if not files or not (folder / "config.json").is_file():
        return None
    with safe_open(files[0], "pt") as handle:
        first = next(iter(handle.keys()), None)
        stored_as_wanted = first is not None and handle.get_slice(first).get_dtype() == SAFETENSORS_DTYPES.get(dtype)
    if first is None or (stored_as_wanted and memory_format == torch.contiguous_format):
        return None
    with init_empty_weights():
        model = model_class.from_config(model_class.load_config(folder))
    state = {}
    for file in files:
        state.update(
            read_converted(file, dtype, lambda key, tensor: wanted_layout(key, tensor, memory_format, layout_prefixes))
        )
    if state.keys() != model.state_dict().keys():
        return None  # older weight names (e.g. a VAE's `query`/`key`): diffusers' loader renames them
    model.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        return None
    return model.eval()  # as from_pretrained returns it


def wanted_layout(key: str, tensor: torch.Tensor, memory_format, layout_prefixes: tuple[str, ...]):
    return memory_format if tensor.dim() == 4 and key.startswith(layout_prefixes) else torch.contiguous_format


def read_converted(file: Path, dtype: torch.dtype, layout_of) -> dict[str, torch.Tensor]:
    """Every tensor of `file` in `dtype` (floating ones) and the layout `layout_of(key, tensor)` names."""
    tensors, handle, mapped = {}, None, 0
    kept = safe_open(file, "pt")  # views into this mapping: only tensors already as wanted, read by no one here
    for key in kept.keys():
        target = dtype if kept.get_slice(key).get_dtype() in SAFETENSORS_DTYPES.values() else None
        view = kept.get_tensor(key)  # maps, reads nothing
        layout = layout_of(key, view)
        if (target is None or view.dtype == target) and has_strides_of(view, layout):
            tensors[key] = view
            continue
        if handle is None or mapped > CHUNK_BYTES:
            handle, mapped = safe_open(file, "pt"), 0  # dropping the old handle unmaps the pages read through it
        tensor = handle.get_tensor(key)
        mapped += tensor.nbytes
        tensors[key] = tensor.to(target or tensor.dtype, memory_format=layout, copy=True)
    return tensors


def has_strides_of(tensor: torch.Tensor, memory_format) -> bool:
    """The strides `tensor.to(memory_format=...)` gives: it copies a 1×1 convolution's weight whose strides differ,
    although `is_contiguous` calls both layouts contiguous."""
    return tensor.stride() == torch.empty(tensor.shape, device="meta", memory_format=memory_format).stride()
