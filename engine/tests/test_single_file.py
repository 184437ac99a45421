"""save_single_file: original-layout names, metadata, atomic writes, and exact round trips through load_base_model."""

import json

import pytest
import torch
from lora_scripts_engine.models import load_base_model
from lora_scripts_engine.single_file import ARCHITECTURE_METADATA_KEY, save_single_file
from lora_scripts_engine.tiny_models import TINY_PREDICTION_TYPES, build_tiny_components, write_checkpoint
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

FAMILIES = ["sd1", "sd2", "sdxl"]


def header(path):
    with safe_open(str(path), framework="pt") as checkpoint:
        shapes = {key: tuple(checkpoint.get_slice(key).get_shape()) for key in checkpoint.keys()}
        return shapes, checkpoint.metadata()


def modules(model):
    encoders = {f"text_encoder_{index}": encoder for index, encoder in enumerate(model.text_encoders)}
    return {"unet": model.unet, "vae": model.vae, **encoders}


def parameter_count(module):
    return sum(param.numel() for param in module.parameters())


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_keeps_every_weight_and_output(family, tmp_path, model_outputs):
    built = build_tiny_components(family, seed=1)
    path = save_single_file(built, tmp_path / f"{family}.safetensors")
    loaded = load_base_model(str(path))

    expected = (family, TINY_PREDICTION_TYPES[family], "single_file")
    assert (loaded.family, loaded.prediction_type, loaded.source) == expected
    for name, module in modules(built).items():
        reloaded = modules(loaded)[name].state_dict()
        assert reloaded.keys() == module.state_dict().keys(), name
        for key, value in module.state_dict().items():
            assert torch.equal(reloaded[key], value), f"{name}.{key}"
    # Weights are bit-exact; outputs get float32 tolerance because CPU kernels may sum in another
    # order for tensors at other addresses (seen: 1.6e-6 differences, gone after .clone()).
    torch.testing.assert_close(model_outputs(loaded), model_outputs(built))
    assert type(loaded.sampling_scheduler) is type(built.sampling_scheduler)


@pytest.mark.parametrize("family", FAMILIES)
def test_reloaded_pipeline_samples_the_same_latents(family, tmp_path):
    built = build_tiny_components(family, seed=2)
    loaded = load_base_model(str(save_single_file(built, tmp_path / "model.safetensors")))

    def sample(model):
        pipe = model.pipeline()
        pipe.set_progress_bar_config(disable=True)
        generator = torch.Generator().manual_seed(0)
        return pipe("a photo of a cat", num_inference_steps=2, output_type="latent", generator=generator).images

    latents = sample(built)
    assert latents.shape == (1, 4, 8, 8)
    torch.testing.assert_close(sample(loaded), latents)


def test_sd1_file_uses_the_original_ldm_names(tmp_path):
    built = build_tiny_components("sd1")  # layers_per_block 2, like SD 1.5: levels are 3 LDM blocks apart
    shapes, _ = header(save_single_file(built, tmp_path / "sd1.safetensors"))

    assert {key.split(".")[0] for key in shapes} == {"model", "first_stage_model", "cond_stage_model"}
    for key in [
        "model.diffusion_model.input_blocks.0.0.weight",
        "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight",
        "model.diffusion_model.input_blocks.3.0.op.weight",  # down_blocks.0.downsamplers.0.conv
        "model.diffusion_model.input_blocks.4.0.in_layers.2.weight",  # down_blocks.1.resnets.0.conv1
        "model.diffusion_model.input_blocks.4.0.skip_connection.weight",
        "model.diffusion_model.middle_block.2.emb_layers.1.weight",
        "model.diffusion_model.output_blocks.2.1.conv.weight",  # up block 0 has no attention → .1.conv
        "model.diffusion_model.output_blocks.5.1.proj_out.weight",  # up_blocks.1.attentions.2
        "model.diffusion_model.out.2.weight",
        "first_stage_model.decoder.up.3.block.1.conv1.weight",  # decoder levels count from the bottom
        "first_stage_model.encoder.down.2.block.0.nin_shortcut.weight",  # 16 → 32 channels
        "cond_stage_model.transformer.text_model.encoder.layers.1.self_attn.q_proj.weight",
        "cond_stage_model.transformer.text_model.final_layer_norm.weight",
    ]:
        assert key in shapes, key
    assert shapes["model.diffusion_model.input_blocks.1.1.proj_in.weight"] == (32, 32, 1, 1)  # conv proj in SD1
    assert shapes["first_stage_model.encoder.mid.attn_1.q.weight"] == (32, 32, 1, 1)  # 1×1 conv in LDM
    assert "v_pred" not in shapes


