"""load_base_model: shipped configs and tokenizers, loading with the family TypeScript's verdict gives, diffusers
folders, and its one-line errors. Telling what a file is (LoRA, VAE, family) is src/checkpoint's, tested there."""

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from lora_scripts_engine.models import (
    MODEL_CONFIGS_DIR,
    is_v_prediction_unet,
    load_base_model,
    write_config_folder,
)
from lora_scripts_engine.protocol import EngineFailure
from lora_scripts_engine.single_file import (
    architecture_record,
    save_single_file,
)
from lora_scripts_engine.tiny_models import build_tiny_components
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

FAMILIES = ["sd1", "sd2", "sdxl"]
SHIPPED_FOLDERS = {"sd1": ["sd15"], "sd2": ["sd2-v", "sd2-base"], "sdxl": ["sdxl"]}


def failure(spec, **kwargs) -> EngineFailure:
    with pytest.raises(EngineFailure) as caught:
        load_base_model(str(spec), **kwargs)
    return caught.value


def tiny_configs_dir(root: Path, model) -> Path:
    """A stand-in for model_configs/ whose family folders describe `model` instead of the real sizes."""
    for folder in SHIPPED_FOLDERS[model.family]:
        (root / folder).mkdir(parents=True)
        write_config_folder(root / folder, architecture_record(model), MODEL_CONFIGS_DIR)
    for tokenizer in ("tokenizer-clip", "tokenizer-clip-pad0"):
        (root / tokenizer).symlink_to(MODEL_CONFIGS_DIR / tokenizer)
    return root


# ---- shipped files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "unet", "text_encoders"),
    [
        ("sd15", 859_520_964, [123_060_480]),
        ("sd2-v", 865_910_724, [340_387_840]),
        ("sd2-base", 865_910_724, [340_387_840]),
        ("sdxl", 2_567_463_684, [123_060_480, 694_659_840]),
    ],
)
def test_shipped_configs_describe_the_real_models(folder, unet, text_encoders):
    config_dir = MODEL_CONFIGS_DIR / folder
    with init_empty_weights():  # meta device: counts parameters without allocating them
        built_unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config_dir / "unet"))
        built_vae = AutoencoderKL.from_config(AutoencoderKL.load_config(config_dir / "vae"))
        encoder_classes = [CLIPTextModel, CLIPTextModelWithProjection][: len(text_encoders)]
        encoders = [
            encoder_class(CLIPTextConfig.from_pretrained(config_dir / name))
            for encoder_class, name in zip(encoder_classes, ["text_encoder", "text_encoder_2"])
        ]
    count = lambda module: sum(param.numel() for param in module.parameters())  # noqa: E731
    assert count(built_unet) == unet
    assert count(built_vae) == 83_653_863
    assert [count(encoder) for encoder in encoders] == text_encoders


@pytest.mark.parametrize(("folder", "pad_id"), [("tokenizer-clip", 49407), ("tokenizer-clip-pad0", 0)])
def test_shipped_tokenizers_encode_like_openai_clip(folder, pad_id):
    tokenizer = CLIPTokenizer.from_pretrained(MODEL_CONFIGS_DIR / folder)
    ids = tokenizer("a photo of a cat", padding="max_length", max_length=77).input_ids
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407] + [pad_id] * 70
    assert len(tokenizer) == 49408


# ---- family and prediction type (from TypeScript's verdict) -------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoint_without_metadata_loads_through_the_config_folders(family, tmp_path, model_outputs, copy_checkpoint):
    built = build_tiny_components(family, seed=3)
    saved = save_single_file(built, tmp_path / "with-metadata.safetensors")
    # What a checkpoint from elsewhere looks like: no metadata, and no ComfyUI `v_pred` marker.
    plain = copy_checkpoint(saved, tmp_path / "plain.safetensors", keep=lambda key: key != "v_pred")
    # As TypeScript sends it: the family from the header, no prediction type for SD 2.x (only a forward pass tells).
    loaded = load_base_model(str(plain), family=family, configs_dir=tiny_configs_dir(tmp_path / "configs", built))

    if family == "sd2":  # decided by A1111's test forward, as real SD 2.x files carry no marker
        expected_prediction = "v_prediction" if is_v_prediction_unet(built.unet) else "epsilon"
    else:
        expected_prediction = "epsilon"
    assert (loaded.family, loaded.prediction_type) == (family, expected_prediction)
    torch.testing.assert_close(model_outputs(loaded), model_outputs(built))


