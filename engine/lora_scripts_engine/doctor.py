"""`lora-scripts doctor`: versions of the stack and the device, as one `info` event."""

from __future__ import annotations

import platform

from .protocol import emit


def doctor() -> None:
    import diffusers
    import peft
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    data = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "device": "cuda" if cuda else "mps" if torch.backends.mps.is_available() else "cpu",
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else None,
        "cpu_threads": torch.get_num_threads(),
    }
    emit("info", data=data)
    emit("done", files=[])
