"""Every file and folder the engine saves has the mode of an ordinary new one (0666 / 0777 less the umask), not the
0600 / 0700 of safetensors' and tempfile's temp files: under umask 022 other users can read the LoRA, the training
state and the latent cache; under 077 they cannot."""

from __future__ import annotations

import os
import stat

import pytest
import torch
from lora_scripts_engine import latent_cache
from lora_scripts_engine.file_modes import process_umask
from lora_scripts_engine.lora_files import save_lora
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.tiny_models import write_checkpoint
from lora_scripts_engine.training_state import Position, save_state
from peft import LoraConfig


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_process_umask_reads_the_umask(umask):
    assert process_umask() == umask


def test_saved_files_and_folders_have_the_umasks_mode(umask, tmp_path):
    checkpoint = write_checkpoint("sd1", tmp_path / "tiny.safetensors", seed=3)
    base = load_base_model(str(checkpoint))
    base.unet.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q"]))
    lora = save_lora(base, str(tmp_path / "out" / "pytorch_lora_weights.safetensors"), "fp32", train_text_encoder=False)
    state = save_state(str(tmp_path / "out"), Position(step=1), {"weights": [torch.zeros(2)]}, {"seed": 1}, keep=2)
    cached = tmp_path / "out" / "cache" / "latents" / "entry.safetensors"
    latent_cache.write_atomic(str(cached), {"mean": torch.zeros(4)})

    files = [checkpoint, lora, cached, *(os.path.join(state, name) for name in os.listdir(state))]
    assert len(files) == 5
    for path in files:
        assert (str(path), oct(mode(path))) == (str(path), oct(0o666 & ~umask))
    assert oct(mode(state)) == oct(0o777 & ~umask)
    if umask == 0o022:  # what the issue asked for: a LoRA another user, a web server or a worker can read
        assert all(mode(path) & stat.S_IROTH for path in [*files, state])