def test_checkpoint_without_metadata_is_read_with_the_shipped_sd15_configs(tmp_path, copy_checkpoint):
    saved = save_single_file(build_tiny_components("sd1"), tmp_path / "with-metadata.safetensors")
    plain = copy_checkpoint(saved, tmp_path / "plain.safetensors")

    error = failure(plain, family="sd1")  # the shipped configs have SD 1.5's sizes, which a tiny model does not fit
    assert error.code == "base_model_unrecognized"
    assert error.message.startswith("`plain.safetensors` does not match the sd1 architecture (")


def test_checkpoint_without_metadata_or_family_is_refused(tmp_path, copy_checkpoint):
    saved = save_single_file(build_tiny_components("sd1"), tmp_path / "with-metadata.safetensors")
    plain = copy_checkpoint(saved, tmp_path / "plain.safetensors")

    assert_failure(failure(plain), "base_model_family_unknown", "`plain.safetensors` was given without its family")


def test_family_and_prediction_type_given_are_trusted(tmp_path, copy_checkpoint):
    """TypeScript's verdict decides; the engine loads with it (here: a `v_pred`-marked file, minus its metadata)."""
    built = dataclasses.replace(build_tiny_components("sd1"), prediction_type="v_prediction")
    saved = save_single_file(built, tmp_path / "with-metadata.safetensors")
    plain = copy_checkpoint(saved, tmp_path / "plain.safetensors")

    loaded = load_base_model(
        str(plain),
        family="sd1",
        prediction_type="v_prediction",
        configs_dir=tiny_configs_dir(tmp_path / "configs", built),
    )
    assert (loaded.family, loaded.prediction_type) == ("sd1", "v_prediction")
    assert loaded.noise_scheduler.config.prediction_type == "v_prediction"


class ScaledInputUNet(torch.nn.Module):
    """Stands in for a UNet whose output is `scale` × its input."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale
        self.config = SimpleNamespace(cross_attention_dim=8)

    def forward(self, sample, timestep, encoder_hidden_states):
        return SimpleNamespace(sample=self.scale * sample)


def test_v_prediction_test_reads_a_strongly_negative_residual_as_v():
    assert is_v_prediction_unet(ScaledInputUNet(-2.0))  # mean(out - x) = -3 × 0.5 < -1
    assert not is_v_prediction_unet(ScaledInputUNet(1.0))


def test_prediction_type_argument_overrides_the_file_and_reaches_both_schedulers(tmp_path):
    path = save_single_file(build_tiny_components("sd1"), tmp_path / "sd1.safetensors")
    loaded = load_base_model(str(path), prediction_type="v_prediction")

    assert loaded.prediction_type == "v_prediction"
    assert loaded.sampling_scheduler.config.prediction_type == "v_prediction"
    assert loaded.noise_scheduler.config.prediction_type == "v_prediction"


def test_noise_scheduler_is_the_sd_training_schedule(tmp_path):
    loaded = load_base_model(str(save_single_file(build_tiny_components("sdxl"), tmp_path / "sdxl.safetensors")))
    scheduler = loaded.noise_scheduler

    assert type(scheduler).__name__ == "DDPMScheduler"
    assert (scheduler.config.beta_schedule, scheduler.config.clip_sample) == ("scaled_linear", False)
    torch.testing.assert_close(scheduler.betas[[0, -1]], torch.tensor([0.00085, 0.012]))
    assert len(scheduler.betas) == 1000


# ---- diffusers folders -----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_diffusers_folder_loads_with_family_and_prediction_type(family, tmp_path, model_outputs):
    built = build_tiny_components(family, seed=4)
    built.pipeline().save_pretrained(tmp_path / "pipeline")
    loaded = load_base_model(str(tmp_path / "pipeline"))

    assert (loaded.family, loaded.prediction_type, loaded.source) == (family, built.prediction_type, "diffusers_folder")
    torch.testing.assert_close(model_outputs(loaded), model_outputs(built))


def test_fp32_folder_loaded_as_bf16_gives_the_unet_diffusers_gives(tmp_path):
    """The chunked loader (lean_load.py) must be a pure memory saving: same weights as diffusers' own cast."""
    from lora_scripts_engine.lean_load import load_model_as

    build_tiny_components("sd1", seed=5).pipeline().save_pretrained(tmp_path / "pipeline")
    ours = load_model_as(UNet2DConditionModel, tmp_path / "pipeline" / "unet", torch.bfloat16)
    theirs = UNet2DConditionModel.from_pretrained(tmp_path / "pipeline" / "unet", torch_dtype=torch.bfloat16)
    assert (
        ours is not None and load_model_as(UNet2DConditionModel, tmp_path / "pipeline" / "unet", torch.float32) is None
    )  # same dtype: diffusers maps it
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for name, tensor in theirs.state_dict().items():
        assert ours.state_dict()[name].dtype == torch.bfloat16
        assert torch.equal(ours.state_dict()[name], tensor), name
    loaded = load_base_model(str(tmp_path / "pipeline"), dtype=torch.bfloat16)
    assert loaded.unet.dtype == torch.bfloat16 and loaded.vae.dtype == torch.bfloat16