def test_sdxl_file_fuses_openclip_attention_and_transposes_the_projection(tmp_path):
    built = build_tiny_components("sdxl")
    path = save_single_file(built, tmp_path / "sdxl.safetensors")
    shapes, _ = header(path)

    for key in [
        "model.diffusion_model.label_emb.0.0.weight",
        "model.diffusion_model.input_blocks.3.1.transformer_blocks.1.attn1.to_q.weight",
        "model.diffusion_model.output_blocks.1.2.conv.weight",  # up block 0 has attention → .2.conv
        "conditioner.embedders.0.transformer.text_model.encoder.layers.1.mlp.fc2.weight",
        "conditioner.embedders.1.model.transformer.resblocks.1.mlp.c_proj.weight",
        "conditioner.embedders.1.model.ln_final.bias",
        "conditioner.embedders.1.model.positional_embedding",
    ]:
        assert key in shapes, key
    encoder = built.text_encoders[1].text_model
    attention = encoder.encoder.layers[1].self_attn
    with safe_open(str(path), framework="pt") as checkpoint:
        fused = checkpoint.get_tensor("conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight")
        projection = checkpoint.get_tensor("conditioner.embedders.1.model.text_projection")
    assert torch.equal(fused, torch.cat([attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight]))
    assert torch.equal(projection, built.text_encoders[1].text_projection.weight.T)


def test_sd2_file_uses_openclip_names_and_marks_v_prediction(tmp_path):
    built = build_tiny_components("sd2")
    shapes, _ = header(save_single_file(built, tmp_path / "sd2.safetensors"))

    assert shapes["cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight"] == (3 * 48, 48)
    assert "cond_stage_model.model.transformer.resblocks.3.ln_1.weight" not in shapes
    assert shapes["cond_stage_model.model.token_embedding.weight"] == (49408, 48)
    assert shapes["v_pred"] == (0,)  # ComfyUI's marker, as the tiny sd2 is v-prediction


def test_metadata_records_the_architecture_and_extra_keys(tmp_path):
    built = build_tiny_components("sdxl")
    path = save_single_file(built, tmp_path / "sdxl.safetensors", extra_metadata={"modelspec.title": "tiny"})
    _, metadata = header(path)

    architecture = json.loads(metadata[ARCHITECTURE_METADATA_KEY])
    assert metadata["modelspec.title"] == "tiny"
    assert (architecture["family"], architecture["prediction_type"]) == ("sdxl", "epsilon")
    assert architecture["unet"]["transformer_layers_per_block"] == [1, 2]
    assert architecture["text_encoder_2"]["architectures"] == ["CLIPTextModelWithProjection"]
    assert architecture["scheduler"]["_class_name"] == "EulerDiscreteScheduler"


def test_float16_file_reloads_as_the_rounded_weights(tmp_path):
    built = build_tiny_components("sd1")
    path = save_single_file(built, tmp_path / "half.safetensors", dtype=torch.float16)
    with safe_open(str(path), framework="pt") as checkpoint:
        assert {checkpoint.get_slice(key).get_dtype() for key in checkpoint.keys()} == {"F16"}

    loaded = load_base_model(str(path))
    for name, module in modules(built).items():
        reloaded = modules(loaded)[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(reloaded[key], value.half().float()), f"{name}.{key}"
    half = load_base_model(str(path), dtype=torch.float16)
    assert {param.dtype for module in modules(half).values() for param in module.parameters()} == {torch.float16}


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path):
    built = build_tiny_components("sd1")
    path = save_single_file(built, tmp_path / "model.safetensors")
    before = path.read_bytes()

    with pytest.raises(TypeError):
        save_single_file(built, path, extra_metadata={"not a string": 1})  # safetensors rejects it mid-write
    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.safetensors"]


def test_sdxl_encoders_of_equal_width_are_refused(tmp_path):
    built = build_tiny_components("sdxl")
    same_width = CLIPTextConfig(**{**built.text_encoders[1].config.to_dict(), "hidden_size": 32, "projection_dim": 32})
    built.text_encoders[1] = CLIPTextModelWithProjection(same_width)

    with pytest.raises(ValueError, match="different hidden sizes"):
        save_single_file(built, tmp_path / "sdxl.safetensors")


@pytest.mark.slow
def test_full_size_sd15_saves_in_float16_and_reloads_with_and_without_metadata(tmp_path, copy_checkpoint):
    path = write_checkpoint("sd1", tmp_path / "sd15-random.safetensors", full_size=True)
    assert 2.0e9 < path.stat().st_size < 2.2e9  # float16: 2 bytes × 1.07 B parameters

    expected = {"unet": 859_520_964, "vae": 83_653_863, "text_encoder_0": 123_060_480}  # SD 1.5's counts
    loaded = load_base_model(str(path))
    assert {name: parameter_count(module) for name, module in modules(loaded).items()} == expected
    # Without the metadata it is an ordinary SD 1.5 checkpoint: the shipped sd15 configs must fit it.
    plain = copy_checkpoint(path, tmp_path / "plain.safetensors")
    path.unlink()
    from_shipped = load_base_model(str(plain))
    assert (from_shipped.family, from_shipped.prediction_type) == ("sd1", "epsilon")
    for name, module in modules(from_shipped).items():
        assert all(torch.equal(a, b) for a, b in zip(module.parameters(), modules(loaded)[name].parameters())), name
