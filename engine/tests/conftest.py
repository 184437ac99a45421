"""pytest setup for the engine: import path, no network, and opt-in slow tests."""

import os
import sys
from pathlib import Path

import pytest

# Before anything imports huggingface_hub (it reads this once): an accidental hub call then fails
# at once instead of retrying for ~20 s, and tests prove local loading never needs the network.
os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_configure(config: pytest.Config) -> None:
    # diffusers' convention: slow tests run only with RUN_SLOW=1.
    config.addinivalue_line("markers", "slow: minutes of CPU or GBs of disk; runs only with RUN_SLOW=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip_slow = pytest.mark.skip(reason="slow: set RUN_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def model_outputs():
    """Runs every component of a BaseModel on fixed inputs: what a save/load round trip must preserve."""
    import torch

    def run(model) -> dict:
        generator = torch.Generator().manual_seed(0)
        outputs = {}
        with torch.no_grad():
            for index, (tokenizer, encoder) in enumerate(zip(model.tokenizers, model.text_encoders, strict=True)):
                ids = tokenizer("a photo of a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
                encoded = encoder(ids, output_hidden_states=True)
                outputs[f"text_encoder_{index}.last"] = encoded.last_hidden_state
                outputs[f"text_encoder_{index}.penultimate"] = encoded.hidden_states[-2]  # what SDXL and SD2 use
                outputs[f"text_encoder_{index}.pooled"] = encoded[1]  # pooler_output or text_embeds
            latents = torch.randn(1, 4, 8, 8, generator=generator)
            context = torch.randn(1, 77, model.unet.config.cross_attention_dim, generator=generator)
            extra = {}
            if model.family == "sdxl":
                pooled = torch.randn(1, model.text_encoders[1].config.projection_dim, generator=generator)
                time_ids = torch.tensor([[64.0, 64, 0, 0, 64, 64]])  # original size, crop, target size
                extra["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}
            outputs["unet"] = model.unet(latents, 500, encoder_hidden_states=context, **extra).sample
            image = torch.rand(1, 3, 64, 64, generator=generator) * 2 - 1
            outputs["vae.encode"] = model.vae.encode(image).latent_dist.mean
            outputs["vae.decode"] = model.vae.decode(latents).sample
        return outputs

    return run


@pytest.fixture
def copy_checkpoint():
    """Rewrites a .safetensors file keeping some keys and replacing the metadata, like a third-party tool would."""
    from safetensors.torch import load_file, save_file

    def copy(source: Path, target: Path, *, keep=lambda key: True, metadata: dict | None = None) -> Path:
        tensors = {key: value for key, value in load_file(str(source)).items() if keep(key)}
        save_file(tensors, str(target), metadata=metadata)
        return target

    return copy