def test_fp32_folder_loads_channels_last_so_training_copies_no_weight(tmp_path):
    """A copy made after loading kept the file's mapped original too (SD 1.5 fp32 at 256 px: 7.75 GiB, not 5.1): the
    UNet and the VAE encoder come out in the layout training uses, so speed.apply_fast_paths moves no weight; the
    decoder (samples only) keeps the stored layout. Same values as diffusers' loader."""
    from lora_scripts_engine.device import Compute
    from lora_scripts_engine.speed import apply_fast_paths

    built = build_tiny_components("sd1", seed=6)
    built.pipeline().save_pretrained(tmp_path / "pipeline")
    loaded = load_base_model(str(tmp_path / "pipeline"), memory_format=torch.channels_last)
    plain = load_base_model(str(tmp_path / "pipeline"))
    weights = {
        f"{part}.{name}": tensor
        for part in ("unet", "vae")
        for name, tensor in getattr(loaded, part).state_dict().items()
    }
    addresses = {name: tensor.data_ptr() for name, tensor in weights.items()}
    apply_fast_paths(
        loaded,
        Compute("cpu", torch.float32, "test"),
        gradient_checkpointing=False,
        compile_unet=False,
        trained_text_encoders=[],
    )

    after = {
        f"{part}.{name}": tensor
        for part in ("unet", "vae")
        for name, tensor in getattr(loaded, part).state_dict().items()
    }
    assert {name: tensor.data_ptr() for name, tensor in after.items()} == addresses
    convolutions = [name for name, tensor in after.items() if tensor.dim() == 4 and tensor.shape[-1] > 1]
    in_training_layout = [name for name in convolutions if after[name].is_contiguous(memory_format=torch.channels_last)]
    assert convolutions and in_training_layout == [n for n in convolutions if not n.startswith("vae.decoder.")]
    for part in ("unet", "vae"):
        for name, tensor in getattr(plain, part).state_dict().items():
            assert torch.equal(after[f"{part}.{name}"], tensor), name


# ---- errors: one line naming the file, culprit `base_model` -----------------------------------


def assert_failure(error: EngineFailure, code: str, message: str) -> None:
    assert (error.code, error.culprit, error.message) == (code, "base_model", message)
    assert error.hint


def read_metadata(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as checkpoint:
        return checkpoint.metadata()


def test_missing_path_is_named(tmp_path):
    error = failure(tmp_path / "nope.safetensors")
    assert_failure(error, "base_model_missing", f"`{tmp_path / 'nope.safetensors'}` does not exist")
    assert "`base_model`" in error.hint


def test_truncated_file_is_reported_as_corrupt(tmp_path):
    saved = save_single_file(build_tiny_components("sd1"), tmp_path / "full.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])

    assert_failure(
        failure(tmp_path / "cut.safetensors"),
        "base_model_corrupt",
        "`cut.safetensors` is not a readable .safetensors file "
        "(Error while deserializing header: incomplete metadata, file not fully covered)",
    )


def test_checkpoint_missing_some_weights_is_incomplete(tmp_path, copy_checkpoint):
    saved = save_single_file(build_tiny_components("sd1"), tmp_path / "full.safetensors")
    pruned = copy_checkpoint(
        saved,
        tmp_path / "pruned.safetensors",
        metadata=read_metadata(saved),
        keep=lambda key: key != "model.diffusion_model.out.2.bias",
    )

    assert_failure(
        failure(pruned), "base_model_incomplete", "`pruned.safetensors` lacks some weights of the sd1 architecture"
    )


def test_pickle_checkpoint_is_refused_with_a_conversion_hint(tmp_path):
    (tmp_path / "model.ckpt").write_bytes(b"not loaded")

    error = failure(tmp_path / "model.ckpt")
    assert_failure(
        error, "unsupported_model_format", "`model.ckpt` is a pickle checkpoint (.ckpt), which can run code when loaded"
    )
    assert ".safetensors" in error.hint


def test_hub_id_without_network_fails_fast_and_clearly():
    error = failure("someone/some-sd-model")  # conftest sets HF_HUB_OFFLINE=1
    assert_failure(
        error,
        "base_model_offline",
        "cannot download hub model `someone/some-sd-model`: no network and it is not in the local cache",
    )


def test_folder_without_model_index_is_not_a_diffusers_model(tmp_path):
    (tmp_path / "weights").mkdir()
    assert_failure(
        failure(tmp_path / "weights"),
        "base_model_unrecognized",
        "`weights/` has no `model_index.json`, so it is not a diffusers model folder",
    )
